import { ForbiddenException, Injectable, Logger, UnauthorizedException } from '@nestjs/common';
import { AppConfig } from '../../../core/config/app-config';
import { PrismaService } from '../../../core/prisma/prisma.service';
import { ConnectionSecrets } from '../connections/connection-secrets';
import { webhookUrlOf } from '../connections/connections.service';
import { ChannelEvents, DeliveryStatus, DeliveryUpdate, ReportSource } from './channel-events';
import { SvixHeaders, isValidHubSignature, isValidSvixSignature, isValidTwilioSignature, safeEqual } from './signatures';

interface WhatsAppError {
  code?: number;
  title?: string;
  message?: string;
  error_data?: { details?: string };
}

interface WhatsAppStatus {
  id?: string;
  status?: string;
  timestamp?: string;
  biz_opaque_callback_data?: string;
  errors?: WhatsAppError[];
}

interface WhatsAppNotification {
  object?: string;
  entry?: { changes?: { field?: string; value?: { metadata?: { phone_number_id?: string }; statuses?: WhatsAppStatus[] } }[] }[];
}

interface ResendEvent {
  type?: string;
  created_at?: string;
  data?: { email_id?: string; bounce?: { message?: string; type?: string }; failed?: { reason?: string } };
}

type TwilioParams = Record<string, string | string[]>;

const WHATSAPP_STATUS: Record<string, DeliveryStatus | 'SENT'> = { sent: 'SENT', delivered: 'DELIVERED', read: 'READ', failed: 'FAILED' };
const RESEND_STATUS: Record<string, DeliveryStatus> = {
  'email.delivered': 'DELIVERED',
  'email.opened': 'READ',
  'email.bounced': 'FAILED',
  'email.failed': 'FAILED',
};
const TWILIO_STATUS: Record<string, DeliveryStatus> = { delivered: 'DELIVERED', read: 'READ', undelivered: 'FAILED', failed: 'FAILED' };

export interface WebhookResult {
  received: number;
  applied: number;
}

/** An empty TwiML answer: Twilio needs a 200 with TwiML, and nothing is to be replied. */
export const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>';

/**
 * Inbound provider webhooks. Signatures are checked on the raw body first;
 * then each report is attributed to where the message went out, so it can
 * only ever touch messages of that account:
 * - WhatsApp (one Meta app for every store, signed with WHATSAPP_APP_SECRET):
 *   routed by `metadata.phone_number_id` to the connection of that number, or
 *   to the platform's number; other numbers are ignored.
 * - Resend and Twilio: one URL per connection, verified with that
 *   connection's own secret; Resend's platform URL with RESEND_WEBHOOK_SECRET.
 */
@Injectable()
export class ProviderWebhooksService {
  private readonly logger = new Logger(ProviderWebhooksService.name);

  constructor(
    private readonly config: AppConfig,
    private readonly prisma: PrismaService,
    private readonly secrets: ConnectionSecrets,
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
        const value = change.value;
        if (!value?.statuses?.length) continue;
        const source = await this.whatsAppSource(value.metadata?.phone_number_id);
        if (!source) continue;
        for (const s of value.statuses) {
          const status = s.status ? WHATSAPP_STATUS[s.status] : undefined;
          if (!status || !s.id) continue;
          updates.push({
            channel: 'WHATSAPP',
            externalId: s.id,
            status,
            at: secondsToDate(s.timestamp),
            error: status === 'FAILED' ? whatsAppError(s.errors?.[0]) : undefined,
            messageId: s.biz_opaque_callback_data || undefined,
            source,
          });
        }
      }
    }
    return this.applyAll(updates);
  }

  /** The platform's own Resend account (RESEND_WEBHOOK_SECRET). */
  async resend(rawBody: Buffer | undefined, headers: SvixHeaders, body: unknown): Promise<WebhookResult> {
    const secret = this.config.RESEND_WEBHOOK_SECRET;
    if (!secret) throw new UnauthorizedException('Resend webhooks are not accepted: RESEND_WEBHOOK_SECRET is not configured.');
    return this.resendEvent(rawBody, headers, body, secret, { platform: true });
  }

  /** A store's Resend account: the connection's own webhook secret. */
  async resendConnection(connectionId: string, rawBody: Buffer | undefined, headers: SvixHeaders, body: unknown): Promise<WebhookResult> {
    const connection = await this.connection(connectionId, 'email');
    const secret = connection?.secrets.webhookSecret;
    if (typeof secret !== 'string' || !secret) throw new UnauthorizedException('This connection has no webhook secret: set webhookSecret with PUT /api/channels/email.');
    return this.resendEvent(rawBody, headers, body, secret, { connectionId: connection!.id });
  }

  /** A store's Twilio number: `X-Twilio-Signature` over the connection's published webhook URL, keyed with its auth token. */
  async twilio(connectionId: string, signature: string | undefined, params: unknown): Promise<WebhookResult> {
    const connection = await this.connection(connectionId, 'sms');
    const form = (params && typeof params === 'object' ? params : {}) as TwilioParams;
    const token = connection?.secrets.authToken;
    const url = webhookUrlOf(this.config.APP_URL, 'twilio', connectionId);
    if (typeof token !== 'string' || !isValidTwilioSignature(token, url, form, signature)) {
      throw new UnauthorizedException('Invalid X-Twilio-Signature.');
    }
    const one = (name: string) => (Array.isArray(form[name]) ? form[name][0] : form[name]) as string | undefined;
    const status = TWILIO_STATUS[one('MessageStatus') ?? one('SmsStatus') ?? ''];
    const sid = one('MessageSid') ?? one('SmsSid');
    if (!status || !sid) return { received: 1, applied: 0 };
    const code = one('ErrorCode');
    return this.applyAll([
      {
        channel: 'SMS',
        externalId: sid,
        status,
        at: new Date(),
        error: status === 'FAILED' ? `Twilio: ${one('MessageStatus') ?? 'failed'}${code ? ` [error ${code}]` : ''}` : undefined,
        source: { connectionId: connection!.id },
      },
    ]);
  }

  private async resendEvent(rawBody: Buffer | undefined, headers: SvixHeaders, body: unknown, secret: string, source: ReportSource): Promise<WebhookResult> {
    if (!rawBody || !isValidSvixSignature(rawBody, headers, secret)) throw new UnauthorizedException('Invalid Svix signature.');
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
        source,
      },
    ]);
  }

  /** The connection that owns a WhatsApp number, the platform's own number, or nothing (not ours). */
  private async whatsAppSource(phoneNumberId: string | undefined): Promise<ReportSource | undefined> {
    if (!phoneNumberId) return undefined;
    const connection = await this.prisma.channelConnection.findUnique({
      where: { kind_accountKey: { kind: 'whatsapp', accountKey: phoneNumberId } },
      select: { id: true },
    });
    if (connection) return { connectionId: connection.id };
    if (phoneNumberId === this.config.WHATSAPP_PHONE_ID) return { platform: true };
    this.logger.debug(`WhatsApp report for number ${phoneNumberId}, which no connection owns: ignored`);
    return undefined;
  }

  private async connection(id: string, kind: string): Promise<{ id: string; secrets: Record<string, unknown> } | undefined> {
    const row = await this.prisma.channelConnection.findFirst({ where: { id, kind }, select: { id: true, organizationId: true, secrets: true } });
    return row ? { id: row.id, secrets: this.secrets.open(row.organizationId, kind, row.secrets) } : undefined;
  }

  private async applyAll(updates: DeliveryUpdate[]): Promise<WebhookResult> {
    let applied = 0;
    for (const update of updates) if (await this.events.delivery(update)) applied++;
    if (updates.length > 0) this.logger.debug(`Delivery reports: ${applied} of ${updates.length} applied`);
    return { received: updates.length, applied };
  }
}

/** `WhatsApp 131047: Re-engagement message (details)`: the code and its title, as Meta reports them. */
function whatsAppError(e: WhatsAppError | undefined): string {
  if (!e) return 'WhatsApp: reported failed';
  const title = e.title ?? e.message ?? 'failed';
  const details = e.error_data?.details && e.error_data.details !== title ? ` (${e.error_data.details})` : '';
  return `WhatsApp ${e.code ?? 'error'}: ${title}${details}`;
}

function secondsToDate(seconds: string | undefined): Date {
  const n = Number(seconds);
  return Number.isFinite(n) && n > 0 ? new Date(n * 1000) : new Date();
}

function isoToDate(iso: string | undefined): Date {
  const d = iso ? new Date(iso) : new Date();
  return Number.isNaN(d.getTime()) ? new Date() : d;
}
