import { Module } from '@nestjs/common';
import { ProviderHttp } from '../../core/http/provider-http';
import { socialPublisherProviders } from './publishers';
import { SocialPublisherRegistry } from './publishers/social-publisher.registry';
import { CHANNEL_PROVIDERS } from './providers/channel-provider';
import { ChannelRegistry } from './providers/channel-registry';
import { InstagramDmProvider } from './providers/instagram-dm.provider';
import { ResendEmailProvider } from './providers/resend-email.provider';
import { ResendClient } from './providers/resend.client';
import { TwilioSmsProvider } from './providers/twilio-sms.provider';
import { WhatsAppProvider } from './providers/whatsapp.provider';
import { ChannelEvents } from './webhooks/channel-events';
import { ProviderWebhooksController } from './webhooks/provider-webhooks.controller';
import { ProviderWebhooksService } from './webhooks/provider-webhooks.service';

/** The outbound channels. */
const CHANNELS = [WhatsAppProvider, ResendEmailProvider, TwilioSmsProvider, InstagramDmProvider];

/**
 * Everything about talking to providers: the provider clients (messages and
 * social posts), the inbound provider webhooks and the events they carry.
 * Feature modules reach providers only through here; this module knows no
 * feature (they subscribe to ChannelEvents).
 */
@Module({
  controllers: [ProviderWebhooksController],
  providers: [
    ProviderHttp,
    ResendClient,
    ...CHANNELS,
    { provide: CHANNEL_PROVIDERS, useFactory: (...providers: unknown[]) => providers, inject: CHANNELS },
    ChannelRegistry,
    SocialPublisherRegistry,
    ...socialPublisherProviders,
    ChannelEvents,
    ProviderWebhooksService,
  ],
  exports: [ProviderHttp, ResendClient, ChannelRegistry, SocialPublisherRegistry, ChannelEvents],
})
export class ChannelsModule {}
