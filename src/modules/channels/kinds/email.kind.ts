import { Injectable } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { AppConfig } from '../../../core/config/app-config';
import { ProviderHttp } from '../../../core/http/provider-http';
import { ChannelKind, ConnectionCheck, ConnectionRefusedError, RegisterChannelKind } from '../channel-extension';
import { MaxPerSecond, Secret } from './connect-fields';
import { liveCheck, trimSlash } from './live-check';

/** `Name <local@domain>` or `local@domain`: the closing `>` exactly when there is an opening one. */
const FROM = /^(?:[^<>\r\n]{1,100} <(?=.*>$)|(?!.*>$))([^\s@<>]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+))>?$/;

export class EmailConnectDto {
  @Secret('re_123456789', 'A Resend API key with sending access.')
  apiKey: string;

  @ApiProperty({ example: 'Loja Bela <ofertas@lojabela.com.br>', description: 'Sender; its domain must be verified in the Resend account' })
  @IsString()
  @MaxLength(320)
  @Matches(FROM, { message: 'from must be an address like "Loja Bela <ofertas@lojabela.com.br>"' })
  from: string;

  @ApiPropertyOptional({
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    description: "Signing secret of the Resend webhook pointed at this connection's webhookUrl. Write-only.",
    writeOnly: true,
  })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  webhookSecret?: string;

  @MaxPerSecond(2)
  maxPerSecond?: number;
}

export interface EmailCredentials {
  [field: string]: unknown;
  apiKey: string;
  from: string;
  webhookSecret?: string;
}

export function domainOf(from: string): string {
  return (FROM.exec(from.trim())?.[2] ?? '').toLowerCase();
}

/** Resend teams: the live check lists the team's domains; the sender's must be verified. */
@Injectable()
@RegisterChannelKind()
export class EmailKind implements ChannelKind<EmailCredentials> {
  readonly kind = 'email';
  readonly provider = 'Resend';
  readonly connectBody = EmailConnectDto;
  readonly secretFields = ['apiKey', 'webhookSecret'] as const;
  readonly hintField = 'apiKey';
  // Resend's default limit is 2 requests per second per team.
  readonly defaultMaxPerSecond = 2;
  readonly webhook = 'resend';

  constructor(
    private readonly config: AppConfig,
    private readonly http: ProviderHttp,
  ) {}

  async check(c: EmailCredentials): Promise<ConnectionCheck> {
    const res = await liveCheck(
      this.http,
      { provider: this.provider, method: 'GET', url: `${trimSlash(this.config.RESEND_API_URL)}/domains`, headers: { Authorization: `Bearer ${c.apiKey}` } },
      (r) => (r.json as { message?: string } | undefined)?.message,
    );
    const domain = domainOf(c.from);
    const listed = ((res.json as { data?: { name?: string; status?: string }[] } | undefined)?.data ?? []).find(
      (d) => d.name?.toLowerCase() === domain,
    );
    if (!listed) throw new ConnectionRefusedError(this.provider, `the domain ${domain} is not in this Resend account`);
    if (listed.status !== 'verified') {
      throw new ConnectionRefusedError(this.provider, `the domain ${domain} is not verified yet (status: ${listed.status ?? 'unknown'})`);
    }
    return { accountKey: null, account: { from: c.from, domain } };
  }

  platformMaxPerSecond(): number {
    return this.config.RESEND_MAX_PER_SECOND;
  }

  platformCredentials(): EmailCredentials | undefined {
    const { RESEND_API_KEY, EMAIL_FROM, RESEND_WEBHOOK_SECRET } = this.config;
    return RESEND_API_KEY ? { apiKey: RESEND_API_KEY, from: EMAIL_FROM, webhookSecret: RESEND_WEBHOOK_SECRET } : undefined;
  }
}
