import { OnWorkerEvent, Processor } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { runWaitingOutOutages } from '../../core/queues/job-outage';
import { ZyvaWorkerHost } from '../../core/queues/zyva-worker-host';
import { JobName, JobPayloads, QueueName } from '../../core/queues/queue.catalogue';
import { workerOptions } from '../../core/queues/worker-providers';
import { CampaignFanOutService } from '../campaigns/campaign-fan-out.service';
import { WhatsAppTemplatesService } from '../channels/templates/whatsapp-templates.service';
import { CampaignBatchJob, CampaignBatchSenderService } from './campaign-batch-sender.service';
import { MessageReconcilerService } from './message-reconciler.service';
import { MessageSenderService, SendMessageJob } from './message-sender.service';

/**
 * Consumer of the `messages` queue (worker and all roles only). An outage of
 * Postgres or Redis postpones a job instead of using one of its attempts.
 */
@Processor(QueueName.Messages, workerOptions())
export class MessagesProcessor extends ZyvaWorkerHost {
  constructor(
    private readonly sender: MessageSenderService,
    private readonly batches: CampaignBatchSenderService,
    private readonly fanOut: CampaignFanOutService,
    private readonly reconciler: MessageReconcilerService,
    private readonly templates: WhatsAppTemplatesService,
  ) {
    super();
  }

  process(job: Job, token?: string): Promise<unknown> {
    return runWaitingOutOutages<unknown>(job, token, () => {
      switch (job.name as JobName) {
        case JobName.SendMessage:
          return this.sender.send(job as SendMessageJob, token);
        case JobName.SendCampaignBatch:
          return this.batches.send(job as CampaignBatchJob, token);
        case JobName.FanOutCampaign:
          return this.fanOut.run(job as Job<JobPayloads[JobName.FanOutCampaign]>);
        case JobName.ReconcileMessages:
          return this.reconciler.run(job);
        case JobName.SyncWhatsAppTemplates:
          return this.templates.syncDue();
        default:
          throw new Error(`Unknown job ${job.name} on queue ${QueueName.Messages}`);
      }
    });
  }

  /** A job BullMQ gave up on without our handler recording it (stalled too often) must not stay QUEUED. */
  @OnWorkerEvent('failed')
  async onFailed(job: Job | undefined, error: Error): Promise<void> {
    if (job?.name === JobName.SendCampaignBatch && job.finishedOn) {
      // Its messages are not failed with it: each unsettled one goes on in its own job.
      await this.batches
        .handOffRemaining(job as CampaignBatchJob)
        .catch((e: Error) => this.logger.error(`Could not hand on the messages of batch job ${job.id}: ${e.message}`));
      return;
    }
    if (!job || job.name !== JobName.SendMessage || !job.finishedOn) return;
    await this.sender
      .failLost((job as SendMessageJob).data.messageId, error.message)
      .catch((e: Error) => this.logger.error(`Could not record the failure of message job ${job.id}: ${e.message}`));
  }
}
