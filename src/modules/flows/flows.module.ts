import { Module } from '@nestjs/common';
import { OutboxModule } from '../../core/outbox/outbox.module';
import { workerProviders } from '../../core/queues/worker-providers';
import { ChannelsModule } from '../channels/channels.module';
import { ContactsModule } from '../contacts/contacts.module';
import { MessagesModule } from '../messages/messages.module';
import { FlowExecutionsService } from './flow-executions.service';
import { FlowOutboxDrainService } from './flow-outbox-drain.service';
import { FlowReconcilerService } from './flow-reconciler.service';
import { FlowRunnerService } from './flow-runner.service';
import { FlowTriggersService } from './flow-triggers.service';
import { FlowWebhookGuard } from './flow-webhook.guard';
import { FlowWebhooksController } from './flow-webhooks.controller';
import { FlowsController } from './flows.controller';
import { FlowsProcessor } from './flows.processor';
import { FlowsService } from './flows.service';
import { FlowStepRegistry } from './steps/flow-step.registry';
import { flowStepProviders } from './steps';

@Module({
  imports: [MessagesModule, ContactsModule, ChannelsModule, OutboxModule],
  controllers: [FlowsController, FlowWebhooksController],
  providers: [
    FlowsService,
    FlowExecutionsService,
    FlowTriggersService,
    FlowRunnerService,
    FlowStepRegistry,
    FlowWebhookGuard,
    ...flowStepProviders,
    ...workerProviders(FlowsProcessor, FlowReconcilerService, FlowOutboxDrainService),
  ],
  exports: [FlowTriggersService],
})
export class FlowsModule {}
