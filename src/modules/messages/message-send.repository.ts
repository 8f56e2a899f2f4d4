import { Injectable } from '@nestjs/common';
import { PrismaService } from '../../core/prisma/prisma.service';
import { Prisma } from '../../generated/prisma/client';
import type { MessageStatus, SendRoute } from '../../generated/prisma/enums';
import { currentPeriod } from '../../core/plans/plans';
import type { ConnectionForSend } from '../channels/routing/channel-router';
import type { StoredTemplate } from './messages.service';

/** What the worker needs to send one message: the message, its contact (null fields when deleted) and its connection. */
export interface MessageToSend {
  id: string;
  organizationId: string;
  contactId: string;
  channel: string;
  content: string;
  template: StoredTemplate | null;
  mediaUrl: string | null;
  status: MessageStatus;
  createdAt: Date;
  route: SendRoute | null;
  attempts: number;
  claimedAt: Date | null;
  uncertainSince: Date | null;
  progress: Record<string, string> | null;
  contactFound: string | null;
  name: string | null;
  email: string | null;
  phone: string | null;
  instagramId: string | null;
  whatsappWindowExpiresAt: Date | null;
  /** The contact's consent on the message's channel: OPTED_IN, OPTED_OUT, or null (nothing recorded). */
  consent: string | null;
  organizationName: string;
  connection: ConnectionForSend | null;
}

export interface SentRecord {
  id: string;
  externalId: string;
  /** The text as sent, when it was only known at send time (a template filled in for the contact). */
  content?: string;
}

/** Statuses from which a message may still be claimed for a first attempt. */
export const SENDABLE: ReadonlySet<MessageStatus> = new Set<MessageStatus>(['QUEUED', 'SCHEDULED']);

type Row = Omit<MessageToSend, 'connection'> & {
  connId: string | null;
  connOrg: string | null;
  connKind: string | null;
  connStatus: string | null;
  connVersion: number | null;
  connConfig: unknown;
  connSecrets: string | null;
  connError: string | null;
  connMaxPerSecond: number | null;
};

const COLUMNS = Prisma.sql`
  m.id, m."organizationId", m."contactId", m.channel, m.content, m.template, m."mediaUrl", m.status::text AS status, m.route::text AS route,
  m.attempts, m."claimedAt", m."uncertainSince", m.progress, m."createdAt",
  c.id AS "contactFound", c.name, c.email, c.phone, c."instagramId", c."whatsappWindowExpiresAt",
  cs.status::text AS consent, o.name AS "organizationName",
  cc.id AS "connId", cc."organizationId" AS "connOrg", cc.kind AS "connKind", cc.status::text AS "connStatus", cc.version AS "connVersion",
  cc.config AS "connConfig", cc.secrets AS "connSecrets", cc.error AS "connError", cc."maxPerSecond" AS "connMaxPerSecond"`;

const JOINS = Prisma.sql`
  JOIN organizations o ON o.id = m."organizationId"
  LEFT JOIN contacts c ON c.id = m."contactId" AND c."organizationId" = m."organizationId"
  LEFT JOIN contact_consents cs ON cs."contactId" = m."contactId" AND cs.channel::text = m.channel
  LEFT JOIN channel_connections cc ON cc.id = m."connectionId"`;

function toMessage(row: Row): MessageToSend {
  const { connId, connOrg, connKind, connStatus, connVersion, connConfig, connSecrets, connError, connMaxPerSecond, ...message } = row;
  return {
    ...message,
    connection: connId
      ? {
          id: connId,
          organizationId: connOrg!,
          kind: connKind!,
          status: connStatus!,
          version: connVersion!,
          maxPerSecond: connMaxPerSecond,
          config: connConfig,
          secrets: connSecrets!,
          error: connError,
        }
      : null,
  };
}

/**
 * The send state machine's queries. A message is claimed (SENDING, its
 * attempt counted) in Postgres before the provider is called, and the
 * outcome recorded after; every transition names the state it leaves, so
 * two processes never both move a message. The hot ones take many messages
 * at once (see Batcher): one claim for a batch of jobs, one statement
 * recording a batch of sends.
 */
@Injectable()
export class MessageSendRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** Claims messages not attempted yet (QUEUED/SCHEDULED → SENDING, attempt +1) and answers them with what a send needs. */
  async claim(ids: string[], now = new Date()): Promise<MessageToSend[]> {
    const at = now.toISOString();
    const rows = await this.prisma.$queryRaw<Row[]>`
      WITH claimed AS (
        UPDATE messages SET status = 'SENDING', "claimedAt" = ${at}::timestamp(3), "uncertainSince" = NULL,
          attempts = attempts + 1, "updatedAt" = ${at}::timestamp(3)
        WHERE id = ANY(${ids}::text[]) AND status IN ('QUEUED', 'SCHEDULED')
        RETURNING *
      )
      SELECT ${COLUMNS} FROM claimed m ${JOINS}`;
    return rows.map(toMessage);
  }

  /** Where messages stand (a batch's messages it could not claim): id and status of those that exist. */
  async statuses(ids: string[]): Promise<{ id: string; status: MessageStatus }[]> {
    return this.prisma.message.findMany({ where: { id: { in: ids } }, select: { id: true, status: true } });
  }

  /** A message as it stands, without claiming it. */
  async load(id: string): Promise<MessageToSend | undefined> {
    const rows = await this.prisma.$queryRaw<Row[]>`SELECT ${COLUMNS} FROM messages m ${JOINS} WHERE m.id = ${id}`;
    return rows[0] ? toMessage(rows[0]) : undefined;
  }

  /**
   * Claims again a message whose earlier attempt ended with an unknown outcome,
   * once that outcome is settled as "not sent": only if nobody moved it since
   * (the same claim time), counting a new attempt.
   */
  async reclaim(id: string, previousClaim: Date, now = new Date()): Promise<MessageToSend | undefined> {
    const { count } = await this.prisma.message.updateMany({
      where: { id, status: 'SENDING', claimedAt: previousClaim },
      data: { claimedAt: now, uncertainSince: null, attempts: { increment: 1 } },
    });
    return count > 0 ? this.load(id) : undefined;
  }

  /** The attempt's outcome is unknown: the message waits, SENDING, for that to be settled. */
  async markUncertain(id: string, claimedAt: Date, since = new Date()): Promise<boolean> {
    const { count } = await this.prisma.message.updateMany({ where: { id, status: 'SENDING', claimedAt }, data: { uncertainSince: since } });
    return count > 0;
  }

  /** Records accepted sends of claimed messages. Answers the ids this call moved to SENT. */
  async markSent(records: SentRecord[]): Promise<string[]> {
    const now = new Date().toISOString();
    const rows = await this.prisma.$queryRaw<{ id: string }[]>`
      UPDATE messages m
      SET status = 'SENT', "externalId" = input."externalId", "sentAt" = ${now}::timestamp(3), "errorMessage" = NULL,
          content = COALESCE(input.content, m.content),
          "claimedAt" = NULL, "uncertainSince" = NULL, progress = NULL, "updatedAt" = ${now}::timestamp(3)
      FROM unnest(${records.map((r) => r.id)}::text[], ${records.map((r) => r.externalId)}::text[], ${records.map((r) => r.content ?? null)}::text[])
        AS input(id, "externalId", content)
      WHERE m.id = input.id AND m.status = 'SENDING'
      RETURNING m.id`;
    return rows.map((r) => r.id);
  }

  /**
   * Gives a claimed message back for a later attempt (the provider refused it
   * for now). A throttling pause takes back the attempt it counted: it was not one.
   */
  async release(id: string, errorMessage: string | undefined, attemptCounts: boolean): Promise<boolean> {
    const { count } = await this.prisma.message.updateMany({
      where: { id, status: 'SENDING' },
      data: { status: 'QUEUED', claimedAt: null, uncertainSince: null, errorMessage, ...(attemptCounts ? {} : { attempts: { decrement: 1 } }) },
    });
    return count > 0;
  }

  /** No attempt can succeed (or the last one failed): FAILED with its error. From SENDING, or before any claim. */
  async markFailed(id: string, errorMessage: string): Promise<boolean> {
    const { count } = await this.prisma.message.updateMany({
      where: { id, status: { in: ['QUEUED', 'SCHEDULED', 'SENDING'] } },
      data: { status: 'FAILED', failedAt: new Date(), errorMessage: errorMessage.slice(0, 1000), claimedAt: null, uncertainSince: null },
    });
    return count > 0;
  }

  /**
   * The contact opted out after the message was accepted: CANCELED with the
   * reason, and taken off the organization's messagesThisMonth (a canceled
   * message does not count there) in the same statement.
   */
  async markCanceled(id: string, organizationId: string, acceptedAt: Date, reason: string): Promise<boolean> {
    const period = currentPeriod();
    const [row] = await this.prisma.$queryRaw<{ n: number }[]>`
      WITH canceled AS (
        UPDATE messages SET status = 'CANCELED', "errorMessage" = ${reason}, "claimedAt" = NULL, "uncertainSince" = NULL,
          "updatedAt" = now() AT TIME ZONE 'UTC'
        WHERE id = ${id} AND status = 'SENDING'
        RETURNING id
      ), counted AS (
        UPDATE organizations SET "messagesThisMonth" = GREATEST(0, "messagesThisMonth" - 1)
        WHERE id = ${organizationId} AND "messagesPeriod" = ${period} AND ${currentPeriod(acceptedAt)} = ${period}
          AND EXISTS (SELECT 1 FROM canceled)
      )
      SELECT count(*)::int AS n FROM canceled`;
    return row.n > 0;
  }

  /** A part of a multi-call send the provider accepted (Instagram DM's image before its text). */
  async saveProgress(id: string, part: string, externalId: string): Promise<void> {
    await this.prisma.$executeRaw`
      UPDATE messages SET progress = COALESCE(progress, '{}'::jsonb) || jsonb_build_object(${part}::text, ${externalId}::text)
      WHERE id = ${id} AND status = 'SENDING'`;
  }

  /** The provider refused the connection's credentials: INVALID with its reason, seen by every process from the next send on. */
  async invalidateConnection(connectionId: string, error: string): Promise<boolean> {
    const { count } = await this.prisma.channelConnection.updateMany({
      where: { id: connectionId, status: 'CONNECTED' },
      data: { status: 'INVALID', error: error.slice(0, 1000), checkedAt: new Date(), version: { increment: 1 } },
    });
    return count > 0;
  }
}
