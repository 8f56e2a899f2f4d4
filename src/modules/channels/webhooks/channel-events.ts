import { Injectable } from '@nestjs/common';
import type { Channel } from '../../../generated/prisma/enums';

export type DeliveryStatus = 'DELIVERED' | 'READ' | 'FAILED';

/** A provider's report about a message it was given: what happened to it and when. */
export interface DeliveryUpdate {
  channel: Channel;
  externalId: string;
  status: DeliveryStatus;
  at: Date;
  error?: string;
}

export type DeliveryHandler = (update: DeliveryUpdate) => Promise<boolean>;

/**
 * What the provider webhooks bring in, handed to the feature modules that
 * subscribed (messages applies delivery statuses). Handlers are awaited: a
 * webhook answers only once they are done, so a failure makes the provider
 * deliver it again instead of being lost.
 */
@Injectable()
export class ChannelEvents {
  private readonly deliveryHandlers: DeliveryHandler[] = [];

  onDelivery(handler: DeliveryHandler): void {
    this.deliveryHandlers.push(handler);
  }

  /** Answers whether any subscriber changed something. */
  async delivery(update: DeliveryUpdate): Promise<boolean> {
    let applied = false;
    for (const handler of this.deliveryHandlers) applied = (await handler(update)) || applied;
    return applied;
  }
}
