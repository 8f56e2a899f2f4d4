import { Module } from '@nestjs/common';
import { CachedReadPath } from './app.cached-read';
import { APP_FILTER, APP_GUARD, APP_PIPE, ModuleRef } from '@nestjs/core';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { ScheduleModule } from '@nestjs/schedule';
import { AppCacheModule } from './core/cache/cache.module';
import { AppConfigModule } from './core/config/config.module';
import { CryptoModule } from './core/crypto/crypto.module';
import { HealthModule } from './core/health/health.module';
import { HttpExceptionFilter } from './core/http/http-exception.filter';
import { createValidationPipe } from './core/http/validation';
import { LoggingModule } from './core/logging/logging.module';
import { MetricsModule } from './core/metrics/metrics.module';
import { PrismaModule } from './core/prisma/prisma.module';
import { QuotasModule } from './core/quotas/quotas.module';
import { QueuesModule } from './core/queues/queues.module';
import { RedisModule } from './core/redis/redis.module';
import { RateLimitGuard } from './core/throttling/rate-limit.guard';
import { ThrottlingModule } from './core/throttling/throttling.module';
import { AdminModule } from './modules/admin/admin.module';
import { AuthGuard } from './modules/auth/auth.guard';
import { AuthModule } from './modules/auth/auth.module';
import { BirthdaysModule } from './modules/birthdays/birthdays.module';
import { ContactsModule } from './modules/contacts/contacts.module';
import { FlowsModule } from './modules/flows/flows.module';
import { CampaignsModule } from './modules/campaigns/campaigns.module';
import { ChannelsModule } from './modules/channels/channels.module';
import { MessagesModule } from './modules/messages/messages.module';
import { OrganizationsModule } from './modules/organizations/organizations.module';
import { SocialPostsModule } from './modules/social-posts/social-posts.module';

/**
 * Globals are providers (APP_*), so an e2e test importing AppModule gets
 * exactly what production gets. Guards run in the order listed.
 */
@Module({
  imports: [
    AppConfigModule,
    CryptoModule,
    LoggingModule,
    EventEmitterModule.forRoot(),
    ScheduleModule.forRoot(),
    PrismaModule,
    RedisModule,
    AppCacheModule,
    ThrottlingModule,
    QuotasModule,
    QueuesModule,
    HealthModule,
    MetricsModule,
    AuthModule,
    OrganizationsModule,
    AdminModule,
    ContactsModule,
    ChannelsModule,
    MessagesModule,
    CampaignsModule,
    FlowsModule,
    BirthdaysModule,
    SocialPostsModule,
  ],
  providers: [
    { provide: APP_PIPE, useFactory: createValidationPipe, inject: [ModuleRef] },
    { provide: APP_FILTER, useClass: HttpExceptionFilter },
    { provide: APP_GUARD, useExisting: AuthGuard },
    { provide: APP_GUARD, useExisting: RateLimitGuard },
    CachedReadPath,
  ],
})
export class AppModule {}
