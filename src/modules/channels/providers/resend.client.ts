import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../../core/config/app-config';
import { ProviderError, isRetryableStatus, retryAfterMs } from '../../../core/http/provider-error';
import { ProviderHttp } from '../../../core/http/provider-http';

export interface ResendAccount {
  apiKey: string;
  /** `Name <address>`: the sender of the account (a store's, or the platform's EMAIL_FROM). */
  from: string;
}

export interface ResendEmail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Resend answers a repeated key with the first result instead of sending again (24 h). */
  idempotencyKey: string;
  /** Extra email headers (e.g. List-Unsubscribe), through Resend's `headers` field. */
  headers?: Record<string, string>;
}

interface ResendErrorBody {
  statusCode?: number;
  name?: string;
  message?: string;
}

/** A second request with the same key while the first is running: try again later. */
const RETRYABLE_RESEND_ERRORS = new Set(['concurrent_idempotent_requests', 'rate_limit_exceeded', 'internal_server_error', 'application_error']);

/**
 * Resend: `POST {RESEND_API_URL}/emails` with a bearer key and an
 * `Idempotency-Key`. Shared by the EMAIL channel (a store's account or the
 * platform's) and the account emails (verification, reset: always the
 * platform's, RESEND_API_KEY and EMAIL_FROM).
 */
@Injectable()
export class ResendClient {
  readonly name = 'Resend';

  constructor(
    private readonly config: AppConfig,
    private readonly http: ProviderHttp,
  ) {}

  /** The platform's own account, when RESEND_API_KEY is set. */
  platformAccount(): ResendAccount | undefined {
    return this.config.RESEND_API_KEY ? { apiKey: this.config.RESEND_API_KEY, from: this.config.EMAIL_FROM } : undefined;
  }

  async send(account: ResendAccount, email: ResendEmail): Promise<{ id: string }> {
    const res = await this.http.request({
      provider: this.name,
      method: 'POST',
      url: `${this.config.RESEND_API_URL.replace(/\/$/, '')}/emails`,
      headers: {
        Authorization: `Bearer ${account.apiKey}`,
        'Content-Type': 'application/json',
        'Idempotency-Key': email.idempotencyKey,
      },
      body: JSON.stringify({
        from: account.from,
        to: [email.to],
        subject: email.subject,
        text: email.text,
        html: email.html,
        ...(email.headers ? { headers: email.headers } : {}),
      }),
    });
    if (res.status >= 200 && res.status < 300) {
      const id = (res.json as { id?: string } | undefined)?.id;
      if (!id) throw new ProviderError(this.name, 'answer without id', true, res.status, undefined, { unknownOutcome: true });
      return { id };
    }
    const body = res.json as ResendErrorBody | undefined;
    const retryable = (body?.name && RETRYABLE_RESEND_ERRORS.has(body.name)) || isRetryableStatus(res.status);
    const message = body?.message ? `${body.message}${body.name ? ` [${body.name}]` : ''}` : `HTTP ${res.status}`;
    const throttled = res.status === 429 || body?.name === 'rate_limit_exceeded';
    throw new ProviderError(this.name, message, Boolean(retryable), res.status, body?.name, {
      authentication: res.status === 401 || res.status === 403,
      throttled,
      retryAfterMs: throttled ? retryAfterMs(res.headers['retry-after']) : undefined,
    });
  }
}
