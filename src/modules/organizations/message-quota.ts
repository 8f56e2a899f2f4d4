import { HttpException, HttpStatus, Injectable, Logger } from '@nestjs/common';
import { cacheKeys } from '../../core/cache/cache-keys';
import { CacheService } from '../../core/cache/cache.service';
import { currentPeriod } from '../../core/plans/plans';
import { MessageQuotaService } from '../../core/quotas/message-quota.service';
import { Prisma } from '../../generated/prisma/client';
import { OrganizationsService } from './organizations.service';

/** A Prisma client or transaction. */
type Db = Pick<Prisma.TransactionClient, '$executeRaw'>;

/**
 * The monthly message quota as messages and campaigns use it: the organization's cap
 * (cached with the organization) checked and consumed atomically in Redis; a
 * refusal consumes nothing and answers `402 Plan Quota Exceeded`.
 *
 * "Messages this month" has one definition, shared by the Redis counter
 * (`zyva:limits:{orgId}:messages`) and the organization's `messagesThisMonth`:
 * outbound messages accepted since the 1st (UTC) and not canceled, whatever
 * became of them afterwards (sent, delivered, failed). Both move together:
 * consumed when a message (or a campaign's audience) is accepted, given back
 * when it is canceled or a campaign turns out smaller. Inbound messages count
 * against nothing. A write that moves `messagesThisMonth` calls `counted`, so
 * the cached organization and dashboard that show it are not read stale.
 */
@Injectable()
export class MessageQuota {
  private readonly logger = new Logger(MessageQuota.name);

  constructor(
    private readonly quota: MessageQuotaService,
    private readonly organizations: OrganizationsService,
    private readonly cache: CacheService,
  ) {}

  /** `limit`: the organization's `maxMessagesPerMonth` when the caller read it already (else the cached organization's). */
  async consume(organizationId: string, count: number, limit?: number): Promise<void> {
    const maxMessagesPerMonth = limit ?? (await this.organizations.get(organizationId)).maxMessagesPerMonth;
    const result = await this.quota.tryConsume(organizationId, count, maxMessagesPerMonth);
    if (!result.ok) {
      const left = Math.max(0, result.limit - result.used);
      throw new HttpException(
        {
          statusCode: HttpStatus.PAYMENT_REQUIRED,
          error: 'Plan Quota Exceeded',
          message:
            `Your plan allows ${result.limit} messages a month; ${result.used} are used, ${left} left, ` +
            `and this request needs ${count}. Nothing was sent. Upgrade the plan or wait for next month.`,
        },
        HttpStatus.PAYMENT_REQUIRED,
      );
    }
  }

  /** Gives back units never used (a canceled message, a smaller fan-out); `consumedAt` keeps past months out of this one. */
  release(organizationId: string, count: number, consumedAt?: Date): Promise<unknown> {
    return this.quota.release(organizationId, count, consumedAt);
  }

  /**
   * After a committed write moved the organization's `messagesThisMonth`: drops its cached organization and
   * dashboard (not its contact lists or plan), so the next read shows the new count. A Redis failure is logged,
   * not thrown: the write stands, and the entries expire by themselves.
   */
  async counted(organizationId: string): Promise<void> {
    try {
      await this.cache.del(cacheKeys.org(organizationId), cacheKeys.dashboard(organizationId));
    } catch (error) {
      this.logger.warn(`Cached organization ${organizationId} not dropped after its message count changed: ${(error as Error).message}`);
    }
  }

  /** Adds accepted messages to the organization's `messagesThisMonth`, in the caller's transaction (restarting it in a new month). */
  async countAccepted(db: Db, organizationId: string, count: number): Promise<void> {
    if (count <= 0) return;
    const period = currentPeriod();
    await db.$executeRaw`
      UPDATE organizations
      SET "messagesThisMonth" = CASE WHEN "messagesPeriod" = ${period} THEN "messagesThisMonth" + ${count} ELSE ${count} END,
          "messagesPeriod" = ${period}
      WHERE id = ${organizationId}`;
  }

  /**
   * `countAccepted` as a statement of its own, for a caller's CTE (a write that commits by itself):
   * the organization's row is locked only until that statement commits.
   */
  countAcceptedSql(organizationId: string, count: number): Prisma.Sql {
    const period = currentPeriod();
    return Prisma.sql`
      UPDATE organizations
      SET "messagesThisMonth" = CASE WHEN "messagesPeriod" = ${period}::text THEN "messagesThisMonth" + ${count}::int ELSE ${count}::int END,
          "messagesPeriod" = ${period}::text
      WHERE id = ${organizationId}::text`;
  }

  /** Takes canceled messages off `messagesThisMonth` (only those accepted this month count there). */
  async countCanceled(db: Db, organizationId: string, count: number, acceptedAt: Date): Promise<void> {
    const period = currentPeriod();
    if (count <= 0 || currentPeriod(acceptedAt) !== period) return;
    await db.$executeRaw`
      UPDATE organizations SET "messagesThisMonth" = GREATEST(0, "messagesThisMonth" - ${count})
      WHERE id = ${organizationId} AND "messagesPeriod" = ${period}`;
  }
}
