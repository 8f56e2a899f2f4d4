import { Global, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import { AppConfig } from '../config/app-config';
import { REDIS } from './redis.constants';
import { redisOptionsFromUrl } from './redis.options';

/**
 * The command connection. Commands fail fast (one retry) while Redis is down,
 * so callers can fail open instead of hanging; the connection itself keeps
 * reconnecting. BullMQ has its own connection (see QueuesModule).
 */
@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => {
        const logger = new Logger('Redis');
        const client = new Redis(
          redisOptionsFromUrl(config.REDIS_URL, {
            maxRetriesPerRequest: 1,
            enableOfflineQueue: true,
            connectionName: 'zyva:commands',
            // Commands issued in the same tick (many requests at once) share one write: fewer syscalls under load.
            enableAutoPipelining: true,
          }),
        );
        let down = false;
        client.on('error', (err: Error) => {
          if (!down) logger.error(`Redis connection error: ${err.message}`);
          down = true;
        });
        client.on('ready', () => {
          if (down) logger.log('Redis connection restored');
          down = false;
        });
        return client;
      },
    },
  ],
  exports: [REDIS],
})
export class RedisModule implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async onApplicationShutdown(): Promise<void> {
    // QUIT would wait in the offline queue forever while Redis is unreachable.
    if (this.redis.status === 'ready') await this.redis.quit().catch(() => this.redis.disconnect());
    else this.redis.disconnect();
  }
}
