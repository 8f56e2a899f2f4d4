import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import type Redis from 'ioredis';
import { type RedisClient, closeRedisClient, isCluster } from '../redis/redis.connection';

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
 * entry it will read (KEYS[4]) comes back too, with its version (KEYS[5], see
 * CacheService), so a cached GET needs no round trip of its own either. When
 * the caller already holds the entry of version ARGV[2] (its in-process memo),
 * and Redis still holds that version of it, the script answers 1 instead of
 * the entry: the version is written by the same script as the entry and
 * expires at the same instant, so an entry deleted, expired or written by
 * anything else (which sets its own expiry) never matches. When the entry is
 * not in Redis, the script also begins its fill as CacheService's BEGIN_FILL
 * does (KEYS[6] the fence, KEYS[7] the write marker): the fence to compare
 * when the loaded value is stored, or 0 while a write is in progress (nothing
 * will be stored), so a miss needs no round trip of its own to begin either.
 * All keys carry the organization's hash tag.
 */
const PLAN_HIT_FUNCTION = `
local function planHit(base, windowMs, known)
  local function key(i) return KEYS[base + i] end
  local hits = redis.call('INCR', key(1))
  local ttl = redis.call('PTTL', key(1))
  if ttl <= 0 then
    redis.call('PEXPIRE', key(1), windowMs)
    ttl = tonumber(windowMs)
  end
  local plan = redis.call('GET', key(2))
  if not plan then
    local raw = redis.call('GET', key(3))
    if raw then
      local ok, entry = pcall(cjson.decode, raw)
      if ok and type(entry) == 'string' then ok, entry = pcall(cjson.decode, entry) end
      if ok and type(entry) == 'table' and type(entry.value) == 'table' and type(entry.value.plan) == 'string' then
        plan = entry.value.plan
      end
    end
  end
  local prefetched = false
  local version = false
  if key(4) then
    version = redis.call('GET', key(5))
    if version and redis.call('PEXPIRETIME', key(5)) ~= redis.call('PEXPIRETIME', key(4)) then version = false end
    if version and version == known then return { hits, ttl, plan, 1 } end
    prefetched = redis.call('GET', key(4))
  end
  local fill = false
  if key(6) and not prefetched then
    if redis.call('EXISTS', key(7)) == 1 then fill = 0 else fill = redis.call('GET', key(6)) or '0' end
  end
  return { hits, ttl, plan, prefetched, version, fill }
end
`;

const PLAN_HIT = `${PLAN_HIT_FUNCTION}
return planHit(0, ARGV[1], ARGV[2])`;

/**
 * The session's read (GETEX, KEYS[1], sliding by ARGV[3] seconds) and then
 * PLAN_HIT on the keys after it, answered with the session's value first; a
 * session that is gone answers nil and counts nothing. Its keys are in two
 * slots, so it runs on one node only (see RateLimitStorage.readsSessions).
 */
const SESSION_PLAN_HIT = `${PLAN_HIT_FUNCTION}
local session = redis.call('GETEX', KEYS[1], 'EX', ARGV[3])
if not session then return false end
local reply = planHit(1, ARGV[1], ARGV[2])
table.insert(reply, 1, session)
return reply`;

export interface PlanHit {
  totalHits: number;
  msToExpire: number;
  /** The plan found in Redis, or null when it must be looked up. */
  plan: string | null;
  /** The raw cache entry asked for, null when absent (undefined when none was asked for, or when `unchanged`). */
  prefetched?: Buffer | null;
  /** The version of `prefetched` (null when it has none, or none that matches it). */
  version?: string | null;
  /** Redis holds the version of the entry the caller named (`knownVersion`): nothing was fetched. */
  unchanged?: boolean;
  /**
   * When the entry is absent (`prefetched` null): the fence its fill compares before storing (CacheService's
   * `LookupOptions.fence`), or null while a write of the organization is in progress.
   */
  fence?: string | null;
}

export interface PlanHitKeys {
  /** The user's counter, `zyva:ratelimit:plan:{orgId}:<userId>`. */
  counter: string;
  /** `zyva:plan:{orgId}`. */
  plan: string;
  /** The cached organization, `zyva:cache:org:{orgId}`. */
  organization: string;
  /** The cache entry the route will read, if it is a cached route. */
  prefetch?: {
    entry: string;
    /** Its version key (CacheService's `versionKey`). */
    version: string;
    /** The version of the entry the caller already holds: answered `unchanged` instead of the entry while Redis still holds it. */
    known?: string;
    /** The organization's fence and write marker (cacheBookkeeping), read to begin the entry's fill when it is absent. */
    fence: string;
    writing: string;
  };
}

type PlanHitReply = Promise<[number, number, Buffer | null, Buffer | null | 1 | undefined, Buffer | null | undefined, Buffer | 0 | null | undefined]>;
/** What follows the plan hit's first three keys for a cached route: the entry's four keys, the window, the version held. */
type PrefetchArgs = [entry: string, version: string, fence: string, writing: string, ttl: number, known: string];
type Scripted = {
  zyvaWindowHit(key: string, ttlMs: number): Promise<[number, number]>;
  zyvaPlanHitBuffer(counter: string, plan: string, organization: string, ttl: number): PlanHitReply;
  zyvaPlanHitPrefetchBuffer(counter: string, plan: string, organization: string, ...prefetch: PrefetchArgs): PlanHitReply;
  zyvaSessionPlanHitPrefetchBuffer(
    session: string,
    counter: string,
    plan: string,
    organization: string,
    ...prefetchThenSessionTtl: [...PrefetchArgs, sessionTtlSeconds: number]
  ): Promise<[Buffer, ...Awaited<PlanHitReply>] | null>;
};

function prefetchArgs(prefetch: NonNullable<PlanHitKeys['prefetch']>, ttlMs: number): PrefetchArgs {
  return [prefetch.entry, prefetch.version, prefetch.fence, prefetch.writing, ttlMs, prefetch.known ?? ''];
}

function planHitOf([totalHits, msToExpire, plan, prefetched, version, fence]: Awaited<PlanHitReply>): PlanHit {
  const plain = plan ? plan.toString() : null;
  if (prefetched === 1) return { totalHits, msToExpire, plan: plain, unchanged: true };
  const hit: PlanHit = { totalHits, msToExpire, plan: plain, prefetched: prefetched ?? null, version: version ? version.toString() : null };
  if (!prefetched) hit.fence = fence ? fence.toString() : null;
  return hit;
}

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
    this.redis.defineCommand('zyvaPlanHitPrefetch', { numberOfKeys: 7, lua: PLAN_HIT });
    this.redis.defineCommand('zyvaSessionPlanHitPrefetch', { numberOfKeys: 8, lua: SESSION_PLAN_HIT });
  }

  /** Whether `sessionPlanHit` may run: on one node. On a cluster the session key is in another slot than the organization's. */
  get readsSessions(): boolean {
    return !isCluster(this.redis as RedisClient);
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
    if (!keys.prefetch) {
      const [totalHits, msToExpire, plan] = await this.scripted.zyvaPlanHitBuffer(keys.counter, keys.plan, keys.organization, ttlMs);
      return { totalHits, msToExpire, plan: plan ? plan.toString() : null };
    }
    return planHitOf(await this.scripted.zyvaPlanHitPrefetchBuffer(keys.counter, keys.plan, keys.organization, ...prefetchArgs(keys.prefetch, ttlMs)));
  }

  /**
   * The session's GETEX (sliding it by `sessionTtlSeconds`) and `planHit` in
   * one script, so one round trip (one node only: see `readsSessions`).
   * Answers null, having counted nothing, when the session is gone.
   */
  async sessionPlanHit(
    session: string,
    sessionTtlSeconds: number,
    keys: PlanHitKeys & { prefetch: NonNullable<PlanHitKeys['prefetch']> },
    ttlMs: number,
  ): Promise<{ session: string; hit: PlanHit } | null> {
    const reply = await this.scripted.zyvaSessionPlanHitPrefetchBuffer(
      session,
      keys.counter,
      keys.plan,
      keys.organization,
      ...prefetchArgs(keys.prefetch, ttlMs),
      sessionTtlSeconds,
    );
    if (!reply) return null;
    const [value, ...hit] = reply;
    return { session: value.toString(), hit: planHitOf(hit) };
  }

  override async onModuleDestroy(): Promise<void> {
    await closeRedisClient(this.redis);
  }
}
