import { Injectable } from '@nestjs/common';

/** An inbound message as stored: what starts INBOUND_MESSAGE flows. */
export interface InboundReceived {
  organizationId: string;
  contactId: string;
  messageId: string;
  channel: string;
  text: string;
  /** False for a media message (`text` is then its caption or type). */
  isText: boolean;
}

export type InboundReceivedHandler = (event: InboundReceived) => Promise<void>;

/**
 * Where stored inbound messages are handed on (the flows module subscribes to
 * start INBOUND_MESSAGE flows). Handlers are awaited before the provider's
 * webhook is answered, and a repeated delivery hands the stored message on
 * again: handlers must be idempotent (flow runs are keyed by the message).
 */
@Injectable()
export class InboundEvents {
  private readonly handlers: InboundReceivedHandler[] = [];

  onReceived(handler: InboundReceivedHandler): void {
    this.handlers.push(handler);
  }

  async received(event: InboundReceived): Promise<void> {
    for (const handler of this.handlers) await handler(event);
  }
}
