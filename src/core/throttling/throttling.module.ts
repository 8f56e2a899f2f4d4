import { Global, Module } from '@nestjs/common';
import { ThrottlerModule } from '@nestjs/throttler';
import { AppConfig } from '../config/app-config';
import { PLAN_LIMITS } from '../plans/plans';
import { createRedisClient, settled } from '../redis/redis.connection';
import { LimiterStatus } from './limiter-status';
import { AUTH_THROTTLER, PLAN_THROTTLER, RateLimitGuard, WEBHOOK_THROTTLER } from './rate-limit.guard';
import { RateLimitStorage } from './rate-limit.storage';

const WINDOW_MS = 60_000;

/**
 * `@nestjs/throttler` on Redis. The storage is built here, per application,
 * on a connection of its own from the Redis factory (one node or a cluster):
 * it closes it with the app, so closing one app (a test file may start
 * several) never closes another's. Register `RateLimitGuard`
 * as an APP_GUARD after the AuthGuard.
 */
@Global()
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      inject: [AppConfig, LimiterStatus],
      useFactory: async (config: AppConfig, status: LimiterStatus) => {
        const client = createRedisClient(config, { name: 'zyva:ratelimit', profile: 'fail-fast' });
        const storage = new RateLimitStorage(client, (error) => status.failed(error));
        await settled(client);
        return {
          throttlers: [
            // The plan's limit is resolved per request (RateLimitGuard); FREE's is only the declared default.
            { name: PLAN_THROTTLER, ttl: WINDOW_MS, limit: PLAN_LIMITS.FREE.requestsPerMinute },
            { name: AUTH_THROTTLER, ttl: WINDOW_MS, limit: config.AUTH_RATE_LIMIT },
            { name: WEBHOOK_THROTTLER, ttl: WINDOW_MS, limit: config.WEBHOOK_RATE_LIMIT },
          ],
          storage,
        };
      },
    }),
  ],
  providers: [LimiterStatus, RateLimitGuard],
  exports: [LimiterStatus, RateLimitGuard],
})
export class ThrottlingModule {}
