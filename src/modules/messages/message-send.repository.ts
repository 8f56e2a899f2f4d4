import { Injectable } from '@nestjs/common';
import { currentPeriod } from '../../core/plans/plans';
import { PrismaService } from '../../core/prisma/prisma.service';
import type { Channel, MessageStatus } from '../../generated/prisma/enums';

/** What the worker needs to send one message: the message and its contact (null fields when deleted). */
export interface MessageToSend {
  id: string;
  organizationId: string;
  contactId: string;
  channel: Channel;
  content: string;
  mediaUrl: string | null;
  status: MessageStatus;
  contactFound: string | null;
  name: string | null;
  email: string | null;
  phone: string | null;
  instagramId: string | null;
}

export interface SentRecord {
  id: string;
  externalId: string;
}

/** Statuses from which a message may still be sent. */
export const SENDABLE: ReadonlySet<MessageStatus> = new Set<MessageStatus>(['QUEUED', 'SCHEDULED']);

/**
 * The worker's queries. The hot ones take many messages at once (see
 * Batcher): one read for a batch of jobs, one statement recording a batch of
 * sends together with the organizations' monthly counters.
 */
@Injectable()
export class MessageSendRepository {
  constructor(private readonly prisma: PrismaService) {}

  loadForSend(ids: string[]): Promise<MessageToSend[]> {
    return this.prisma.$queryRaw<MessageToSend[]>`
      SELECT m.id, m."organizationId", m."contactId", m.channel::text AS channel, m.content, m."mediaUrl",
             m.status::text AS status, c.id AS "contactFound", c.name, c.email, c.phone, c."instagramId"
      FROM messages m
      LEFT JOIN contacts c ON c.id = m."contactId" AND c."organizationId" = m."organizationId"
      WHERE m.id = ANY(${ids}::text[])`;
  }

  /**
   * Records sends, only for messages still QUEUED/SCHEDULED (a SENT message
   * is never recorded twice), and adds them to their organization's
   * `messagesThisMonth`, restarting it when the month changed. One statement,
   * so the message and the counter change together. Answers the ids (with
   * their organization) that this call moved to SENT.
   */
  markSent(records: SentRecord[]): Promise<{ id: string; organizationId: string }[]> {
    const period = currentPeriod();
    const now = new Date().toISOString();
    return this.prisma.$queryRaw<{ id: string; organizationId: string }[]>`
      WITH input AS (
        SELECT * FROM unnest(${records.map((r) => r.id)}::text[], ${records.map((r) => r.externalId)}::text[]) AS t(id, "externalId")
      ), sent AS (
        UPDATE messages m
        SET status = 'SENT', "externalId" = input."externalId", "sentAt" = ${now}::timestamp(3),
            attempts = m.attempts + 1, "errorMessage" = NULL, "updatedAt" = ${now}::timestamp(3)
        FROM input
        WHERE m.id = input.id AND m.status IN ('QUEUED', 'SCHEDULED')
        RETURNING m.id, m."organizationId"
      ), locked AS MATERIALIZED (
        -- Organizations locked in id order: two workers' batches never deadlock on them.
        SELECT o.id FROM organizations o WHERE o.id IN (SELECT "organizationId" FROM sent) ORDER BY o.id FOR UPDATE
      ), counted AS (
        UPDATE organizations o
        SET "messagesThisMonth" = CASE WHEN o."messagesPeriod" = ${period} THEN o."messagesThisMonth" + n.count ELSE n.count END,
            "messagesPeriod" = ${period}, "updatedAt" = ${now}::timestamp(3)
        FROM (SELECT "organizationId", count(*)::int AS count FROM sent GROUP BY 1) n, locked
        WHERE o.id = n."organizationId" AND locked.id = o.id
        RETURNING o.id
      )
      SELECT id, "organizationId" FROM sent`;
  }

  /** A failed attempt that will be retried: counted, with its error, status unchanged. */
  async recordRetry(id: string, errorMessage: string): Promise<void> {
    await this.prisma.message.updateMany({
      where: { id, status: { in: [...SENDABLE] } },
      data: { attempts: { increment: 1 }, errorMessage },
    });
  }

  /** The last attempt failed (or no attempt can succeed): FAILED with its error. */
  async markFailed(id: string, errorMessage: string, countAttempt = true): Promise<boolean> {
    const { count } = await this.prisma.message.updateMany({
      where: { id, status: { in: [...SENDABLE] } },
      data: { status: 'FAILED', failedAt: new Date(), errorMessage, ...(countAttempt ? { attempts: { increment: 1 } } : {}) },
    });
    return count > 0;
  }
}
