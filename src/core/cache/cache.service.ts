import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Inject, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import type Redis from 'ioredis';
import type { Keyv } from 'keyv';
import { REDIS } from '../redis/redis.constants';
import { CACHE_CLIENT } from './cache.tokens';
import { BOOKKEEPING_TTL_SECONDS, CACHE_PREFIX, cacheBookkeeping, cacheKeys, ownerOf } from './cache-keys';

export interface CacheLookup<T> {
  value: T;
  /** True when the value came from Redis, false when `load` computed it (the `X-Cache` header). */
  hit: boolean;
}

export interface LookupOptions {
  /** Record the key in this organization's index of contact lists, so invalidating them never scans. */
  indexFor?: string;
  /** The entry as already fetched in this request (by the rate limiter's script); a miss is read again. */
  prefetched?: Buffer;
}

/** Fence read and, for indexed keys, index registration, in one round trip before a load. */
const BEGIN_FILL = `
if ARGV[2] ~= '' then
  redis.call('SADD', KEYS[2], ARGV[2])
  redis.call('EXPIRE', KEYS[2], ARGV[1])
end
return redis.call('GET', KEYS[1]) or '0'`;

/** Drops a freshly stored value if its owner was invalidated while it was being loaded. */
const VERIFY_FILL = `
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then
  redis.call('UNLINK', KEYS[2])
  return 0
end
return 1`;

/** Everything cached for one organization, in one round trip: fence, its contact lists, the organization, its stats. */
const INVALIDATE_ORG = `
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
local members = redis.call('SMEMBERS', KEYS[2])
for i = 1, #members, 500 do
  redis.call('UNLINK', unpack(members, i, math.min(i + 499, #members)))
end
return redis.call('UNLINK', KEYS[2], KEYS[3], KEYS[4]) + #members`;

/** A Keyv envelope whose value is a serialized JSON body (Keyv leaves strings not starting with `:` as they are). */
const BODY_ENTRY = /^\{"value":"[{[]/;
/** Decoded bodies kept in process (a few MB at most), least recently stored dropped first. */
const BODY_MEMO_ENTRIES = 500;

type ScriptRunner = (keyCount: number, ...args: (string | number)[]) => Promise<unknown>;

/**
 * The JSON cache under `zyva:cache:`. Values are written through
 * `@nestjs/cache-manager` (Keyv over `cache-manager-ioredis-yet`) and read with
 * one GET on the store's own connection, decoded as the library decodes them
 * (or fetched by the rate limiter's script in the same request); fences,
 * indexes and invalidation run on the command connection.
 *
 * - Reads fail open: a Redis outage is a miss served from the source, logged
 *   once when it starts and once when it ends.
 * - Concurrent misses of one key in this process share one load.
 * - No stale refill: every invalidation bumps its owner's fence first, and a
 *   value whose load overlapped a bump is deleted right after it is stored.
 *   Invalidating an organization also forgets the loads in flight for it, so a
 *   read that starts after a write never joins a load that started before it.
 */
@Injectable()
export class CacheService implements OnModuleInit {
  private readonly logger = new Logger(CacheService.name);
  private readonly inflight = new Map<string, Promise<unknown>>();
  private failing = false;
  private keyv!: Keyv;
  private readonly bodies = new Map<string, { raw: Buffer; body: Buffer }>();
  private readonly scripts: Record<'begin' | 'verify' | 'invalidateOrg', ScriptRunner>;

  constructor(
    @Inject(CACHE_MANAGER) private readonly cache: Cache,
    @Inject(CACHE_CLIENT) private readonly client: Redis,
    @Inject(REDIS) private readonly redis: Redis,
  ) {
    const define = (name: string, lua: string): ScriptRunner => {
      const command = `zyvaCache${name}`;
      if (!(command in redis)) redis.defineCommand(command, { lua });
      return (keyCount, ...args) => (redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[command](keyCount, ...args);
    };
    this.scripts = {
      begin: define('BeginFill', BEGIN_FILL),
      verify: define('VerifyFill', VERIFY_FILL),
      invalidateOrg: define('InvalidateOrg', INVALIDATE_ORG),
    };
  }

  onModuleInit(): void {
    // cache-manager swallows store errors on reads and reports them as events: that is where an outage shows.
    this.cache.on('get', (event: { error?: unknown }) => (event.error ? this.failed(event.error) : this.recovered()));
    this.keyv = this.cache.stores[0];
  }

  async getOrSet<T>(key: string, ttlSeconds: number, load: () => Promise<T>, options?: LookupOptions): Promise<T> {
    return (await this.lookup(key, ttlSeconds, load, options)).value;
  }

  async lookup<T>(key: string, ttlSeconds: number, load: () => Promise<T>, options: LookupOptions = {}): Promise<CacheLookup<T>> {
    const raw = options.prefetched ?? (await this.readRaw(key));
    const cached = raw ? await this.decode<T>(key, raw) : undefined;
    if (cached !== undefined && cached !== null) return { value: cached, hit: true };
    return { value: await this.loadOnce(key, ttlSeconds, load, options), hit: false };
  }

  /**
   * A serialized response body (JSON text) as bytes ready to send. Same entry
   * format as `lookup`, plus a small in-process memo keyed by the exact bytes
   * Redis answered: a hit whose bytes did not change reuses the decoded body
   * instead of parsing and encoding it again. Redis stays the source of truth.
   */
  async lookupBody(key: string, ttlSeconds: number, render: () => Promise<string>, options: LookupOptions = {}): Promise<CacheLookup<Buffer>> {
    const raw = options.prefetched ?? (await this.readRaw(key));
    if (raw) {
      const memo = this.bodies.get(key);
      if (memo && memo.raw.equals(raw)) return { value: memo.body, hit: true };
      const text = await this.decode<unknown>(key, raw);
      if (typeof text === 'string') return { value: this.remember(key, raw, text), hit: true };
    }
    return { value: Buffer.from(await this.loadOnce(key, ttlSeconds, render, options)), hit: false };
  }

  /** Deletes every key matching `pattern` (a glob, relative to the cache prefix) with SCAN + UNLINK, never KEYS. */
  async invalidate(pattern: string): Promise<number> {
    const owner = ownerOf(pattern);
    if (owner) await this.bumpFences([owner]);
    this.forgetInflight((key) => globToRegExp(pattern).test(key));
    let cursor = '0';
    let removed = 0;
    do {
      const [next, found] = await this.redis.scan(cursor, 'MATCH', CACHE_PREFIX + pattern, 'COUNT', 1000);
      cursor = next;
      if (found.length > 0) removed += await this.redis.unlink(...found);
    } while (cursor !== '0');
    return removed;
  }

  async del(...keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    const owners = [...new Set(keys.map(ownerOf).filter((o): o is string => o !== undefined))];
    const wanted = new Set(keys);
    this.forgetInflight((key) => wanted.has(key));
    const tx = this.redis.multi();
    for (const owner of owners) tx.incr(cacheBookkeeping.fence(owner)).expire(cacheBookkeeping.fence(owner), BOOKKEEPING_TTL_SECONDS);
    await execOrThrow(tx.unlink(...keys.map((k) => CACHE_PREFIX + k)));
  }

  /** Everything cached for one organization: the organization, its stats and its contact lists. */
  async invalidateOrganization(orgId: string): Promise<void> {
    this.forgetInflight((key) => ownerOf(key) === orgId);
    for (const key of this.bodies.keys()) if (ownerOf(key) === orgId) this.bodies.delete(key);
    await this.scripts.invalidateOrg(
      4,
      cacheBookkeeping.fence(orgId),
      cacheBookkeeping.index(orgId),
      CACHE_PREFIX + cacheKeys.org(orgId),
      CACHE_PREFIX + cacheKeys.dashboard(orgId),
      BOOKKEEPING_TTL_SECONDS,
    );
  }

  /** One GET on the store's connection; undefined (a miss) when Redis fails. */
  private async readRaw(key: string): Promise<Buffer | null | undefined> {
    try {
      const raw = await this.client.getBuffer(CACHE_PREFIX + key);
      if (this.failing) this.recovered();
      return raw;
    } catch (error) {
      this.failed(error);
      return undefined;
    }
  }

  /**
   * Decodes an entry as the library would: the store keeps a JSON string
   * (telejson, which for a string is plain JSON) holding Keyv's
   * `{ value, expires }`. Serialized bodies (strings starting with `{` or `[`)
   * skip Keyv's reviver, which only rewrites strings that start with `:`;
   * anything else goes through Keyv's own deserializer, or through the library
   * altogether if the entry is not in that shape.
   */
  private async decode<T>(key: string, raw: Buffer): Promise<T | undefined> {
    const envelope = parseJson(raw.toString());
    if (typeof envelope !== 'string') return this.cache.get<T>(key);
    const entry = (BODY_ENTRY.test(envelope) ? JSON.parse(envelope) : await this.keyv.deserialize?.(envelope)) as
      | { value?: T; expires?: number }
      | undefined;
    if (!entry || (typeof entry.expires === 'number' && Date.now() > entry.expires)) return undefined;
    return entry.value;
  }

  private remember(key: string, raw: Buffer, text: string): Buffer {
    const body = Buffer.from(text);
    this.bodies.delete(key);
    this.bodies.set(key, { raw, body });
    if (this.bodies.size > BODY_MEMO_ENTRIES) this.bodies.delete(this.bodies.keys().next().value!);
    return body;
  }

  private loadOnce<T>(key: string, ttlSeconds: number, load: () => Promise<T>, options: LookupOptions): Promise<T> {
    let flight = this.inflight.get(key) as Promise<T> | undefined;
    if (!flight) {
      const started: Promise<T> = this.fill(key, ttlSeconds, load, options).finally(() => {
        if (this.inflight.get(key) === started) this.inflight.delete(key);
      });
      this.inflight.set(key, started);
      flight = started;
    }
    return flight;
  }

  private async fill<T>(key: string, ttlSeconds: number, load: () => Promise<T>, options: LookupOptions): Promise<T> {
    const owner = ownerOf(key) ?? '-';
    const fullKey = CACHE_PREFIX + key;
    const index = options.indexFor ? cacheBookkeeping.index(options.indexFor) : cacheBookkeeping.index('-');
    let fence: string | undefined;
    try {
      fence = (await this.scripts.begin(2, cacheBookkeeping.fence(owner), index, BOOKKEEPING_TTL_SECONDS, options.indexFor ? fullKey : '')) as string;
    } catch (error) {
      this.failed(error);
    }
    const value = await load();
    if (fence === undefined || value === undefined || value === null) return value;
    try {
      await this.cache.set(key, value, ttlSeconds * 1000);
      await this.scripts.verify(2, cacheBookkeeping.fence(owner), fullKey, fence);
    } catch (error) {
      this.failed(error);
    }
    return value;
  }

  private async bumpFences(owners: string[]): Promise<void> {
    const tx = this.redis.multi();
    for (const owner of owners) tx.incr(cacheBookkeeping.fence(owner)).expire(cacheBookkeeping.fence(owner), BOOKKEEPING_TTL_SECONDS);
    await execOrThrow(tx);
  }

  private forgetInflight(matches: (key: string) => boolean): void {
    for (const key of this.inflight.keys()) if (matches(key)) this.inflight.delete(key);
  }

  private failed(error: unknown): void {
    if (!this.failing) this.logger.warn(`Cache unavailable, serving from the database: ${(error as Error)?.message ?? String(error)}`);
    this.failing = true;
  }

  private recovered(): void {
    if (this.failing) this.logger.log('Cache available again');
    this.failing = false;
  }
}

async function execOrThrow(tx: ReturnType<Redis['multi']>): Promise<void> {
  const results = await tx.exec();
  const failure = results?.find(([error]) => error);
  if (failure) throw failure[0];
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    return error; // not ours to read fast: the library decides
  }
}

function globToRegExp(glob: string): RegExp {
  const source = glob.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`);
}
