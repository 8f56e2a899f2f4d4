import { HttpException, HttpStatus, Injectable, Logger } from '@nestjs/common';
import { UnrecoverableError } from 'bullmq';
import { PrismaService } from '../../core/prisma/prisma.service';
import { JobProducer } from '../../core/queues/job-producer.service';
import { JobName } from '../../core/queues/queue.catalogue';
import { ExecutionStatus } from '../../generated/prisma/enums';
import { TenantScope } from '../../core/auth/tenant-scope';
import { stepJobId } from './flow-executions.service';
import type { FlowStep } from './steps/flow-step-handler';
import { FlowStepRegistry } from './steps/flow-step.registry';
import { isInfrastructureOutage } from '../../core/queues/job-outage';

const LIVE: ExecutionStatus[] = [ExecutionStatus.RUNNING, ExecutionStatus.WAITING];

/** The actor a flow's writes are attributed to (no user is behind them). */
export const FLOW_ENGINE_ACTOR = 'flow-engine';

export interface StepAttempt {
  executionId: string;
  stepIndex: number;
  /** True when no retry follows if this attempt fails. */
  lastAttempt: boolean;
}

/**
 * Runs one step of one execution: the `execute-flow-step` job. Each step is
 * its own job, queued by the step before it with a deterministic id.
 *
 * Order of work, which is what makes retries and crashes safe: the step's
 * effect (idempotent), then the next step's job, then the execution row moves
 * on. A crash anywhere repeats at most an idempotent effect or a no-op
 * enqueue; the next step's job accepts the row one step behind it.
 */
@Injectable()
export class FlowRunnerService {
  private readonly logger = new Logger(FlowRunnerService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly producer: JobProducer,
    private readonly registry: FlowStepRegistry,
  ) {}

  async runStep({ executionId, stepIndex: i, lastAttempt }: StepAttempt): Promise<void> {
    const execution = await this.prisma.flowExecution.findUnique({ where: { id: executionId } });
    if (!execution || !LIVE.includes(execution.status) || execution.stepIndex > i) return; // deleted, finished, or a step already passed
    const steps = execution.steps as unknown as FlowStep[];
    if (execution.stepIndex < i - 1 || i >= steps.length) {
      this.logger.warn(`Execution ${executionId} is at step ${execution.stepIndex}; job for step ${i} ignored`);
      return;
    }

    const claimed = await this.prisma.flowExecution.updateMany({
      where: { id: executionId, status: { in: LIVE }, stepIndex: { in: [i - 1, i] } },
      data: { stepIndex: i, status: ExecutionStatus.RUNNING },
    });
    if (claimed.count === 0) return;

    const step = steps[i];
    let delayNextMs: number | undefined;
    try {
      const handler = this.registry.handlerOf(step.type);
      if (!handler) throw new UnrecoverableError(`Step type ${step.type} is no longer supported`);
      const result = await handler.run(step, {
        scope: new TenantScope(execution.organizationId, FLOW_ENGINE_ACTOR),
        flowId: execution.flowId,
        executionId,
        contactId: execution.contactId,
        stepIndex: i,
        triggerData: execution.triggerData,
      });
      delayNextMs = result?.delayNextMs;
    } catch (error) {
      // An outage of our own Postgres or Redis is no step failure: the job waits it out (FlowsProcessor), using no attempt.
      if (isInfrastructureOutage(error)) throw error;
      const permanent = asPermanent(error);
      if (permanent || lastAttempt) await this.fail(executionId, i, (permanent ?? (error as Error)).message);
      throw permanent ?? error;
    }

    const next = i + 1;
    if (next < steps.length) {
      await this.producer.add(
        JobName.ExecuteFlowStep,
        { executionId, stepIndex: next },
        { jobId: stepJobId(executionId, next), delay: delayNextMs },
      );
      await this.prisma.flowExecution.updateMany({
        where: { id: executionId, status: ExecutionStatus.RUNNING, stepIndex: i },
        data: delayNextMs ? { status: ExecutionStatus.WAITING } : { stepIndex: next },
      });
    } else {
      await this.prisma.flowExecution.updateMany({
        where: { id: executionId, status: ExecutionStatus.RUNNING, stepIndex: i },
        data: { status: ExecutionStatus.COMPLETED, stepIndex: steps.length, finishedAt: new Date(), error: null },
      });
    }
  }

  private async fail(executionId: string, stepIndex: number, reason: string): Promise<void> {
    await this.prisma.flowExecution.updateMany({
      where: { id: executionId, status: { in: LIVE } },
      data: { status: ExecutionStatus.FAILED, stepIndex, error: reason.slice(0, 1000), finishedAt: new Date() },
    });
  }
}

/**
 * Errors no retry can fix: bullmq's UnrecoverableError, and 4xx answers of the
 * services a step calls (contact gone, quota exhausted, bad input), except 429.
 */
function asPermanent(error: unknown): UnrecoverableError | undefined {
  if (error instanceof UnrecoverableError) return error;
  if (error instanceof HttpException) {
    const status = error.getStatus();
    if (status >= 400 && status < 500 && status !== HttpStatus.TOO_MANY_REQUESTS) {
      return new UnrecoverableError(error.message);
    }
  }
  return undefined;
}
