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
/** The unsubscribe link in the footer of the text and the HTML. */
function unsubscribeFooter(message: OutboundMessage): { text: string; html: string } {
  if (!message.unsubscribeUrl) return { text: '', html: '' };
  const store = message.storeName ?? 'esta loja';
  return {
    text: `\n\n--\nPara não receber mais e-mails de ${store}: ${message.unsubscribeUrl}`,
    html:
      `<hr><p style="font-size:12px;color:#666">Para não receber mais e-mails de ${escapeHtml(store)}, ` +
      `<a href="${escapeHtml(message.unsubscribeUrl)}">cancele a inscrição</a>.</p>`,
  };
}

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
    const footer = unsubscribeFooter(message);
    const { id } = await this.resend.send(
      { apiKey: credentials.apiKey, from: credentials.from },
      {
        to: message.to,
        subject,
        text: `${message.mediaUrl ? `${message.text}\n\n${message.mediaUrl}` : message.text}${footer.text}`,
        html: `<p>${escapeHtml(message.text).replace(/\n/g, '<br>')}</p>${media}${footer.html}`,
        idempotencyKey: `message-${message.messageId}`,
        // RFC 8058 one-click unsubscribe, as Gmail and Yahoo require of bulk senders.
        headers: message.unsubscribeUrl
          ? { 'List-Unsubscribe': `<${message.unsubscribeUrl}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' }
          : undefined,
      },
    );
    return { externalId: id };
  }
}
