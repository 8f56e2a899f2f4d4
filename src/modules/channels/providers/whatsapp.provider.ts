import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../../core/config/app-config';
import { Channel } from '../../../generated/prisma/enums';
import { ChannelProvider, OutboundMessage, SendResult } from './channel-provider';
import { graphApiError } from './graph-api-error';
import { ProviderError } from '../../../core/http/provider-error';
import { ProviderHttp } from '../../../core/http/provider-http';

type MediaKind = 'image' | 'video' | 'audio' | 'document';

interface WhatsAppSendResponse {
  messaging_product?: string;
  contacts?: { input: string; wa_id: string }[];
  messages?: { id: string }[];
}

/**
 * WhatsApp Cloud API: `POST {WHATSAPP_API_URL}/{WHATSAPP_PHONE_ID}/messages`
 * with a bearer token. Text, or a media message (by link) whose caption is
 * the text. The API has no idempotency key.
 */
@Injectable()
export class WhatsAppProvider implements ChannelProvider {
  readonly channel = Channel.WHATSAPP;
  readonly name = 'WhatsApp Cloud API';
  readonly recipientField = 'phone' as const;

  constructor(
    private readonly config: AppConfig,
    private readonly http: ProviderHttp,
  ) {}

  isConfigured(): boolean {
    return Boolean(this.config.WHATSAPP_PHONE_ID && this.config.WHATSAPP_TOKEN);
  }

  async send(message: OutboundMessage): Promise<SendResult> {
    const to = message.to.replace(/^\+/, '');
    const res = await this.http.request({
      provider: this.name,
      method: 'POST',
      url: `${this.config.WHATSAPP_API_URL.replace(/\/$/, '')}/${encodeURIComponent(this.config.WHATSAPP_PHONE_ID!)}/messages`,
      headers: { Authorization: `Bearer ${this.config.WHATSAPP_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ messaging_product: 'whatsapp', recipient_type: 'individual', to, ...this.payload(message) }),
    });
    if (res.status < 200 || res.status >= 300) throw graphApiError(this.name, res);
    const id = (res.json as WhatsAppSendResponse | undefined)?.messages?.[0]?.id;
    if (!id) throw new ProviderError(this.name, 'answer without messages[0].id', true, res.status);
    return { externalId: id };
  }

  private payload(message: OutboundMessage): Record<string, unknown> {
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
