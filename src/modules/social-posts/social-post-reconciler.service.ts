import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { JobState, Queue } from 'bullmq';
import { AppConfig } from '../../core/config/app-config';
import { PrismaService } from '../../core/prisma/prisma.service';
import { JobProducer } from '../../core/queues/job-producer.service';
import { JobName, QueueName } from '../../core/queues/queue.catalogue';
import { SocialPostStatus } from '../../generated/prisma/enums';
import type { PublishOutcome } from './social-post-publishing.service';

const PAGE = 500;
const MAX_ROUNDS = 20;
const PENDING: (JobState | 'unknown')[] = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'];

export interface SocialPostReconcileReport {
  checked: number;
  requeued: number;
  published: number;
  failed: number;
}

/**
 * Posts are stored before their job is queued, so Redis being down (or a
 * crash) at that moment must not lose one. A repeatable job (every
 * RECONCILE_INTERVAL_MS) looks at SCHEDULED posts due before its next run
 * and untouched for RECONCILE_GRACE_MS: one without a pending job is queued
 * again under its own id. A post left PUBLISHING is settled from its job:
 * PUBLISHED if the job did publish it, else FAILED rather than published
 * again (the platform may already show it; a duplicate post is worse than a
 * visible failure).
 */
@Injectable()
export class SocialPostReconcilerService implements OnApplicationBootstrap {
  private readonly logger = new Logger(SocialPostReconcilerService.name);
  private readonly queue: Queue;

  constructor(
    private readonly prisma: PrismaService,
    private readonly jobs: JobProducer,
    private readonly config: AppConfig,
  ) {
    this.queue = jobs.queue(QueueName.SocialPosts);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.jobs.scheduleEvery(JobName.ReconcileSocialPosts, this.config.RECONCILE_INTERVAL_MS, {});
  }

  async run(): Promise<SocialPostReconcileReport> {
    const now = Date.now();
    const cutoff = new Date(now - this.config.RECONCILE_GRACE_MS);
    const horizon = new Date(now + this.config.RECONCILE_INTERVAL_MS);
    const report: SocialPostReconcileReport = { checked: 0, requeued: 0, published: 0, failed: 0 };
    let afterId = '';
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const rows = await this.prisma.socialPost.findMany({
        where: {
          id: { gt: afterId },
          updatedAt: { lt: cutoff },
          OR: [{ status: SocialPostStatus.SCHEDULED, scheduledFor: { lt: horizon } }, { status: SocialPostStatus.PUBLISHING }],
        },
        select: { id: true, organizationId: true, status: true, scheduledFor: true },
        orderBy: { id: 'asc' },
        take: PAGE,
      });
      if (rows.length === 0) break;
      afterId = rows[rows.length - 1].id;
      report.checked += rows.length;
      for (const row of rows) await this.reconcile(row, report);
    }
    if (report.requeued + report.published + report.failed > 0) {
      this.logger.warn(
        `Reconciled social posts: ${report.requeued} queued again, ${report.published} recorded as published, ${report.failed} failed`,
      );
    }
    return report;
  }

  private async reconcile(
    post: { id: string; organizationId: string; status: SocialPostStatus; scheduledFor: Date },
    report: SocialPostReconcileReport,
  ): Promise<void> {
    const state = await this.queue.getJobState(post.id);
    if (PENDING.includes(state)) return;
    if (post.status === SocialPostStatus.PUBLISHING) {
      const job = state === 'unknown' ? undefined : await this.queue.getJob(post.id);
      const outcome = job?.returnvalue as PublishOutcome | undefined;
      if (state === 'completed' && outcome?.kind === 'published') {
        // Published, but the database was unreachable when the job tried to record it.
        const { count } = await this.prisma.socialPost.updateMany({
          where: { id: post.id, status: SocialPostStatus.PUBLISHING },
          data: { status: SocialPostStatus.PUBLISHED, externalId: outcome.externalId, publishedAt: new Date(job!.finishedOn ?? Date.now()) },
        });
        report.published += count;
        return;
      }
      const { count } = await this.prisma.socialPost.updateMany({
        where: { id: post.id, status: SocialPostStatus.PUBLISHING },
        data: {
          status: SocialPostStatus.FAILED,
          failedAt: new Date(),
          errorMessage: (state === 'failed' && job?.failedReason) || 'Publishing was interrupted; check the platform before scheduling it again.',
        },
      });
      report.failed += count;
      return;
    }
    if (state !== 'unknown') await this.queue.remove(post.id); // ended without publishing: replace it
    await this.jobs.add(
      JobName.PublishPost,
      { postId: post.id, organizationId: post.organizationId },
      { jobId: post.id, delay: Math.max(0, post.scheduledFor.getTime() - Date.now()) },
    );
    report.requeued++;
  }
}
