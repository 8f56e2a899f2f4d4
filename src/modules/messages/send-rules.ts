import { BadRequestException, UnprocessableEntityException } from '@nestjs/common';
import type { SendRoute } from '../../generated/prisma/enums';
import type { MessageSender } from '../channels/channel-extension';
import type { ChannelRegistry } from '../channels/channel-registry';
import { templateProblems } from './dto/message.dto';

/** Consent applies to Zyva's own channels; an extension's channel has no consent to ask. */
export const CONSENT_CHANNELS: ReadonlySet<string> = new Set(['WHATSAPP', 'EMAIL', 'SMS', 'INSTAGRAM_DM']);

export const OUTSIDE_WINDOW = 'outside the 24-hour window: send an approved template';

/** The contact opted out of the channel: nothing is sent to it there. */
export class ContactOptedOutException extends UnprocessableEntityException {
  constructor(channel: string) {
    super(`The contact opted out of ${channel} messages; nothing was sent or consumed.`);
  }
}

/** WhatsApp free-form text outside the customer-service window: the contract's text, as is. */
export class OutsideWindowException extends UnprocessableEntityException {
  constructor() {
    super(OUTSIDE_WINDOW);
  }
}

/**
 * Whether WhatsApp's 24-hour rule refuses this send: free-form text through a
 * store's own number (whose inbound messages Zyva receives, so it knows the
 * window) while the contact's window is closed. Templates always go; through
 * the platform's number or in sandbox Zyva cannot see the window and sends as asked.
 */
export function outsideWindow(channel: string, route: SendRoute | null, isTemplate: boolean, windowExpiresAt: Date | null, now = new Date()): boolean {
  if (channel !== 'WHATSAPP' || route !== 'CONNECTION' || isTemplate) return false;
  return !windowExpiresAt || windowExpiresAt.getTime() <= now.getTime();
}

/**
 * The sender of a body's channel, or a 400 naming each rule of the body it breaks: the rules its DTO checks
 * for an API request, met again for callers that do not come through HTTP (a flow step).
 */
export function senderOf(registry: ChannelRegistry, body: { channel: string; content?: string; template?: unknown }): MessageSender {
  const sender = registry.sender(body.channel);
  const problems = [
    ...(sender ? [] : [registry.unknownChannel()]),
    ...templateProblems(body),
    ...(body.template || body.content ? [] : ['content should not be empty']),
  ];
  if (problems.length > 0) throw new BadRequestException(problems);
  return sender!;
}
