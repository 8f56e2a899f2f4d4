import { CacheModule } from '@nestjs/cache-manager';
import { Global, Logger, Module } from '@nestjs/common';
import { KeyvAdapter } from 'cache-manager';
import { redisInsStore } from 'cache-manager-ioredis-yet';
import type Redis from 'ioredis';
import { Keyv } from 'keyv';
import { AppConfig } from '../config/app-config';
import { type RedisClient, closeRedisClient, createRedisClient, settled } from '../redis/redis.connection';
import { CACHE_NAMESPACE } from './cache-keys';
import { CACHE_CLIENT } from './cache.tokens';
import { CacheService } from './cache.service';
import { TenantCacheInterceptor } from './tenant-cache.interceptor';

type CacheStore = ReturnType<typeof redisInsStore>;
const CACHE_STORE = Symbol('CACHE_STORE');

/**
 * `@nestjs/cache-manager` on Redis (`cache-manager-ioredis-yet` through
 * Keyv), keys under `zyva:cache:`. The store gets its own connection (one node
 * or a cluster, from the Redis factory) with the same fail-fast settings as
 * the command connection, so a Redis outage turns cache reads into misses
 * instead of hanging requests.
 */
@Global()
@Module({
  imports: [
    CacheModule.registerAsync({
      inject: [CACHE_STORE],
      useFactory: (store: CacheStore) => {
        const adapted = Object.assign(store, {
          name: 'ioredis',
          // The store has no disconnect(); cache-manager calls it on shutdown, so without it the socket outlives the app.
          disconnect: () => closeRedisClient(store.client as RedisClient),
          // The store's own clear() is FLUSHDB and keys() is KEYS: neither may ever run against the shared Redis.
          reset: undefined,
          keys: () => Promise.reject(new Error('Listing cache keys is not supported; use CacheService.invalidate (SCAN)')),
        });
        const keyv = new Keyv({
          store: new KeyvAdapter(adapted as unknown as ConstructorParameters<typeof KeyvAdapter>[0]),
          namespace: CACHE_NAMESPACE,
          throwOnErrors: true,
        });
        return { stores: [keyv] };
      },
    }),
  ],
  providers: [
    {
      provide: CACHE_STORE,
      inject: [AppConfig],
      useFactory: async (config: AppConfig): Promise<CacheStore> => {
        const client = createRedisClient(config, { name: 'zyva:cache', profile: 'fail-fast' });
        let down = false;
        const logger = new Logger('CacheConnection');
        client.on('error', (error: Error) => {
          if (!down) logger.warn(`Cache connection error: ${error.message}`);
          down = true;
        });
        client.on('ready', () => (down = false));
        await settled(client);
        // The library's types name a single-node client; what Zyva calls through it (get, set, del of one key) a cluster client routes.
        return redisInsStore(client as Redis);
      },
    },
    { provide: CACHE_CLIENT, inject: [CACHE_STORE], useFactory: (store: CacheStore): RedisClient => store.client as RedisClient },
    CacheService,
    TenantCacheInterceptor,
  ],
  exports: [CACHE_STORE, CACHE_CLIENT, CacheService, TenantCacheInterceptor],
})
export class AppCacheModule {}
