import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../../core/config/app-config';
import { Channel } from '../../../generated/prisma/enums';
import { ChannelProvider, OutboundMessage, SendResult } from './channel-provider';
import { graphApiError } from './graph-api-error';
import { ProviderError } from '../../../core/http/provider-error';
import { ProviderHttp } from '../../../core/http/provider-http';

interface InstagramSendResponse {
  recipient_id?: string;
  message_id?: string;
}

/**
 * Instagram direct messages through the Graph API:
 * `POST {GRAPH_API_URL}/{INSTAGRAM_ACCOUNT_ID}/messages` with
 * `{ recipient: { id }, message }`, addressed to the contact's `instagramId`
 * (the Instagram-scoped id). With media, the image goes first as an
 * attachment, then the text.
 */
@Injectable()
export class InstagramDmProvider implements ChannelProvider {
  readonly channel = Channel.INSTAGRAM_DM;
  readonly name = 'Instagram Graph API';
  readonly recipientField = 'instagramId' as const;

  constructor(
    private readonly config: AppConfig,
    private readonly http: ProviderHttp,
  ) {}

  isConfigured(): boolean {
    return Boolean(this.config.INSTAGRAM_ACCOUNT_ID && this.config.INSTAGRAM_TOKEN);
  }

  async send(message: OutboundMessage): Promise<SendResult> {
    if (message.mediaUrl) {
      await this.post(message.to, { attachment: { type: 'image', payload: { url: message.mediaUrl } } });
    }
    return { externalId: await this.post(message.to, { text: message.text }) };
  }

  private async post(recipient: string, body: Record<string, unknown>): Promise<string> {
    const res = await this.http.request({
      provider: this.name,
      method: 'POST',
      url: `${this.config.GRAPH_API_URL.replace(/\/$/, '')}/${encodeURIComponent(this.config.INSTAGRAM_ACCOUNT_ID!)}/messages`,
      headers: { Authorization: `Bearer ${this.config.INSTAGRAM_TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ recipient: { id: recipient }, message: body }),
    });
    if (res.status < 200 || res.status >= 300) throw graphApiError(this.name, res);
    const id = (res.json as InstagramSendResponse | undefined)?.message_id;
    if (!id) throw new ProviderError(this.name, 'answer without message_id', true, res.status);
    return id;
  }
}
