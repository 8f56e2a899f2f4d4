import {
  BadRequestException,
  ConflictException,
  Injectable,
  Logger,
  NotFoundException,
  UnprocessableEntityException,
} from '@nestjs/common';
import { Paginated } from '../../core/http/pagination.dto';
import { isUniqueViolation } from '../../core/prisma/prisma-errors';
import { PrismaService } from '../../core/prisma/prisma.service';
import { JobProducer } from '../../core/queues/job-producer.service';
import { JobName } from '../../core/queues/queue.catalogue';
import type { Message } from '../../generated/prisma/client';
import { TenantScope } from '../../core/auth/tenant-scope';
import { IDEMPOTENCY_KEY_PATTERN, MessageDto, MessageListQueryDto } from './dto/message.dto';
import { ENQUEUE_TIMEOUT_MS, enqueueWithin } from './enqueue';
import { ChannelRegistry } from '../channels/channel-registry';
import { ChannelRouter } from '../channels/routing/channel-router';
import { MessageQuota } from '../organizations/message-quota';
import { SENDABLE } from './message-send.repository';

export interface CreateMessageInput {
  contactId: string;
  channel: string;
  content: string;
  mediaUrl?: string;
  scheduledFor?: Date;
}

export interface CreateMessageOptions {
  /** The same key within 24 h answers the first message instead of creating another. */
  idempotencyKey?: string;
  flowExecutionId?: string;
  campaignId?: string;
}

export interface MessageAccepted {
  id: string;
  status: 'QUEUED' | 'SCHEDULED';
}

const IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000;
const MAX_SCHEDULE_MS = 366 * 24 * 3600 * 1000;

@Injectable()
export class MessagesService {
  private readonly logger = new Logger(MessagesService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly jobs: JobProducer,
    private readonly quota: MessageQuota,
    private readonly registry: ChannelRegistry,
    private readonly router: ChannelRouter,
  ) {}

  static toDto(m: Message): MessageDto {
    const iso = (d: Date | null) => (d ? d.toISOString() : null);
    return {
      id: m.id,
      contactId: m.contactId,
      channel: m.channel,
      content: m.content,
      mediaUrl: m.mediaUrl,
      status: m.status,
      externalId: m.externalId,
      attempts: m.attempts,
      sentAt: iso(m.sentAt),
      deliveredAt: iso(m.deliveredAt),
      readAt: iso(m.readAt),
      failedAt: iso(m.failedAt),
      errorMessage: m.errorMessage,
      scheduledFor: iso(m.scheduledFor),
      campaignId: m.campaignId,
      createdAt: m.createdAt.toISOString(),
    };
  }

  /**
   * Accepts one message: a channel of the registry (400), the contact must be
   * the organization's (404), something must carry the channel (422 in
   * production: see ChannelRouter; the route is kept with the message), the
   * monthly quota must allow it (402, nothing stored). The row is stored, with
   * the organization's count, before the job is queued (job id = message id),
   * so a Redis outage loses nothing: the reconciler queues what is stored.
   */
  async create(scope: TenantScope, input: CreateMessageInput, options: CreateMessageOptions = {}): Promise<MessageAccepted> {
    const key = options.idempotencyKey;
    if (key !== undefined && !IDEMPOTENCY_KEY_PATTERN.test(key)) {
      throw new BadRequestException('Idempotency-Key must be 1 to 255 visible ASCII characters.');
    }
    if (key) {
      const first = await this.replay(scope, key, input);
      if (first) return first;
    }
    const sender = this.registry.sender(input.channel);
    if (!sender) throw new BadRequestException([`channel must be one of the following values: ${this.registry.channels().join(', ')}`]);
    const contact = await this.prisma.contact.findFirst({ where: scope.where({ id: input.contactId }), select: { id: true } });
    if (!contact) throw new NotFoundException('Contact not found.');
    const route = await this.router.choose(scope.organizationId, sender.kind, input.channel);
    const scheduledFor = input.scheduledFor;
    if (scheduledFor && scheduledFor.getTime() > Date.now() + MAX_SCHEDULE_MS) {
      throw new BadRequestException('scheduledFor must be within a year from now.');
    }
    const status = scheduledFor && scheduledFor.getTime() > Date.now() ? 'SCHEDULED' : 'QUEUED';

    await this.quota.consume(scope.organizationId, 1);
    let message: Message;
    try {
      message = await this.prisma.$transaction(async (tx) => {
        const created = await tx.message.create({
          data: {
            organizationId: scope.organizationId,
            contactId: input.contactId,
            channel: input.channel,
            content: input.content,
            mediaUrl: input.mediaUrl,
            scheduledFor,
            status,
            route: route.route,
            connectionId: route.connectionId,
            idempotencyKey: key,
            campaignId: options.campaignId,
            flowExecutionId: options.flowExecutionId,
          },
        });
        await this.quota.countAccepted(tx, scope.organizationId, 1);
        return created;
      });
    } catch (error) {
      await this.quota.release(scope.organizationId, 1);
      // Two requests raced with one key: the loser answers the winner's message.
      const first = key && isUniqueViolation(error) ? await this.replay(scope, key, input) : undefined;
      if (first) return first;
      throw error;
    }
    await this.enqueue(message);
    return { id: message.id, status };
  }

  async list(scope: TenantScope, query: MessageListQueryDto): Promise<Paginated<MessageDto>> {
    const where = scope.where({
      status: query.status,
      channel: query.channel,
      contactId: query.contactId,
      campaignId: query.campaignId,
    });
    const [rows, total] = await this.prisma.$transaction([
      this.prisma.message.findMany({ where, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], skip: query.skip, take: query.limit }),
      this.prisma.message.count({ where }),
    ]);
    return { data: rows.map((m) => MessagesService.toDto(m)), total, page: query.page, limit: query.limit };
  }

  async get(scope: TenantScope, id: string): Promise<MessageDto> {
    return MessagesService.toDto(await this.find(scope, id));
  }

  /**
   * Cancels a message not sent yet. Its job is removed first: a job being
   * processed right now is locked and cannot be removed, which answers 409
   * rather than canceling a message that is on its way.
   */
  async cancel(scope: TenantScope, id: string): Promise<MessageDto> {
    const message = await this.find(scope, id);
    if (message.status === 'CANCELED') return MessagesService.toDto(message);
    if (!SENDABLE.has(message.status)) throw this.notCancelable(message.status);
    await this.removeJob(id);
    const count = await this.prisma.$transaction(async (tx) => {
      const canceled = await tx.message.updateMany({ where: { id, status: { in: [...SENDABLE] } }, data: { status: 'CANCELED' } });
      await this.quota.countCanceled(tx, scope.organizationId, canceled.count, message.createdAt);
      return canceled.count;
    });
    const current = await this.find(scope, id);
    if (count === 0 && current.status !== 'CANCELED') throw this.notCancelable(current.status);
    if (count > 0) await this.quota.release(scope.organizationId, 1, message.createdAt);
    return MessagesService.toDto(current);
  }

  private async find(scope: TenantScope, id: string): Promise<Message> {
    const message = await this.prisma.message.findFirst({ where: scope.where({ id }) });
    if (!message) throw new NotFoundException('Message not found.');
    return message;
  }

  private notCancelable(status: string): ConflictException {
    return new ConflictException(`The message is already ${status} and can no longer be canceled.`);
  }

  private async removeJob(id: string): Promise<void> {
    const queue = this.jobs.queueOf(JobName.SendMessage);
    let job;
    try {
      job = await enqueueWithin(ENQUEUE_TIMEOUT_MS, () => queue.getJob(id));
    } catch (error) {
      // Queue unreachable: the CANCELED status alone stops the send (the worker checks it first).
      this.logger.warn(`Could not look up the job of message ${id}: ${(error as Error).message}`);
      return;
    }
    if (!job) return;
    try {
      await job.remove();
    } catch {
      throw new ConflictException('The message is being sent right now and can no longer be canceled.');
    }
  }

  private async replay(scope: TenantScope, key: string, input: CreateMessageInput): Promise<MessageAccepted | undefined> {
    const first = await this.prisma.message.findUnique({
      where: { organizationId_idempotencyKey: { organizationId: scope.organizationId, idempotencyKey: key } },
    });
    if (!first) return undefined;
    if (first.createdAt.getTime() < Date.now() - IDEMPOTENCY_TTL_MS) {
      // Keys are kept 24 h: an older one is released for reuse.
      await this.prisma.message.updateMany({ where: { id: first.id, idempotencyKey: key }, data: { idempotencyKey: null } });
      return undefined;
    }
    if (first.contactId !== input.contactId || first.channel !== input.channel || first.content !== input.content) {
      throw new UnprocessableEntityException('This Idempotency-Key was already used for a different message.');
    }
    const scheduled = first.scheduledFor !== null && first.scheduledFor > first.createdAt;
    return { id: first.id, status: scheduled ? 'SCHEDULED' : 'QUEUED' };
  }

  private async enqueue(message: Message): Promise<void> {
    const delay = message.scheduledFor ? Math.max(0, message.scheduledFor.getTime() - Date.now()) : 0;
    try {
      await enqueueWithin(ENQUEUE_TIMEOUT_MS, () =>
        this.jobs.add(
          JobName.SendMessage,
          { messageId: message.id, organizationId: message.organizationId },
          { jobId: message.id, delay: delay || undefined },
        ),
      );
    } catch (error) {
      this.logger.warn(`Message ${message.id} is stored but not queued yet (${(error as Error).message}); the reconciler will queue it`);
    }
  }
}
