import { Injectable } from '@nestjs/common';
import { escapeHtml } from '../../../core/http/html';
import { MessageSender, OutboundMessage, RegisterMessageSender, SendContext, SendResult } from '../channel-extension';
import type { EmailCredentials } from '../kinds/email.kind';
import { ResendClient } from './resend.client';

/**
 * The EMAIL channel through Resend. Messages carry no subject of their own:
 * the first line of the text is the subject (up to 78 characters), the whole
 * text the body. The message id is the Idempotency-Key, so sending again
 * after an unknown outcome delivers nothing twice (`resend`).
 */
@Injectable()
@RegisterMessageSender()
export class ResendEmailProvider implements MessageSender<EmailCredentials> {
  readonly channel = 'EMAIL';
  readonly kind = 'email';
  readonly provider = 'Resend';
  readonly recipientField = 'email' as const;
  readonly unknownOutcome = 'resend' as const;

  constructor(private readonly resend: ResendClient) {}

  async send(message: OutboundMessage, { credentials }: SendContext<EmailCredentials>): Promise<SendResult> {
    const firstLine = message.text.split('\n', 1)[0].trim();
    const subject = firstLine.length > 78 ? `${firstLine.slice(0, 77)}…` : firstLine || 'Message';
    const media = message.mediaUrl ? `<p><a href="${escapeHtml(message.mediaUrl)}">${escapeHtml(message.mediaUrl)}</a></p>` : '';
    const { id } = await this.resend.send(
      { apiKey: credentials.apiKey, from: credentials.from },
      {
        to: message.to,
        subject,
        text: message.mediaUrl ? `${message.text}\n\n${message.mediaUrl}` : message.text,
        html: `<p>${escapeHtml(message.text).replace(/\n/g, '<br>')}</p>${media}`,
        idempotencyKey: `message-${message.messageId}`,
      },
    );
    return { externalId: id };
  }
}
