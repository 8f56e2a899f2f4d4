import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../../core/config/app-config';
import { SocialPlatform } from '../../../generated/prisma/enums';
import { graphApiError } from '../providers/graph-api-error';
import { ProviderHttp } from '../../../core/http/provider-http';
import { RegisterSocialPublisher } from '../channel-extension';
import type { FacebookCredentials } from '../kinds/graph.kinds';
import { PublishContext, PublishOutcomeUnknownError, PublishResult, PublishablePost, SocialPublisher, outcomeOfFailedCall } from './social-publisher';

/**
 * Facebook Page posts through the Graph API: text to
 * `POST {GRAPH_API_URL}/{pageId}/feed` `{ message }` → `{ id }`;
 * with an image to `POST /{pageId}/photos` `{ url, caption }` →
 * `{ id, post_id }` (the post's id is `post_id`; `id` is the photo's).
 * The Graph API takes no idempotency key and offers no way to tell whether a
 * timed-out call created the post, so such a call is an unknown outcome.
 */
@Injectable()
@RegisterSocialPublisher()
export class FacebookPublisher implements SocialPublisher<FacebookCredentials> {
  readonly platform = SocialPlatform.FACEBOOK;
  readonly kind = 'facebook';
  readonly name = 'Facebook Graph API';
  readonly maxContentLength = 63206;
  readonly image = 'optional';
  readonly checksBeforePublishing = false;

  constructor(
    private readonly config: AppConfig,
    private readonly http: ProviderHttp,
  ) {}

  async publish(post: PublishablePost, { credentials }: PublishContext<FacebookCredentials>): Promise<PublishResult> {
    const [edge, body] = post.imageUrl
      ? ['photos', { url: post.imageUrl, caption: post.content }]
      : ['feed', { message: post.content }];
    const res = await this.http
      .request({
        provider: this.name,
        method: 'POST',
        url: `${this.config.GRAPH_API_URL.replace(/\/$/, '')}/${encodeURIComponent(credentials.pageId)}/${edge}`,
        headers: { Authorization: `Bearer ${credentials.accessToken}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      })
      .catch((error: unknown) => {
        throw outcomeOfFailedCall(error);
      });
    if (res.status < 200 || res.status >= 300) throw graphApiError(this.name, res);
    const answer = res.json as { id?: string; post_id?: string } | undefined;
    const externalId = answer?.post_id ?? answer?.id;
    if (!externalId) throw new PublishOutcomeUnknownError(this.name, `${edge} answered HTTP ${res.status} without an id`);
    return { externalId };
  }
}
