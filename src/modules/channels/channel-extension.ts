import { SetMetadata, type Type } from '@nestjs/common';
import type { ProviderError } from '../../core/http/provider-error';

/**
 * The extension point of the channels module. A new channel (say Telegram)
 * is a Nest module of its own with up to three provider classes, each marked
 * with its decorator, imported next to AppModule; the registry discovers them,
 * and nothing in Zyva's own files changes:
 *
 * - a `ChannelKind` (`@RegisterChannelKind()`): the connection a store makes
 *   (`PUT /api/channels/<kind>` body, live check, secrets, platform variables);
 * - a `MessageSender` (`@RegisterMessageSender()`): the message channel
 *   (`channel: "TELEGRAM"` in `POST /api/messages`) sent through that kind;
 * - a `SocialPublisher` (`@RegisterSocialPublisher()`, see publishers/): a platform of social posts.
 */

/** Fields of a kind's credentials: the PUT body (public fields and secrets). */
export type Credentials = Record<string, unknown>;

export interface ConnectionCheck {
  /** The provider account behind these credentials (phone number id, account SID…): one organization per account; null when the kind has none. */
  accountKey: string | null;
  /** Public fields shown as the connection's `account`. */
  account: Record<string, unknown>;
}

/** The provider refused the credentials (answered, but no): `422` naming its reason. */
export class ConnectionRefusedError extends Error {
  constructor(
    readonly provider: string,
    readonly reason: string,
  ) {
    super(`${provider} refused the credentials: ${reason}`);
  }
}

/** The provider could not be asked (unreachable, timeout, 5xx): `502`, nothing stored. */
export class ProviderUnreachableError extends Error {
  constructor(
    readonly provider: string,
    readonly reason: string,
  ) {
    super(`${provider} could not be reached: ${reason}`);
  }
}

export interface ChannelKind<C extends Credentials = Credentials> {
  /** Lower-case name in the route: `PUT /api/channels/<kind>`. */
  readonly kind: string;
  /** The provider's name in errors and logs. */
  readonly provider: string;
  /** The PUT body: a class-validator DTO (also what Swagger documents). */
  readonly connectBody: Type<object>;
  /** Body fields that are secrets: encrypted at rest, never answered, logged or queued. */
  readonly secretFields: readonly (keyof C & string)[];
  /** The secret whose last four characters make the connection's `secretHint`. */
  readonly hintField: keyof C & string;
  /** Sends per second when the body gives none; null when the kind is not paced. */
  readonly defaultMaxPerSecond: number | null;
  /** Path segment of a per-connection webhook: `{APP_URL}/api/webhooks/<webhook>/<connectionId>`. */
  readonly webhook?: string;
  /** The live check: the account, or ConnectionRefusedError / ProviderUnreachableError. */
  check(credentials: C): Promise<ConnectionCheck>;
  /** The platform's own credentials from its variables, when every one the kind needs is set. */
  platformCredentials(): C | undefined;
  /** Sends per second through the platform's account (null: not paced); defaultMaxPerSecond when absent. */
  platformMaxPerSecond?(): number | null;
}

/** The contact fields a channel may address a message to. */
export interface ContactAddress {
  phone: string | null;
  email: string | null;
  instagramId: string | null;
}

export interface OutboundMessage {
  /** Zyva's message id: the idempotency key where the provider takes one, and the callback data WhatsApp reports back. */
  messageId: string;
  organizationId: string;
  /** The recipient, read from `recipientField` of the contact. */
  to: string;
  /** The rendered text. */
  text: string;
  mediaUrl?: string | null;
  /** Parts of this message the provider already accepted in an earlier attempt (multi-call sends). */
  progress: Record<string, string>;
  /** A WhatsApp template message: the template and its parameters, already rendered for the contact. */
  template?: { name: string; language: string; parameters: string[] };
  /** The contact's one-click unsubscribe link for this channel (store emails carry it in headers and footer). */
  unsubscribeUrl?: string;
  /** The store's name, as the recipient knows it. */
  storeName?: string;
}

export interface SendContext<C extends Credentials = Credentials> {
  credentials: C;
  /** Records a part the provider accepted before the whole send is done, so a retry does not send it again. */
  saveProgress(part: string, externalId: string): Promise<void>;
  /**
   * A send that makes more than one provider request calls this before each request after the first: it
   * waits for a slot of the account's pace of its own, so `maxPerSecond` counts requests, not messages. When
   * the slot is far, the send stops here (its progress saved) and the message goes on at that slot.
   */
  nextRequest(): Promise<void>;
}

export interface SendResult {
  /** The provider's id of the message; delivery reports refer to it. */
  externalId: string;
}

/**
 * What to do when an attempt's outcome is unknown (a timeout or a crash during
 * the call, a 2xx without an id), so that a message is never sent twice:
 * - `resend`: the provider de-duplicates (an idempotency key): send again;
 * - `await-report`: wait for the provider's report naming the message, and send again only if none comes;
 * - `lookup`: ask the provider whether it has the message (`lookup`) before sending again;
 * - `fail`: settle FAILED "outcome unknown" rather than risk a duplicate.
 */
export type UnknownOutcomePolicy = 'resend' | 'await-report' | 'lookup' | 'fail';

export interface MessageSender<C extends Credentials = Credentials> {
  /** The message channel, upper case: `WHATSAPP`. */
  readonly channel: string;
  /** The ChannelKind whose connection (or platform credentials) it sends through. */
  readonly kind: string;
  readonly provider: string;
  readonly recipientField: keyof ContactAddress;
  readonly unknownOutcome: UnknownOutcomePolicy;
  /** Sends, or throws a ProviderError (retryable, unknown outcome, authentication, throttling). */
  send(message: OutboundMessage, context: SendContext<C>): Promise<SendResult>;
  /** For `lookup`: the provider's record of this message sent since `since`, or null. */
  lookup?(message: OutboundMessage, context: SendContext<C>, since: Date): Promise<SendResult | null>;
}

export const CHANNEL_KIND = 'zyva:channel-kind';
export const MESSAGE_SENDER = 'zyva:message-sender';
export const SOCIAL_PUBLISHER = 'zyva:social-publisher';

/** Marks a provider class as a ChannelKind, discovered in any module of the app. */
export const RegisterChannelKind = () => SetMetadata(CHANNEL_KIND, true);
/** Marks a provider class as a MessageSender, discovered in any module of the app. */
export const RegisterMessageSender = () => SetMetadata(MESSAGE_SENDER, true);
/** Marks a provider class as a SocialPublisher, discovered in any module of the app. */
export const RegisterSocialPublisher = () => SetMetadata(SOCIAL_PUBLISHER, true);

/** A ProviderError that means the credentials no longer work: the connection becomes INVALID. */
export function isAuthenticationFailure(error: unknown): error is ProviderError {
  return (error as ProviderError)?.name === 'ProviderError' && (error as ProviderError).authentication === true;
}

/** Zyva's own message channels (an extension's are added at run time by the registry). */
export const BUILT_IN_CHANNELS = ['WHATSAPP', 'EMAIL', 'SMS', 'INSTAGRAM_DM'] as const;
/** What a channel name looks like; whether it exists is the registry's answer (400 otherwise). */
export const CHANNEL_NAME = /^[A-Z][A-Z0-9_]{0,31}$/;
