import { Injectable } from '@nestjs/common';
import { AppConfig } from '../../../core/config/app-config';
import { ProviderError } from '../../../core/http/provider-error';
import { ProviderHttp } from '../../../core/http/provider-http';
import { MessageSender, OutboundMessage, RegisterMessageSender, SendContext, SendResult } from '../channel-extension';
import type { InstagramCredentials } from '../kinds/graph.kinds';
import { graphApiError } from './graph-api-error';

interface InstagramSendResponse {
  recipient_id?: string;
  message_id?: string;
}

/**
 * Instagram direct messages through the Graph API:
 * `POST {GRAPH_API_URL}/{accountId}/messages` with `{ recipient: { id }, message }`,
 * addressed to the contact's `instagramId` (the Instagram-scoped id). With
 * media, the image goes first as an attachment, then the text: the image's
 * acceptance is saved as progress, so a retry after the text failed sends
 * only the text. Each of the two requests takes a pace slot. The API has no idempotency key and no way to ask whether a
 * message went out, so an unknown outcome fails rather than risk a duplicate.
 */
@Injectable()
@RegisterMessageSender()
export class InstagramDmProvider implements MessageSender<InstagramCredentials> {
  readonly channel = 'INSTAGRAM_DM';
  readonly kind = 'instagram';
  readonly provider = 'Instagram Graph API';
  readonly recipientField = 'instagramId' as const;
  readonly unknownOutcome = 'fail' as const;

  constructor(
    private readonly config: AppConfig,
    private readonly http: ProviderHttp,
  ) {}

  async send(message: OutboundMessage, context: SendContext<InstagramCredentials>): Promise<SendResult> {
    if (message.mediaUrl && !message.progress.image) {
      const imageId = await this.post(context.credentials, message.to, { attachment: { type: 'image', payload: { url: message.mediaUrl } } });
      await context.saveProgress('image', imageId);
      await context.nextRequest();
    }
    return { externalId: await this.post(context.credentials, message.to, { text: message.text }) };
  }

  private async post(credentials: InstagramCredentials, recipient: string, body: Record<string, unknown>): Promise<string> {
    const res = await this.http.request({
      provider: this.provider,
      method: 'POST',
      url: `${this.config.GRAPH_API_URL.replace(/\/$/, '')}/${encodeURIComponent(credentials.accountId)}/messages`,
      headers: { Authorization: `Bearer ${credentials.accessToken}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ recipient: { id: recipient }, message: body }),
    });
    if (res.status < 200 || res.status >= 300) throw graphApiError(this.provider, res);
    const id = (res.json as InstagramSendResponse | undefined)?.message_id;
    if (!id) throw new ProviderError(this.provider, 'answer without message_id', true, res.status, undefined, { unknownOutcome: true });
    return id;
  }
}
