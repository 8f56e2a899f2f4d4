import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../../core/config/app-config';
import { ProviderError, isRetryableStatus } from '../../../core/http/provider-error';
import { ProviderHttp } from '../../../core/http/provider-http';

export interface ResendEmail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Resend answers a repeated key with the first result instead of sending again (24 h). */
  idempotencyKey: string;
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
 * `Idempotency-Key`. Shared by the EMAIL channel and the account emails
 * (verification, password reset) of the `emails` queue.
 */
@Injectable()
export class ResendClient {
  readonly name = 'Resend';

  constructor(
    private readonly config: AppConfig,
    private readonly http: ProviderHttp,
  ) {}

  isConfigured(): boolean {
    return Boolean(this.config.RESEND_API_KEY);
  }

  async send(email: ResendEmail): Promise<{ id: string }> {
    const res = await this.http.request({
      provider: this.name,
      method: 'POST',
      url: `${this.config.RESEND_API_URL.replace(/\/$/, '')}/emails`,
      headers: {
        Authorization: `Bearer ${this.config.RESEND_API_KEY}`,
        'Content-Type': 'application/json',
        'Idempotency-Key': email.idempotencyKey,
      },
      body: JSON.stringify({
        from: this.config.EMAIL_FROM,
        to: [email.to],
        subject: email.subject,
        text: email.text,
        html: email.html,
      }),
    });
    if (res.status >= 200 && res.status < 300) {
      const id = (res.json as { id?: string } | undefined)?.id;
      if (!id) throw new ProviderError(this.name, 'answer without id', true, res.status);
      return { id };
    }
    const body = res.json as ResendErrorBody | undefined;
    const retryable = (body?.name && RETRYABLE_RESEND_ERRORS.has(body.name)) || isRetryableStatus(res.status);
    const message = body?.message ? `${body.message}${body.name ? ` [${body.name}]` : ''}` : `HTTP ${res.status}`;
    throw new ProviderError(this.name, message, Boolean(retryable), res.status, body?.name);
  }
}
