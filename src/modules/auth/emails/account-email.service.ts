import { Injectable, Logger } from '@nestjs/common';
import { Job, UnrecoverableError } from 'bullmq';
import { createHash } from 'node:crypto';
import { AppConfig } from '../../../core/config/app-config';
import { ProviderError } from '../../../core/http/provider-error';
import { PrismaService } from '../../../core/prisma/prisma.service';
import { EmailTemplate, JobName, JobPayloads } from '../../../core/queues/queue.catalogue';
import { ResendClient } from '../../channels/providers/resend.client';
import { TokenService } from '../token.service';
import { renderAccountEmail } from './email-templates';

export type SendEmailJob = Job<JobPayloads[JobName.SendEmail]>;

export type AccountEmailOutcome = { id: string; sandbox: boolean } | { skipped: string };

const LINKS: Record<EmailTemplate, { kind: 'email' | 'reset'; path: string }> = {
  'verify-email': { kind: 'email', path: '/verify-email' },
  'password-reset': { kind: 'reset', path: '/reset-password' },
};

/**
 * Sends the account emails (verification, password reset) through Resend.
 * The job names the user and the email; the address and name are read, and
 * the token issued and the link built, only now, so no job payload (shown to
 * every admin on the queue dashboard) holds a token. The link is the same on
 * every attempt of a job, and the Idempotency-Key derives from it, so a
 * retried job never delivers a second copy. The link is never logged.
 */
@Injectable()
export class AccountEmailService {
  private readonly logger = new Logger(AccountEmailService.name);

  constructor(
    private readonly resend: ResendClient,
    private readonly prisma: PrismaService,
    private readonly tokens: TokenService,
    private readonly config: AppConfig,
  ) {}

  async send(job: SendEmailJob): Promise<AccountEmailOutcome> {
    const { template, userId, ref } = job.data;
    const user = await this.prisma.user.findUnique({ where: { id: userId } });
    if (!user) return { skipped: 'the user no longer exists' };
    if (template === 'verify-email' && user.emailVerifiedAt) return { skipped: 'the email is already verified' };
    const { kind, path } = LINKS[template];
    const token = await this.tokens.issueForEmail(kind, user.id, ref);
    const url = `${this.config.APP_URL.replace(/\/$/, '')}${path}?token=${encodeURIComponent(token)}`;
    const account = this.resend.platformAccount();
    if (!account) {
      if (this.config.NODE_ENV === 'production') {
        throw new UnrecoverableError('Resend is not configured (RESEND_API_KEY is missing): account emails cannot be sent');
      }
      this.logger.log(`Sandbox: ${template} email for user ${userId} not sent (no RESEND_API_KEY)`);
      return { id: `sandbox_${job.id}`, sandbox: true };
    }
    const email = renderAccountEmail(template, user.name, url);
    const idempotencyKey = `${template}-${createHash('sha256').update(url).digest('hex').slice(0, 40)}`;
    try {
      const { id } = await this.resend.send(account, { to: user.email, ...email, idempotencyKey });
      this.logger.log(`${template} email for user ${userId} sent (${id})`);
      return { id, sandbox: false };
    } catch (error) {
      if (error instanceof ProviderError && !error.retryable) throw new UnrecoverableError(error.message);
      throw error;
    }
  }
}
