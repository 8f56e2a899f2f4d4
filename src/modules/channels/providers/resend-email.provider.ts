import { Injectable } from '@nestjs/common';
import { escapeHtml } from '../../../core/http/html';
import { Channel } from '../../../generated/prisma/enums';
import { ChannelProvider, OutboundMessage, SendResult } from './channel-provider';
import { ResendClient } from './resend.client';

/**
 * The EMAIL channel through Resend. Messages carry no subject of their own:
 * the first line of the text is the subject (up to 78 characters), the whole
 * text the body. The message id is the Idempotency-Key.
 */
@Injectable()
export class ResendEmailProvider implements ChannelProvider {
  readonly channel = Channel.EMAIL;
  readonly name = 'Resend';
  readonly recipientField = 'email' as const;

  constructor(private readonly resend: ResendClient) {}

  isConfigured(): boolean {
    return this.resend.isConfigured();
  }

  async send(message: OutboundMessage): Promise<SendResult> {
    const firstLine = message.text.split('\n', 1)[0].trim();
    const subject = firstLine.length > 78 ? `${firstLine.slice(0, 77)}…` : firstLine || 'Message';
    const media = message.mediaUrl ? `<p><a href="${escapeHtml(message.mediaUrl)}">${escapeHtml(message.mediaUrl)}</a></p>` : '';
    const { id } = await this.resend.send({
      to: message.to,
      subject,
      text: message.mediaUrl ? `${message.text}\n\n${message.mediaUrl}` : message.text,
      html: `<p>${escapeHtml(message.text).replace(/\n/g, '<br>')}</p>${media}`,
      idempotencyKey: `message-${message.messageId}`,
    });
    return { externalId: id };
  }
}
