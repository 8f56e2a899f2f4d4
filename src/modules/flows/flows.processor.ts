import { Processor } from '@nestjs/bullmq';
import { Job, UnrecoverableError } from 'bullmq';
import { runWaitingOutOutages } from '../../core/queues/job-outage';
import { ZyvaWorkerHost } from '../../core/queues/zyva-worker-host';
import { workerOptions } from '../../core/queues/worker-providers';
import { JobName, JobPayloads, QueueName } from '../../core/queues/queue.catalogue';
import { FlowOutboxDrainService, OutboxDrainReport } from './flow-outbox-drain.service';
import { FlowReconcileReport, FlowReconcilerService } from './flow-reconciler.service';
import { FlowRunnerService } from './flow-runner.service';

@Processor(QueueName.Flows, workerOptions())
export class FlowsProcessor extends ZyvaWorkerHost {
  constructor(
    private readonly runner: FlowRunnerService,
    private readonly reconciler: FlowReconcilerService,
    private readonly drain: FlowOutboxDrainService,
  ) {
    super();
  }

  async process(job: Job, token?: string): Promise<void | FlowReconcileReport | OutboxDrainReport> {
    switch (job.name) {
      case JobName.ExecuteFlowStep: {
        const { executionId, stepIndex } = job.data as JobPayloads[JobName.ExecuteFlowStep];
        // A Postgres or Redis outage postpones the step without using an attempt (steps are safe to run again).
        return runWaitingOutOutages(job, token, () =>
          this.runner.runStep({ executionId, stepIndex, lastAttempt: job.attemptsMade + 1 >= (job.opts.attempts ?? 1) }),
        );
      }
      case JobName.ReconcileFlows:
        return this.reconciler.run();
      case JobName.DrainOutbox:
        // The scheduler's repeated job (it has a repeatJobKey) only wakes the one deduplicated drain job.
        if (job.repeatJobKey) return this.drain.tick();
        // A database outage postpones the drain without using an attempt; the events wait in Postgres.
        return runWaitingOutOutages(job, token, () => this.drain.run());
      default:
        throw new UnrecoverableError(`Unknown job ${job.name} on queue ${QueueName.Flows}`);
    }
  }
}
