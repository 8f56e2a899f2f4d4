import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { PrismaService } from '../prisma/prisma.service';
import { JobProducer } from '../queues/job-producer.service';
import { JobName } from '../queues/queue.catalogue';
import { Prisma } from '../../generated/prisma/client';

/** Handled events are kept this long (to look into), then purged. */
export const OUTBOX_RETENTION_DAYS = 7;
const PURGE_BATCH = 10_000;
/**
 * One drain job at a time across the cluster (BullMQ deduplication): a kick while one waits adds nothing; a kick
 * while one runs is kept and becomes one follow-up job when it ends, so events committed during a drain's last
 * batch do not wait for the scheduler.
 */
const DRAIN_DEDUPLICATION = { id: JobName.DrainOutbox, keepLastIfActive: true };

export interface NewOutboxEvent {
  organizationId: string;
  type: string;
  payload: Prisma.InputJsonObject;
}

export interface OutboxEvent {
  id: bigint;
  organizationId: string;
  type: string;
  payload: Prisma.JsonObject;
  /** How often it was handed out, this time included. */
  attempts: number;
}

/**
 * The transactional outbox (`outbox_events`). A write that must start work
 * later appends its events in its own transaction, so they exist exactly
 * when the change does, then kicks the drain (best effort: a repeating
 * scheduler drains what a lost kick left). Drains take events in batches
 * under a lease, so a drain that dies hands them to the next one; handlers
 * must therefore be idempotent.
 */
@Injectable()
export class OutboxService {
  private readonly logger = new Logger(OutboxService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly producer: JobProducer,
    private readonly config: AppConfig,
  ) {}

  /** Appends events inside the caller's transaction, for this deployment's workers (its QUEUE_PREFIX). */
  async append(tx: Prisma.TransactionClient, events: NewOutboxEvent[]): Promise<void> {
    if (events.length === 0) return;
    await tx.outboxEvent.createMany({ data: events.map((e) => ({ ...e, namespace: this.config.QUEUE_PREFIX })) });
  }

  /**
   * The same as `append`, as a statement to run inside a bigger one (a CTE of the caller's write): inserts one event
   * per row of `events`, a relation with the columns `"organizationId"`, `type` and `payload` (jsonb).
   */
  appendFrom(events: Prisma.Sql): Prisma.Sql {
    return Prisma.sql`
      INSERT INTO outbox_events ("organizationId", namespace, type, payload, "availableAt", "createdAt")
      SELECT e."organizationId", ${this.config.QUEUE_PREFIX}, e.type, e.payload, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
      FROM (${events}) AS e`;
  }

  /** Wakes the drain after a commit. Never fails the caller: the events are stored, the scheduler drains them anyway. */
  async kick(): Promise<void> {
    await this.producer
      .add(JobName.DrainOutbox, {}, { deduplication: DRAIN_DEDUPLICATION })
      .catch((error: Error) => this.logger.warn(`Outbox drain not kicked (the scheduler will drain): ${error.message}`));
  }

  /**
   * Hands out up to `limit` pending events of these types written by this deployment, oldest first, each under a lease of `leaseMs`:
   * until it ends no other drain gets them (`SKIP LOCKED` keeps concurrent drains apart meanwhile).
   */
  claim(types: string[], limit: number, leaseMs: number): Promise<OutboxEvent[]> {
    return this.prisma.$queryRaw<OutboxEvent[]>`
      UPDATE outbox_events
      SET "availableAt" = (now() AT TIME ZONE 'UTC') + ${leaseMs}::int * interval '1 millisecond', attempts = attempts + 1
      WHERE id IN (
        SELECT id FROM outbox_events
        WHERE namespace = ${this.config.QUEUE_PREFIX} AND "processedAt" IS NULL AND type = ANY(${types}::text[]) AND "availableAt" <= (now() AT TIME ZONE 'UTC')
        ORDER BY id
        LIMIT ${limit}::int
        FOR UPDATE SKIP LOCKED)
      RETURNING id, "organizationId", type, payload, attempts`;
  }

  async complete(ids: bigint[]): Promise<void> {
    if (ids.length === 0) return;
    await this.prisma.outboxEvent.updateMany({ where: { id: { in: ids } }, data: { processedAt: new Date(), lastError: null } });
  }

  /** A handler failed: hand the event out again after `retryInMs`, or give up on it (kept, with the error, until purged). */
  async failed(id: bigint, error: string, retryInMs: number | null): Promise<void> {
    await this.prisma.outboxEvent.update({
      where: { id },
      data:
        retryInMs === null
          ? { processedAt: new Date(), lastError: error.slice(0, 1000) }
          : { availableAt: new Date(Date.now() + retryInMs), lastError: error.slice(0, 1000) },
    });
  }

  /** Deletes handled events older than the retention, a bounded number per call; answers how many. */
  purge(): Promise<number> {
    return this.prisma.$executeRaw`
      DELETE FROM outbox_events WHERE id IN (
        SELECT id FROM outbox_events
        WHERE "processedAt" < (now() AT TIME ZONE 'UTC') - ${OUTBOX_RETENTION_DAYS}::int * interval '1 day'
        LIMIT ${PURGE_BATCH}::int)`;
  }
}
