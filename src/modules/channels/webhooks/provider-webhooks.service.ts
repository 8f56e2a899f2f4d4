import { ForbiddenException, Injectable, Logger, UnauthorizedException } from '@nestjs/common';
import { AppConfig } from '../../../core/config/app-config';
import { ChannelEvents, DeliveryStatus, DeliveryUpdate } from './channel-events';
import { SvixHeaders, isValidHubSignature, isValidSvixSignature, safeEqual } from './signatures';

interface WhatsAppStatus {
  id?: string;
  status?: string;
  timestamp?: string;
  errors?: { code?: number; title?: string; message?: string; error_data?: { details?: string } }[];
}

interface WhatsAppNotification {
  object?: string;
  entry?: { changes?: { field?: string; value?: { statuses?: WhatsAppStatus[] } }[] }[];
}

interface ResendEvent {
  type?: string;
  created_at?: string;
  data?: { email_id?: string; bounce?: { message?: string; type?: string }; failed?: { reason?: string } };
}

const WHATSAPP_STATUS: Record<string, DeliveryStatus> = { delivered: 'DELIVERED', read: 'READ', failed: 'FAILED' };
const RESEND_STATUS: Record<string, DeliveryStatus> = {
  'email.delivered': 'DELIVERED',
  'email.opened': 'READ',
  'email.bounced': 'FAILED',
  'email.failed': 'FAILED',
};

export interface WebhookResult {
  received: number;
  applied: number;
}

/** Inbound delivery reports: signatures checked on the raw body first, then statuses applied. */
@Injectable()
export class ProviderWebhooksService {
  private readonly logger = new Logger(ProviderWebhooksService.name);

  constructor(
    private readonly config: AppConfig,
    private readonly events: ChannelEvents,
  ) {}

  /** Meta's subscription handshake: echo `hub.challenge` when the verify token matches. */
  verifyWhatsAppSubscription(mode?: string, token?: string, challenge?: string): string {
    const expected = this.config.WHATSAPP_VERIFY_TOKEN;
    if (!expected || mode !== 'subscribe' || !token || !safeEqual(token, expected) || !challenge) {
      throw new ForbiddenException('Webhook verification failed.');
    }
    return challenge;
  }

  async whatsapp(rawBody: Buffer | undefined, signature: string | undefined, body: unknown): Promise<WebhookResult> {
    const secret = this.config.WHATSAPP_APP_SECRET;
    if (!secret) throw new UnauthorizedException('WhatsApp webhooks are not accepted: WHATSAPP_APP_SECRET is not configured.');
    if (!rawBody || !isValidHubSignature(rawBody, signature, secret)) {
      throw new UnauthorizedException('Invalid X-Hub-Signature-256.');
    }
    const updates: DeliveryUpdate[] = [];
    for (const entry of (body as WhatsAppNotification)?.entry ?? []) {
      for (const change of entry.changes ?? []) {
        for (const s of change.value?.statuses ?? []) {
          const status = s.status ? WHATSAPP_STATUS[s.status] : undefined;
          if (!status || !s.id) continue;
          const e = s.errors?.[0];
          updates.push({
            channel: 'WHATSAPP',
            externalId: s.id,
            status,
            at: secondsToDate(s.timestamp),
            error: e ? `WhatsApp: ${e.message ?? e.title ?? 'failed'}${e.error_data?.details ? ` (${e.error_data.details})` : ''}${e.code ? ` [code ${e.code}]` : ''}` : undefined,
          });
        }
      }
    }
    return this.applyAll(updates);
  }

  async resend(rawBody: Buffer | undefined, headers: SvixHeaders, body: unknown): Promise<WebhookResult> {
    const secret = this.config.RESEND_WEBHOOK_SECRET;
    if (!secret) throw new UnauthorizedException('Resend webhooks are not accepted: RESEND_WEBHOOK_SECRET is not configured.');
    if (!rawBody || !isValidSvixSignature(rawBody, headers, secret)) {
      throw new UnauthorizedException('Invalid Svix signature.');
    }
    const event = body as ResendEvent;
    const status = event?.type ? RESEND_STATUS[event.type] : undefined;
    const externalId = event?.data?.email_id;
    if (!status || !externalId) return { received: 1, applied: 0 };
    const reason = event.data?.bounce?.message ?? event.data?.failed?.reason;
    return this.applyAll([
      {
        channel: 'EMAIL',
        externalId,
        status,
        at: isoToDate(event.created_at),
        error: status === 'FAILED' ? `Resend: ${event.type === 'email.bounced' ? 'bounced' : 'failed'}${reason ? ` (${reason})` : ''}` : undefined,
      },
    ]);
  }

  private async applyAll(updates: DeliveryUpdate[]): Promise<WebhookResult> {
    let applied = 0;
    for (const update of updates) if (await this.events.delivery(update)) applied++;
    if (updates.length > 0) this.logger.debug(`Delivery reports: ${applied} of ${updates.length} applied`);
    return { received: updates.length, applied };
  }
}

function secondsToDate(seconds: string | undefined): Date {
  const n = Number(seconds);
  return Number.isFinite(n) && n > 0 ? new Date(n * 1000) : new Date();
}

function isoToDate(iso: string | undefined): Date {
  const d = iso ? new Date(iso) : new Date();
  return Number.isNaN(d.getTime()) ? new Date() : d;
}
