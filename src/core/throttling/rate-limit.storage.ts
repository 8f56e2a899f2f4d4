import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import type Redis from 'ioredis';
import { type RedisClient, closeRedisClient } from '../redis/redis.connection';

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
 * Counts a request in the user's fixed window and, in the same script, finds
 * the organization's plan: the long-lived plan key first, else the cached
 * organization (Keyv's `{ value, expires }`, JSON-encoded by the store). So
 * the plan limit costs no round trip of its own; no plan found answers nil and
 * the caller looks the organization up instead. When the route is cached, the
 * entry it will read (KEYS[4]) comes back too, so a cached GET needs no round
 * trip of its own either. All keys carry the organization's hash tag.
 */
const PLAN_HIT = `
local hits = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
local plan = redis.call('GET', KEYS[2])
if not plan then
  local raw = redis.call('GET', KEYS[3])
  if raw then
    local ok, entry = pcall(cjson.decode, raw)
    if ok and type(entry) == 'string' then ok, entry = pcall(cjson.decode, entry) end
    if ok and type(entry) == 'table' and type(entry.value) == 'table' and type(entry.value.plan) == 'string' then
      plan = entry.value.plan
    end
  end
end
local prefetched = false
if KEYS[4] then prefetched = redis.call('GET', KEYS[4]) end
return { hits, ttl, plan, prefetched }`;

export interface PlanHit {
  totalHits: number;
  msToExpire: number;
  /** The plan found in Redis, or null when it must be looked up. */
  plan: string | null;
  /** The raw cache entry asked for, null when absent (undefined when none was asked for). */
  prefetched?: Buffer | null;
}

export interface PlanHitKeys {
  /** The user's counter, `zyva:ratelimit:plan:{orgId}:<userId>`. */
  counter: string;
  /** `zyva:plan:{orgId}`. */
  plan: string;
  /** The cached organization, `zyva:cache:org:{orgId}`. */
  organization: string;
  /** The cache entry the route will read, if it is a cached route. */
  prefetch?: string;
}

type PlanHitReply = Promise<[number, number, Buffer | null, Buffer | null]>;
type Scripted = {
  zyvaWindowHit(key: string, ttlMs: number): Promise<[number, number]>;
  zyvaPlanHitBuffer(counter: string, plan: string, organization: string, ttl: number): PlanHitReply;
  zyvaPlanHitPrefetchBuffer(counter: string, plan: string, organization: string, prefetch: string, ttl: number): PlanHitReply;
};

/**
 * The throttler storage, on a connection of its own (one node or a cluster)
 * that it closes with the app, so closing one app (a test file may start
 * several) never closes another's. Keys stay under `zyva:` as the contract
 * wants, every script touches one slot, and scripts run by SHA instead of
 * sending their source each time.
 */
export class RateLimitStorage extends ThrottlerStorageRedisService {
  constructor(client: RedisClient, onConnectionError: (error: Error) => void) {
    // The base class's types name a single-node client; it accepts a cluster client as well.
    super(client as Redis);
    this.redis.on('error', onConnectionError);
    this.redis.defineCommand('zyvaWindowHit', { numberOfKeys: 1, lua: WINDOW_HIT });
    // Each with a fixed key count, so the first argument is a key: on a cluster ioredis' auto-pipelining groups
    // commands by it (a per-call count would group calls of different organizations, on different nodes, together).
    // The Buffer variants keep a prefetched body as bytes.
    this.redis.defineCommand('zyvaPlanHit', { numberOfKeys: 3, lua: PLAN_HIT });
    this.redis.defineCommand('zyvaPlanHitPrefetch', { numberOfKeys: 4, lua: PLAN_HIT });
  }

  private get scripted(): Scripted {
    return this.redis as unknown as Scripted;
  }

  /** Counts a hit in the window of `key` (the full name, `zyva:ratelimit:…`). */
  async windowHit(key: string, ttlMs: number): Promise<WindowHit> {
    const [totalHits, msToExpire] = await this.scripted.zyvaWindowHit(key, ttlMs);
    return { totalHits, msToExpire };
  }

  async planHit(keys: PlanHitKeys, ttlMs: number): Promise<PlanHit> {
    const [totalHits, msToExpire, plan, prefetched] = keys.prefetch
      ? await this.scripted.zyvaPlanHitPrefetchBuffer(keys.counter, keys.plan, keys.organization, keys.prefetch, ttlMs)
      : await this.scripted.zyvaPlanHitBuffer(keys.counter, keys.plan, keys.organization, ttlMs);
    return { totalHits, msToExpire, plan: plan ? plan.toString() : null, prefetched: keys.prefetch ? prefetched : undefined };
  }

  override async onModuleDestroy(): Promise<void> {
    await closeRedisClient(this.redis);
  }
}
