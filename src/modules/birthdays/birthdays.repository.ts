import { Injectable } from '@nestjs/common';
import { PrismaService } from '../../core/prisma/prisma.service';
import type { Flow } from '../../generated/prisma/client';
import { TriggerType } from '../../generated/prisma/enums';
import type { WindowDay } from './birthday-dates';
import { SqlQuery, birthdayBatchQuery, upcomingCountQuery, upcomingQuery } from './birthday-queries';

export interface BirthdayContactRow {
  id: string;
  organizationId: string;
}

export interface UpcomingRow {
  id: string;
  name: string;
  email: string | null;
  phone: string | null;
  birthday: Date | string | null;
  offset: number;
}

@Injectable()
export class BirthdaysRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** Every active BIRTHDAY flow, by organization (served by the flows(triggerType, active) index). */
  async activeBirthdayFlows(): Promise<Map<string, Flow[]>> {
    const flows = await this.prisma.flow.findMany({ where: { triggerType: TriggerType.BIRTHDAY, active: true } });
    const byOrganization = new Map<string, Flow[]>();
    for (const flow of flows) {
      const group = byOrganization.get(flow.organizationId);
      if (group) group.push(flow);
      else byOrganization.set(flow.organizationId, [flow]);
    }
    return byOrganization;
  }

  birthdayBatch(p: Parameters<typeof birthdayBatchQuery>[0]): Promise<BirthdayContactRow[]> {
    return this.run<BirthdayContactRow>(birthdayBatchQuery(p));
  }

  async upcoming(organizationId: string, window: WindowDay[], limit: number, skip: number): Promise<{ rows: UpcomingRow[]; total: number }> {
    const [rows, [count]] = await Promise.all([
      this.run<UpcomingRow>(upcomingQuery(organizationId, window, limit, skip)),
      this.run<{ total: number }>(upcomingCountQuery(organizationId, window)),
    ]);
    return { rows, total: count.total };
  }

  private run<T>(query: SqlQuery): Promise<T[]> {
    return this.prisma.$queryRawUnsafe<T[]>(query.text, ...query.values);
  }
}
