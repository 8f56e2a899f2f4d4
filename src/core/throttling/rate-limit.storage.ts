import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import type { RedisOptions } from 'ioredis';

/**
 * A fixed window on ONE key (so it runs on any node of a cluster): the count,
 * and the milliseconds until the window ends. Per-IP and per-account limits
 * use it; nothing is blocked beyond the window.
 */
const WINDOW_HIT = `
local hits = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return { hits, ttl }`;

export interface WindowHit {
  totalHits: number;
  msToExpire: number;
}

/**
 * Counts a request in a fixed window and, in the same script, reads the
 * caller's cached organization and pulls its plan out of the cache entry
 * (Keyv's `{ value, expires }`, JSON-encoded by the store). So the plan limit
 * costs no round trip of its own; a missing or unreadable entry answers no
 * plan and the caller loads the organization instead. When the route is
 * cached, the entry it will read (KEYS[3]) comes back too, so a cached GET
 * needs no round trip of its own either.
 */
const PLAN_HIT = `
local hits = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
local plan = false
local raw = redis.call('GET', KEYS[2])
if raw then
  local ok, entry = pcall(cjson.decode, raw)
  if ok and type(entry) == 'string' then ok, entry = pcall(cjson.decode, entry) end
  if ok and type(entry) == 'table' and type(entry.value) == 'table' and type(entry.value.plan) == 'string' then
    plan = entry.value.plan
  end
end
local prefetched = false
if KEYS[3] then prefetched = redis.call('GET', KEYS[3]) end
return { hits, ttl, plan, prefetched }`;

export interface PlanHit {
  totalHits: number;
  msToExpire: number;
  /** The plan found in the cached organization, or null when it must be loaded. */
  plan: string | null;
  /** The raw cache entry asked for, null when absent (undefined when none was asked for). */
  prefetched?: Buffer | null;
}

type Scripted = {
  zyvaWindowHit(key: string, ttlMs: number): Promise<[number, number]>;
  zyvaPlanHitBuffer(numberOfKeys: number, ...args: (string | number)[]): Promise<[number, number, Buffer | null, Buffer | null]>;
};

/**
 * The Redis storage of `@nest-lab/throttler-storage-redis`, built from
 * connection options (it owns and closes its connection), with Zyva's own
 * scripts instead of the stock two-key one: keys stay under `zyva:` as the
 * contract wants, each script touches one hash slot, and scripts run by SHA
 * instead of sending their source each time.
 */
export class RateLimitStorage extends ThrottlerStorageRedisService {
  constructor(options: RedisOptions, onConnectionError: (error: Error) => void) {
    super(options);
    this.redis.on('error', onConnectionError);
    this.redis.defineCommand('zyvaWindowHit', { numberOfKeys: 1, lua: WINDOW_HIT });
    // Key count given per call (2 or 3); the Buffer variant keeps a prefetched body as bytes.
    this.redis.defineCommand('zyvaPlanHit', { lua: PLAN_HIT });
  }

  private get scripted(): Scripted {
    return this.redis as unknown as Scripted;
  }

  /** Counts a hit in the window of `key` (the full name, `zyva:ratelimit:…`). */
  async windowHit(key: string, ttlMs: number): Promise<WindowHit> {
    const [totalHits, msToExpire] = await this.scripted.zyvaWindowHit(key, ttlMs);
    return { totalHits, msToExpire };
  }

  async planHit(counterKey: string, orgCacheKey: string, ttlMs: number, prefetchKey?: string): Promise<PlanHit> {
    const [totalHits, msToExpire, plan, prefetched] = prefetchKey
      ? await this.scripted.zyvaPlanHitBuffer(3, counterKey, orgCacheKey, prefetchKey, ttlMs)
      : await this.scripted.zyvaPlanHitBuffer(2, counterKey, orgCacheKey, ttlMs);
    return { totalHits, msToExpire, plan: plan ? plan.toString() : null, prefetched: prefetchKey ? prefetched : undefined };
  }
}
