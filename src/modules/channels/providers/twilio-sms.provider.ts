import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../../core/config/app-config';
import { ProviderError, isRetryableStatus, retryAfterMs } from '../../../core/http/provider-error';
import { ProviderHttp, ProviderResponse } from '../../../core/http/provider-http';
import { MessageSender, OutboundMessage, RegisterMessageSender, SendContext, SendResult } from '../channel-extension';
import { SmsCredentials, twilioBasicAuth } from '../kinds/sms.kind';

interface TwilioBody {
  sid?: string;
  code?: number;
  message?: string;
  more_info?: string;
  status?: number | string;
}

interface TwilioMessage {
  sid: string;
  body?: string;
  to?: string;
  from?: string;
  date_created?: string;
}

/** Twilio error 20429 is its "too many requests"; 30001 a full queue. Both pass with time. */
const RETRYABLE_TWILIO_CODES = new Set([20429, 30001]);
/** 20003: authentication failed (wrong SID or token, or a suspended account). */
const AUTH_TWILIO_CODES = new Set([20003]);

/**
 * Twilio SMS: `POST {TWILIO_API_URL}/2010-04-01/Accounts/{sid}/Messages.json`,
 * form-encoded `To`, `From`, `Body` (and `MediaUrl`), basic auth with the
 * account SID and auth token. Twilio takes no idempotency key, but it lists
 * what it sent: after an unknown outcome the message is looked up
 * (`GET …/Messages.json?To=&From=&DateSent>=`) before it is sent again.
 */
@Injectable()
@RegisterMessageSender()
export class TwilioSmsProvider implements MessageSender<SmsCredentials> {
  readonly channel = 'SMS';
  readonly kind = 'sms';
  readonly provider = 'Twilio';
  readonly recipientField = 'phone' as const;
  readonly unknownOutcome = 'lookup' as const;

  constructor(
    private readonly config: AppConfig,
    private readonly http: ProviderHttp,
  ) {}

  async send(message: OutboundMessage, { credentials }: SendContext<SmsCredentials>): Promise<SendResult> {
    const form = new URLSearchParams({ To: message.to, From: credentials.from, Body: message.text });
    if (message.mediaUrl) form.set('MediaUrl', message.mediaUrl);
    const res = await this.http.request({
      provider: this.provider,
      method: 'POST',
      url: this.messagesUrl(credentials),
      headers: { Authorization: twilioBasicAuth(credentials), 'Content-Type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    const body = res.json as TwilioBody | undefined;
    if (res.status >= 200 && res.status < 300) {
      if (!body?.sid) throw new ProviderError(this.provider, 'answer without sid', true, res.status, undefined, { unknownOutcome: true });
      return { externalId: body.sid };
    }
    throw this.error(res, body);
  }

  /**
   * A message to this number with this text, created since the attempt began.
   * `DateSent>=` takes a date (YYYY-MM-DD), so the time is checked here.
   */
  async lookup(message: OutboundMessage, { credentials }: SendContext<SmsCredentials>, since: Date): Promise<SendResult | null> {
    // Twilio's filter is literally `DateSent>=YYYY-MM-DD`: the key `DateSent>` with the date as its value.
    const query = new URLSearchParams({ To: message.to, From: credentials.from, 'DateSent>': since.toISOString().slice(0, 10) });
    const url = `${this.messagesUrl(credentials)}?${query.toString()}`;
    const res = await this.http.request({ provider: this.provider, method: 'GET', url, headers: { Authorization: twilioBasicAuth(credentials) } });
    if (res.status < 200 || res.status >= 300) throw this.error(res, res.json as TwilioBody | undefined);
    const found = ((res.json as { messages?: TwilioMessage[] } | undefined)?.messages ?? []).find(
      (m) => m.body === message.text && (!m.date_created || Date.parse(m.date_created) >= since.getTime() - 60_000),
    );
    return found ? { externalId: found.sid } : null;
  }

  private messagesUrl(credentials: SmsCredentials): string {
    return `${this.config.TWILIO_API_URL.replace(/\/$/, '')}/2010-04-01/Accounts/${encodeURIComponent(credentials.accountSid)}/Messages.json`;
  }

  private error(res: ProviderResponse, body: TwilioBody | undefined): ProviderError {
    const code = typeof body?.code === 'number' ? body.code : undefined;
    const retryable = (code !== undefined && RETRYABLE_TWILIO_CODES.has(code)) || isRetryableStatus(res.status);
    const detail = body?.message ? `${body.message}${code ? ` [code ${code}]` : ''}` : `HTTP ${res.status}`;
    const throttled = res.status === 429 || code === 20429;
    return new ProviderError(this.provider, detail, retryable, res.status, code, {
      authentication: (code !== undefined && AUTH_TWILIO_CODES.has(code)) || res.status === 401,
      throttled,
      retryAfterMs: throttled ? retryAfterMs(res.headers['retry-after']) : undefined,
    });
  }
}
