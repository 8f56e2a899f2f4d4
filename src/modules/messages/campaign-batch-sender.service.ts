import { Injectable, Logger } from '@nestjs/common';
import { DelayedError, Job, UnrecoverableError } from 'bullmq';
import { isInfrastructureOutage, postponeForOutage } from '../../core/queues/job-outage';
import { JobProducer } from '../../core/queues/job-producer.service';
import { JobName, JobPayloads } from '../../core/queues/queue.catalogue';
import { AppConfig } from '../../core/config/app-config';
import { Semaphore } from '../../core/batching/semaphore';
import { PrismaService } from '../../core/prisma/prisma.service';
import { ChannelRegistry } from '../channels/channel-registry';
import { ChannelRouter } from '../channels/routing/channel-router';
import { SEND_BATCH } from '../campaigns/campaign-fan-out.service';
import { MessageSendRepository } from './message-send.repository';
import { IN_PROCESS_WAIT_MS, MessageSenderService, RETURN_BEFORE_SLOT_MS, SendJobHandle } from './message-sender.service';
import { PaceAccount, PaceService, PaceSlot } from '../channels/pacing/pace.service';

export type CampaignBatchJob = Job<JobPayloads[JobName.SendCampaignBatch]>;

type Acceptance = { externalId: string; channel: string };

export interface BatchReport {
  sent: number;
  canceled: number;
  failed: number;
  /** Messages that went on in a send-message job of their own (a retry, a pause, a far pace slot, a takeover). */
  handedOff: number;
  /** Already settled, canceled or deleted before this job reached them. */
  skipped: number;
}

/** Batch messages in flight per process, per unit of WORKER_CONCURRENCY. */
const IN_FLIGHT_PER_WORKER_SLOT = 4;

/** Where a message may still go out from: the per-message path takes over any of these. */
const UNSETTLED = new Set(['QUEUED', 'SCHEDULED', 'SENDING']);

/**
 * Whether an account takes a whole batch within the wait a send makes in the worker (IN_PROCESS_WAIT_MS):
 * unpaced, or paced at SEND_BATCH per 250 ms (200 a second) or faster. A slower account would give most of the
 * batch slots too far away.
 */
function fitsBatch(pace: PaceAccount | null): boolean {
  return !pace || (SEND_BATCH * 1000) / pace.perSecond <= IN_PROCESS_WAIT_MS;
}

/**
 * The `send-campaign-batch` job: up to 50 of a campaign's messages in one
 * BullMQ job, so the queue costs one job per batch rather than per message.
 * Only clean sends finish here; every other case goes on in the message's
 * own `send-message` job (job id: the message id), so the retry, pause,
 * takeover and settlement logic stays in one place:
 *
 * 1. Claim every message (the conditional QUEUED/SCHEDULED → SENDING claim,
 *    shared with the other claims made meanwhile): a canceled, sent or
 *    deleted one is skipped; one found SENDING (an attempt that never
 *    recorded its outcome) is handed to its own job, which takes it over.
 * 2. Each claimed message is attempted as a send-message job would (the same
 *    code: checks, pace slot, provider call, group-committed record), the
 *    batch's messages concurrently (at most 4 x WORKER_CONCURRENCY of all
 *    batches in the process, each claimed only once it has its place); the slots of
 *    one account come from one Redis call.
 *    What that job would have postponed (a transient refusal, throttling, a
 *    slot further than 250 ms away, an unknown outcome) is instead queued as
 *    the message's own job, with the same delay and payload.
 * 3. An acceptance Postgres cannot record is kept in this job's payload (the
 *    job waits out the outage, then writes only that) and in the message's
 *    own job, which the reconciler sees: a SENDING message must never look
 *    jobless while its acceptance waits to be written.
 *
 * A run after an interruption (a stalled job, a retry, a postponement) does
 * not send from the batch at all: it writes the acceptances it kept and
 * hands every unsettled message to its own job (a duplicate id is ignored, so
 * one already handed over keeps its delay), where a SENDING one is taken over
 * by its channel's policy, never blindly sent again.
 */
@Injectable()
export class CampaignBatchSenderService {
  private readonly logger = new Logger(CampaignBatchSenderService.name);
  /**
   * Messages of batches being sent at once in this process: IN_FLIGHT_PER_WORKER_SLOT x WORKER_CONCURRENCY
   * (400 by default). A message waits for its place before it is claimed, so one waiting in the process is
   * still QUEUED. Unbounded (every message of every active batch at once, 5,000 by default), the provider's
   * answers slowed down enough under load to time out, and an unknown outcome whose report is lost is sent
   * again (BENCHMARKS.md); at 1x the batches lost most of their throughput.
   */
  private readonly inFlight: Semaphore;

  constructor(
    private readonly sender: MessageSenderService,
    private readonly repository: MessageSendRepository,
    private readonly jobs: JobProducer,
    private readonly prisma: PrismaService,
    private readonly registry: ChannelRegistry,
    private readonly router: ChannelRouter,
    private readonly pace: PaceService,
    config: AppConfig,
  ) {
    this.inFlight = new Semaphore(IN_FLIGHT_PER_WORKER_SLOT * config.WORKER_CONCURRENCY);
  }

  async send(job: CampaignBatchJob, token?: string): Promise<BatchReport> {
    const report: BatchReport = { sent: 0, canceled: 0, failed: 0, handedOff: 0, skipped: 0 };
    // Started before (BullMQ counts each start: a stall, a retry, a postponement), or carrying what a run kept.
    const interrupted =
      job.attemptsStarted > 1 ||
      job.attemptsMade > 0 ||
      job.stalledCounter > 0 ||
      job.data.accepted !== undefined ||
      (job.data as { outages?: number }).outages !== undefined;
    if (!token || interrupted) return this.afterInterruption(job, token, report);
    const pace = await this.paceOfBatch(job);
    if (pace === undefined || !fitsBatch(pace)) {
      // Paced slower than a batch can go out in the worker's wait: each message goes in its own job, at its slot.
      if (pace) await this.handOffPaced(job, pace);
      else await this.handOff(job, job.data.messageIds);
      report.handedOff += job.data.messageIds.length;
      return report;
    }

    const kept: Record<string, Acceptance> = {};
    const errors: unknown[] = [];
    const unclaimed: string[] = [];
    // Each message: its place, then its claim (shared with the claims made meanwhile), then its attempt.
    await Promise.all(
      job.data.messageIds.map((id) =>
        this.inFlight.run(async () => {
          try {
            const message = await this.sender.claim(id);
            if (!message) return void unclaimed.push(id);
            const outcome = await this.sender.attemptClaimed(this.handleOf(job, id, kept), token, message);
            if (outcome.status === 'SENT') report.sent++;
            else if (outcome.status === 'CANCELED') report.canceled++;
            else report.skipped++;
          } catch (error) {
            if (error instanceof DelayedError) {
              if (!kept[id]) report.handedOff++;
            } else if (error instanceof UnrecoverableError) report.failed++;
            else errors.push(error);
          }
        }),
      ),
    );
    if (unclaimed.length > 0) {
      // Found SENDING: claimed by an attempt that never recorded its outcome; its own job takes it over.
      const sending = (await this.repository.statuses(unclaimed)).filter((m) => m.status === 'SENDING').map((m) => m.id);
      await this.handOff(job, sending);
      report.handedOff += sending.length;
      report.skipped += unclaimed.length - sending.length;
    }
    if (Object.keys(kept).length > 0) {
      await job.updateData({ ...job.data, accepted: kept });
      throw await postponeForOutage(job, token, errors[0] ?? new Error('accepted sends could not be recorded yet'));
    }
    // Every attempt has ended (none is still at the provider): the run after this failure hands the rest on.
    if (errors.length > 0) {
      if (errors.some(isInfrastructureOutage)) throw await postponeForOutage(job, token, errors.find(isInfrastructureOutage));
      throw errors[0];
    }
    return report;
  }

  /**
   * The campaign's pace account: null when unpaced, undefined when the campaign or its channel is gone (its
   * messages then go on alone, where that is settled).
   */
  private async paceOfBatch(job: CampaignBatchJob): Promise<PaceAccount | null | undefined> {
    const campaign = await this.prisma.campaign.findUnique({ where: { id: job.data.campaignId }, select: { channel: true, route: true, connectionId: true } });
    const sender = campaign && this.registry.sender(campaign.channel);
    if (!campaign || !sender) return undefined;
    const connection = campaign.connectionId
      ? await this.prisma.channelConnection.findUnique({ where: { id: campaign.connectionId }, select: { id: true, organizationId: true, maxPerSecond: true } })
      : null;
    return this.router.paceOf(sender.kind, campaign.route, connection);
  }

  /**
   * Queues each message's own job for the batch's consecutive slots of the account, delayed until just before
   * its slot (RETURN_BEFORE_SLOT_MS), which it keeps: the jobs reach the worker one by one as their slots come,
   * instead of all at once, each taking a slot, being put back, and meeting the whole backlog ahead of it on
   * the way back (late for its slot, it would take another: a paced campaign's first seconds sent nothing).
   * Slots reserved for a message whose job already exists are left unused, which only slows the account.
   */
  private async handOffPaced(job: CampaignBatchJob, pace: PaceAccount): Promise<void> {
    await this.handOff(job, job.data.messageIds, await this.pace.slots(pace, job.data.messageIds.length));
  }

  /** BullMQ gave up on the job (it stalled too often, or failed every attempt): every unsettled message goes on alone. */
  async handOffRemaining(job: CampaignBatchJob): Promise<number> {
    const unsettled = (await this.repository.statuses(job.data.messageIds)).filter((m) => UNSETTLED.has(m.status)).map((m) => m.id);
    await this.handOff(job, unsettled);
    return unsettled.length;
  }

  private async afterInterruption(job: CampaignBatchJob, token: string | undefined, report: BatchReport): Promise<BatchReport> {
    const accepted = job.data.accepted ?? {};
    const kept: Record<string, Acceptance> = {};
    for (const [id, acceptance] of Object.entries(accepted)) {
      if (!token) break;
      try {
        await this.sender.recordKept(this.handleOf(job, id, kept), token, id, acceptance);
        report.sent++;
      } catch (error) {
        if (!(error instanceof DelayedError)) throw error;
      }
    }
    if (token && Object.keys(kept).length > 0) {
      await job.updateData({ ...job.data, accepted: kept });
      throw await postponeForOutage(job, token, new Error('accepted sends could not be recorded yet'));
    }
    const rest = job.data.messageIds.filter((id) => !(id in accepted) || !token);
    const unsettled = (await this.repository.statuses(rest)).filter((m) => UNSETTLED.has(m.status)).map((m) => m.id);
    await this.handOff(job, unsettled);
    if (unsettled.length > 0) this.logger.log(`Campaign batch ${job.id} ran again after an interruption: ${unsettled.length} messages go on in their own jobs`);
    report.handedOff += unsettled.length;
    report.skipped += rest.length - unsettled.length;
    return report;
  }

  /**
   * Queues each message's own send-message job, at the batch's priority (an id already queued is left as it is);
   * with `slots`, each job keeps its slot and is delayed until RETURN_BEFORE_SLOT_MS before it.
   */
  private async handOff(job: CampaignBatchJob, messageIds: string[], slots?: PaceSlot[]): Promise<void> {
    if (messageIds.length === 0) return;
    const now = Date.now();
    await this.jobs.addBulk(
      JobName.SendMessage,
      messageIds.map((id, i) => ({
        data: { messageId: id, organizationId: job.data.organizationId, ...(slots && { paceSlot: slots[i] }) },
        opts: { jobId: id, priority: job.opts.priority, ...(slots && { delay: Math.max(0, slots[i].latest - now - RETURN_BEFORE_SLOT_MS) }) },
      })),
    );
  }

  /**
   * What one message's attempt sees as its job: putting it back for later queues the message's own
   * send-message job with the payload and delay it asked for, except an acceptance that could not be
   * recorded, which this batch keeps and writes itself.
   */
  private handleOf(job: CampaignBatchJob, messageId: string, kept: Record<string, Acceptance>): SendJobHandle {
    const handle: SendJobHandle = {
      data: { messageId, organizationId: job.data.organizationId },
      updateData: async (data) => {
        handle.data = data;
      },
      moveToDelayed: async (timestamp) => {
        const { outages: _outages, ...data } = handle.data as JobPayloads[JobName.SendMessage] & { outages?: number };
        const opts = { jobId: messageId, delay: Math.max(0, timestamp - Date.now()) || undefined, priority: job.opts.priority };
        if (!data.accepted) {
          await this.jobs.add(JobName.SendMessage, data, opts);
          return;
        }
        // Kept twice, both writes conditional: in this job, which writes it once Postgres is back, and in the
        // message's own job, which the reconciler sees (a SENDING message without a job of its own would be
        // queued again and taken over, and, without Meta's report, sent again). Should a job of that id exist
        // already (without the acceptance), this one's write still comes first: the other waits for the lease.
        kept[messageId] = data.accepted;
        await this.jobs.add(JobName.SendMessage, data, opts).catch((error: Error) => {
          this.logger.warn(`Message ${messageId}: its acceptance is kept in batch job ${job.id} only (${error.message})`);
        });
      },
    };
    return handle;
  }
}
