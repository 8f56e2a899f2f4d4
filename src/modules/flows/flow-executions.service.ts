import { Injectable, Logger, NotFoundException } from '@nestjs/common';
import { Paginated } from '../../core/http/pagination.dto';
import { PrismaService } from '../../core/prisma/prisma.service';
import { isUniqueViolation } from '../../core/prisma/prisma-errors';
import { JobProducer } from '../../core/queues/job-producer.service';
import { JobName } from '../../core/queues/queue.catalogue';
import type { Flow, FlowExecution, Prisma } from '../../generated/prisma/client';
import { ExecutionStatus, TriggerType } from '../../generated/prisma/enums';
import type { TenantScope } from '../../core/auth/tenant-scope';
import { ExecutionDto } from './dto/execution.dto';

export interface StartRun {
  flow: Flow;
  contactId: string;
  triggerType: TriggerType;
  triggerData?: Prisma.InputJsonValue;
  /** Identifies the trigger event: the same key never starts a second run. */
  dedupeKey: string;
}

export interface StartedRun {
  executionId: string;
  /** False when this event had already started a run (the existing run is answered). */
  started: boolean;
}

/** BullMQ job id of a run's step; deterministic, so the same step is never queued twice. */
export const stepJobId = (executionId: string, stepIndex: number) => `${executionId}-${stepIndex}`;

@Injectable()
export class FlowExecutionsService {
  private readonly logger = new Logger(FlowExecutionsService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly producer: JobProducer,
  ) {}

  /**
   * Records the run with its own copy of the flow's steps (later edits never
   * touch it), then queues its first step; if Redis is unreachable then, the
   * reconciler queues it later. The unique `dedupeKey` makes a repeated
   * trigger event answer the run it already started.
   */
  async start(run: StartRun): Promise<StartedRun> {
    let execution: FlowExecution;
    try {
      execution = await this.prisma.flowExecution.create({ data: executionRow(run) });
    } catch (error) {
      if (!isUniqueViolation(error, ['dedupeKey'])) throw error;
      return this.existing(run.dedupeKey);
    }
    await this.queueFirstStep(execution.id).catch((error: Error) =>
      // Recorded, so not lost: the reconciler queues it once Redis answers again.
      this.logger.warn(`First step of execution ${execution.id} not queued yet: ${error.message}`),
    );
    return { executionId: execution.id, started: true };
  }

  /**
   * Starts many runs at once (the daily birthday check): one insert that skips
   * events already recorded, then one bulk enqueue. Runs of these events still
   * waiting for their first job (a crash last time) are queued again; their
   * deterministic job ids make that a no-op where the job exists.
   * Answers how many runs were new.
   */
  async startMany(runs: StartRun[]): Promise<number> {
    if (runs.length === 0) return 0;
    const created = await this.prisma.flowExecution.createManyAndReturn({
      data: runs.map(executionRow),
      skipDuplicates: true,
      select: { id: true },
    });
    const unqueued = await this.prisma.flowExecution.findMany({
      where: { dedupeKey: { in: runs.map((r) => r.dedupeKey) }, status: ExecutionStatus.RUNNING, stepIndex: 0 },
      select: { id: true },
    });
    // Should this fail, the job fails and its retry queues these runs (they are still unqueued).
    await this.producer.addBulk(
      JobName.ExecuteFlowStep,
      unqueued.map(({ id }) => ({ data: { executionId: id, stepIndex: 0 }, opts: { jobId: stepJobId(id, 0) } })),
    );
    return created.length;
  }

  async list(
    scope: TenantScope,
    flowId: string,
    page: number,
    limit: number,
    status?: ExecutionStatus,
  ): Promise<Paginated<ExecutionDto>> {
    const flow = await this.prisma.flow.findFirst({ where: scope.where({ id: flowId }), select: { id: true } });
    if (!flow) throw new NotFoundException('Flow not found.');
    const where = scope.where({ flowId, ...(status ? { status } : {}) });
    const [rows, total] = await this.prisma.$transaction([
      this.prisma.flowExecution.findMany({
        where,
        orderBy: [{ startedAt: 'desc' }, { id: 'desc' }],
        skip: (page - 1) * limit,
        take: limit,
      }),
      this.prisma.flowExecution.count({ where }),
    ]);
    return { data: rows.map(toExecutionDto), total, page, limit };
  }

  /** Whether the contact has a run of this flow still going (used to stop a flow from re-triggering itself). */
  async hasRunInProgress(flowId: string, contactId: string): Promise<boolean> {
    const found = await this.prisma.flowExecution.findFirst({
      where: { flowId, contactId, status: { in: [ExecutionStatus.RUNNING, ExecutionStatus.WAITING] } },
      select: { id: true },
    });
    return found !== null;
  }

  /** Runs of a flow started for a contact since `since` (counts the loop guard of tag triggers). */
  runsSince(flowId: string, contactId: string, since: Date): Promise<number> {
    return this.prisma.flowExecution.count({ where: { flowId, contactId, startedAt: { gte: since } } });
  }

  /**
   * Records a run that was not started, as FAILED with the reason, so the
   * refusal shows in the flow's executions. Its `dedupeKey` is the event's:
   * the same event is refused once.
   */
  async refuse(run: StartRun, reason: string): Promise<void> {
    try {
      await this.prisma.flowExecution.create({
        data: { ...executionRow(run), status: ExecutionStatus.FAILED, error: reason, finishedAt: new Date() },
      });
    } catch (error) {
      if (!isUniqueViolation(error, ['dedupeKey'])) throw error;
    }
  }

  /**
   * A repeated event answers the run it started. If that run never got its
   * first job (a crash between the insert and the enqueue), queue it now: the
   * deterministic job id makes this a no-op when the job exists.
   */
  private async existing(dedupeKey: string): Promise<StartedRun> {
    const execution = await this.prisma.flowExecution.findUniqueOrThrow({ where: { dedupeKey } });
    if (execution.status === ExecutionStatus.RUNNING && execution.stepIndex === 0) {
      await this.queueFirstStep(execution.id).catch((error: Error) =>
        this.logger.warn(`Could not re-queue the first step of execution ${execution.id}: ${error.message}`),
      );
    }
    return { executionId: execution.id, started: false };
  }

  private async queueFirstStep(executionId: string): Promise<void> {
    await this.producer.add(JobName.ExecuteFlowStep, { executionId, stepIndex: 0 }, { jobId: stepJobId(executionId, 0) });
  }
}

/** A new run: the flow's current version and its own copy of the steps. */
function executionRow(run: StartRun): Prisma.FlowExecutionUncheckedCreateInput {
  return {
    flowId: run.flow.id,
    organizationId: run.flow.organizationId,
    contactId: run.contactId,
    flowVersion: run.flow.version,
    steps: run.flow.steps as Prisma.InputJsonValue,
    triggerType: run.triggerType,
    triggerData: run.triggerData,
    dedupeKey: run.dedupeKey,
  };
}

export function toExecutionDto(e: FlowExecution): ExecutionDto {
  return {
    id: e.id,
    contactId: e.contactId,
    status: e.status,
    stepIndex: e.stepIndex,
    triggerType: e.triggerType,
    flowVersion: e.flowVersion,
    startedAt: e.startedAt.toISOString(),
    finishedAt: e.finishedAt?.toISOString() ?? null,
    error: e.error,
  };
}
