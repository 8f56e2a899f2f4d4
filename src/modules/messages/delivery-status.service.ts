import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { PrismaService } from '../../core/prisma/prisma.service';
import { Prisma } from '../../generated/prisma/client';
import type { Channel } from '../../generated/prisma/enums';
import { ChannelEvents, DeliveryUpdate, OptOutSignal, ReportSource } from '../channels/webhooks/channel-events';
import { ConsentService } from '../contacts/consent/consent.service';
import { CONSENT_CHANNELS } from './send-rules';

/** Pending reports older than this are swept away: their message will not appear any more. */
const PENDING_REPORT_DAYS = 7;

/** Only messages sent through the account the report came from. */
function sourceFilter(source: ReportSource): Prisma.Sql {
  return 'connectionId' in source
    ? Prisma.sql`"connectionId" = ${source.connectionId}`
    : Prisma.sql`(route = 'PLATFORM' OR route IS NULL)`;
}

/**
 * Applies provider delivery reports to messages.
 * - Statuses only move forward (SENT < DELIVERED < READ), since providers send
 *   them out of order; FAILED (a bounce, or a WhatsApp error reported after
 *   the send was accepted) is the one move allowed after SENT or DELIVERED.
 * - A report only touches messages sent through the account it came from.
 * - A report naming Zyva's message id (WhatsApp's callback data) settles a
 *   message still SENDING: the send whose answer was lost did go out.
 * - A report for a message whose send is not recorded yet (it arrives before
 *   the worker's write commits) is kept and applied when the send is recorded.
 * - A provider's word that the person wants no more (WhatsApp 131050, a
 *   permanent bounce, a spam complaint) opts that message's contact out of
 *   its channel (source PROVIDER).
 */
@Injectable()
export class DeliveryStatusService implements OnModuleInit {
  private readonly logger = new Logger(DeliveryStatusService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly events: ChannelEvents,
    private readonly consent: ConsentService,
  ) {}

  onModuleInit(): void {
    this.events.onDelivery((update) => this.apply(update));
    this.events.onOptOut(async (signal) => void (await this.optOut(signal)));
  }

  /** Opts out the contact of the message the provider reported about. */
  async optOut(signal: OptOutSignal): Promise<boolean> {
    if (!CONSENT_CHANNELS.has(signal.channel)) return false;
    const [message] = await this.prisma.$queryRaw<{ organizationId: string; contactId: string }[]>`
      SELECT "organizationId", "contactId" FROM messages
      WHERE "externalId" = ${signal.externalId} AND channel = ${signal.channel} AND ${sourceFilter(signal.source)}
      LIMIT 1`;
    if (!message) return false;
    const result = await this.consent.record(message.organizationId, message.contactId, signal.channel as Channel, 'OPTED_OUT', {
      source: 'PROVIDER',
      evidence: signal.evidence,
    });
    if (result === 'recorded') this.logger.log(`Contact ${message.contactId} opted out of ${signal.channel}: ${signal.evidence}`);
    return result === 'recorded';
  }

  /** Answers whether a message changed. */
  async apply(u: DeliveryUpdate): Promise<boolean> {
    if (u.messageId && (await this.settleInFlight(u))) return true;
    if (u.status !== 'SENT' && (await this.advance(u)) > 0) return true;
    if (await this.exists(u)) return false; // known message, report out of order or repeated
    await this.keepForLater(u);
    // The send may have been recorded while this report was being kept: apply it now rather than wait for the sweep.
    if (await this.exists(u)) return (await this.applyPending(u.channel, [u.externalId])) > 0;
    return false;
  }

  /**
   * Reports kept for these provider ids, applied now that their sends are
   * recorded (then forgotten). Answers how many changed a message.
   */
  async applyPending(channel: string, externalIds: string[]): Promise<number> {
    if (externalIds.length === 0) return 0;
    const pending = await this.prisma.pendingDeliveryReport.findMany({
      where: { channel, externalId: { in: externalIds } },
      orderBy: { at: 'asc' },
    });
    let applied = 0;
    for (const report of pending) {
      const update: DeliveryUpdate = {
        channel: report.channel,
        externalId: report.externalId,
        status: report.status as DeliveryUpdate['status'],
        at: report.at,
        error: report.error ?? undefined,
        source: report.connectionId ? { connectionId: report.connectionId } : { platform: true },
      };
      if (update.status !== 'SENT' && (await this.advance(update)) > 0) applied++;
    }
    if (pending.length > 0) await this.prisma.pendingDeliveryReport.deleteMany({ where: { id: { in: pending.map((p) => p.id) } } });
    return applied;
  }

  /** The reconciler's sweep: reports whose message has been recorded since, and reports too old to ever match. */
  async sweepPending(): Promise<{ applied: number; dropped: number }> {
    const rows = await this.prisma.$queryRaw<{ channel: string; externalId: string }[]>`
      SELECT DISTINCT p.channel, p."externalId" FROM pending_delivery_reports p
      JOIN messages m ON m."externalId" = p."externalId" AND m.channel = p.channel
      LIMIT 1000`;
    let applied = 0;
    for (const row of rows) applied += await this.applyPending(row.channel, [row.externalId]);
    const { count: dropped } = await this.prisma.pendingDeliveryReport.deleteMany({
      where: { createdAt: { lt: new Date(Date.now() - PENDING_REPORT_DAYS * 24 * 3600 * 1000) } },
    });
    return { applied, dropped };
  }

  private async settleInFlight(u: DeliveryUpdate): Promise<boolean> {
    const at = u.at.toISOString();
    const status = u.status;
    const count = await this.prisma.$executeRaw`
      UPDATE messages SET
        status = ${status}::"MessageStatus",
        "externalId" = ${u.externalId},
        "sentAt" = COALESCE("sentAt", ${at}::timestamp(3)),
        "deliveredAt" = CASE WHEN ${status} IN ('DELIVERED', 'READ') THEN ${at}::timestamp(3) ELSE "deliveredAt" END,
        "readAt" = CASE WHEN ${status} = 'READ' THEN ${at}::timestamp(3) ELSE "readAt" END,
        "failedAt" = CASE WHEN ${status} = 'FAILED' THEN ${at}::timestamp(3) ELSE "failedAt" END,
        "errorMessage" = CASE WHEN ${status} = 'FAILED' THEN ${u.error ?? 'Reported failed by the provider'} ELSE NULL END,
        "claimedAt" = NULL, "uncertainSince" = NULL, "updatedAt" = now() AT TIME ZONE 'UTC'
      WHERE id = ${u.messageId} AND channel = ${u.channel} AND status = 'SENDING' AND ${sourceFilter(u.source)}`;
    if (count > 0) this.logger.log(`Message ${u.messageId} settled by the provider's report (${status}, ${u.externalId})`);
    return count > 0;
  }

  private advance(u: DeliveryUpdate): Promise<number> {
    const at = u.at.toISOString();
    const where = Prisma.sql`"externalId" = ${u.externalId} AND channel = ${u.channel} AND ${sourceFilter(u.source)}`;
    switch (u.status) {
      case 'DELIVERED':
        return this.prisma.$executeRaw`
          UPDATE messages SET status = 'DELIVERED', "deliveredAt" = ${at}::timestamp(3), "updatedAt" = now() AT TIME ZONE 'UTC'
          WHERE ${where} AND status = 'SENT'`;
      case 'READ':
        return this.prisma.$executeRaw`
          UPDATE messages SET status = 'READ', "readAt" = ${at}::timestamp(3),
            "deliveredAt" = COALESCE("deliveredAt", ${at}::timestamp(3)), "updatedAt" = now() AT TIME ZONE 'UTC'
          WHERE ${where} AND status IN ('SENT', 'DELIVERED')`;
      case 'FAILED':
        return this.prisma.$executeRaw`
          UPDATE messages SET status = 'FAILED', "failedAt" = ${at}::timestamp(3), "errorMessage" = ${u.error ?? 'Reported failed by the provider'},
            "updatedAt" = now() AT TIME ZONE 'UTC'
          WHERE ${where} AND status IN ('SENT', 'DELIVERED')`;
      default:
        return Promise.resolve(0);
    }
  }

  private async exists(u: DeliveryUpdate): Promise<boolean> {
    const rows = await this.prisma.$queryRaw<unknown[]>`
      SELECT 1 FROM messages WHERE "externalId" = ${u.externalId} AND channel = ${u.channel} AND ${sourceFilter(u.source)} LIMIT 1`;
    return rows.length > 0;
  }

  private async keepForLater(u: DeliveryUpdate): Promise<void> {
    if (u.status === 'SENT') return; // a send recorded later is SENT anyway
    await this.prisma.pendingDeliveryReport.create({
      data: {
        channel: u.channel,
        externalId: u.externalId,
        connectionId: 'connectionId' in u.source ? u.source.connectionId : null,
        status: u.status,
        at: u.at,
        error: u.error,
      },
    });
  }
}
