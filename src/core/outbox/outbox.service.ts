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
 * A condition on an event's row (`e` in SQL) under which it needs no handler, for `claim` to mark it handled at once;
 * `statement` names the claim's prepared statement with this condition (one name per condition).
 */
export interface NothingToDo {
  statement: string;
  when: Prisma.Sql;
}

const NEVER_NOTHING_TO_DO: NothingToDo = { statement: 'zyva_outbox_claim', when: Prisma.sql`false` };

/** Per event type, when an event of it needs no handler (`skipWhenNothingToDo`). */
const unneeded = new Map<string, Prisma.Sql>();

/**
 * Events of `type` for which `nothingToDo.when` holds as they are written are not written at all: the claim would
 * only mark them handled (a tag that starts no flow, for most tags of a CSV import). The condition is read in the
 * snapshot of the statement that writes them, so a handler committed before that statement sees its events, and
 * the claim still marks handled those it no longer needs. Declared where the handler is defined, when its file is
 * loaded: the statements that append events are prepared, so their text must stay the same for the process's life.
 */
export function skipWhenNothingToDo(type: string, nothingToDo: NothingToDo): void {
  unneeded.set(type, nothingToDo.when);
}

/** True for an event of `e` (a relation with `"organizationId"`, `type` and `payload`) that needs no handler. */
function needsNoHandler(): Prisma.Sql {
  if (unneeded.size === 0) return Prisma.sql`false`;
  return Prisma.join([...unneeded].map(([type, when]) => Prisma.sql`(e.type = ${type}::text AND ${when})`), ' OR ');
}

export interface ClaimedBatch {
  /** The events to handle, each under the lease. */
  events: OutboxEvent[];
  /** Events of the batch that needed no handler (`NothingToDo`), marked handled by the claim itself. */
  completed: number;
}

type ClaimedRow = Omit<OutboxEvent, 'id'> & { id: string | null; completed: number };

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

  /**
   * Appends events inside the caller's transaction, for this deployment's workers (its QUEUE_PREFIX), but those that
   * need no handler (`skipWhenNothingToDo`); answers how many were written.
   */
  async append(tx: Prisma.TransactionClient, events: NewOutboxEvent[]): Promise<number> {
    if (events.length === 0) return 0;
    return tx.$executeRaw(
      this.appendFrom(Prisma.sql`
        SELECT * FROM unnest(${events.map((e) => e.organizationId)}::text[], ${events.map((e) => e.type)}::text[],
                             ${events.map((e) => JSON.stringify(e.payload))}::text[]::jsonb[]) AS v("organizationId", type, payload)`),
    );
  }

  /**
   * The same as `append`, as a statement to run inside a bigger one (a CTE of the caller's write): inserts one event
   * per row of `events`, a relation with the columns `"organizationId"`, `type` and `payload` (jsonb), but those that
   * need no handler; it returns the `id` of each event written.
   */
  appendFrom(events: Prisma.Sql): Prisma.Sql {
    return Prisma.sql`
      INSERT INTO outbox_events ("organizationId", namespace, type, payload, "availableAt", "createdAt")
      SELECT e."organizationId", ${this.config.QUEUE_PREFIX}, e.type, e.payload, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
      FROM (${events}) AS e
      WHERE NOT (${needsNoHandler()})
      RETURNING id`;
  }

  /** Wakes the drain after a commit. Never fails the caller: the events are stored, the scheduler drains them anyway. */
  async kick(): Promise<void> {
    await this.producer
      .add(JobName.DrainOutbox, {}, { deduplication: DRAIN_DEDUPLICATION })
      .catch((error: Error) => this.logger.warn(`Outbox drain not kicked (the scheduler will drain): ${error.message}`));
  }

  /**
   * Hands out up to `limit` pending events of these types written by this deployment, oldest first, each under a lease of `leaseMs`:
   * until it ends no other drain gets them (`SKIP LOCKED` keeps concurrent drains apart meanwhile). With `nothingToDo`, the same
   * statement marks handled the events of the batch that need no handler and hands out only the others. One prepared statement.
   */
  async claim(types: string[], limit: number, leaseMs: number, nothingToDo: NothingToDo = NEVER_NOTHING_TO_DO): Promise<ClaimedBatch> {
    const now = Prisma.sql`(now() AT TIME ZONE 'UTC')`;
    // One UPDATE writes each row once: the events handled here and those handed out differ only by the CASEs. The
    // LEFT JOIN from the count answers at least one row, with null event columns when none is handed out.
    const rows = await this.prisma.queryPrepared<ClaimedRow>(
      nothingToDo.statement,
      Prisma.sql`
        WITH due AS (
          SELECT e.id, (${nothingToDo.when}) AS done FROM outbox_events e
          WHERE e.namespace = ${this.config.QUEUE_PREFIX}::text AND e."processedAt" IS NULL AND e.type = ANY(${types}::text[])
            AND e."availableAt" <= ${now}
          ORDER BY e.id
          LIMIT ${limit}::int
          FOR UPDATE OF e SKIP LOCKED
        ), claimed AS (
          UPDATE outbox_events o
          SET "availableAt" = ${now} + ${leaseMs}::int * interval '1 millisecond', attempts = o.attempts + 1,
              "processedAt" = CASE WHEN due.done THEN ${now} ELSE o."processedAt" END,
              "lastError" = CASE WHEN due.done THEN NULL ELSE o."lastError" END
          FROM due WHERE o.id = due.id
          RETURNING o.id, o."organizationId", o.type, o.payload, o.attempts, due.done
        ), batch AS (SELECT count(*) FILTER (WHERE done)::int AS completed FROM claimed)
        SELECT batch.completed, c.id::text, c."organizationId", c.type, c.payload, c.attempts
        FROM batch LEFT JOIN claimed c ON NOT c.done
        ORDER BY c.id`,
    );
    const events = rows.flatMap(({ id, organizationId, type, payload, attempts }) =>
      id === null ? [] : [{ id: BigInt(id), organizationId, type, payload, attempts }],
    );
    return { events, completed: rows[0].completed };
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
