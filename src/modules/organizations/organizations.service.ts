import { Injectable, NotFoundException } from '@nestjs/common';
import { CACHE_TTL_SECONDS, cacheKeys } from '../../core/cache/cache-keys';
import { CacheService } from '../../core/cache/cache.service';
import { Paginated } from '../../core/http/pagination.dto';
import { PLAN_LIMITS, currentPeriod } from '../../core/plans/plans';
import { PrismaService } from '../../core/prisma/prisma.service';
import type { Organization } from '../../generated/prisma/client';
import { Plan } from '../../generated/prisma/enums';
import { AdminOrganizationDto, OrganizationDto } from './dto/organization.dto';

export interface OrganizationChange {
  plan?: Plan;
  maxContacts?: number;
  maxMessagesPerMonth?: number;
}

@Injectable()
export class OrganizationsService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly cache: CacheService,
  ) {}

  static toDto(org: Organization): OrganizationDto {
    return {
      id: org.id,
      name: org.name,
      plan: org.plan,
      maxContacts: org.maxContacts,
      currentContacts: org.contactCount,
      maxMessagesPerMonth: org.maxMessagesPerMonth,
      messagesThisMonth: org.messagesPeriod === currentPeriod() ? org.messagesThisMonth : 0,
    };
  }

  /** The caller's organization, cached 30 min under `zyva:cache:org:{orgId}`. */
  get(orgId: string): Promise<OrganizationDto> {
    return this.cache.getOrSet(cacheKeys.org(orgId), CACHE_TTL_SECONDS.org, () => this.load(orgId));
  }

  /** Straight from the database; what the cache keeps under the organization's key. */
  async load(orgId: string): Promise<OrganizationDto> {
    const org = await this.prisma.organization.findUnique({ where: { id: orgId } });
    if (!org) throw new NotFoundException('Organization not found.');
    return OrganizationsService.toDto(org);
  }

  async list(page: number, limit: number): Promise<Paginated<AdminOrganizationDto>> {
    const [rows, total] = await this.prisma.$transaction([
      this.prisma.organization.findMany({ orderBy: { createdAt: 'desc' }, skip: (page - 1) * limit, take: limit }),
      this.prisma.organization.count(),
    ]);
    return { data: rows.map((o) => this.toAdminDto(o)), total, page, limit };
  }

  async adminGet(id: string): Promise<AdminOrganizationDto> {
    const org = await this.prisma.organization.findUnique({ where: { id } });
    if (!org) throw new NotFoundException('Organization not found.');
    return this.toAdminDto(org);
  }

  /**
   * A plan change resets the caps to the plan's unless the same request
   * overrides them. The write goes through `cache.writing` (its caches and
   * stored plan are gone before it answers), so the next request (throttling
   * included) sees the new plan.
   */
  async adminUpdate(id: string, change: OrganizationChange): Promise<AdminOrganizationDto> {
    const exists = await this.prisma.organization.findUnique({ where: { id }, select: { id: true } });
    if (!exists) throw new NotFoundException('Organization not found.');
    const planCaps = change.plan ? PLAN_LIMITS[change.plan] : undefined;
    const org = await this.cache.writing(
      id,
      () =>
        this.prisma.organization.update({
          where: { id },
          data: {
            plan: change.plan,
            maxContacts: change.maxContacts ?? planCaps?.maxContacts,
            maxMessagesPerMonth: change.maxMessagesPerMonth ?? planCaps?.maxMessagesPerMonth,
          },
        }),
      { plan: true },
    );
    return this.toAdminDto(org);
  }

  private toAdminDto(org: Organization): AdminOrganizationDto {
    return { ...OrganizationsService.toDto(org), createdAt: org.createdAt.toISOString() };
  }
}
