import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../../core/config/app-config';
import { ProviderHttp } from '../../../core/http/provider-http';
import { ChannelKind, ConnectionCheck, RegisterChannelKind } from '../channel-extension';
import { MaxPerSecond, NumericId, Secret } from './connect-fields';
import { graphReason, liveCheck, trimSlash } from './live-check';

export class WhatsAppConnectDto {
  @NumericId('106540352242922', 'The WhatsApp Business phone number id (Meta app dashboard, WhatsApp > API Setup)')
  phoneNumberId: string;

  @NumericId('102290129340398', 'The WhatsApp Business Account id (its message templates)')
  businessAccountId: string;

  @Secret('EAAGm0PX4ZCpsBA…', 'A system-user access token with whatsapp_business_messaging.')
  accessToken: string;

  @MaxPerSecond(80)
  maxPerSecond?: number;
}

export interface WhatsAppCredentials {
  [field: string]: unknown;
  phoneNumberId: string;
  businessAccountId?: string;
  accessToken: string;
}

/** WhatsApp Cloud API numbers: the live check reads the number's display name. */
@Injectable()
@RegisterChannelKind()
export class WhatsAppKind implements ChannelKind<WhatsAppCredentials> {
  readonly kind = 'whatsapp';
  readonly provider = 'WhatsApp Cloud API';
  readonly connectBody = WhatsAppConnectDto;
  readonly secretFields = ['accessToken'] as const;
  readonly hintField = 'accessToken';
  readonly defaultMaxPerSecond = 80;

  constructor(
    private readonly config: AppConfig,
    private readonly http: ProviderHttp,
  ) {}

  async check(c: WhatsAppCredentials): Promise<ConnectionCheck> {
    const res = await liveCheck(
      this.http,
      {
        provider: this.provider,
        method: 'GET',
        url: `${trimSlash(this.config.WHATSAPP_API_URL)}/${encodeURIComponent(c.phoneNumberId)}?fields=display_phone_number,verified_name`,
        headers: { Authorization: `Bearer ${c.accessToken}` },
      },
      graphReason,
    );
    const body = res.json as { id?: string; display_phone_number?: string; verified_name?: string } | undefined;
    return {
      accountKey: c.phoneNumberId,
      account: {
        phoneNumberId: c.phoneNumberId,
        businessAccountId: c.businessAccountId ?? null,
        displayPhoneNumber: body?.display_phone_number ?? null,
        verifiedName: body?.verified_name ?? null,
      },
    };
  }

  platformMaxPerSecond(): number {
    return this.config.WHATSAPP_MAX_PER_SECOND;
  }

  platformCredentials(): WhatsAppCredentials | undefined {
    const { WHATSAPP_PHONE_ID, WHATSAPP_TOKEN, WHATSAPP_BUSINESS_ACCOUNT_ID } = this.config;
    if (!WHATSAPP_PHONE_ID || !WHATSAPP_TOKEN) return undefined;
    return { phoneNumberId: WHATSAPP_PHONE_ID, accessToken: WHATSAPP_TOKEN, businessAccountId: WHATSAPP_BUSINESS_ACCOUNT_ID };
  }
}
