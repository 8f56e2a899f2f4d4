import { Global, Inject, Logger, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { warnUnlessNoEviction } from './eviction-policy';
import { REDIS } from './redis.constants';
import { type RedisClient, closeRedisClient, createRedisClient, settled } from './redis.connection';

/**
 * The command connection, to one node or a cluster. Commands fail fast while
 * Redis is down, so callers can fail open instead of hanging; the connection
 * itself keeps reconnecting. BullMQ, the cache store and the limiter have
 * their own connections, built by the same factory.
 */
@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [AppConfig],
      useFactory: async (config: AppConfig) => {
        const logger = new Logger('Redis');
        const client = createRedisClient(config, { name: 'zyva:commands', profile: 'fail-fast' });
        let down = false;
        client.on('error', (err: Error) => {
          if (!down) logger.error(`Redis connection error: ${err.message}`);
          down = true;
        });
        client.on('ready', () => {
          if (down) logger.log('Redis connection restored');
          down = false;
        });
        await settled(client);
        return client;
      },
    },
  ],
  exports: [REDIS],
})
export class RedisModule implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Redis');

  constructor(@Inject(REDIS) private readonly redis: RedisClient) {}

  onApplicationBootstrap(): void {
    // Checked whenever the connection is (re)established, so a Redis replaced under a running process is checked too.
    const check = () =>
      void warnUnlessNoEviction(this.redis, this.logger).catch((error: Error) =>
        this.logger.warn(`Could not read maxmemory-policy: ${error.message}`),
      );
    if (this.redis.status === 'ready') check();
    this.redis.on('ready', check);
  }

  async onApplicationShutdown(): Promise<void> {
    await closeRedisClient(this.redis);
  }
}
