import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { JobState, Queue } from 'bullmq';
import { AppConfig } from '../../core/config/app-config';
import { PrismaService } from '../../core/prisma/prisma.service';
import { JobProducer } from '../../core/queues/job-producer.service';
import { JobName, JobPayloads, QueueName } from '../../core/queues/queue.catalogue';
import { SocialPostStatus } from '../../generated/prisma/enums';

const PAGE = 500;
const MAX_ROUNDS = 20;
const PENDING: (JobState | 'unknown')[] = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'];

export interface SocialPostReconcileReport {
  checked: number;
  requeued: number;
}

/**
 * Posts are stored before their job is queued, so Redis being down (or a
 * crash) at that moment must not lose one. A repeatable job (every
 * RECONCILE_INTERVAL_MS) looks at SCHEDULED posts due before its next run
 * and at PUBLISHING ones, untouched for RECONCILE_GRACE_MS: one without a
 * pending job gets its job again under its own id. A PUBLISHING post's new
 * job carries the platform answer its old job kept, if any, and the
 * publishing state machine settles it from its claim: it never publishes a
 * post whose outcome is unknown blindly.
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
    const report: SocialPostReconcileReport = { checked: 0, requeued: 0 };
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
    if (report.requeued > 0) this.logger.warn(`Reconciled social posts: ${report.requeued} queued again`);
    return report;
  }

  private async reconcile(
    post: { id: string; organizationId: string; status: SocialPostStatus; scheduledFor: Date },
    report: SocialPostReconcileReport,
  ): Promise<void> {
    const state = await this.queue.getJobState(post.id);
    if (PENDING.includes(state)) return;
    const previous = state === 'unknown' ? undefined : await this.queue.getJob(post.id);
    const answer = (previous?.data as JobPayloads[JobName.PublishPost] | undefined)?.answer;
    if (previous) await this.queue.remove(post.id); // ended without settling the post: replace it
    await this.jobs.add(
      JobName.PublishPost,
      { postId: post.id, organizationId: post.organizationId, ...(answer ? { answer } : {}) },
      { jobId: post.id, delay: Math.max(0, post.scheduledFor.getTime() - Date.now()) },
    );
    report.requeued++;
  }
}
