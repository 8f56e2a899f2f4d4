import type { SocialPlatform } from '../../../generated/prisma/enums';
import { ProviderError } from '../../../core/http/provider-error';
import type { Credentials } from '../channel-extension';

export interface PublishablePost {
  id: string;
  content: string;
  imageUrl: string | null;
  scheduledFor: Date;
}

export interface PublishContext<C extends Credentials = Credentials> {
  /** The credentials of the route chosen when the post was accepted (its connection, or the platform's account). */
  credentials: C;
  /** The draft a previous attempt stored for this post (an Instagram media container), or null. */
  containerId: string | null;
  /**
   * Stores a draft before it is published, so that a later attempt asks the platform what became of it
   * instead of publishing another one. Throws when the attempt no longer holds the post: publish nothing then.
   */
  saveContainer(containerId: string): Promise<void>;
}

export interface PublishResult {
  /** The platform's id of the published post; null only when the platform says it is out but its id cannot be found. */
  externalId: string | null;
  /** Said to the user beside the result (why the id is missing, say). */
  note?: string;
}

/**
 * One social platform, marked with `@RegisterSocialPublisher()` and discovered
 * by the ChannelRegistry; validation and publishing find it by `platform`.
 * It publishes through the credentials of its ChannelKind (`kind`): the
 * organization's connection or the platform's variables, chosen when the post
 * was accepted.
 */
export interface SocialPublisher<C extends Credentials = Credentials> {
  readonly platform: SocialPlatform;
  readonly kind: string;
  /** Name used in errors and logs, e.g. `Instagram Graph API`. */
  readonly name: string;
  /** Longest `content` the platform accepts, in characters (Unicode code points). */
  readonly maxContentLength: number;
  readonly image: 'required' | 'optional' | 'unsupported';
  /**
   * True when `publish` first asks the platform what a previous attempt did (Instagram: the container's
   * `status_code`), so it may be called again after an attempt whose outcome is unknown. When false, such a
   * post ends FAILED ("outcome unknown") rather than risk a second public post.
   */
  readonly checksBeforePublishing: boolean;
  /**
   * Publishes, or throws: a ProviderError saying whether a retry can help, or a PublishOutcomeUnknownError
   * when the platform may have published the post without saying so.
   */
  publish(post: PublishablePost, context: PublishContext<C>): Promise<PublishResult>;
}

/**
 * The platform may have published the post, but did not say so: no answer in time, a connection dropped
 * after the request went out, or a 2xx without the post's id. None of these platforms takes an
 * idempotency key, so publishing again could post twice.
 */
export class PublishOutcomeUnknownError extends Error {
  constructor(
    readonly provider: string,
    detail: string,
  ) {
    super(`${provider}: outcome unknown (${detail}); the post may have been published`);
    this.name = 'PublishOutcomeUnknownError';
  }
}

/** Connection failures that prove the request never left this machine, so nothing can have been published. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/**
 * A failed call that created a post: a network failure without an HTTP answer (a timeout, a reset
 * connection) is an unknown outcome, unless the connection was never made. Other errors pass unchanged.
 */
export function outcomeOfFailedCall(error: unknown): unknown {
  if (!(error instanceof ProviderError) || error.status !== undefined) return error;
  if (typeof error.code === 'string' && NEVER_SENT.has(error.code)) return error;
  return new PublishOutcomeUnknownError(error.provider, error.message.slice(error.provider.length + 2));
}
