import { Module } from '@nestjs/common';
import { workerProviders } from '../../core/queues/worker-providers';
import { CampaignsModule } from '../campaigns/campaigns.module';
import { ChannelsModule } from '../channels/channels.module';
import { ContactsModule } from '../contacts/contacts.module';
import { OrganizationsModule } from '../organizations/organizations.module';
import { CampaignBatchSenderService } from './campaign-batch-sender.service';
import { ConversationsController } from './conversations.controller';
import { DeliveryStatusService } from './delivery-status.service';
import { InboundEvents } from './inbound/inbound-events';
import { InboundService } from './inbound/inbound.service';
import { MessageAcceptRepository } from './message-accept.repository';
import { MessageReconcilerService } from './message-reconciler.service';
import { MessageSendRepository } from './message-send.repository';
import { MessageSenderService } from './message-sender.service';
import { MessagesController } from './messages.controller';
import { MessagesProcessor } from './messages.processor';
import { MessagesService } from './messages.service';

/**
 * Messages: the API, the send path (sender, reconciler) and delivery
 * statuses, and the consumer of the `messages` queue (worker roles only),
 * which also runs the campaigns' fan-out jobs.
 */
@Module({
  imports: [OrganizationsModule, ChannelsModule, CampaignsModule, ContactsModule],
  controllers: [MessagesController, ConversationsController],
  providers: [
    MessagesService,
    MessageAcceptRepository,
    DeliveryStatusService,
    MessageSendRepository,
    MessageSenderService,
    CampaignBatchSenderService,
    InboundService,
    InboundEvents,
    ...workerProviders(MessagesProcessor, MessageReconcilerService),
  ],
  exports: [MessagesService, InboundEvents],
})
export class MessagesModule {}
