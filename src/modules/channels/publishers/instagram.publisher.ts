import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../../core/config/app-config';
import { SocialPlatform } from '../../../generated/prisma/enums';
import { graphApiError } from '../providers/graph-api-error';
import { ProviderError } from '../../../core/http/provider-error';
import { ProviderHttp } from '../../../core/http/provider-http';
import { RegisterSocialPublisher } from '../channel-extension';
import type { InstagramCredentials } from '../kinds/graph.kinds';
import { PublishResult, PublishablePost, SocialPublisher } from './social-publisher';

const MEDIA_NOT_READY = 9007;

/**
 * Instagram feed posts through the Graph API (content publishing): create an
 * image container `POST {GRAPH_API_URL}/{accountId}/media`
 * `{ image_url, caption }` → `{ id }`, then publish it
 * `POST /{accountId}/media_publish` `{ creation_id }` → `{ id }`.
 */
@Injectable()
@RegisterSocialPublisher()
export class InstagramPublisher implements SocialPublisher<InstagramCredentials> {
  readonly platform = SocialPlatform.INSTAGRAM;
  readonly kind = 'instagram';
  readonly name = 'Instagram Graph API';
  readonly maxContentLength = 2200;
  readonly image = 'required';

  constructor(
    private readonly config: AppConfig,
    private readonly http: ProviderHttp,
  ) {}

  async publish(post: PublishablePost, credentials: InstagramCredentials): Promise<PublishResult> {
    const containerId = await this.post(credentials, 'media', { image_url: post.imageUrl, caption: post.content });
    return { externalId: await this.post(credentials, 'media_publish', { creation_id: containerId }) };
  }

  private async post(credentials: InstagramCredentials, edge: string, body: Record<string, unknown>): Promise<string> {
    const base = this.config.GRAPH_API_URL.replace(/\/$/, '');
    const res = await this.http.request({
      provider: this.name,
      method: 'POST',
      url: `${base}/${encodeURIComponent(credentials.accountId)}/${edge}`,
      headers: { Authorization: `Bearer ${credentials.accessToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (res.status < 200 || res.status >= 300) {
      const error = graphApiError(this.name, res);
      // 9007 "media not ready": the container is still being processed; a later attempt can publish.
      if (error.code === MEDIA_NOT_READY) {
        throw new ProviderError(this.name, error.message.slice(this.name.length + 2), true, error.status, error.code);
      }
      throw error;
    }
    const id = (res.json as { id?: string } | undefined)?.id;
    if (!id) throw new ProviderError(this.name, `${edge} answered without an id`, true, res.status);
    return id;
  }
}
