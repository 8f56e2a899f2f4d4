import { Injectable, Logger } from '@nestjs/common';
import { DelayedError, Job, UnrecoverableError } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { AppConfig } from '../../core/config/app-config';
import { ProviderError } from '../../core/http/provider-error';
import { isInfrastructureOutage, postponeForOutage } from '../../core/queues/job-outage';
import { JobName, JobPayloads } from '../../core/queues/queue.catalogue';
import { MessageSender, OutboundMessage, SendContext, isAuthenticationFailure } from '../channels/channel-extension';
import { ChannelRegistry } from '../channels/channel-registry';
import { ChannelRouter, RouteUnavailableError, SendCredentials } from '../channels/routing/channel-router';
import { Batcher } from '../../core/batching/batcher';
import { DeliveryStatusService } from './delivery-status.service';
import { MessageSendRepository, MessageToSend, SentRecord } from './message-send.repository';
import { renderTemplate } from './template';
import { fillTemplate } from '../channels/templates/whatsapp-templates.service';
import { ConsentService } from '../contacts/consent/consent.service';
import type { Channel } from '../../generated/prisma/enums';
import { MessageQuota } from '../organizations/message-quota';
import { LATENESS_MS, PaceAccount, PaceService, PaceSlot } from '../channels/pacing/pace.service';
import { CONSENT_CHANNELS, OUTSIDE_WINDOW, outsideWindow } from './send-rules';

export type SendMessageJob = Job<JobPayloads[JobName.SendMessage]>;

/**
 * The part of a send-message job an attempt uses: its payload, and going back to the queue for later. A
 * campaign batch gives each of its messages one whose "later" is a send-message job of the message's own.
 */
export type SendJobHandle = Pick<SendMessageJob, 'data' | 'updateData' | 'moveToDelayed'>;

export type SendOutcome =
  | { status: 'SENT'; externalId: string; sandbox: boolean }
  | { status: 'CANCELED'; reason: string }
  | { status: 'SKIPPED'; reason: string };

/** Attempts a message gets (claims that reach the provider); a throttling pause is not one. */
export const MAX_SEND_ATTEMPTS = 3;
/** Backoff between attempts the provider refused for now: 2 s, then 4 s. */
const RETRY_DELAY_MS = 2000;
/** After an unknown outcome, Twilio is asked for the message once it had time to list it. */
const LOOKUP_DELAY_MS = 5000;
/** A throttled account waits at least this long when the provider does not say, doubling per consecutive pause. */
const THROTTLE_PAUSE_MS = 1000;
const MAX_THROTTLE_PAUSE_MS = 60_000;

/** A pace slot this close is waited for in the worker; a later one puts the job back until then. */
export const IN_PROCESS_WAIT_MS = 250;
/**
 * A job put back until its slot returns this much before it and waits the rest in the worker: the way back
 * (the delayed job promoted, fetched, claimed) then eats into this margin, not into the slot's LATENESS_MS.
 */
export const RETURN_BEFORE_SLOT_MS = 100;
/** Slots in a row a send may reach too late (a busy event loop) before its job waits in the queue instead. */
const MAX_MISSED_SLOTS = 3;

/**
 * Claims (and records) of concurrent jobs share a statement: at most this many such statements run at once,
 * and the jobs arriving meanwhile go in the next one, so a busy worker commits fewer, bigger batches.
 */
const BATCHES_IN_FLIGHT = 2;
const BATCH_SIZE = 500;

const RECIPIENT_LABEL: Record<string, string> = { phone: 'phone number', email: 'email address', instagramId: 'Instagram id' };

/**
 * Sends one message (the `send-message` job) exactly once, whatever fails:
 *
 * 1. Claim: QUEUED → SENDING in Postgres, the attempt counted, before any
 *    provider call. A job that finds its message SENDING (a retry, a stalled
 *    job, a crash) knows an earlier attempt may have reached the provider.
 * 2. Call the provider with the credentials chosen when the message was
 *    accepted (a deleted or INVALID connection fails it; no fallback).
 * 3. Record: SENT with the provider's id. If Postgres cannot take the write,
 *    the acceptance is kept in the job and only the write is retried.
 *
 * An outcome that is truly unknown (a timeout or crash during the call, a 2xx
 * without an id) is never blindly sent again: each channel's policy decides
 * (Resend: its idempotency key; WhatsApp: wait for Meta's report naming the
 * message; Twilio: look the message up; Instagram DM: fail). Outages of our
 * own infrastructure and provider throttling postpone the job without using
 * an attempt; refusals the provider may lift later are retried with backoff;
 * FAILED is written only when no attempt can succeed.
 */
@Injectable()
export class MessageSenderService {
  private readonly logger = new Logger(MessageSenderService.name);
  private readonly claims: Batcher<string, MessageToSend | undefined>;
  private readonly sends: Batcher<SentRecord, boolean>;
  private readonly pendingReports: Batcher<{ channel: string; externalId: string }, undefined>;

  constructor(
    private readonly repository: MessageSendRepository,
    private readonly registry: ChannelRegistry,
    private readonly router: ChannelRouter,
    private readonly statuses: DeliveryStatusService,
    private readonly consent: ConsentService,
    private readonly quota: MessageQuota,
    private readonly pace: PaceService,
    private readonly config: AppConfig,
  ) {
    this.claims = new Batcher(async (ids) => {
      const rows = await this.repository.claim([...new Set(ids)]);
      const byId = new Map(rows.map((r) => [r.id, r]));
      // One claim, one caller: two jobs holding the same message (a batch and a re-queued job) asked together.
      return ids.map((id) => {
        const row = byId.get(id);
        byId.delete(id);
        return row;
      });
    }, BATCH_SIZE, BATCHES_IN_FLIGHT);
    this.sends = new Batcher(async (records) => {
      const moved = new Set(await this.repository.markSent(records));
      return records.map((r) => moved.has(r.id));
    }, BATCH_SIZE, BATCHES_IN_FLIGHT);
    // After the sends' write committed (so a report kept meanwhile is seen): one query per channel for the batch.
    this.pendingReports = new Batcher(async (sent) => {
      const byChannel = new Map<string, string[]>();
      for (const { channel, externalId } of sent) byChannel.set(channel, [...(byChannel.get(channel) ?? []), externalId]);
      for (const [channel, externalIds] of byChannel) await this.statuses.applyPending(channel, externalIds);
      return sent.map(() => undefined);
    }, BATCH_SIZE, BATCHES_IN_FLIGHT);
  }

  async send(job: SendMessageJob, token?: string): Promise<SendOutcome> {
    const { messageId, accepted } = job.data;
    // An earlier run had the provider's acceptance but could not write it: write it, never call again.
    if (accepted) return this.recordAccepted(job, token, messageId, accepted);

    let message = await this.claims.add(messageId);
    if (!message) {
      const current = await this.repository.load(messageId);
      if (!current) return { status: 'SKIPPED', reason: 'the message no longer exists' };
      if (current.status !== 'SENDING') return { status: 'SKIPPED', reason: `the message is already ${current.status}` };
      message = await this.afterInterruptedAttempt(job, token, current);
      if (!message) return { status: 'SKIPPED', reason: 'the earlier attempt was settled' };
    }
    return this.attempt(job, token, message);
  }

  /** Claims a message for its first attempt, in the statement shared by the claims made meanwhile; undefined when it is not QUEUED/SCHEDULED. */
  claim(messageId: string): Promise<MessageToSend | undefined> {
    return this.claims.add(messageId);
  }

  /**
   * The attempt of a message this caller has just claimed (a campaign batch), exactly as a send-message job
   * makes it; whatever cannot finish now goes on through `job.moveToDelayed`.
   */
  attemptClaimed(job: SendJobHandle, token: string, message: MessageToSend): Promise<SendOutcome> {
    return this.attempt(job, token, message);
  }

  /** Writes an acceptance kept while Postgres could not take it (never calls the provider again). */
  recordKept(job: SendJobHandle, token: string, messageId: string, accepted: { externalId: string; channel: string }): Promise<SendOutcome> {
    return this.recordAccepted(job, token, messageId, accepted);
  }

  /** Called when BullMQ gave up on a job (stalled too often): a message never claimed must not stay QUEUED. */
  async failLost(messageId: string, reason: string): Promise<void> {
    const current = await this.repository.load(messageId);
    // A SENDING message may have reached the provider: the reconciler settles it by the channel's policy instead.
    if (current && (current.status === 'QUEUED' || current.status === 'SCHEDULED')) {
      if (await this.repository.markFailed(messageId, reason)) this.logger.warn(`Message ${messageId} failed outside its attempt: ${reason}`);
    }
  }

  private async attempt(job: SendJobHandle, token: string | undefined, message: MessageToSend): Promise<SendOutcome> {
    const sender = this.registry.sender(message.channel);
    let route: SendCredentials;
    let outbound: OutboundMessage;
    try {
      if (!sender) throw new UnrecoverableError(`No provider sends channel ${message.channel}`);
      if (!message.contactFound) throw new UnrecoverableError('The contact was deleted');
      const to = message[sender.recipientField];
      if (!to) throw new UnrecoverableError(`The contact has no ${RECIPIENT_LABEL[sender.recipientField]} for ${message.channel}`);
      route = this.router.credentialsFor(sender.kind, message.route, message.connection, message.channel);
      if (CONSENT_CHANNELS.has(message.channel) && message.consent === 'OPTED_OUT') return this.cancel(message);
      // The window closed after acceptance: the message fails with the same reason the API's 422 gives.
      if (outsideWindow(message.channel, message.route, message.template !== null, message.whatsappWindowExpiresAt)) {
        throw new UnrecoverableError(OUTSIDE_WINDOW);
      }
      outbound = this.outboundOf(message, to);
    } catch (error) {
      if (error instanceof UnrecoverableError || error instanceof RouteUnavailableError) return this.fail(message, error.message);
      throw error;
    }
    const sentContent = message.template ? outbound.text : undefined;
    if (route.sandbox) return this.recordSent(job, token, message.id, message.channel, `sandbox_${randomUUID()}`, true, sentContent);

    const pace = this.router.paceOf(sender!.kind, message.route, message.connection);
    if (pace) await this.waitForSlot(job, token, message, pace);
    const context = this.contextOf(message, route.credentials, pace && (() => this.takeSlot(job, token, message, pace)));
    let externalId: string;
    try {
      externalId = (await sender!.send(outbound, context)).externalId;
    } catch (error) {
      // A later request's slot is far: the parts sent so far are saved, and the message goes on at that slot.
      if (error instanceof DelayedError) throw error;
      return this.afterFailedCall(job, token, message, sender!, route.connectionId, error, pace);
    }
    return this.recordSent(job, token, message.id, message.channel, externalId, false, sentContent);
  }

  /** The write only, of an acceptance an earlier run kept (a template's filled text is derived again from the row). */
  private async recordAccepted(job: SendJobHandle, token: string | undefined, messageId: string, accepted: { externalId: string; channel: string }): Promise<SendOutcome> {
    const message = await this.repository.load(messageId);
    const content = message?.template ? this.outboundOf(message, '').text : undefined;
    return this.recordSent(job, token, messageId, accepted.channel, accepted.externalId, false, content);
  }

  /** What the provider gets: the text rendered for the contact (a template's parameters and filled body), and the unsubscribe link. */
  private outboundOf(message: MessageToSend, to: string): OutboundMessage {
    const contact = { name: message.name ?? '', email: message.email, phone: message.phone };
    const parameters = message.template?.variables.map((v) => renderTemplate(v, contact));
    return {
      messageId: message.id,
      organizationId: message.organizationId,
      to,
      text: message.template ? fillTemplate(message.template.body, parameters!) : renderTemplate(message.content, contact),
      template: message.template ? { name: message.template.name, language: message.template.language, parameters: parameters! } : undefined,
      mediaUrl: message.mediaUrl,
      progress: message.progress ?? {},
      unsubscribeUrl: CONSENT_CHANNELS.has(message.channel) ? this.consent.unsubscribeUrl(message.organizationId, message.contactId, message.channel as Channel) : undefined,
      storeName: message.organizationName,
    };
  }

  /** The contact opted out after the message was accepted: never sent, CANCELED, and its quota unit given back. */
  private async cancel(message: MessageToSend): Promise<SendOutcome> {
    const reason = `The contact opted out of ${message.channel} before it was sent`;
    if (await this.repository.markCanceled(message.id, message.organizationId, message.createdAt, reason)) {
      await this.quota.release(message.organizationId, 1, message.createdAt);
      await this.quota.counted(message.organizationId);
    }
    return { status: 'CANCELED', reason };
  }

  /**
   * The provider has the message now. A write Postgres cannot take keeps the
   * acceptance in the job (Redis) and postpones it to retry only the write.
   */
  private async recordSent(
    job: SendJobHandle,
    token: string | undefined,
    id: string,
    channel: string,
    externalId: string,
    sandbox: boolean,
    content?: string,
  ): Promise<SendOutcome> {
    let moved: boolean;
    try {
      moved = await this.sends.add({ id, externalId, content });
      // Reports that arrived before this write committed were kept for it.
      if (moved && !sandbox) await this.pendingReports.add({ channel, externalId });
    } catch (error) {
      if (!token || !isInfrastructureOutage(error)) throw error;
      this.logger.warn(`Message ${id} was accepted (${externalId}) but cannot be recorded yet: ${(error as Error).message}`);
      if (!job.data.accepted) await job.updateData({ ...job.data, accepted: { externalId, channel } });
      throw await postponeForOutage(job, token, error);
    }
    if (!moved) this.logger.log(`Message ${id}: accepted as ${externalId}, already settled by the provider's report`);
    return { status: 'SENT', externalId, sandbox };
  }

  private async afterFailedCall(
    job: SendJobHandle,
    token: string | undefined,
    message: MessageToSend,
    sender: MessageSender,
    connectionId: string | null,
    error: unknown,
    pace?: PaceAccount,
  ): Promise<SendOutcome> {
    const providerError = error instanceof ProviderError ? error : undefined;
    if (isAuthenticationFailure(error)) {
      if (connectionId && (await this.repository.invalidateConnection(connectionId, error.message))) {
        this.logger.warn(`Connection ${connectionId} is INVALID: ${error.message}`);
      }
      return this.fail(message, `${error.message} (the connection's credentials were refused; fix them with PUT /api/channels/${sender.kind})`);
    }
    if (providerError?.throttled && token) {
      // Not an attempt: the account pauses (every worker's next slot moves past it) and the message goes after the pause.
      await this.repository.release(message.id, providerError.message, false);
      if (pace) {
        const pause = await this.pace.throttle(pace, providerError.retryAfterMs);
        const slot = await this.pace.slot(pace);
        await job.updateData({ ...job.data, paceSlot: slot });
        throw await this.postpone(job, token, Math.max(pause, slot.latest - Date.now()), `throttled: ${pause} ms pause`);
      }
      throw await this.postpone(job, token, this.throttlePause(job, providerError), 'throttled');
    }
    if (!providerError || providerError.unknownOutcome) return this.afterUnknownOutcome(job, token, message, sender, error as Error);
    if (!providerError.retryable) return this.fail(message, providerError.message);
    if (message.attempts >= MAX_SEND_ATTEMPTS || !token) return this.fail(message, providerError.message);
    await this.repository.release(message.id, providerError.message, true);
    throw await this.postpone(job, token, RETRY_DELAY_MS * 2 ** (message.attempts - 1), 'retry');
  }

  /** The call may or may not have reached the provider: the channel's policy decides, never a blind second send. */
  private async afterUnknownOutcome(job: SendJobHandle, token: string | undefined, message: MessageToSend, sender: MessageSender, error: Error): Promise<SendOutcome> {
    this.logger.warn(`Message ${message.id}: outcome unknown after ${error.message}`);
    switch (sender.unknownOutcome) {
      case 'resend':
        if (message.attempts >= MAX_SEND_ATTEMPTS || !token) return this.fail(message, error.message);
        await this.repository.release(message.id, error.message, true);
        throw await this.postpone(job, token, RETRY_DELAY_MS * 2 ** (message.attempts - 1), 'retry');
      case 'await-report':
      case 'lookup': {
        if (!token) return this.fail(message, `${error.message}; outcome unknown`);
        await this.repository.markUncertain(message.id, message.claimedAt!);
        const wait = sender.unknownOutcome === 'lookup' ? LOOKUP_DELAY_MS : this.config.UNCERTAIN_SEND_WAIT_MS;
        throw await this.postpone(job, token, wait, 'outcome unknown');
      }
      default:
        return this.fail(message, `outcome unknown (${error.message}): not sent again, to avoid a duplicate`);
    }
  }

  /**
   * A job that finds its message SENDING: an earlier attempt claimed it and
   * never recorded an outcome (a crash, a stalled job, a timeout). Answers the
   * message to attempt again, or undefined when it was settled; postpones
   * (throws DelayedError) while the outcome may still be settled by itself.
   */
  private async afterInterruptedAttempt(job: SendJobHandle, token: string | undefined, message: MessageToSend): Promise<MessageToSend | undefined> {
    const sender = this.registry.sender(message.channel);
    const claimedAt = message.claimedAt ?? new Date(0);
    if (!sender) return this.fail(message, `No provider sends channel ${message.channel}`);
    if (!message.uncertainSince) {
      // Another worker may still be inside the call: its lease is the worker lock.
      const leaseEnds = claimedAt.getTime() + this.config.WORKER_LOCK_DURATION_MS;
      if (Date.now() < leaseEnds && token) throw await this.postpone(job, token, leaseEnds - Date.now(), 'claimed by another attempt');
      if (sender.unknownOutcome === 'resend') return this.again(message, claimedAt);
      if (sender.unknownOutcome === 'fail') return this.fail(message, 'outcome unknown (the attempt was interrupted): not sent again, to avoid a duplicate');
      await this.repository.markUncertain(message.id, claimedAt, claimedAt);
      message = { ...message, uncertainSince: claimedAt };
    }
    if (sender.unknownOutcome === 'await-report') {
      const waitEnds = message.uncertainSince!.getTime() + this.config.UNCERTAIN_SEND_WAIT_MS;
      if (Date.now() < waitEnds && token) throw await this.postpone(job, token, waitEnds - Date.now(), 'awaiting the provider report');
      this.logger.warn(`Message ${message.id}: no report named it within ${this.config.UNCERTAIN_SEND_WAIT_MS} ms, so it never went out; sending again`);
      return this.again(message, claimedAt);
    }
    return this.lookUp(job, token, message, sender, claimedAt);
  }

  private async lookUp(job: SendJobHandle, token: string | undefined, message: MessageToSend, sender: MessageSender, claimedAt: Date): Promise<MessageToSend | undefined> {
    let route: SendCredentials;
    try {
      route = this.router.credentialsFor(sender.kind, message.route, message.connection, message.channel);
    } catch (error) {
      if (!(error instanceof RouteUnavailableError)) throw error;
      return this.fail(message, `outcome unknown, and it cannot be looked up: ${error.message}`);
    }
    if (route.sandbox || !sender.lookup) return this.again(message, claimedAt);
    const outbound: OutboundMessage = {
      messageId: message.id,
      organizationId: message.organizationId,
      to: String(message[sender.recipientField] ?? ''),
      text: renderTemplate(message.content, { name: message.name ?? '', email: message.email, phone: message.phone }),
      mediaUrl: message.mediaUrl,
      progress: message.progress ?? {},
    };
    let found;
    try {
      found = await sender.lookup(outbound, this.contextOf(message, route.credentials), new Date(claimedAt.getTime() - 1000));
    } catch (error) {
      if (!(error instanceof ProviderError) || !token) throw error;
      throw await this.postpone(job, token, LOOKUP_DELAY_MS, `lookup failed (${error.message})`);
    }
    if (found) {
      this.logger.log(`Message ${message.id}: found at the provider as ${found.externalId}; recorded, not sent again`);
      await this.recordSent(job, token, message.id, message.channel, found.externalId, false);
      return undefined;
    }
    return this.again(message, claimedAt);
  }

  /**
   * Waits for the account's next slot: in the worker when it is near, else
   * the claim is given back (no attempt used) and the job returns at its slot,
   * which it then uses without taking another. A slot missed by more than the
   * pace's lateness margin is taken again, so a backlog never sends in a burst.
   */
  private async waitForSlot(job: SendJobHandle, token: string | undefined, message: MessageToSend, pace: PaceAccount): Promise<void> {
    const kept = job.data.paceSlot;
    // A kept slot a throttling answer has paused the account over since is taken again, after the pause.
    if (kept && Date.now() >= kept.latest - IN_PROCESS_WAIT_MS && (await this.pace.outsidePause(pace, kept)) && (await this.reached(kept))) return;
    await this.takeSlot(job, token, message, pace);
  }

  /**
   * Takes the account's next slot and waits for it in the worker, or, when it is far, gives the claim back
   * (no attempt used) and puts the job back until it. A slot reached more than LATENESS_MS late (a busy event
   * loop, a slow answer from Redis) is given up for the next free one: sending late would squeeze two slots
   * into less than their spacing.
   */
  private async takeSlot(job: SendJobHandle, token: string | undefined, message: MessageToSend, pace: PaceAccount): Promise<void> {
    for (let missed = 0; ; missed++) {
      const slot = await this.pace.slot(pace);
      const wait = slot.latest - Date.now();
      if (token && (wait > IN_PROCESS_WAIT_MS || missed >= MAX_MISSED_SLOTS)) {
        await this.repository.release(message.id, undefined, false);
        await job.updateData({ ...job.data, paceSlot: slot });
        throw await this.postpone(job, token, wait - RETURN_BEFORE_SLOT_MS, 'paced');
      }
      if ((await this.reached(slot)) || !token) return;
    }
  }

  /** Sleeps until the slot; true when it is still on time to send in it. */
  private async reached(slot: PaceSlot): Promise<boolean> {
    if (slot.latest > Date.now()) await sleep(slot.latest - Date.now());
    return Date.now() - slot.earliest <= LATENESS_MS;
  }

  /** The earlier attempt did not go out: claim the message again for a new attempt, if one is left. */
  private async again(message: MessageToSend, claimedAt: Date): Promise<MessageToSend | undefined> {
    if (message.attempts >= MAX_SEND_ATTEMPTS) {
      return this.fail(message, message.uncertainSince ? 'the last attempt was never confirmed by the provider' : 'every attempt was interrupted');
    }
    return this.repository.reclaim(message.id, claimedAt);
  }

  /** FAILED for good; the job fails too (counted in the queue metrics) and is not retried. */
  private async fail(message: MessageToSend, reason: string): Promise<never> {
    await this.repository.markFailed(message.id, reason);
    throw new UnrecoverableError(reason);
  }

  /** `nextSlot`: a slot of the account's pace for each request after the first (none when unpaced). */
  private contextOf(message: MessageToSend, credentials: SendContext['credentials'], nextSlot?: () => Promise<void>): SendContext {
    return {
      credentials,
      saveProgress: (part, externalId) => this.repository.saveProgress(message.id, part, externalId),
      nextRequest: nextSlot ?? (async () => undefined),
    };
  }

  private throttlePause(job: SendJobHandle, error: ProviderError): number {
    if (error.retryAfterMs !== undefined) return Math.max(THROTTLE_PAUSE_MS, error.retryAfterMs);
    const pauses = Number(job.data.throttled ?? 0);
    return Math.min(MAX_THROTTLE_PAUSE_MS, THROTTLE_PAUSE_MS * 2 ** pauses);
  }

  /** Back in the queue after `ms`, without using a BullMQ attempt (the message's own attempts are what count). */
  private async postpone(job: SendJobHandle, token: string, ms: number, why: string): Promise<DelayedError> {
    const data = why === 'throttled' ? { ...job.data, throttled: Number(job.data.throttled ?? 0) + 1 } : job.data;
    if (data !== job.data) await job.updateData(data);
    await job.moveToDelayed(Date.now() + Math.max(0, Math.round(ms)), token);
    return new DelayedError(`message ${job.data.messageId} postponed ${Math.round(ms)} ms: ${why}`);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
