import { Injectable } from '@nestjs/common';
import { currentPeriod } from '../../core/plans/plans';
import { PrismaService } from '../../core/prisma/prisma.service';
import type { TenantScope } from '../../core/auth/tenant-scope';
import { DashboardStatsDto } from './dto/dashboard.dto';

const DAYS = 7;
const DAY_MS = 24 * 3600 * 1000;

interface MessageTotals {
  sent: number;
  delivered: number;
}

@Injectable()
export class DashboardService {
  constructor(private readonly prisma: PrismaService) {}

  /** Computed from Postgres; the controller caches it 5 min per organization. */
  async stats(scope: TenantScope, now = new Date()): Promise<DashboardStatsDto> {
    const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    const firstDay = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - (DAYS - 1) * DAY_MS);
    const orgId = scope.organizationId;

    const [org, totalFlows, activeFlows, totals, perDay] = await Promise.all([
      this.prisma.organization.findUniqueOrThrow({ where: { id: orgId }, select: { contactCount: true, messagesThisMonth: true, messagesPeriod: true } }),
      this.prisma.flow.count({ where: scope.where() }),
      this.prisma.flow.count({ where: scope.where({ active: true }) }),
      this.prisma.$queryRaw<MessageTotals[]>`
        SELECT count(*)::int AS sent,
               count(*) FILTER (WHERE status IN ('DELIVERED', 'READ'))::int AS delivered
        FROM messages
        WHERE "organizationId" = ${orgId} AND direction = 'OUTBOUND' AND "sentAt" >= ${monthStart}`,
      this.prisma.$queryRaw<{ date: string; count: number }[]>`
        SELECT to_char(date_trunc('day', "sentAt"), 'YYYY-MM-DD') AS date, count(*)::int AS count
        FROM messages
        WHERE "organizationId" = ${orgId} AND direction = 'OUTBOUND' AND "sentAt" >= ${firstDay}
        GROUP BY 1`,
    ]);

    const counts = new Map(perDay.map((row) => [row.date, row.count]));
    const recentActivity = Array.from({ length: DAYS }, (_, i) => {
      const date = new Date(firstDay.getTime() + i * DAY_MS).toISOString().slice(0, 10);
      return { date, count: counts.get(date) ?? 0 };
    });
    const { sent, delivered } = totals[0] ?? { sent: 0, delivered: 0 };
    return {
      totalContacts: org.contactCount,
      totalFlows,
      activeFlows,
      // The organization's count (accepted this month, not canceled): the same figure as the quota.
      messagesThisMonth: org.messagesPeriod === currentPeriod(now) ? org.messagesThisMonth : 0,
      conversionRate: sent === 0 ? 0 : Math.round((delivered / sent) * 10_000) / 10_000,
      recentActivity,
    };
  }
}
