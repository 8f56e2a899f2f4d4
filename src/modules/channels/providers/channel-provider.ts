import type { Channel } from '../../../generated/prisma/enums';

/** The contact fields a channel may address a message to. */
export interface ContactAddress {
  phone: string | null;
  email: string | null;
  instagramId: string | null;
}

export interface OutboundMessage {
  /** Zyva's message id; providers with idempotency keys use it, so a retry is never a second send. */
  messageId: string;
  /** The recipient, as read from `recipientField` of the contact. */
  to: string;
  /** The rendered text. */
  text: string;
  mediaUrl?: string | null;
}

export interface SendResult {
  /** The provider's id of the message; delivery webhooks refer to it. */
  externalId: string;
}

/**
 * One outbound channel. Adding a channel (Telegram, say) is one class
 * implementing this, listed in CHANNELS (channels.module.ts);
 * nothing else switches on the channel.
 */
export interface ChannelProvider {
  readonly channel: Channel;
  /** Provider name used in errors and logs, e.g. `WhatsApp Cloud API`. */
  readonly name: string;
  /** The contact field that holds this channel's address. */
  readonly recipientField: keyof ContactAddress;
  /** False when its credentials are missing: sandbox outside production, a clear failure in production. */
  isConfigured(): boolean;
  /** Sends, or throws a ProviderError saying whether a retry can help. */
  send(message: OutboundMessage): Promise<SendResult>;
}

/** Injection token of the list of channel providers. */
export const CHANNEL_PROVIDERS = Symbol('CHANNEL_PROVIDERS');
