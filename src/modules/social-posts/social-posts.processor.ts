import { Processor } from '@nestjs/bullmq';
import { DelayedError, Job, UnrecoverableError } from 'bullmq';
import { runWaitingOutOutages } from '../../core/queues/job-outage';
import { ZyvaWorkerHost } from '../../core/queues/zyva-worker-host';
import { workerOptions } from '../../core/queues/worker-providers';
import { JobName, JobPayloads, QueueName } from '../../core/queues/queue.catalogue';
import { PublishOutcome, SocialPostPublishingService } from './social-post-publishing.service';
import { SocialPostReconcileReport, SocialPostReconcilerService } from './social-post-reconciler.service';

@Processor(QueueName.SocialPosts, workerOptions())
export class SocialPostsProcessor extends ZyvaWorkerHost {
  constructor(
    private readonly publishing: SocialPostPublishingService,
    private readonly reconciler: SocialPostReconcilerService,
  ) {
    super();
  }

  async process(job: Job, token?: string): Promise<PublishOutcome | SocialPostReconcileReport> {
    switch (job.name) {
      case JobName.PublishPost:
        // A Postgres or Redis outage postpones the job without using an attempt: nothing fails because of us.
        return runWaitingOutOutages(job, token, () => this.publish(job as Job<JobPayloads[JobName.PublishPost]>, token));
      case JobName.ReconcileSocialPosts:
        return this.reconciler.run();
      default:
        throw new UnrecoverableError(`Unknown job ${job.name} on queue ${QueueName.SocialPosts}`);
    }
  }

  private async publish(job: Job<JobPayloads[JobName.PublishPost]>, token?: string): Promise<PublishOutcome> {
    const { postId, organizationId, answer, rechecks = 0 } = job.data;
    const outcome = await this.publishing.publish({
      postId,
      organizationId,
      lastAttempt: job.attemptsMade + 1 >= (job.opts.attempts ?? 1),
      answer,
      rechecks,
      keepAnswer: (kept) => job.updateData({ ...job.data, answer: kept }),
    });
    if (outcome.kind === 'later' || outcome.kind === 'recheck') {
      // Rescheduled, or not decidable yet: wait without using an attempt (and never publish early).
      if (outcome.kind === 'recheck') await job.updateData({ ...job.data, rechecks: rechecks + 1 });
      await job.moveToDelayed(outcome.at.getTime(), token);
      throw new DelayedError();
    }
    return outcome;
  }
}
