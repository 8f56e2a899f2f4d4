import { Injectable } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { IsString, Matches } from 'class-validator';
import { AppConfig } from '../../../core/config/app-config';
import { ProviderHttp } from '../../../core/http/provider-http';
import { ChannelKind, ConnectionCheck, ConnectionRefusedError, RegisterChannelKind } from '../channel-extension';
import { MaxPerSecond, Secret } from './connect-fields';
import { liveCheck, trimSlash } from './live-check';

export class SmsConnectDto {
  @ApiProperty({ example: 'AC4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f', description: 'The Twilio account SID', pattern: '^AC[0-9a-fA-F]{32}$' })
  @IsString()
  @Matches(/^AC[0-9a-fA-F]{32}$/, { message: 'accountSid must be a Twilio account SID (AC followed by 32 hex digits)' })
  accountSid: string;

  @Secret('f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2', 'The account auth token.')
  authToken: string;

  @ApiProperty({ example: '+5511987654321', description: 'The Twilio number messages are sent from (E.164)' })
  @IsString()
  @Matches(/^\+[1-9]\d{6,14}$/, { message: 'from must be a phone number in E.164 format (e.g. +5511987654321)' })
  from: string;

  @MaxPerSecond(1)
  maxPerSecond?: number;
}

export interface SmsCredentials {
  [field: string]: unknown;
  accountSid: string;
  authToken: string;
  from: string;
}

export const twilioBasicAuth = (c: { accountSid: string; authToken: string }) =>
  `Basic ${Buffer.from(`${c.accountSid}:${c.authToken}`).toString('base64')}`;

/** Twilio accounts: the live check reads the account, which must be active. */
@Injectable()
@RegisterChannelKind()
export class SmsKind implements ChannelKind<SmsCredentials> {
  readonly kind = 'sms';
  readonly provider = 'Twilio';
  readonly connectBody = SmsConnectDto;
  readonly secretFields = ['authToken'] as const;
  readonly hintField = 'authToken';
  // Twilio sends 1 message per second from a long code.
  readonly defaultMaxPerSecond = 1;
  readonly webhook = 'twilio';

  constructor(
    private readonly config: AppConfig,
    private readonly http: ProviderHttp,
  ) {}

  async check(c: SmsCredentials): Promise<ConnectionCheck> {
    const res = await liveCheck(
      this.http,
      {
        provider: this.provider,
        method: 'GET',
        url: `${trimSlash(this.config.TWILIO_API_URL)}/2010-04-01/Accounts/${encodeURIComponent(c.accountSid)}.json`,
        headers: { Authorization: twilioBasicAuth(c) },
      },
      (r) => {
        const body = r.json as { message?: string; code?: number } | undefined;
        return body?.message ? `${body.message}${body.code ? ` [code ${body.code}]` : ''}` : undefined;
      },
    );
    const account = res.json as { sid?: string; friendly_name?: string; status?: string } | undefined;
    if (account?.status !== 'active') throw new ConnectionRefusedError(this.provider, `the account is ${account?.status ?? 'not active'}`);
    return { accountKey: c.accountSid, account: { accountSid: c.accountSid, from: c.from, friendlyName: account.friendly_name ?? null } };
  }

  platformMaxPerSecond(): number {
    return this.config.TWILIO_MAX_PER_SECOND;
  }

  platformCredentials(): SmsCredentials | undefined {
    const { TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM } = this.config;
    return TWILIO_ACCOUNT_SID && TWILIO_AUTH_TOKEN && TWILIO_FROM ? { accountSid: TWILIO_ACCOUNT_SID, authToken: TWILIO_AUTH_TOKEN, from: TWILIO_FROM } : undefined;
  }
}
