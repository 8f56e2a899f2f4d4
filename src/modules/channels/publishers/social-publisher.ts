import type { SocialPlatform } from '../../../generated/prisma/enums';

export interface PublishablePost {
  id: string;
  content: string;
  imageUrl: string | null;
}

export interface PublishResult {
  /** The platform's id of the published post. */
  externalId: string;
}

/**
 * One social platform. Adding a platform (LinkedIn, say) is one class
 * implementing this, listed in SOCIAL_PUBLISHER_CLASSES (publishers/index.ts),
 * plus its SocialPlatform enum value; validation and publishing find it by
 * `platform`, nothing switches on it.
 */
export interface SocialPublisher {
  readonly platform: SocialPlatform;
  /** Name used in errors and logs, e.g. `Instagram Graph API`. */
  readonly name: string;
  /** Longest `content` the platform accepts, in characters (Unicode code points). */
  readonly maxContentLength: number;
  readonly image: 'required' | 'optional' | 'unsupported';
  /** False when its credentials are missing: sandbox outside production, a clear failure in production. */
  isConfigured(): boolean;
  /** Publishes, or throws a ProviderError saying whether a retry can help. */
  publish(post: PublishablePost): Promise<PublishResult>;
}

/** Injection token of the list of social publishers. */
export const SOCIAL_PUBLISHERS = Symbol('SOCIAL_PUBLISHERS');
