import { Global, Module } from '@nestjs/common';
import { ThrottlerModule } from '@nestjs/throttler';
import { AppConfig } from '../config/app-config';
import { PLAN_LIMITS } from '../plans/plans';
import { redisOptionsFromUrl } from '../redis/redis.options';
import { LimiterStatus } from './limiter-status';
import { AUTH_THROTTLER, PLAN_THROTTLER, RateLimitGuard, WEBHOOK_THROTTLER } from './rate-limit.guard';
import { RateLimitStorage } from './rate-limit.storage';

const WINDOW_MS = 60_000;

/**
 * `@nestjs/throttler` on Redis. The storage is built here, per application,
 * from connection options: it owns its connection, so closing one app (a test
 * file may start several) never closes another's. Register `RateLimitGuard`
 * as an APP_GUARD after the AuthGuard.
 */
@Global()
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      inject: [AppConfig, LimiterStatus],
      useFactory: (config: AppConfig, status: LimiterStatus) => ({
        throttlers: [
          // The plan's limit is resolved per request (RateLimitGuard); FREE's is only the declared default.
          { name: PLAN_THROTTLER, ttl: WINDOW_MS, limit: PLAN_LIMITS.FREE.requestsPerMinute },
          { name: AUTH_THROTTLER, ttl: WINDOW_MS, limit: config.AUTH_RATE_LIMIT },
          { name: WEBHOOK_THROTTLER, ttl: WINDOW_MS, limit: config.WEBHOOK_RATE_LIMIT },
        ],
        storage: new RateLimitStorage(
          redisOptionsFromUrl(config.REDIS_URL, {
            maxRetriesPerRequest: 1,
            enableOfflineQueue: true,
            enableAutoPipelining: true,
            connectionName: 'zyva:ratelimit',
          }),
          (error) => status.failed(error),
        ),
      }),
    }),
  ],
  providers: [LimiterStatus, RateLimitGuard],
  exports: [LimiterStatus, RateLimitGuard],
})
export class ThrottlingModule {}
