import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig } from '../../core/config/app-config';
import { OutboxEvent, OutboxService } from '../../core/outbox/outbox.service';
import { isInfrastructureOutage } from '../../core/queues/job-outage';
import { JobProducer } from '../../core/queues/job-producer.service';
import { JobName } from '../../core/queues/queue.catalogue';
import { CONTACT_TAG_ADDED } from '../contacts/contact.events';
import { FlowTriggersService, TAG_STARTS_NO_FLOW } from './flow-triggers.service';

/** Events taken per batch. */
export const DRAIN_BATCH = 500;
/** Events handled at once: a CSV import of thousands of tags starts flows at this pace, never all at once. */
export const DRAIN_CONCURRENCY = 5;
/** How long a drain owns the events it took; past it (the drain died) another drain gets them. */
const LEASE_MS = 60_000;
/** Batches per job before it hands over to a follow-up job, so one run never holds a worker for long. */
const MAX_BATCHES_PER_RUN = 20;
/** Failures of one event before it is given up on (kept with its error until purged). */
const MAX_EVENT_ATTEMPTS = 10;
/**
 * Old handled events are purged by the first drain that empties the outbox in each such period (per process),
 * not by every one: a store adding tags all day empties it many times a second, and each purge scans the table.
 */
export const PURGE_EVERY_MS = 10 * 60_000;

export interface OutboxDrainReport {
  handled: number;
  failed: number;
  purged: number;
}

/**
 * Drains the outbox events that start flows (`contact.tag-added`), as the
 * `drain-outbox` job: kicked after each commit that wrote some, and every
 * RECONCILE_INTERVAL_MS by a cluster-wide scheduler in case a kick was lost
 * (a crash between commit and kick, Redis away). Starting a run is
 * idempotent (its `dedupeKey`), so an event handed out twice after a crash
 * starts its flow once.
 */
@Injectable()
export class FlowOutboxDrainService implements OnApplicationBootstrap {
  private readonly logger = new Logger(FlowOutboxDrainService.name);
  private lastPurgeAt = -Infinity;

  constructor(
    private readonly outbox: OutboxService,
    private readonly triggers: FlowTriggersService,
    private readonly jobs: JobProducer,
    private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.jobs.scheduleEvery(JobName.DrainOutbox, this.config.RECONCILE_INTERVAL_MS, {});
  }

  /** The scheduler's tick only wakes the one deduplicated drain job, so two drains never run side by side. */
  tick(): Promise<void> {
    return this.outbox.kick();
  }

  async run(): Promise<OutboxDrainReport> {
    const report: OutboxDrainReport = { handled: 0, failed: 0, purged: 0 };
    for (let round = 0; round < MAX_BATCHES_PER_RUN; round++) {
      const batch = await this.outbox.claim([CONTACT_TAG_ADDED], DRAIN_BATCH, LEASE_MS, TAG_STARTS_NO_FLOW);
      const handled: bigint[] = [];
      await eachWithLimit(batch.events, DRAIN_CONCURRENCY, async (event) => {
        if (await this.handle(event)) handled.push(event.id);
        else report.failed++;
      });
      await this.outbox.complete(handled);
      report.handled += batch.completed + handled.length;
      if (batch.completed + batch.events.length < DRAIN_BATCH) {
        // No other event was due. One committed since comes with its kick, which BullMQ keeps while this job is
        // active and adds as one follow-up job once it ends (DRAIN_DEDUPLICATION): no second claim needed to catch it.
        if (Date.now() - this.lastPurgeAt >= PURGE_EVERY_MS) {
          report.purged = await this.outbox.purge();
          this.lastPurgeAt = Date.now();
        }
        return report;
      }
    }
    await this.outbox.kick(); // more may be waiting: a follow-up job takes them
    return report;
  }

  /** True when handled; a failure is recorded on the event. An outage of our own aborts the run (its events come back after the lease). */
  private async handle(event: OutboxEvent): Promise<boolean> {
    try {
      const { contactId, tag } = event.payload as { contactId: string; tag: string };
      await this.triggers.tagAdded({ organizationId: event.organizationId, contactId, tag });
      return true;
    } catch (error) {
      if (isInfrastructureOutage(error)) throw error;
      const reason = (error as Error).message;
      const giveUp = event.attempts >= MAX_EVENT_ATTEMPTS;
      if (giveUp) this.logger.error(`Outbox event ${event.id} (${event.type}) given up after ${event.attempts} attempts: ${reason}`);
      await this.outbox.failed(event.id, reason, giveUp ? null : Math.min(3_600_000, 1000 * 2 ** event.attempts));
      return false;
    }
  }
}

/** Runs `work` on every item with at most `limit` at once; the first error stops new work and is thrown once the running ones end. */
async function eachWithLimit<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async () => {
    while (!failure && next < items.length) {
      const item = items[next++];
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure) throw failure.error;
}
