import { HttpException, HttpStatus, Injectable } from '@nestjs/common';
import { MessageQuotaService } from '../../core/quotas/message-quota.service';
import { OrganizationsService } from './organizations.service';

/**
 * The monthly message quota as messages and campaigns use it: the organization's cap
 * (cached with the organization) checked and consumed atomically in Redis; a
 * refusal consumes nothing and answers `402 Plan Quota Exceeded`.
 */
@Injectable()
export class MessageQuota {
  constructor(
    private readonly quota: MessageQuotaService,
    private readonly organizations: OrganizationsService,
  ) {}

  async consume(organizationId: string, count: number): Promise<void> {
    const { maxMessagesPerMonth } = await this.organizations.get(organizationId);
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
}
