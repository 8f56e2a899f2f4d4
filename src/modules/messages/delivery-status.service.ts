import { Injectable, OnModuleInit } from '@nestjs/common';
import { PrismaService } from '../../core/prisma/prisma.service';
import { ChannelEvents, DeliveryUpdate } from '../channels/webhooks/channel-events';

/**
 * Applies provider delivery reports. Statuses only move forward
 * (SENT < DELIVERED < READ; FAILED, a bounce, only before READ), because
 * providers send them out of order: a late "delivered" never undoes "read".
 */
@Injectable()
export class DeliveryStatusService implements OnModuleInit {
  constructor(
    private readonly prisma: PrismaService,
    private readonly events: ChannelEvents,
  ) {}

  onModuleInit(): void {
    this.events.onDelivery((update) => this.apply(update));
  }

  /** Answers whether a message changed. */
  async apply(u: DeliveryUpdate): Promise<boolean> {
    const at = u.at.toISOString();
    let count: number;
    switch (u.status) {
      case 'DELIVERED':
        count = await this.prisma.$executeRaw`
          UPDATE messages SET status = 'DELIVERED', "deliveredAt" = ${at}::timestamp(3), "updatedAt" = now() AT TIME ZONE 'UTC'
          WHERE "externalId" = ${u.externalId} AND channel = ${u.channel}::"Channel" AND status = 'SENT'`;
        break;
      case 'READ':
        count = await this.prisma.$executeRaw`
          UPDATE messages SET status = 'READ', "readAt" = ${at}::timestamp(3),
            "deliveredAt" = COALESCE("deliveredAt", ${at}::timestamp(3)), "updatedAt" = now() AT TIME ZONE 'UTC'
          WHERE "externalId" = ${u.externalId} AND channel = ${u.channel}::"Channel" AND status IN ('SENT', 'DELIVERED')`;
        break;
      case 'FAILED':
        count = await this.prisma.$executeRaw`
          UPDATE messages SET status = 'FAILED', "failedAt" = ${at}::timestamp(3), "errorMessage" = ${u.error ?? 'Reported failed by the provider'},
            "updatedAt" = now() AT TIME ZONE 'UTC'
          WHERE "externalId" = ${u.externalId} AND channel = ${u.channel}::"Channel" AND status IN ('SENT', 'DELIVERED')`;
        break;
    }
    return count > 0;
  }
}
