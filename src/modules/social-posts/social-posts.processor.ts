import { Processor, WorkerHost } from '@nestjs/bullmq';
import { OnModuleDestroy } from '@nestjs/common';
import { DelayedError, Job, UnrecoverableError } from 'bullmq';
import { workerOptions } from '../../core/queues/worker-providers';
import { JobName, JobPayloads, QueueName } from '../../core/queues/queue.catalogue';
import { PublishOutcome, SocialPostPublishingService } from './social-post-publishing.service';
import { SocialPostReconcileReport, SocialPostReconcilerService } from './social-post-reconciler.service';

@Processor(QueueName.SocialPosts, workerOptions())
export class SocialPostsProcessor extends WorkerHost implements OnModuleDestroy {
  constructor(
    private readonly publishing: SocialPostPublishingService,
    private readonly reconciler: SocialPostReconcilerService,
  ) {
    super();
  }

  async process(job: Job, token?: string): Promise<PublishOutcome | SocialPostReconcileReport> {
    switch (job.name) {
      case JobName.PublishPost: {
        const { postId, organizationId } = job.data as JobPayloads[JobName.PublishPost];
        const outcome = await this.publishing.publish({
          postId,
          organizationId,
          lastAttempt: job.attemptsMade + 1 >= (job.opts.attempts ?? 1),
        });
        if (outcome.kind === 'later') {
          // Rescheduled while this job was already due: wait again instead of publishing early.
          await job.moveToDelayed(outcome.at.getTime(), token);
          throw new DelayedError();
        }
        return outcome;
      }
      case JobName.ReconcileSocialPosts:
        return this.reconciler.run();
      default:
        throw new UnrecoverableError(`Unknown job ${job.name} on queue ${QueueName.SocialPosts}`);
    }
  }

  /** Graceful shutdown: stop taking jobs and let the active ones finish before Prisma and Redis close. */
  async onModuleDestroy(): Promise<void> {
    await this.worker.close();
  }
}
