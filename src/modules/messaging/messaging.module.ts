import { Module } from '@nestjs/common';
import { workerProviders } from '../../core/queues/worker-providers';
import { OrganizationsModule } from '../organizations/organizations.module';
import { CampaignFanOutService } from './campaigns/campaign-fan-out.service';
import { CampaignsController } from './campaigns/campaigns.controller';
import { CampaignsService } from './campaigns/campaigns.service';
import { AccountEmailService } from './emails/account-email.service';
import { EmailsProcessor } from './emails/emails.processor';
import { MessageQuota } from './message-quota';
import { MessageSendRepository } from './message-send.repository';
import { MessageSenderService } from './message-sender.service';
import { MessagesController } from './messages.controller';
import { MessagesProcessor } from './messages.processor';
import { MessagesService } from './messages.service';
import { CHANNEL_PROVIDERS } from './providers/channel-provider';
import { ChannelRegistry } from './providers/channel-registry';
import { InstagramDmProvider } from './providers/instagram-dm.provider';
import { ProviderHttp } from './providers/provider-http';
import { ResendEmailProvider } from './providers/resend-email.provider';
import { ResendClient } from './providers/resend.client';
import { TwilioSmsProvider } from './providers/twilio-sms.provider';
import { WhatsAppProvider } from './providers/whatsapp.provider';
import { MessageReconcilerService } from './reconciler/message-reconciler.service';
import { DeliveryStatusService } from './webhooks/delivery-status.service';
import { ProviderWebhooksController } from './webhooks/provider-webhooks.controller';
import { ProviderWebhooksService } from './webhooks/provider-webhooks.service';

/** The outbound channels. A new channel is one ChannelProvider class added here (and to the Channel enum). */
const CHANNELS = [WhatsAppProvider, ResendEmailProvider, TwilioSmsProvider, InstagramDmProvider];

/**
 * Messages, campaigns, outbound providers, delivery webhooks, and the
 * consumers of the `messages` and `emails` queues (worker roles only).
 */
@Module({
  imports: [OrganizationsModule],
  controllers: [MessagesController, CampaignsController, ProviderWebhooksController],
  providers: [
    ProviderHttp,
    ResendClient,
    ...CHANNELS,
    { provide: CHANNEL_PROVIDERS, useFactory: (...providers: unknown[]) => providers, inject: CHANNELS },
    ChannelRegistry,
    MessageQuota,
    MessagesService,
    CampaignsService,
    DeliveryStatusService,
    ProviderWebhooksService,
    MessageSendRepository,
    MessageSenderService,
    CampaignFanOutService,
    AccountEmailService,
    ...workerProviders(MessagesProcessor, EmailsProcessor, MessageReconcilerService),
  ],
  exports: [MessagesService, ResendClient, ProviderHttp],
})
export class MessagingModule {}
