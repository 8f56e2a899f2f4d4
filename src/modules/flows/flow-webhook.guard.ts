import { CanActivate, ExecutionContext, Injectable, Logger, NotFoundException, UnauthorizedException } from '@nestjs/common';
import type { RawBodyRequest } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { PrismaService } from '../../core/prisma/prisma.service';
import type { Flow } from '../../generated/prisma/client';
import { TriggerType } from '../../generated/prisma/enums';
import { SIGNATURE_HEADER, isValidWebhookSignature } from './webhook-signature';

export type WebhookRequest = RawBodyRequest<FastifyRequest> & { webhookFlow?: Flow };

/**
 * Checks X-Zyva-Signature before anything reads the body (a guard runs before
 * validation), so an unsigned request learns nothing about what is valid.
 */
@Injectable()
export class FlowWebhookGuard implements CanActivate {
  private readonly logger = new Logger(FlowWebhookGuard.name);

  constructor(private readonly prisma: PrismaService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<WebhookRequest>();
    const { id } = request.params as { id: string };
    const flow = await this.prisma.flow.findUnique({ where: { id } });
    if (!flow || flow.triggerType !== TriggerType.WEBHOOK || !flow.webhookSecret) {
      throw new NotFoundException('Webhook flow not found.');
    }
    if (!request.rawBody && request.body !== undefined) {
      this.logger.error('Raw request body unavailable: the app must be created with { rawBody: true }');
    }
    const header = request.headers[SIGNATURE_HEADER];
    const raw = request.rawBody ?? Buffer.alloc(0);
    if (!isValidWebhookSignature(flow.webhookSecret, raw, Array.isArray(header) ? header[0] : header)) {
      throw new UnauthorizedException('Missing or invalid X-Zyva-Signature.');
    }
    request.webhookFlow = flow;
    return true;
  }
}
