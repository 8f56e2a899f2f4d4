import type { SocialPlatform } from '../../../generated/prisma/enums';
import type { Credentials } from '../channel-extension';

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
  /** Publishes, or throws a ProviderError saying whether a retry can help. */
  publish(post: PublishablePost, credentials: C): Promise<PublishResult>;
}
