import { Inject, Injectable, Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { REDIS } from '../redis/redis.constants';
import { CACHE_PREFIX, cacheKeys } from './cache-keys';

/**
 * JSON cache under `zyva:cache:`. Reads fail open (a Redis outage serves from
 * the source); invalidation uses SCAN + UNLINK in batches, never KEYS.
 */
@Injectable()
export class CacheService {
  private readonly logger = new Logger(CacheService.name);
  private failing = false;

  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async getOrSet<T>(key: string, ttlSeconds: number, load: () => Promise<T>): Promise<T> {
    const fullKey = CACHE_PREFIX + key;
    try {
      const cached = await this.redis.get(fullKey);
      this.recovered();
      if (cached !== null) return JSON.parse(cached) as T;
    } catch (error) {
      this.failed(error);
      return load();
    }
    const value = await load();
    await this.redis.set(fullKey, JSON.stringify(value), 'EX', ttlSeconds).catch((error) => this.failed(error));
    return value;
  }

  /** Deletes every key matching `pattern` (a glob, relative to the cache prefix). */
  async invalidate(pattern: string): Promise<number> {
    let cursor = '0';
    let removed = 0;
    do {
      const [next, found] = await this.redis.scan(cursor, 'MATCH', CACHE_PREFIX + pattern, 'COUNT', 500);
      cursor = next;
      if (found.length > 0) removed += await this.redis.unlink(...found);
    } while (cursor !== '0');
    return removed;
  }

  async del(...keys: string[]): Promise<void> {
    if (keys.length > 0) await this.redis.unlink(...keys.map((k) => CACHE_PREFIX + k));
  }

  /** Everything cached for one organization: the organization, its stats and its contact lists. */
  async invalidateOrganization(orgId: string): Promise<void> {
    await this.del(cacheKeys.org(orgId), cacheKeys.dashboard(orgId));
    await this.invalidate(`contacts:${orgId}:*`);
  }

  private failed(error: unknown): void {
    if (!this.failing) this.logger.warn(`Cache unavailable, serving from the database: ${(error as Error).message}`);
    this.failing = true;
  }

  private recovered(): void {
    if (this.failing) this.logger.log('Cache available again');
    this.failing = false;
  }
}
