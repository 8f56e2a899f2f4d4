import { Module } from '@nestjs/common';
import { workerProviders } from '../../core/queues/worker-providers';
import { MessagingModule } from '../messaging/messaging.module';
import { socialPublisherProviders } from './publishers';
import { SocialPostPublishingService } from './social-post-publishing.service';
import { SocialPostReconcilerService } from './social-post-reconciler.service';
import { SocialPostsController } from './social-posts.controller';
import { SocialPostsProcessor } from './social-posts.processor';
import { SocialPostsService } from './social-posts.service';
import { SocialPublisherRegistry } from './social-publisher.registry';

/** Publishers share the messaging module's provider HTTP client (keep-alive, timeouts, retryable errors). */
@Module({
  imports: [MessagingModule],
  controllers: [SocialPostsController],
  providers: [
    SocialPostsService,
    SocialPostPublishingService,
    SocialPublisherRegistry,
    ...socialPublisherProviders,
    ...workerProviders(SocialPostsProcessor, SocialPostReconcilerService),
  ],
})
export class SocialPostsModule {}
