import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { Job, Queue } from 'bullmq';
import { AppConfig } from '../../core/config/app-config';
import { PrismaService } from '../../core/prisma/prisma.service';
import { JobProducer } from '../../core/queues/job-producer.service';
import { JobName, QueueName } from '../../core/queues/queue.catalogue';
import { CampaignsService, fanOutJobId } from '../campaigns/campaigns.service';
import { TEMPLATE_SYNC_EVERY_MS } from '../channels/templates/whatsapp-templates.service';
import { DeliveryStatusService } from './delivery-status.service';
import { SENDABLE } from './message-send.repository';

/** Messages checked per round trip, and at most this many rounds per run. */
const PAGE = 500;
const MAX_ROUNDS = 20;

export interface ReconcileReport {
  checked: number;
  requeued: number;
  failed: number;
  campaignsRequeued: number;
  reportsApplied: number;
}

/** Messages that still need a job: not attempted yet, or claimed by an attempt that never recorded its outcome. */
const UNSETTLED = [...SENDABLE, 'SENDING' as const];

/**
 * Every accepted message is eventually sent or failed, even when Redis was
 * unreachable at enqueue time or lost its data: a repeatable job (BullMQ job
 * scheduler, every RECONCILE_INTERVAL_MS) looks for QUEUED/SCHEDULED messages,
 * and SENDING ones whose attempt never recorded its outcome, untouched for
 * RECONCILE_GRACE_MS and without a pending job, and queues them again under
 * their own id. The send state machine makes a needless re-queue harmless (a
 * SENDING message is settled by its channel's policy, never blindly re-sent).
 * Campaigns whose fan-out job was lost are queued again the same way, and
 * delivery reports kept for sends recorded since are applied.
 */
@Injectable()
export class MessageReconcilerService implements OnApplicationBootstrap {
  private readonly logger = new Logger(MessageReconcilerService.name);
  private readonly queue: Queue;

  constructor(
    private readonly prisma: PrismaService,
    private readonly jobs: JobProducer,
    private readonly campaigns: CampaignsService,
    private readonly statuses: DeliveryStatusService,
    private readonly config: AppConfig,
  ) {
    this.queue = jobs.queue(QueueName.Messages);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.jobs.scheduleEvery(JobName.ReconcileMessages, this.config.RECONCILE_INTERVAL_MS, {});
    this.jobs.onSchedulersLost(() => {
      void this.run(undefined, Math.min(this.config.RECONCILE_GRACE_MS, MessageReconcilerService.AFTER_LOSS_GRACE_MS)).catch((error: Error) =>
        this.logger.warn(`Reconciling after Redis lost its data: ${error.message}`),
      );
    });
    // Meta reviews templates at any time; every 6 hours the stored lists catch up (once per cluster).
    await this.jobs.scheduleEvery(JobName.SyncWhatsAppTemplates, TEMPLATE_SYNC_EVERY_MS, {});
  }

  /** After Redis lost its data every queued job is gone: look at once, with a short grace, instead of minutes later. */
  private static readonly AFTER_LOSS_GRACE_MS = 5000;

  async run(job?: Job, graceMs = this.config.RECONCILE_GRACE_MS): Promise<ReconcileReport> {
    const cutoff = new Date(Date.now() - graceMs);
    const report: ReconcileReport = { checked: 0, requeued: 0, failed: 0, campaignsRequeued: 0, reportsApplied: 0 };
    let after: { updatedAt: Date; id: string } | undefined;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const rows = await this.prisma.message.findMany({
        where: {
          status: { in: UNSETTLED },
          updatedAt: { lt: cutoff },
          ...(after ? { OR: [{ updatedAt: { gt: after.updatedAt } }, { updatedAt: after.updatedAt, id: { gt: after.id } }] } : {}),
        },
        select: { id: true, organizationId: true, scheduledFor: true, updatedAt: true, status: true },
        orderBy: [{ updatedAt: 'asc' }, { id: 'asc' }],
        take: PAGE,
      });
      if (rows.length === 0) break;
      after = rows[rows.length - 1];
      report.checked += rows.length;
      await this.reconcilePage(rows, report);
      await job?.updateProgress({ checked: report.checked, requeued: report.requeued, failed: report.failed });
    }
    report.campaignsRequeued = await this.reconcileCampaigns(cutoff);
    report.reportsApplied = (await this.statuses.sweepPending()).applied;
    if (report.requeued + report.failed + report.campaignsRequeued > 0) {
      this.logger.warn(
        `Reconciled: ${report.requeued} messages queued again, ${report.failed} failed, ${report.campaignsRequeued} campaign fan-outs queued again`,
      );
    }
    return report;
  }

  private async reconcilePage(
    rows: { id: string; organizationId: string; scheduledFor: Date | null; status: string }[],
    report: ReconcileReport,
  ): Promise<void> {
    const states = await Promise.all(rows.map((r) => this.queue.getJobState(r.id)));
    const missing: typeof rows = [];
    for (const [i, row] of rows.entries()) {
      const state = states[i];
      if (state === 'unknown') missing.push(row);
      else if (state === 'failed' && row.status === 'SENDING') {
        // The attempt may have reached the provider: a fresh job settles it by the channel's policy.
        await this.queue.remove(row.id);
        missing.push(row);
      } else if (state === 'failed') {
        // BullMQ gave up on the job but the message was never marked (the database was unreachable then).
        const failed = await this.queue.getJob(row.id);
        const { count } = await this.prisma.message.updateMany({
          where: { id: row.id, status: { in: [...SENDABLE] } },
          data: { status: 'FAILED', failedAt: new Date(), errorMessage: failed?.failedReason ?? 'The job failed' },
        });
        report.failed += count;
      } else if (state === 'completed') {
        // Finished yet still unsent (restored database?): drop the stale job so it can be queued again.
        await this.queue.remove(row.id);
        missing.push(row);
      }
    }
    if (missing.length === 0) return;
    const now = Date.now();
    await this.jobs.addBulk(
      JobName.SendMessage,
      missing.map((m) => {
        const delay = m.scheduledFor ? Math.max(0, m.scheduledFor.getTime() - now) : 0;
        return { data: { messageId: m.id, organizationId: m.organizationId }, opts: { jobId: m.id, delay: delay || undefined } };
      }),
    );
    report.requeued += missing.length;
  }

  private async reconcileCampaigns(cutoff: Date): Promise<number> {
    const stuck = await this.prisma.campaign.findMany({
      where: { status: { in: ['PENDING', 'FANNING_OUT'] }, updatedAt: { lt: cutoff } },
      select: { id: true, organizationId: true },
      take: PAGE,
    });
    let requeued = 0;
    for (const campaign of stuck) {
      const state = await this.queue.getJobState(fanOutJobId(campaign.id));
      if (state === 'completed' || state === 'failed') await this.queue.remove(fanOutJobId(campaign.id));
      else if (state !== 'unknown') continue;
      await this.campaigns.enqueueFanOut(campaign);
      requeued++;
    }
    return requeued;
  }
}
