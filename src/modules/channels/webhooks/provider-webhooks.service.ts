import { ForbiddenException, Injectable, Logger, UnauthorizedException } from '@nestjs/common';
import { AppConfig } from '../../../core/config/app-config';
import { PrismaService } from '../../../core/prisma/prisma.service';
import { ConnectionSecrets } from '../connections/connection-secrets';
import { webhookUrlOf } from '../connections/connections.service';
import { ChannelEvents, DeliveryStatus, DeliveryUpdate, InboundMessage, OptOutSignal, ReportSource } from './channel-events';
import { NAME_MAX } from '../../contacts/contact-fields';
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

interface WhatsAppInbound {
  from?: string;
  id?: string;
  timestamp?: string;
  type?: string;
  text?: { body?: string };
  button?: { text?: string };
  interactive?: { button_reply?: { title?: string }; list_reply?: { title?: string } };
  [media: string]: unknown;
}

interface WhatsAppValue {
  metadata?: { phone_number_id?: string };
  contacts?: { wa_id?: string; profile?: { name?: string } }[];
  messages?: WhatsAppInbound[];
  statuses?: WhatsAppStatus[];
}

interface WhatsAppNotification {
  object?: string;
  entry?: { changes?: { field?: string; value?: WhatsAppValue }[] }[];
}

interface ResendEvent {
  type?: string;
  created_at?: string;
  data?: { email_id?: string; bounce?: { message?: string; type?: string; subType?: string }; failed?: { reason?: string } };
}

/** WhatsApp 131050: the user stopped marketing messages from this business. */
const WHATSAPP_STOPPED_MARKETING = 131050;

type TwilioParams = Record<string, string | string[]>;

const E164_SENDER = /^\+\d{6,15}$/;

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

/** An empty TwiML answer (`text/xml`): Twilio needs a 200 with TwiML, and nothing is to be replied. */
export const EMPTY_TWIML = '<Response/>';

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
    const optOuts: OptOutSignal[] = [];
    const inbound: InboundMessage[] = [];
    for (const entry of objects<NonNullable<WhatsAppNotification['entry']>[number]>((body as WhatsAppNotification)?.entry)) {
      for (const change of objects<NonNullable<typeof entry.changes>[number]>(entry.changes)) {
        const value = change.value;
        if (!value?.statuses?.length && !value?.messages?.length) continue;
        const source = await this.whatsAppSource(text(value.metadata?.phone_number_id));
        if (!source) continue;
        for (const s of objects<WhatsAppStatus>(value.statuses)) {
          const status = statusOf(WHATSAPP_STATUS, s.status);
          const externalId = text(s.id);
          if (!status || !externalId) continue;
          const error = objects<WhatsAppError>(s.errors)[0];
          updates.push({
            channel: 'WHATSAPP',
            externalId,
            status,
            at: secondsToDate(s.timestamp),
            error: status === 'FAILED' ? whatsAppError(error) : undefined,
            messageId: text(s.biz_opaque_callback_data) || undefined,
            source,
          });
          if (error?.code === WHATSAPP_STOPPED_MARKETING) optOuts.push({ channel: 'WHATSAPP', externalId, source, evidence: whatsAppError(error) });
        }
        for (const m of objects<WhatsAppInbound>(value.messages)) {
          const parsed = whatsAppInbound(m, objects(value.contacts), source);
          if (parsed) inbound.push(parsed);
        }
      }
    }
    const result = await this.applyAll(updates);
    for (const signal of optOuts) await this.events.optOut(signal);
    for (const message of inbound) if (await this.events.inbound(message)) result.applied++;
    return { received: result.received + inbound.length, applied: result.applied };
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
    // The same 401 for an unknown connection as for a bad signature: the route says nothing about which ids exist.
    if (!connection) throw new UnauthorizedException('Invalid Svix signature.');
    const secret = connection.secrets.webhookSecret;
    if (typeof secret !== 'string' || !secret) throw new UnauthorizedException('This connection has no webhook secret: set webhookSecret with PUT /api/channels/email.');
    return this.resendEvent(rawBody, headers, body, secret, { connectionId: connection.id });
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
    // Twilio posts a form, whose values are text; the route also parses JSON, where a value of another type is taken as absent.
    const one = (name: string) => text(Array.isArray(form[name]) ? form[name][0] : form[name]);
    const sid = one('MessageSid') ?? one('SmsSid');
    const reported = one('MessageStatus') ?? one('SmsStatus');
    if (sid && one('From') && (reported === 'received' || (reported === undefined && one('Body') !== undefined))) {
      // Contacts are keyed by E.164 phone; a sender that is not one (an alphanumeric id) names no contact.
      if (!E164_SENDER.test(one('From')!)) return { received: 1, applied: 0 };
      // A message to the store's number (Twilio posts inbound SMS to the number's webhook).
      const taken = await this.events.inbound({
        channel: 'SMS',
        externalId: sid,
        source: { connectionId: connection!.id },
        from: one('From')!,
        // A picture message (MMS) may come without text: then it reads as its media's type, as on WhatsApp.
        text: filled(one('Body')) ?? twilioMediaType(one('NumMedia'), one('MediaContentType0')) ?? one('Body') ?? '',
        isText: filled(one('Body')) !== undefined,
        sentAt: new Date(),
      });
      return { received: 1, applied: taken ? 1 : 0 };
    }
    const status = statusOf(TWILIO_STATUS, reported);
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
    const status = statusOf(RESEND_STATUS, event?.type);
    const externalId = text(event?.data?.email_id);
    if (externalId && isResendOptOut(event)) {
      const bounce = text(event.data?.bounce?.message);
      const what = event.type === 'email.complained' ? 'marked the email as spam' : `bounced permanently${bounce ? ` (${bounce})` : ''}`;
      await this.events.optOut({ channel: 'EMAIL', externalId, source, evidence: `Resend ${event.type}: the recipient ${what}` });
    }
    if (!status || !externalId) return { received: 1, applied: 0 };
    const reason = text(event.data?.bounce?.message) ?? text(event.data?.failed?.reason);
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

/** A spam complaint, or a bounce Resend calls permanent (the address will never take mail): the person is not to be emailed again. */
function isResendOptOut(event: ResendEvent): boolean {
  return event.type === 'email.complained' || (event.type === 'email.bounced' && text(event.data?.bounce?.type)?.toLowerCase() === 'permanent');
}

/** A `messages[]` entry of a WhatsApp notification as an inbound message (unsupported or malformed entries: undefined). */
function whatsAppInbound(m: WhatsAppInbound, contacts: NonNullable<WhatsAppValue['contacts']>, source: ReportSource): InboundMessage | undefined {
  const id = text(m.id);
  const from = text(m.from);
  if (!id || !from || !/^\d{6,15}$/.test(from)) return undefined;
  const typed = filled(m.text?.body) ?? filled(m.button?.text) ?? filled(m.interactive?.button_reply?.title) ?? filled(m.interactive?.list_reply?.title);
  const type = filled(m.type);
  const media = type && Object.hasOwn(m, type) ? (m[type] as { caption?: unknown } | undefined) : undefined;
  const profileName = text(contacts.find((c) => c.wa_id === from)?.profile?.name) ?? text(contacts[0]?.profile?.name);
  return {
    channel: 'WHATSAPP',
    externalId: id,
    source,
    from: `+${from}`,
    profileName: profileName?.slice(0, NAME_MAX),
    text: typed ?? filled(media?.caption) ?? type ?? 'message',
    isText: typed !== undefined,
    sentAt: secondsToDate(m.timestamp),
  };
}

/** `WhatsApp 131047: Re-engagement message (details)`: the code and its title, as Meta reports them. */
function whatsAppError(e: WhatsAppError | undefined): string {
  if (!e) return 'WhatsApp: reported failed';
  const title = e.title ?? e.message ?? 'failed';
  const details = e.error_data?.details && e.error_data.details !== title ? ` (${e.error_data.details})` : '';
  return `WhatsApp ${e.code ?? 'error'}: ${title}${details}`;
}

/** Before this, or more than a day ahead, a provider's timestamp is a mistake (milliseconds sent as seconds, say). */
const EARLIEST_TIMESTAMP = Date.UTC(2000, 0, 1);
const LATEST_AHEAD_MS = 24 * 3600 * 1000;

/**
 * A provider's time, or now when it is missing or implausible: Postgres's
 * timestamp(3) refuses years past 9999, and a refused write would answer a
 * signed webhook 400, which the provider retries forever.
 */
function plausibleDate(ms: number): Date {
  return ms >= EARLIEST_TIMESTAMP && ms <= Date.now() + LATEST_AHEAD_MS ? new Date(ms) : new Date();
}

function secondsToDate(seconds: string | undefined): Date {
  return plausibleDate(Number(seconds) * 1000);
}

/** Providers' bodies are read, not validated: a field is used only when it has the documented type. */
function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** A text field with something in it: an empty caption or body says nothing, and the next choice is taken. */
function filled(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/** `image`, `video` or `audio` from the first attachment's content type (`image/jpeg`), `media` for any other. */
function twilioMediaType(count: string | undefined, contentType: string | undefined): string | undefined {
  if (!(Number(count) > 0)) return undefined;
  const type = contentType?.split('/')[0].toLowerCase();
  return type === 'image' || type === 'video' || type === 'audio' ? type : 'media';
}

/** The objects of a list field (anything else in it, or a field that is not a list, is skipped). */
function objects<T extends object>(value: unknown): T[] {
  return Array.isArray(value) ? value.filter((item): item is T => item !== null && typeof item === 'object' && !Array.isArray(item)) : [];
}

/** A provider status in one of the maps above (never a name the maps inherit, such as `constructor`). */
function statusOf<S>(map: Record<string, S>, reported: unknown): S | undefined {
  return typeof reported === 'string' && Object.hasOwn(map, reported) ? map[reported] : undefined;
}

function isoToDate(iso: string | undefined): Date {
  return plausibleDate(iso ? new Date(iso).getTime() : NaN);
}
