import { Injectable, Logger } from '@nestjs/common';
import { Job, UnrecoverableError } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { cacheKeys } from '../../core/cache/cache-keys';
import { CacheService } from '../../core/cache/cache.service';
import { AppConfig } from '../../core/config/app-config';
import { JobName, JobPayloads } from '../../core/queues/queue.catalogue';
import { ChannelProvider } from '../channels/providers/channel-provider';
import { ChannelRegistry } from '../channels/providers/channel-registry';
import { ProviderError } from '../../core/http/provider-error';
import { Batcher } from './batcher';
import { MessageSendRepository, MessageToSend, SENDABLE, SentRecord } from './message-send.repository';
import { renderTemplate } from './template';

export type SendMessageJob = Job<JobPayloads[JobName.SendMessage]>;

export type SendOutcome = { status: 'SENT'; externalId: string; sandbox: boolean } | { status: 'SKIPPED'; reason: string };

const WRITE_RETRY_DELAYS_MS = [100, 500, 2000];

const RECIPIENT_LABEL: Record<string, string> = { phone: 'phone number', email: 'email address', instagramId: 'Instagram id' };

/**
 * Sends one message (the `send-message` job): checks it is still to be sent,
 * renders it for its contact, hands it to the channel's provider and records
 * the outcome. FAILED is written only on the last attempt, or at once when no
 * retry can succeed (UnrecoverableError), and always before the job ends.
 */
@Injectable()
export class MessageSenderService {
  private readonly logger = new Logger(MessageSenderService.name);
  private readonly loads: Batcher<string, MessageToSend | undefined>;
  private readonly sends: Batcher<SentRecord, boolean>;

  constructor(
    private readonly repository: MessageSendRepository,
    private readonly registry: ChannelRegistry,
    private readonly cache: CacheService,
    private readonly config: AppConfig,
  ) {
    this.loads = new Batcher(async (ids) => {
      const rows = await this.repository.loadForSend(ids);
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id));
    });
    this.sends = new Batcher(async (records) => {
      const moved = await this.repository.markSent(records);
      await this.refreshOrganizations(new Set(moved.map((m) => m.organizationId)));
      const movedIds = new Set(moved.map((m) => m.id));
      return records.map((r) => movedIds.has(r.id));
    });
  }

  async send(job: SendMessageJob): Promise<SendOutcome> {
    const message = await this.loads.add(job.data.messageId);
    if (!message) return { status: 'SKIPPED', reason: 'the message no longer exists' };
    // Check before send: whatever retries, restarts or reconciliations happen, a sent message is not sent again.
    if (!SENDABLE.has(message.status)) return { status: 'SKIPPED', reason: `the message is already ${message.status}` };

    try {
      const provider = this.providerFor(message);
      const to = message[provider.recipientField];
      if (!to) throw new UnrecoverableError(`The contact has no ${RECIPIENT_LABEL[provider.recipientField]} for ${message.channel}`);
      const text = renderTemplate(message.content, { name: message.name ?? '', email: message.email, phone: message.phone });
      const sandbox = !provider.isConfigured();
      const { externalId } = sandbox
        ? { externalId: `sandbox_${randomUUID()}` }
        : await provider.send({ messageId: message.id, to, text, mediaUrl: message.mediaUrl });
      const recorded = await this.recordSent({ id: message.id, externalId });
      if (!recorded) this.logger.warn(`Message ${message.id} was sent but had changed status meanwhile (canceled?)`);
      return { status: 'SENT', externalId, sandbox };
    } catch (error) {
      throw await this.recordFailure(job, error);
    }
  }

  /** Called when BullMQ fails a job without our handler having run (a job stalled too often). */
  async failLost(messageId: string, reason: string): Promise<void> {
    if (await this.repository.markFailed(messageId, reason, false)) {
      this.logger.warn(`Message ${messageId} failed outside its attempt: ${reason}`);
    }
  }

  /**
   * The provider has the message now: a failed write is retried here, since
   * failing the job would send it a second time on the job's retry.
   */
  private async recordSent(record: SentRecord): Promise<boolean> {
    try {
      return await this.sends.add(record);
    } catch (error) {
      for (const delayMs of WRITE_RETRY_DELAYS_MS) {
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        const moved = await this.repository.markSent([record]).catch(() => undefined);
        if (moved) {
          await this.refreshOrganizations(new Set(moved.map((m) => m.organizationId)));
          return moved.length > 0;
        }
      }
      this.logger.error(`Message ${record.id} was sent (${record.externalId}) but could not be recorded: ${(error as Error).message}`);
      throw error;
    }
  }

  private providerFor(message: MessageToSend): ChannelProvider {
    if (!message.contactFound) throw new UnrecoverableError('The contact was deleted');
    const provider = this.registry.get(message.channel);
    if (!provider) throw new UnrecoverableError(`No provider handles channel ${message.channel}`);
    if (!provider.isConfigured() && this.config.NODE_ENV === 'production') {
      throw new UnrecoverableError(`${provider.name} is not configured (its credentials are missing), so ${message.channel} cannot be sent`);
    }
    return provider;
  }

  /** Records the attempt and answers the error the job must end with. */
  private async recordFailure(job: SendMessageJob, error: unknown): Promise<Error> {
    const reason = error instanceof Error ? error.message : String(error);
    const cannotSucceed = error instanceof UnrecoverableError || (error instanceof ProviderError && !error.retryable);
    const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    if (cannotSucceed || lastAttempt) {
      await this.repository.markFailed(job.data.messageId, reason);
      return error instanceof UnrecoverableError ? error : new UnrecoverableError(reason);
    }
    await this.repository.recordRetry(job.data.messageId, reason);
    return error instanceof Error ? error : new Error(reason);
  }

  /** The organization and dashboard caches show messagesThisMonth: drop them once per batch. */
  private async refreshOrganizations(orgIds: Set<string>): Promise<void> {
    if (orgIds.size === 0) return;
    const keys = [...orgIds].flatMap((id) => [cacheKeys.org(id), cacheKeys.dashboard(id)]);
    await this.cache.del(...keys).catch((error: Error) => this.logger.warn(`Could not refresh cached organizations: ${error.message}`));
  }
}
