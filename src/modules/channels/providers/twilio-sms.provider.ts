import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../../core/config/app-config';
import { Channel } from '../../../generated/prisma/enums';
import { ChannelProvider, OutboundMessage, SendResult } from './channel-provider';
import { ProviderError, isRetryableStatus } from '../../../core/http/provider-error';
import { ProviderHttp } from '../../../core/http/provider-http';

interface TwilioBody {
  sid?: string;
  code?: number;
  message?: string;
  more_info?: string;
  status?: number | string;
}

/** Twilio error 20429 is its "too many requests"; 30001 a full queue. Both pass with time. */
const RETRYABLE_TWILIO_CODES = new Set([20429, 30001]);

/**
 * Twilio SMS: `POST {TWILIO_API_URL}/2010-04-01/Accounts/{sid}/Messages.json`,
 * form-encoded `To`, `From`, `Body` (and `MediaUrl`), basic auth with the
 * account SID and auth token.
 */
@Injectable()
export class TwilioSmsProvider implements ChannelProvider {
  readonly channel = Channel.SMS;
  readonly name = 'Twilio';
  readonly recipientField = 'phone' as const;

  constructor(
    private readonly config: AppConfig,
    private readonly http: ProviderHttp,
  ) {}

  isConfigured(): boolean {
    return Boolean(this.config.TWILIO_ACCOUNT_SID && this.config.TWILIO_AUTH_TOKEN && this.config.TWILIO_FROM);
  }

  async send(message: OutboundMessage): Promise<SendResult> {
    const sid = this.config.TWILIO_ACCOUNT_SID!;
    const form = new URLSearchParams({ To: message.to, From: this.config.TWILIO_FROM!, Body: message.text });
    if (message.mediaUrl) form.set('MediaUrl', message.mediaUrl);
    const auth = Buffer.from(`${sid}:${this.config.TWILIO_AUTH_TOKEN}`).toString('base64');
    const res = await this.http.request({
      provider: this.name,
      method: 'POST',
      url: `${this.config.TWILIO_API_URL.replace(/\/$/, '')}/2010-04-01/Accounts/${encodeURIComponent(sid)}/Messages.json`,
      headers: { Authorization: `Basic ${auth}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    const body = res.json as TwilioBody | undefined;
    if (res.status >= 200 && res.status < 300) {
      if (!body?.sid) throw new ProviderError(this.name, 'answer without sid', true, res.status);
      return { externalId: body.sid };
    }
    const retryable = (body?.code !== undefined && RETRYABLE_TWILIO_CODES.has(body.code)) || isRetryableStatus(res.status);
    const detail = body?.message ? `${body.message}${body.code ? ` [code ${body.code}]` : ''}` : `HTTP ${res.status}`;
    throw new ProviderError(this.name, detail, retryable, res.status, body?.code);
  }
}
