import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { PrismaService } from '../../../core/prisma/prisma.service';
import { isUniqueViolation } from '../../../core/prisma/prisma-errors';
import type { Channel } from '../../../generated/prisma/enums';
import { ChannelEvents, InboundMessage } from '../../channels/webhooks/channel-events';
import { ConsentService } from '../../contacts/consent/consent.service';
import { ContactsService } from '../../contacts/contacts.service';
import { InboundEvents } from './inbound-events';
import { consentKeyword } from './keywords';

/** WhatsApp's customer-service window: free-form messages until 24 h after the contact's last message. */
export const WHATSAPP_WINDOW_MS = 24 * 3600 * 1000;
/** Channels whose replies may carry the opt-out and opt-in keywords. */
const KEYWORD_CHANNELS = new Set(['WHATSAPP', 'SMS']);

/**
 * Messages contacts send to a store's number (WhatsApp, SMS through the
 * store's Twilio connection):
 * - stored once per provider id (providers repeat deliveries), as an INBOUND
 *   message of the organization that owns the number, for the contact with
 *   that phone, or a new contact named from the sender's profile when the
 *   contact cap allows; they count against no quota;
 * - a WhatsApp message opens (refreshes) the contact's 24-hour window;
 * - an opt-out or opt-in keyword changes consent on that channel first; an
 *   opt-out then starts no flow, anything else (an opt-in included) starts
 *   the INBOUND_MESSAGE flows.
 * On the platform's shared number nothing can be attributed to one store:
 * only opt-out keywords apply, to every organization's contact with that
 * phone (an opt-in there could not say which store the person meant).
 */
@Injectable()
export class InboundService implements OnModuleInit {
  private readonly logger = new Logger(InboundService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly channels: ChannelEvents,
    private readonly contacts: ContactsService,
    private readonly consent: ConsentService,
    private readonly events: InboundEvents,
  ) {}

  onModuleInit(): void {
    this.channels.onInbound((message) => this.receive(message));
  }

  /** Answers whether the message changed something (stored, or a keyword applied). */
  async receive(message: InboundMessage): Promise<boolean> {
    const keyword = message.isText && KEYWORD_CHANNELS.has(message.channel) ? consentKeyword(message.text) : undefined;
    if (!('connectionId' in message.source)) {
      if (keyword !== 'OPTED_OUT') return false;
      const changed = await this.consent.recordByPhone(message.from, message.channel as Channel, keyword, {
        source: 'INBOUND_KEYWORD',
        evidence: evidenceOf(message),
      });
      return changed.length > 0;
    }
    const connection = await this.prisma.channelConnection.findUnique({ where: { id: message.source.connectionId }, select: { id: true, organizationId: true } });
    if (!connection) return false;
    const organizationId = connection.organizationId;

    const repeated = await this.prisma.inboundReceipt.findUnique({ where: { channel_externalId: { channel: message.channel, externalId: message.externalId } } });
    if (repeated?.messageId) return this.handOn(organizationId, repeated.messageId, message, keyword).then(() => false);
    if (repeated) return false;

    const contact = await this.contacts.findOrCreateByPhone(organizationId, message.from, message.profileName || message.from);
    if (!contact) {
      this.logger.warn(`Inbound ${message.channel} message from a new number not stored: organization ${organizationId} is at its contact cap`);
      await this.prisma.inboundReceipt.create({ data: { channel: message.channel, externalId: message.externalId } }).catch(() => undefined);
      return false;
    }
    let messageId: string;
    try {
      messageId = await this.store(organizationId, contact.id, connection.id, message);
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      return false; // the same delivery, stored at the same moment by another request
    }
    await this.handOn(organizationId, messageId, message, keyword);
    return true;
  }

  private async store(organizationId: string, contactId: string, connectionId: string, message: InboundMessage): Promise<string> {
    return this.prisma.$transaction(async (tx) => {
      const stored = await tx.message.create({
        data: {
          organizationId,
          contactId,
          channel: message.channel,
          direction: 'INBOUND',
          status: 'RECEIVED',
          content: message.text.slice(0, 4096),
          externalId: message.externalId,
          attempts: 0,
          route: 'CONNECTION',
          connectionId,
          sentAt: message.sentAt,
        },
        select: { id: true },
      });
      await tx.inboundReceipt.create({ data: { channel: message.channel, externalId: message.externalId, messageId: stored.id } });
      if (message.channel === 'WHATSAPP') {
        const expires = new Date(message.sentAt.getTime() + WHATSAPP_WINDOW_MS);
        // Only forward: a late delivery of an older message never shortens the window.
        await tx.contact.updateMany({
          where: { id: contactId, OR: [{ whatsappWindowExpiresAt: null }, { whatsappWindowExpiresAt: { lt: expires } }] },
          data: { whatsappWindowExpiresAt: expires },
        });
      }
      return stored.id;
    });
  }

  /** A keyword changes consent first; then every message but an opt-out goes to the flows. Safe to repeat. */
  private async handOn(organizationId: string, messageId: string, message: InboundMessage, keyword: 'OPTED_OUT' | 'OPTED_IN' | undefined): Promise<void> {
    const stored = await this.prisma.message.findUniqueOrThrow({ where: { id: messageId }, select: { contactId: true } });
    await this.contacts.changedOutsideWrite(organizationId);
    if (keyword) {
      await this.consent.record(organizationId, stored.contactId, message.channel as Channel, keyword, { source: 'INBOUND_KEYWORD', evidence: evidenceOf(message) });
    }
    if (keyword === 'OPTED_OUT') return;
    await this.events.received({ organizationId, contactId: stored.contactId, messageId, channel: message.channel, text: message.text, isText: message.isText });
  }
}

function evidenceOf(message: InboundMessage): string {
  return `"${message.text.slice(0, 200)}" received on ${message.channel} from ${message.from} (${message.externalId})`;
}
