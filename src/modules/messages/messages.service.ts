import {
  BadRequestException,
  ConflictException,
  Injectable,
  Logger,
  NotFoundException,
  UnprocessableEntityException,
} from '@nestjs/common';
import { Paginated, PaginationQueryDto } from '../../core/http/pagination.dto';
import { isUniqueViolation } from '../../core/prisma/prisma-errors';
import { PrismaService } from '../../core/prisma/prisma.service';
import { JobProducer } from '../../core/queues/job-producer.service';
import { JobName } from '../../core/queues/queue.catalogue';
import type { Message } from '../../generated/prisma/client';
import { newRowId } from '../../core/prisma/raw-sql';
import { type AcceptedMessage, MessageAcceptRepository } from './message-accept.repository';
import { TenantScope } from '../../core/auth/tenant-scope';
import { MessageDto, MessageListQueryDto, TemplateRef, templateRefOf } from './dto/message.dto';
import { ENQUEUE_TIMEOUT_MS, enqueueWithin } from './enqueue';
import { ChannelRegistry } from '../channels/channel-registry';
import { ChannelRouter } from '../channels/routing/channel-router';
import { WhatsAppTemplatesService, fillTemplate } from '../channels/templates/whatsapp-templates.service';
import type { Channel } from '../../generated/prisma/enums';
import { CONSENT_CHANNELS, ContactOptedOutException, OutsideWindowException, outsideWindow, senderOf } from './send-rules';
import { renderTemplate } from './template';
import { MessageQuota } from '../organizations/message-quota';
import { SENDABLE } from './message-send.repository';

export interface CreateMessageInput {
  contactId: string;
  channel: string;
  /** The text, or (WHATSAPP) `template` instead. */
  content?: string;
  template?: { name: string; language: string; variables: string[] };
  mediaUrl?: string;
  scheduledFor?: Date;
}

/** What a template message keeps: the request, and the body it fills in per contact. */
export interface StoredTemplate extends TemplateRef {
  body: string;
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
    private readonly templates: WhatsAppTemplatesService,
    private readonly accept: MessageAcceptRepository,
  ) {}

  static toDto(m: Message): MessageDto {
    const iso = (d: Date | null) => (d ? d.toISOString() : null);
    return {
      id: m.id,
      contactId: m.contactId,
      channel: m.channel,
      direction: m.direction,
      content: m.content,
      // The stored template keeps the body the sender fills in; the API answers what was asked.
      template: templateRefOf(m.template),
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
   * contact must not have opted out of the channel, WhatsApp's 24-hour rule
   * and templates must allow it (422), the monthly quota must allow it (402);
   * a refusal stores and consumes nothing. The row is stored, with the
   * organization's count, before the job is queued (job id = message id), so
   * a Redis outage loses nothing: the reconciler queues what is stored.
   */
  async create(scope: TenantScope, input: CreateMessageInput, options: CreateMessageOptions = {}): Promise<MessageAccepted> {
    // Validated at the HTTP edge (IdempotencyKey, where an empty header is no key); a flow step makes its own.
    const key = options.idempotencyKey;
    if (key) {
      const first = await this.replay(scope, key, input);
      if (first) return first;
    }
    const sender = senderOf(this.registry, input);
    // The contact, the organization's connection of the kind, the contact's consent and the monthly cap: one statement.
    const facts = await this.accept.facts(scope.organizationId, input.contactId, sender.kind, input.channel);
    if (!facts?.id) throw new NotFoundException('Contact not found.');
    const contact = { id: facts.id, name: facts.name ?? '', email: facts.email, phone: facts.phone };
    const route = this.router.chooseGiven(facts.connectionId, sender.kind, input.channel);
    if (CONSENT_CHANNELS.has(input.channel) && facts.consent === 'OPTED_OUT') throw new ContactOptedOutException(input.channel);
    if (outsideWindow(input.channel, route.route, Boolean(input.template), facts.whatsappWindowExpiresAt)) throw new OutsideWindowException();
    let template: StoredTemplate | undefined;
    let content = input.content ?? '';
    if (input.template) {
      const found = await this.templates.resolve(await this.templates.accountOfRoute(route.route, route.connectionId), input.template);
      template = { ...input.template, body: found.body };
      const values = input.template.variables.map((v) => renderTemplate(v, { name: contact.name, email: contact.email, phone: contact.phone }));
      content = fillTemplate(found.body, values);
    }
    const scheduledFor = input.scheduledFor;
    if (scheduledFor && scheduledFor.getTime() > Date.now() + MAX_SCHEDULE_MS) {
      throw new BadRequestException(['scheduledFor must be within a year from now.']);
    }
    const status = scheduledFor && scheduledFor.getTime() > Date.now() ? 'SCHEDULED' : 'QUEUED';

    await this.quota.consume(scope.organizationId, 1, facts.maxMessagesPerMonth);
    const message: AcceptedMessage = {
      id: newRowId(),
      organizationId: scope.organizationId,
      contactId: input.contactId,
      channel: input.channel,
      content,
      template: template ? JSON.stringify(template) : null,
      mediaUrl: input.mediaUrl ?? null,
      scheduledFor: scheduledFor ?? null,
      status,
      route: route.route,
      connectionId: route.connectionId,
      idempotencyKey: key ?? null,
      campaignId: options.campaignId ?? null,
      flowExecutionId: options.flowExecutionId ?? null,
    };
    try {
      await this.accept.insert(message);
    } catch (error) {
      await this.quota.release(scope.organizationId, 1);
      // Two requests raced with one key: the loser answers the winner's message.
      const first = key && isUniqueViolation(error) ? await this.replay(scope, key, input) : undefined;
      if (first) return first;
      throw error;
    }
    await this.quota.counted(scope.organizationId);
    await this.enqueue(message);
    return { id: message.id, status };
  }

  async list(scope: TenantScope, query: MessageListQueryDto): Promise<Paginated<MessageDto>> {
    // The DTO admits any channel name (extensions register theirs); an unknown one is a typo, not an empty list.
    if (query.channel !== undefined && !this.registry.sender(query.channel)) {
      throw new BadRequestException([this.registry.unknownChannel()]);
    }
    const where = scope.where({
      status: query.status,
      direction: query.direction,
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

  /**
   * Why a template could not be sent by this organization on this channel
   * now (unknown, not approved, wrong number of variables, no account), or
   * undefined when it can. Flows check their steps with it when saved.
   */
  async templateProblem(scope: TenantScope, channel: string, template: { name: string; language: string; variables: string[] }): Promise<string | undefined> {
    const sender = this.registry.sender(channel);
    if (!sender) return `cannot be sent on ${channel}`;
    try {
      const route = await this.router.choose(scope.organizationId, sender.kind, channel);
      await this.templates.resolve(await this.templates.accountOfRoute(route.route, route.connectionId), template);
      return undefined;
    } catch (error) {
      if (error instanceof UnprocessableEntityException) return (error.getResponse() as { message: string }).message;
      throw error;
    }
  }

  /** `GET /api/contacts/:id/messages`: both directions, newest first. */
  async conversation(scope: TenantScope, contactId: string, query: PaginationQueryDto): Promise<Paginated<MessageDto>> {
    const contact = await this.prisma.contact.findFirst({ where: scope.where({ id: contactId }), select: { id: true } });
    if (!contact) throw new NotFoundException('Contact not found.');
    return this.list(scope, Object.assign(new MessageListQueryDto(), { page: query.page, limit: query.limit, contactId }));
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
    if (count > 0) {
      await this.quota.release(scope.organizationId, 1, message.createdAt);
      await this.quota.counted(scope.organizationId);
    }
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
    const sameRequest = input.template
      ? JSON.stringify(templateRefOf(first.template)) === JSON.stringify(templateRefOf(input.template))
      : first.template === null && first.content === input.content;
    if (first.contactId !== input.contactId || first.channel !== input.channel || !sameRequest) {
      throw new UnprocessableEntityException('This Idempotency-Key was already used for a different message.');
    }
    const scheduled = first.scheduledFor !== null && first.scheduledFor > first.createdAt;
    return { id: first.id, status: scheduled ? 'SCHEDULED' : 'QUEUED' };
  }

  private async enqueue(message: Pick<Message, 'id' | 'organizationId' | 'scheduledFor'>): Promise<void> {
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
