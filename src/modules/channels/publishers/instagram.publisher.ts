import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../../core/config/app-config';
import { SocialPlatform } from '../../../generated/prisma/enums';
import { graphApiError } from '../providers/graph-api-error';
import { ProviderError } from '../../../core/http/provider-error';
import { ProviderHttp, ProviderResponse } from '../../../core/http/provider-http';
import { RegisterSocialPublisher } from '../channel-extension';
import type { InstagramCredentials } from '../kinds/graph.kinds';
import {
  PublishContext,
  PublishOutcomeUnknownError,
  PublishResult,
  PublishablePost,
  SocialPublisher,
  outcomeOfFailedCall,
} from './social-publisher';

const MEDIA_NOT_READY = 9007;
/** How far back, before the post was due, a media found on the account may have been published (clock skew). */
const CLOCK_SKEW_MS = 60_000;
/** Recent media looked through for the one a container became. */
const MEDIA_PAGE = 25;

/** `status_code` of an IG Container (`GET /{container-id}?fields=status_code`). */
type ContainerStatus = 'EXPIRED' | 'ERROR' | 'FINISHED' | 'IN_PROGRESS' | 'PUBLISHED';

interface IgMedia {
  id: string;
  caption?: string;
  /** ISO 8601 with a `+0000` offset, e.g. `2026-12-01T18:00:02+0000`. */
  timestamp?: string;
}

/**
 * Instagram feed posts through the Graph API (content publishing): create an
 * image container `POST {GRAPH_API_URL}/{accountId}/media`
 * `{ image_url, caption }` → `{ id }`, then publish it
 * `POST /{accountId}/media_publish` `{ creation_id }` → `{ id }`.
 *
 * The container is stored (`saveContainer`) before it is published and is
 * what makes a repeat safe: an attempt that finds one asks
 * `GET /{container-id}?fields=status_code` first. FINISHED means it was never
 * published (publish it now); PUBLISHED means it already went out, so its
 * media is looked up on the account (`GET /{ig-user-id}/media`, by caption
 * and time: a container does not name its media) instead of publishing it
 * again; EXPIRED (24 h unpublished) needs a new container.
 */
@Injectable()
@RegisterSocialPublisher()
export class InstagramPublisher implements SocialPublisher<InstagramCredentials> {
  readonly platform = SocialPlatform.INSTAGRAM;
  readonly kind = 'instagram';
  readonly name = 'Instagram Graph API';
  readonly maxContentLength = 2200;
  readonly image = 'required';
  readonly checksBeforePublishing = true;

  constructor(
    private readonly config: AppConfig,
    private readonly http: ProviderHttp,
  ) {}

  async publish(post: PublishablePost, context: PublishContext<InstagramCredentials>): Promise<PublishResult> {
    const c = context.credentials;
    let containerId = context.containerId;
    if (containerId) {
      const status = await this.containerStatus(c, containerId);
      if (status === 'PUBLISHED') return this.publishedMediaOf(c, post, containerId);
      if (status === 'IN_PROGRESS') throw new ProviderError(this.name, `container ${containerId} is still being processed`, true);
      if (status === 'ERROR') throw new ProviderError(this.name, `container ${containerId} could not be processed (status ERROR)`, false);
      if (status === 'EXPIRED') containerId = null;
    }
    if (!containerId) {
      containerId = this.idOf(await this.call(c, 'POST', 'media', { image_url: post.imageUrl, caption: post.content }), 'media');
      await context.saveContainer(containerId);
    }
    return { externalId: await this.publishContainer(c, containerId) };
  }

  /** `media_publish` is the call that makes the post public: a failure without an answer is an unknown outcome. */
  private async publishContainer(c: InstagramCredentials, containerId: string): Promise<string> {
    const res = await this.call(c, 'POST', 'media_publish', { creation_id: containerId }).catch((error: unknown) => {
      throw outcomeOfFailedCall(error);
    });
    const id = (res.json as { id?: string } | undefined)?.id;
    if (!id) throw new PublishOutcomeUnknownError(this.name, `media_publish answered HTTP ${res.status} without an id`);
    return id;
  }

  private async containerStatus(c: InstagramCredentials, containerId: string): Promise<ContainerStatus> {
    const res = await this.call(c, 'GET', `${encodeURIComponent(containerId)}?fields=status_code`);
    const status = (res.json as { status_code?: ContainerStatus } | undefined)?.status_code;
    if (!status) throw new ProviderError(this.name, `container ${containerId} answered without status_code`, true, res.status);
    return status;
  }

  /** The media a PUBLISHED container became: the earliest recent media with the post's caption, published once it was due. */
  private async publishedMediaOf(c: InstagramCredentials, post: PublishablePost, containerId: string): Promise<PublishResult> {
    const res = await this.call(c, 'GET', `${encodeURIComponent(c.accountId)}/media?fields=id,caption,timestamp&limit=${MEDIA_PAGE}`);
    const notBefore = post.scheduledFor.getTime() - CLOCK_SKEW_MS;
    const matches = ((res.json as { data?: IgMedia[] } | undefined)?.data ?? []).filter(
      (m) => m.caption === post.content && timeOf(m.timestamp) >= notBefore,
    );
    const media = matches.sort((a, b) => timeOf(a.timestamp) - timeOf(b.timestamp))[0];
    if (media) return { externalId: media.id };
    return { externalId: null, note: `Instagram reports container ${containerId} published; its media id was not found among the account's recent media.` };
  }

  /** One Graph call: `edge` under the account for POSTs, a path from the API root for GETs. */
  private async call(c: InstagramCredentials, method: 'GET' | 'POST', path: string, body?: Record<string, unknown>): Promise<ProviderResponse> {
    const base = this.config.GRAPH_API_URL.replace(/\/$/, '');
    const res = await this.http.request({
      provider: this.name,
      method,
      url: method === 'POST' ? `${base}/${encodeURIComponent(c.accountId)}/${path}` : `${base}/${path}`,
      headers: { Authorization: `Bearer ${c.accessToken}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (res.status >= 200 && res.status < 300) return res;
    const error = graphApiError(this.name, res);
    // 9007 "media not ready": the container is still being processed; a later attempt can publish.
    if (error.code === MEDIA_NOT_READY) {
      throw new ProviderError(this.name, error.message.slice(this.name.length + 2), true, error.status, error.code);
    }
    throw error;
  }

  private idOf(res: ProviderResponse, edge: string): string {
    const id = (res.json as { id?: string } | undefined)?.id;
    if (!id) throw new ProviderError(this.name, `${edge} answered without an id`, true, res.status);
    return id;
  }
}

/** Graph timestamps carry `+0000` (no colon); NaN-safe: an unreadable one sorts and filters out. */
function timeOf(timestamp: string | undefined): number {
  const time = timestamp ? Date.parse(timestamp.replace(/([+-]\d{2})(\d{2})$/, '$1:$2')) : NaN;
  return Number.isNaN(time) ? -Infinity : time;
}
