import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../../core/config/app-config';
import { ProviderError } from '../../../core/http/provider-error';
import { ProviderHttp } from '../../../core/http/provider-http';
import { MessageSender, OutboundMessage, RegisterMessageSender, SendContext, SendResult } from '../channel-extension';
import type { WhatsAppCredentials } from '../kinds/whatsapp.kind';
import { graphApiError } from './graph-api-error';

type MediaKind = 'image' | 'video' | 'audio' | 'document';

interface WhatsAppSendResponse {
  messaging_product?: string;
  contacts?: { input: string; wa_id: string }[];
  messages?: { id: string }[];
}

/**
 * WhatsApp Cloud API: `POST {WHATSAPP_API_URL}/{phoneNumberId}/messages` with
 * the number's bearer token. Text, or a media message (by link) whose caption
 * is the text. The API takes no idempotency key, so every send carries
 * `biz_opaque_callback_data` = Zyva's message id: Meta repeats it in the
 * status reports of that message, which is how a send whose answer was lost
 * is recognised (`await-report`) instead of being sent twice.
 */
@Injectable()
@RegisterMessageSender()
export class WhatsAppProvider implements MessageSender<WhatsAppCredentials> {
  readonly channel = 'WHATSAPP';
  readonly kind = 'whatsapp';
  readonly provider = 'WhatsApp Cloud API';
  readonly recipientField = 'phone' as const;
  readonly unknownOutcome = 'await-report' as const;

  constructor(
    private readonly config: AppConfig,
    private readonly http: ProviderHttp,
  ) {}

  async send(message: OutboundMessage, { credentials }: SendContext<WhatsAppCredentials>): Promise<SendResult> {
    const to = message.to.replace(/^\+/, '');
    const res = await this.http.request({
      provider: this.provider,
      method: 'POST',
      url: `${this.config.WHATSAPP_API_URL.replace(/\/$/, '')}/${encodeURIComponent(credentials.phoneNumberId)}/messages`,
      headers: { Authorization: `Bearer ${credentials.accessToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({
        messaging_product: 'whatsapp',
        recipient_type: 'individual',
        to,
        biz_opaque_callback_data: message.messageId,
        ...this.payload(message),
      }),
    });
    if (res.status < 200 || res.status >= 300) throw graphApiError(this.provider, res);
    const id = (res.json as WhatsAppSendResponse | undefined)?.messages?.[0]?.id;
    if (!id) throw new ProviderError(this.provider, 'answer without messages[0].id', true, res.status, undefined, { unknownOutcome: true });
    return { externalId: id };
  }

  private payload(message: OutboundMessage): Record<string, unknown> {
    if (message.template) {
      const { name, language, parameters } = message.template;
      return {
        type: 'template',
        template: {
          name,
          language: { code: language },
          // Meta's components carry only what takes parameters: a template without variables sends none (an empty body parameter list is not a documented form).
          components: parameters.length > 0 ? [{ type: 'body', parameters: parameters.map((text) => ({ type: 'text', text })) }] : [],
        },
      };
    }
    if (!message.mediaUrl) return { type: 'text', text: { preview_url: false, body: message.text } };
    const kind = mediaKind(message.mediaUrl);
    // Audio messages carry no caption in the Cloud API.
    const media = kind === 'audio' ? { link: message.mediaUrl } : { link: message.mediaUrl, caption: message.text };
    return { type: kind, [kind]: media };
  }
}

function mediaKind(url: string): MediaKind {
  const path = new URL(url).pathname.toLowerCase();
  if (/\.(mp4|3gp)$/.test(path)) return 'video';
  if (/\.(aac|amr|mp3|m4a|ogg|opus)$/.test(path)) return 'audio';
  if (/\.(pdf|docx?|xlsx?|pptx?|txt|csv)$/.test(path)) return 'document';
  return 'image';
}
