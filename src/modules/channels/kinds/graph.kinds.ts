import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../../core/config/app-config';
import { ProviderHttp } from '../../../core/http/provider-http';
import { ChannelKind, ConnectionCheck, RegisterChannelKind } from '../channel-extension';
import { MaxPerSecond, NumericId, Secret } from './connect-fields';
import { graphReason, liveCheck, trimSlash } from './live-check';

export class InstagramConnectDto {
  @NumericId('17841400000000000', 'The Instagram professional account id')
  accountId: string;

  @Secret('IGQVJ…', 'An access token with instagram_basic, instagram_content_publish and instagram_manage_messages.')
  accessToken: string;

  @MaxPerSecond(10)
  maxPerSecond?: number;
}

export interface InstagramCredentials {
  [field: string]: unknown;
  accountId: string;
  accessToken: string;
}

export class FacebookConnectDto {
  @NumericId('104000000000000', 'The Facebook Page id')
  pageId: string;

  @Secret('EAAB…', 'A Page access token with pages_manage_posts.')
  accessToken: string;
}

export interface FacebookCredentials {
  [field: string]: unknown;
  pageId: string;
  accessToken: string;
}

/** Instagram professional accounts (Instagram DM messages and INSTAGRAM posts): the check reads the username. */
@Injectable()
@RegisterChannelKind()
export class InstagramKind implements ChannelKind<InstagramCredentials> {
  readonly kind = 'instagram';
  readonly provider = 'Instagram Graph API';
  readonly connectBody = InstagramConnectDto;
  readonly secretFields = ['accessToken'] as const;
  readonly hintField = 'accessToken';
  readonly defaultMaxPerSecond = 10;

  constructor(
    private readonly config: AppConfig,
    private readonly http: ProviderHttp,
  ) {}

  async check(c: InstagramCredentials): Promise<ConnectionCheck> {
    const res = await liveCheck(
      this.http,
      {
        provider: this.provider,
        method: 'GET',
        url: `${trimSlash(this.config.GRAPH_API_URL)}/${encodeURIComponent(c.accountId)}?fields=id,username`,
        headers: { Authorization: `Bearer ${c.accessToken}` },
      },
      graphReason,
    );
    const body = res.json as { id?: string; username?: string } | undefined;
    return { accountKey: c.accountId, account: { accountId: c.accountId, username: body?.username ?? null } };
  }

  platformMaxPerSecond(): number {
    return this.config.INSTAGRAM_MAX_PER_SECOND;
  }

  platformCredentials(): InstagramCredentials | undefined {
    const { INSTAGRAM_ACCOUNT_ID, INSTAGRAM_TOKEN } = this.config;
    return INSTAGRAM_ACCOUNT_ID && INSTAGRAM_TOKEN ? { accountId: INSTAGRAM_ACCOUNT_ID, accessToken: INSTAGRAM_TOKEN } : undefined;
  }
}

/** Facebook Pages (FACEBOOK posts): the check reads the page's name. Not paced. */
@Injectable()
@RegisterChannelKind()
export class FacebookKind implements ChannelKind<FacebookCredentials> {
  readonly kind = 'facebook';
  readonly provider = 'Facebook Graph API';
  readonly connectBody = FacebookConnectDto;
  readonly secretFields = ['accessToken'] as const;
  readonly hintField = 'accessToken';
  readonly defaultMaxPerSecond = null;

  constructor(
    private readonly config: AppConfig,
    private readonly http: ProviderHttp,
  ) {}

  async check(c: FacebookCredentials): Promise<ConnectionCheck> {
    const res = await liveCheck(
      this.http,
      {
        provider: this.provider,
        method: 'GET',
        url: `${trimSlash(this.config.GRAPH_API_URL)}/${encodeURIComponent(c.pageId)}?fields=id,name`,
        headers: { Authorization: `Bearer ${c.accessToken}` },
      },
      graphReason,
    );
    const body = res.json as { id?: string; name?: string } | undefined;
    return { accountKey: c.pageId, account: { pageId: c.pageId, name: body?.name ?? null } };
  }

  platformCredentials(): FacebookCredentials | undefined {
    const { FACEBOOK_PAGE_ID, FACEBOOK_PAGE_TOKEN } = this.config;
    return FACEBOOK_PAGE_ID && FACEBOOK_PAGE_TOKEN ? { pageId: FACEBOOK_PAGE_ID, accessToken: FACEBOOK_PAGE_TOKEN } : undefined;
  }
}
