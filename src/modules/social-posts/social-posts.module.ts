import { Module } from '@nestjs/common';
import { workerProviders } from '../../core/queues/worker-providers';
import { ChannelsModule } from '../channels/channels.module';
import { SocialPostPublishingService } from './social-post-publishing.service';
import { SocialPostReconcilerService } from './social-post-reconciler.service';
import { SocialPostsController } from './social-posts.controller';
import { SocialPostsProcessor } from './social-posts.processor';
import { SocialPostsService } from './social-posts.service';

/** Scheduled posts; the platforms themselves are reached through the channels module. */
@Module({
  imports: [ChannelsModule],
  controllers: [SocialPostsController],
  providers: [
    SocialPostsService,
    SocialPostPublishingService,
    ...workerProviders(SocialPostsProcessor, SocialPostReconcilerService),
  ],
})
export class SocialPostsModule {}
