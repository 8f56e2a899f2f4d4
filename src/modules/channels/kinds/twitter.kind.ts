import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../../core/config/app-config';
import { ProviderHttp } from '../../../core/http/provider-http';
import { ChannelKind, ConnectionCheck, ConnectionRefusedError, RegisterChannelKind } from '../channel-extension';
import { Secret } from './connect-fields';
import { liveCheck, trimSlash } from './live-check';

export class TwitterConnectDto {
  @Secret('bWRjZk1Cb…', 'An OAuth 2.0 user access token with tweet.write (and users.read).')
  accessToken: string;
}

export interface TwitterCredentials {
  [field: string]: unknown;
  accessToken: string;
}

/** X accounts (TWITTER posts): the check reads the token's user, which identifies the account. Not paced. */
@Injectable()
@RegisterChannelKind()
export class TwitterKind implements ChannelKind<TwitterCredentials> {
  readonly kind = 'twitter';
  readonly provider = 'X API';
  readonly connectBody = TwitterConnectDto;
  readonly secretFields = ['accessToken'] as const;
  readonly hintField = 'accessToken';
  readonly defaultMaxPerSecond = null;

  constructor(
    private readonly config: AppConfig,
    private readonly http: ProviderHttp,
  ) {}

  async check(c: TwitterCredentials): Promise<ConnectionCheck> {
    const res = await liveCheck(
      this.http,
      { provider: this.provider, method: 'GET', url: `${trimSlash(this.config.TWITTER_API_URL)}/2/users/me`, headers: { Authorization: `Bearer ${c.accessToken}` } },
      (r) => {
        const body = r.json as { detail?: string; title?: string } | undefined;
        return body?.detail ?? body?.title;
      },
    );
    const user = (res.json as { data?: { id?: string; username?: string } } | undefined)?.data;
    if (!user?.id) throw new ConnectionRefusedError(this.provider, 'the token has no user (an app-only token cannot post)');
    return { accountKey: user.id, account: { userId: user.id, username: user.username ?? null } };
  }

  platformCredentials(): TwitterCredentials | undefined {
    return this.config.TWITTER_BEARER_TOKEN ? { accessToken: this.config.TWITTER_BEARER_TOKEN } : undefined;
  }
}
