import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../../core/config/app-config';
import { SocialPlatform } from '../../../generated/prisma/enums';
import { ProviderError, isRetryableStatus } from '../../../core/http/provider-error';
import { ProviderHttp, ProviderResponse } from '../../../core/http/provider-http';
import { RegisterSocialPublisher } from '../channel-extension';
import type { TwitterCredentials } from '../kinds/twitter.kind';
import { PublishContext, PublishOutcomeUnknownError, PublishResult, PublishablePost, SocialPublisher, outcomeOfFailedCall } from './social-publisher';

interface XErrorBody {
  title?: string;
  detail?: string;
  errors?: { message?: string; detail?: string }[];
}

/**
 * X (Twitter) API v2: `POST {TWITTER_API_URL}/2/tweets` `{ text }` with the
 * bearer token (OAuth 2.0 user context) → `201 { data: { id, text } }`.
 * X takes no idempotency key, so a call that timed out is an unknown outcome.
 */
@Injectable()
@RegisterSocialPublisher()
export class TwitterPublisher implements SocialPublisher<TwitterCredentials> {
  readonly platform = SocialPlatform.TWITTER;
  readonly kind = 'twitter';
  readonly name = 'X API';
  readonly maxContentLength = 280;
  readonly image = 'unsupported';
  readonly checksBeforePublishing = false;

  constructor(
    private readonly config: AppConfig,
    private readonly http: ProviderHttp,
  ) {}

  async publish(post: PublishablePost, { credentials }: PublishContext<TwitterCredentials>): Promise<PublishResult> {
    const res = await this.http
      .request({
        provider: this.name,
        method: 'POST',
        url: `${this.config.TWITTER_API_URL.replace(/\/$/, '')}/2/tweets`,
        headers: { Authorization: `Bearer ${credentials.accessToken}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ text: post.content }),
      })
      .catch((error: unknown) => {
        throw outcomeOfFailedCall(error);
      });
    if (res.status < 200 || res.status >= 300) throw xApiError(this.name, res);
    const id = (res.json as { data?: { id?: string } } | undefined)?.data?.id;
    if (!id) throw new PublishOutcomeUnknownError(this.name, `HTTP ${res.status} without data.id`);
    return { externalId: id };
  }
}

/** X errors come as problem details `{ title, detail }` or `{ errors: [{ message }] }`; 429 and 5xx may pass later. */
function xApiError(provider: string, res: ProviderResponse): ProviderError {
  const body = res.json as XErrorBody | undefined;
  const reason = body?.detail ?? body?.errors?.[0]?.message ?? body?.errors?.[0]?.detail ?? body?.title ?? `HTTP ${res.status}`;
  return new ProviderError(provider, `${reason} [HTTP ${res.status}]`, isRetryableStatus(res.status), res.status);
}
