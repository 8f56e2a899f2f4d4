import { Injectable } from '@nestjs/common';
import { PrismaService } from '../../core/prisma/prisma.service';
import { sqlTimestamp } from '../../core/prisma/raw-sql';
import { Prisma } from '../../generated/prisma/client';
import { MessageQuota } from '../organizations/message-quota';
import { CONSENT_CHANNELS } from './send-rules';

/** See MessageAcceptRepository.facts. */
export interface AcceptanceFacts {
  id: string | null;
  name: string | null;
  email: string | null;
  phone: string | null;
  whatsappWindowExpiresAt: Date | null;
  connectionId: string | null;
  consent: string | null;
  maxMessagesPerMonth: number;
}

/** The columns of an accepted message as MessageAcceptRepository.insert stores them (`template` as JSON text). */
export interface AcceptedMessage {
  id: string;
  organizationId: string;
  contactId: string;
  channel: string;
  content: string;
  template: string | null;
  mediaUrl: string | null;
  scheduledFor: Date | null;
  status: 'QUEUED' | 'SCHEDULED';
  route: string;
  connectionId: string | null;
  idempotencyKey: string | null;
  campaignId: string | null;
  flowExecutionId: string | null;
}

/** The two statements of `POST /api/messages` (MessagesService.create): what it checks, and what it stores. */
@Injectable()
export class MessageAcceptRepository {
  constructor(
    private readonly prisma: PrismaService,
    private readonly quota: MessageQuota,
  ) {}

  /**
   * What accepting a message needs to know, in one prepared statement: the organization's contact (null columns
   * when it has none), the id of the organization's connection of the kind (`ChannelRouter.chooseGiven`), the
   * contact's consent on the channel (null: UNKNOWN, or not a consent channel) and the monthly cap. Undefined when
   * the organization does not exist.
   */
  async facts(organizationId: string, contactId: string, kind: string, channel: string): Promise<AcceptanceFacts | undefined> {
    const [facts] = await this.prisma.queryPrepared<AcceptanceFacts>(
      'zyva_message_acceptance',
      Prisma.sql`
        SELECT c.id, c.name, c.email, c.phone, c."whatsappWindowExpiresAt",
               (SELECT k.id FROM channel_connections k WHERE k."organizationId" = o.id AND k.kind = ${kind}::text) AS "connectionId",
               (SELECT s.status::text FROM contact_consents s
                WHERE s."contactId" = c.id AND s."organizationId" = o.id AND s.channel = ${CONSENT_CHANNELS.has(channel) ? channel : null}::"Channel") AS consent,
               o."maxMessagesPerMonth"
        FROM organizations o LEFT JOIN contacts c ON c.id = ${contactId}::text AND c."organizationId" = o.id
        WHERE o.id = ${organizationId}::text`,
    );
    return facts;
  }

  /**
   * Stores an accepted message and adds it to the organization's `messagesThisMonth` in one prepared statement that
   * commits by itself (the organization's row is locked only for that statement). A unique violation (the
   * Idempotency-Key) fails it as a whole.
   */
  async insert(m: AcceptedMessage): Promise<void> {
    const now = sqlTimestamp(new Date());
    await this.prisma.queryPrepared(
      'zyva_message_insert',
      Prisma.sql`
        WITH message AS (
          INSERT INTO messages (id, "organizationId", "contactId", channel, content, template, "mediaUrl", "scheduledFor", status, route,
                                "connectionId", "idempotencyKey", "campaignId", "flowExecutionId", "createdAt", "updatedAt")
          VALUES (${m.id}::text, ${m.organizationId}::text, ${m.contactId}::text, ${m.channel}::text, ${m.content}::text, ${m.template}::jsonb,
                  ${m.mediaUrl}::text, ${m.scheduledFor ? sqlTimestamp(m.scheduledFor) : null}::timestamp(3), ${m.status}::"MessageStatus",
                  ${m.route}::"SendRoute", ${m.connectionId}::text, ${m.idempotencyKey}::text, ${m.campaignId}::text, ${m.flowExecutionId}::text,
                  ${now}::timestamp(3), ${now}::timestamp(3))
          RETURNING id
        ), counted AS (${this.quota.countAcceptedSql(m.organizationId, 1)})
        SELECT id FROM message`,
    );
  }
}
