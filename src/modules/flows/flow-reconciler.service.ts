import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { JobState, Queue } from 'bullmq';
import { AppConfig } from '../../core/config/app-config';
import { PrismaService } from '../../core/prisma/prisma.service';
import { JobProducer } from '../../core/queues/job-producer.service';
import { JobName, QueueName } from '../../core/queues/queue.catalogue';
import { ExecutionStatus } from '../../generated/prisma/enums';
import { stepJobId } from './flow-executions.service';

const PAGE = 500;
const MAX_ROUNDS = 20;
const PENDING: (JobState | 'unknown')[] = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'];

export interface FlowReconcileReport {
  checked: number;
  requeued: number;
  failed: number;
}

/**
 * Runs are recorded before their jobs are queued, so Redis being down (or a
 * crash) at that moment must not strand a run. A repeatable job (every
 * RECONCILE_INTERVAL_MS) looks at RUNNING runs untouched for
 * RECONCILE_GRACE_MS: when neither the job of their current step nor of the
 * next one is pending, the current step is queued again under its own id
 * (steps are idempotent); when BullMQ gave up on it but the run was never
 * marked, the run is marked FAILED. WAITING runs rest on their delayed job,
 * which Redis persistence keeps like every other delayed job.
 */
@Injectable()
export class FlowReconcilerService implements OnApplicationBootstrap {
  private readonly logger = new Logger(FlowReconcilerService.name);
  private readonly queue: Queue;

  constructor(
    private readonly prisma: PrismaService,
    private readonly jobs: JobProducer,
    private readonly config: AppConfig,
  ) {
    this.queue = jobs.queue(QueueName.Flows);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.jobs.scheduleEvery(JobName.ReconcileFlows, this.config.RECONCILE_INTERVAL_MS, {});
  }

  async run(): Promise<FlowReconcileReport> {
    const cutoff = new Date(Date.now() - this.config.RECONCILE_GRACE_MS);
    const report: FlowReconcileReport = { checked: 0, requeued: 0, failed: 0 };
    let afterId = '';
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const rows = await this.prisma.flowExecution.findMany({
        where: { status: ExecutionStatus.RUNNING, updatedAt: { lt: cutoff }, id: { gt: afterId } },
        select: { id: true, stepIndex: true },
        orderBy: { id: 'asc' },
        take: PAGE,
      });
      if (rows.length === 0) break;
      afterId = rows[rows.length - 1].id;
      report.checked += rows.length;
      for (const row of rows) await this.reconcile(row, report);
    }
    if (report.requeued + report.failed > 0) {
      this.logger.warn(`Reconciled flow runs: ${report.requeued} steps queued again, ${report.failed} runs failed`);
    }
    return report;
  }

  private async reconcile(run: { id: string; stepIndex: number }, report: FlowReconcileReport): Promise<void> {
    const currentId = stepJobId(run.id, run.stepIndex);
    const [current, next] = await Promise.all([
      this.queue.getJobState(currentId),
      this.queue.getJobState(stepJobId(run.id, run.stepIndex + 1)),
    ]);
    if (PENDING.includes(current) || PENDING.includes(next)) return;
    if (current === 'failed') {
      const job = await this.queue.getJob(currentId);
      const { count } = await this.prisma.flowExecution.updateMany({
        where: { id: run.id, status: ExecutionStatus.RUNNING, stepIndex: run.stepIndex },
        data: { status: ExecutionStatus.FAILED, error: job?.failedReason ?? 'The step failed', finishedAt: new Date() },
      });
      report.failed += count;
      return;
    }
    if (current === 'completed') await this.queue.remove(currentId);
    await this.jobs.add(JobName.ExecuteFlowStep, { executionId: run.id, stepIndex: run.stepIndex }, { jobId: currentId });
    report.requeued++;
  }
}
