import { Injectable, Logger } from '@nestjs/common';
import { Job, UnrecoverableError } from 'bullmq';
import { createHash } from 'node:crypto';
import { AppConfig } from '../../../core/config/app-config';
import { JobName, JobPayloads } from '../../../core/queues/queue.catalogue';
import { ProviderError } from '../../../core/http/provider-error';
import { ResendClient } from '../../channels/providers/resend.client';
import { renderAccountEmail } from './email-templates';

export type SendEmailJob = Job<JobPayloads[JobName.SendEmail]>;

/**
 * Sends the account emails (verification, password reset) through Resend.
 * The Idempotency-Key derives from the link, which is unique per email, so a
 * retried job never delivers a second copy. The link carries a token: it is
 * never logged.
 */
@Injectable()
export class AccountEmailService {
  private readonly logger = new Logger(AccountEmailService.name);

  constructor(
    private readonly resend: ResendClient,
    private readonly config: AppConfig,
  ) {}

  async send(job: SendEmailJob): Promise<{ id: string; sandbox: boolean }> {
    const { template, userId, to, name, url } = job.data;
    const account = this.resend.platformAccount();
    if (!account) {
      if (this.config.NODE_ENV === 'production') {
        throw new UnrecoverableError('Resend is not configured (RESEND_API_KEY is missing): account emails cannot be sent');
      }
      this.logger.log(`Sandbox: ${template} email for user ${userId} not sent (no RESEND_API_KEY)`);
      return { id: `sandbox_${job.id}`, sandbox: true };
    }
    const email = renderAccountEmail(template, name, url);
    const idempotencyKey = `${template}-${createHash('sha256').update(url).digest('hex').slice(0, 40)}`;
    try {
      const { id } = await this.resend.send(account, { to, ...email, idempotencyKey });
      this.logger.log(`${template} email for user ${userId} sent (${id})`);
      return { id, sandbox: false };
    } catch (error) {
      if (error instanceof ProviderError && !error.retryable) throw new UnrecoverableError(error.message);
      throw error;
    }
  }
}
