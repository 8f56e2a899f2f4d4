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

/**
 * The recipient asked the provider to stop (WhatsApp 131050, a permanent
 * bounce, a spam complaint): the contact of that message opts out of its channel.
 */
export interface OptOutSignal {
  channel: string;
  externalId: string;
  source: ReportSource;
  evidence: string;
}

/** A message a contact sent to one of our numbers. */
export interface InboundMessage {
  channel: string;
  /** The provider's id of the message (wamid, Twilio MessageSid): deliveries repeat, it is stored once. */
  externalId: string;
  source: ReportSource;
  /** The sender's phone, E.164. */
  from: string;
  /** The sender's profile name, when the provider gives one. */
  profileName?: string;
  /** The text, or a media message's caption, or its type (`image`, `audio`…). */
  text: string;
  /** Whether `text` is what the person typed (keywords and flows compare it); false for a media type. */
  isText: boolean;
  sentAt: Date;
}

/** A store connected (or replaced) an account. */
export interface ConnectionEvent {
  organizationId: string;
  connectionId: string;
  kind: string;
}

export type DeliveryHandler = (update: DeliveryUpdate) => Promise<boolean>;
export type ConnectionHandler = (event: ConnectionEvent) => Promise<void>;
export type OptOutHandler = (signal: OptOutSignal) => Promise<void>;
export type InboundHandler = (message: InboundMessage) => Promise<boolean>;

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
  private readonly optOutHandlers: OptOutHandler[] = [];
  private readonly inboundHandlers: InboundHandler[] = [];

  onDelivery(handler: DeliveryHandler): void {
    this.deliveryHandlers.push(handler);
  }

  onConnected(handler: ConnectionHandler): void {
    this.connectionHandlers.push(handler);
  }

  onOptOut(handler: OptOutHandler): void {
    this.optOutHandlers.push(handler);
  }

  onInbound(handler: InboundHandler): void {
    this.inboundHandlers.push(handler);
  }

  async optOut(signal: OptOutSignal): Promise<void> {
    for (const handler of this.optOutHandlers) await handler(signal);
  }

  /** Answers whether a subscriber took it (stored it, or applied it). */
  async inbound(message: InboundMessage): Promise<boolean> {
    let taken = false;
    for (const handler of this.inboundHandlers) taken = (await handler(message)) || taken;
    return taken;
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
