import { Injectable, Logger } from '@nestjs/common';

export type DeliveryStatus = 'DELIVERED' | 'READ' | 'FAILED';

/**
 * Which messages a report may touch: those sent through this connection, or,
 * for `platform`, those sent through the platform's own account of the channel.
 */
export type ReportSource = { connectionId: string } | { platform: true };

/** A provider's report about a message it was given: what happened to it and when. */
export interface DeliveryUpdate {
  channel: string;
  externalId: string;
  status: DeliveryStatus | 'SENT';
  at: Date;
  error?: string;
  source: ReportSource;
  /** Zyva's message id when the provider echoes it (WhatsApp's biz_opaque_callback_data). */
  messageId?: string;
}

/** A store connected (or replaced) an account. */
export interface ConnectionEvent {
  organizationId: string;
  connectionId: string;
  kind: string;
}

export type DeliveryHandler = (update: DeliveryUpdate) => Promise<boolean>;
export type ConnectionHandler = (event: ConnectionEvent) => Promise<void>;

/**
 * What the provider webhooks and connections bring in, handed to the feature
 * modules that subscribed (messages applies delivery statuses). Delivery
 * handlers are awaited: a webhook answers only once they are done, so a
 * failure makes the provider deliver it again instead of being lost.
 */
@Injectable()
export class ChannelEvents {
  private readonly logger = new Logger(ChannelEvents.name);
  private readonly deliveryHandlers: DeliveryHandler[] = [];
  private readonly connectionHandlers: ConnectionHandler[] = [];

  onDelivery(handler: DeliveryHandler): void {
    this.deliveryHandlers.push(handler);
  }

  onConnected(handler: ConnectionHandler): void {
    this.connectionHandlers.push(handler);
  }

  /** Answers whether any subscriber changed something. */
  async delivery(update: DeliveryUpdate): Promise<boolean> {
    let applied = false;
    for (const handler of this.deliveryHandlers) applied = (await handler(update)) || applied;
    return applied;
  }

  /** Follow-ups of a new connection (a template sync, say) never undo it: failures are logged. */
  async connected(event: ConnectionEvent): Promise<void> {
    for (const handler of this.connectionHandlers) {
      await handler(event).catch((error: Error) => this.logger.warn(`After connecting ${event.kind} ${event.connectionId}: ${error.message}`));
    }
  }
}
