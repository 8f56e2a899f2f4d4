import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { ProviderHttp } from '../../core/http/provider-http';
import { ChannelRegistry } from './channel-registry';
import { ConnectionSecrets } from './connections/connection-secrets';
import { ConnectionsController } from './connections/connections.controller';
import { ConnectionsService } from './connections/connections.service';
import { EmailKind } from './kinds/email.kind';
import { FacebookKind, InstagramKind } from './kinds/graph.kinds';
import { SmsKind } from './kinds/sms.kind';
import { TwitterKind } from './kinds/twitter.kind';
import { WhatsAppKind } from './kinds/whatsapp.kind';
import { InstagramDmProvider } from './providers/instagram-dm.provider';
import { ResendEmailProvider } from './providers/resend-email.provider';
import { ResendClient } from './providers/resend.client';
import { TwilioSmsProvider } from './providers/twilio-sms.provider';
import { WhatsAppProvider } from './providers/whatsapp.provider';
import { FacebookPublisher } from './publishers/facebook.publisher';
import { InstagramPublisher } from './publishers/instagram.publisher';
import { TwitterPublisher } from './publishers/twitter.publisher';
import { PaceService } from './pacing/pace.service';
import { ChannelRouter } from './routing/channel-router';
import { WhatsAppTemplatesController } from './templates/whatsapp-templates.controller';
import { WhatsAppTemplatesService } from './templates/whatsapp-templates.service';
import { ChannelEvents } from './webhooks/channel-events';
import { ProviderWebhooksController } from './webhooks/provider-webhooks.controller';
import { ProviderWebhooksService } from './webhooks/provider-webhooks.service';

/**
 * Everything about talking to providers: connections (a store's own
 * accounts, live-checked, secrets sealed), the provider clients of messages
 * and social posts, the routing of each send to its credentials, and the
 * inbound provider webhooks. Feature modules reach providers only through
 * here, and this module knows no feature: they subscribe to ChannelEvents.
 * Zyva's kinds, senders and publishers are registered like an extension's,
 * by their decorators (see channel-extension.ts).
 */
@Module({
  imports: [DiscoveryModule],
  controllers: [ConnectionsController, WhatsAppTemplatesController, ProviderWebhooksController],
  providers: [
    ProviderHttp,
    ResendClient,
    WhatsAppKind,
    EmailKind,
    SmsKind,
    InstagramKind,
    FacebookKind,
    TwitterKind,
    WhatsAppProvider,
    ResendEmailProvider,
    TwilioSmsProvider,
    InstagramDmProvider,
    InstagramPublisher,
    FacebookPublisher,
    TwitterPublisher,
    ChannelRegistry,
    ChannelRouter,
    ConnectionSecrets,
    ConnectionsService,
    ChannelEvents,
    ProviderWebhooksService,
    WhatsAppTemplatesService,
    PaceService,
  ],
  exports: [ProviderHttp, ResendClient, ChannelRegistry, ChannelRouter, ChannelEvents, ConnectionsService, WhatsAppTemplatesService, PaceService],
})
export class ChannelsModule {}
