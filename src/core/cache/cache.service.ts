import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Inject, Injectable, Logger, OnModuleInit, ServiceUnavailableException } from '@nestjs/common';
import type { Cache } from 'cache-manager';
import type { Keyv } from 'keyv';
import { createHash } from 'node:crypto';
import { BoundedMap } from '../memo/bounded-map';
import { REDIS, keys } from '../redis/redis.constants';
import { type RedisClient, scanKeys, unlinkKeys } from '../redis/redis.connection';
import { CACHE_CLIENT } from './cache.tokens';
import {
  BOOKKEEPING_TTL_SECONDS,
  CACHE_PREFIX,
  PLAN_TTL_SECONDS,
  WRITE_MARKER_TTL_MS,
  cacheBookkeeping,
  cacheKeys,
  ownerOf,
} from './cache-keys';

export interface CacheLookup<T> {
  value: T;
  /** True when the value came from Redis, false when `load` computed it (the `X-Cache` header). */
  hit: boolean;
}

export interface LookupOptions {
  /** Record the key in its organization's index of contact lists, so invalidating them never scans. */
  indexed?: boolean;
  /** The entry as already fetched in this request (by the rate limiter's script); a miss is read again. */
  prefetched?: Buffer;
  /** The version Redis held beside `prefetched`, read in the same script. */
  version?: string | null;
  /**
   * The body this process holds for the key (`memoOf`), when the rate
   * limiter's script found its version still in Redis: answered as is.
   */
  unchanged?: CachedBody;
  /**
   * The fill already begun by the rate limiter's script, which found the entry absent: the organization's fence
   * then (what BEGIN_FILL answers), or null when a write was in progress (the value is not stored).
   */
  fence?: string | null;
}

/** A decoded body kept in process: the bytes Redis held, what they decode to, and their version when it is known. */
export interface CachedBody {
  readonly raw: Buffer;
  readonly body: Buffer;
  version?: string;
}

export interface WriteOptions {
  /** The write may change the organization's plan: the plan kept for the limiter is dropped as well. */
  plan?: boolean;
}

/** Redis could not be told about a write before it started, so the write was refused and nothing changed. */
export class CacheWriteUnavailableError extends ServiceUnavailableException {
  constructor() {
    super('Changes are paused for a moment (the cache cannot be updated); nothing was changed. Try again shortly.');
  }
}

/**
 * Every script below touches the keys of one organization only (fence, write
 * marker, index, entries, plan), which share the organization's hash tag: one
 * slot on a Redis Cluster.
 */

/** Before a load: the fence to compare at the end, or nil while a write of the organization is in progress (nothing will be stored). */
const BEGIN_FILL = `
if redis.call('EXISTS', KEYS[2]) == 1 then return false end
return redis.call('GET', KEYS[1]) or '0'`;

/**
 * Stores a loaded value only if no invalidation happened since the load began
 * (fence unchanged) and no write is in progress, atomically, so a stale value
 * is never in Redis even for a moment. With it, the entry's index membership,
 * the organization's plan (copied out of its cached organization), and for a
 * serialized body its version (KEYS[6], ARGV[8]), expiring at the entry's
 * very instant.
 */
const COMMIT_FILL = `
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
if ARGV[8] ~= '' then redis.call('SET', KEYS[6], ARGV[8], 'PXAT', redis.call('PEXPIRETIME', KEYS[3])) end
if ARGV[4] == '1' then
  redis.call('SADD', KEYS[4], KEYS[3])
  if ARGV[8] ~= '' then redis.call('SADD', KEYS[4], KEYS[6]) end
  redis.call('EXPIRE', KEYS[4], ARGV[5])
end
if ARGV[6] ~= '' then redis.call('SET', KEYS[5], ARGV[6], 'EX', ARGV[7]) end
return 1`;

/**
 * Everything cached for one organization: bumps the fence, drops its contact
 * lists (and their versions, listed in the index too), its organization and
 * stats with the stats' version (and its plan when asked). ARGV[1] is the
 * phase: 'begin' also counts a write in progress (the marker, expiring on its
 * own), 'end' uncounts it, 'now' is a plain invalidation.
 */
const INVALIDATE_ORG = `
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
if ARGV[1] == 'begin' then
  redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
local members = redis.call('SMEMBERS', KEYS[3])
for i = 1, #members, 500 do
  redis.call('UNLINK', unpack(members, i, math.min(i + 499, #members)))
end
local removed = redis.call('UNLINK', KEYS[3], KEYS[4], KEYS[5], KEYS[7]) + #members
if ARGV[2] == '1' then removed = removed + redis.call('UNLINK', KEYS[6]) end
if ARGV[1] == 'end' and redis.call('DECR', KEYS[2]) <= 0 then redis.call('DEL', KEYS[2]) end
return removed`;

/** Bumps an organization's fence: a value loaded before this is not kept. */
const BUMP_FENCE = `
redis.call('INCR', KEYS[1])
return redis.call('EXPIRE', KEYS[1], ARGV[1])`;

/** A Keyv envelope whose value is a serialized JSON body (Keyv leaves strings not starting with `:` as they are). */
const BODY_ENTRY = /^\{"value":"[{[]/;
/** Decoded bodies kept in process (a few MB at most), least recently stored dropped first. */
const BODY_MEMO_ENTRIES = 500;
/** Organizations whose local writes are counted (one dropped meanwhile only skips a fill). */
const LOCAL_WRITE_ENTRIES = 10_000;

type ScriptRunner = (...keysThenArgs: (string | number)[]) => Promise<unknown>;
type Phase = 'begin' | 'end' | 'now';

/**
 * The JSON cache under `zyva:cache:`, one organization per hash tag. Values
 * are read with one GET on the cache store's connection and decoded as
 * `@nestjs/cache-manager` (Keyv over `cache-manager-ioredis-yet`) decodes them,
 * or fetched by the rate limiter's script in the same request; they are
 * written in the library's own format by a script on the command connection,
 * which checks the organization's fence in the same step.
 *
 * - Reads fail open: a Redis outage is a miss served from the source, logged
 *   once when it starts and once when it ends.
 * - Concurrent misses of one key in this process share one load.
 * - No stale entry: every invalidation bumps the organization's fence, and a
 *   value whose load overlapped a bump, or a write in progress, is not stored.
 * - Writes go through `writing()`: the entries are gone before the write
 *   starts and again before it answers, and none is stored while it runs. If
 *   Redis fails before the write, the write is refused (503); if it fails at
 *   the end, the write marker (expiring by itself) still keeps stale values out.
 * - Storing the organization also stores its plan under `zyva:plan:{orgId}`
 *   for 30 days, read by the plan limiter, so a cached read needs no Postgres.
 */
@Injectable()
export class CacheService implements OnModuleInit {
  private readonly logger = new Logger(CacheService.name);
  private readonly inflight = new Map<string, Promise<unknown>>();
  private failing = false;
  private keyv!: Keyv;
  private readonly bodies = new BoundedMap<string, CachedBody>(BODY_MEMO_ENTRIES);
  /** How many writes and invalidations of each organization this process began or ended (see `fill`). */
  private readonly localWrites = new BoundedMap<string, number>(LOCAL_WRITE_ENTRIES);
  private readonly scripts: Record<'beginFill' | 'commitFill' | 'invalidateOrg' | 'bumpFence', ScriptRunner>;

  constructor(
    @Inject(CACHE_MANAGER) private readonly cache: Cache,
    @Inject(CACHE_CLIENT) private readonly client: RedisClient,
    @Inject(REDIS) private readonly redis: RedisClient,
  ) {
    // A fixed number of keys per script: the first argument is then a key, which is what ioredis' auto-pipelining
    // groups commands by on a cluster (with a per-call key count it would group by the count, mixing nodes).
    const define = (name: string, numberOfKeys: number, lua: string): ScriptRunner => {
      const command = `zyvaCache${name}`;
      if (!(command in redis)) redis.defineCommand(command, { numberOfKeys, lua });
      return (...keysThenArgs) => (redis as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[command](...keysThenArgs);
    };
    this.scripts = {
      beginFill: define('BeginFill', 2, BEGIN_FILL),
      commitFill: define('CommitFill', 6, COMMIT_FILL),
      invalidateOrg: define('InvalidateOrg', 7, INVALIDATE_ORG),
      bumpFence: define('BumpFence', 1, BUMP_FENCE),
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
    ownerOrThrow(key);
    const raw = options.prefetched ?? (await this.readRaw(key));
    const cached = raw ? await this.decode<T>(key, raw) : undefined;
    if (cached !== undefined && cached !== null) return { value: cached, hit: true };
    return { value: await this.loadOnce(key, ttlSeconds, load, options), hit: false };
  }

  /**
   * A serialized response body (JSON text) as bytes ready to send. Same entry
   * format as `lookup`, plus a small in-process memo keyed by the exact bytes
   * Redis answered: a hit whose bytes did not change reuses the decoded body
   * instead of parsing and encoding it again. Redis stays the source of truth:
   * the memo is answered as is only when the rate limiter's script found, in
   * the same request, that Redis still holds its version (`unchanged`).
   */
  async lookupBody(key: string, ttlSeconds: number, render: () => Promise<string>, options: LookupOptions = {}): Promise<CacheLookup<Buffer>> {
    const cached = await this.cachedBody(key, options);
    if (cached) return { value: cached, hit: true };
    return { value: Buffer.from(await this.loadOnce(key, ttlSeconds, render, options, true)), hit: false };
  }

  /** The hit half of `lookupBody`: the cached body, or undefined when it must be rendered. */
  async cachedBody(key: string, options: LookupOptions = {}): Promise<Buffer | undefined> {
    ownerOrThrow(key);
    if (options.unchanged) return options.unchanged.body;
    const raw = options.prefetched ?? (await this.readRaw(key));
    if (!raw) return undefined;
    const version = options.prefetched ? (options.version ?? undefined) : undefined;
    const memo = this.bodies.get(key);
    if (memo && memo.raw.equals(raw)) {
      // The same bytes, read with their version: a later request may name it instead of fetching them.
      if (version) memo.version = version;
      return memo.body;
    }
    const text = await this.decode<unknown>(key, raw);
    return typeof text === 'string' ? this.remember(key, raw, text, version) : undefined;
  }

  /** The body this process holds for a key, if it knows the version of its bytes (for the rate limiter's script to compare). */
  memoOf(key: string): CachedBody | undefined {
    const memo = this.bodies.get(key);
    return memo?.version ? memo : undefined;
  }

  /**
   * Runs a database write of an organization so that no read after it answers
   * can see what it made stale:
   * 1. one script drops the organization's entries and marks a write in
   *    progress; if Redis cannot run it, the write is refused with 503 before
   *    anything changed;
   * 2. `work()` runs; meanwhile no value of the organization is stored;
   * 3. the entries are dropped again and the mark removed, before the caller
   *    answers. If Redis fails here the write still stands (it is committed)
   *    and the mark, expiring by itself, keeps values loaded before the commit
   *    out of the cache.
   */
  async writing<T>(orgId: string, work: () => Promise<T>, options: WriteOptions = {}): Promise<T> {
    this.forgetLocal(orgId);
    try {
      await this.invalidateOrg(orgId, 'begin', options.plan === true);
    } catch (error) {
      this.logger.warn(`Write of organization ${orgId} refused: its cache cannot be invalidated (${(error as Error).message})`);
      throw new CacheWriteUnavailableError();
    }
    try {
      return await work();
    } finally {
      this.forgetLocal(orgId);
      await this.invalidateOrg(orgId, 'end', options.plan === true).catch((error: Error) =>
        this.logger.warn(
          `Caches of organization ${orgId} not invalidated after a write (${error.message}); ` +
            `nothing is cached for it until its write mark expires (${WRITE_MARKER_TTL_MS / 1000} s)`,
        ),
      );
    }
  }

  /** Deletes every key matching `pattern` (a glob, relative to the cache prefix) with SCAN + UNLINK on every node, never KEYS. */
  async invalidate(pattern: string): Promise<number> {
    const owner = ownerOf(pattern);
    if (owner) await this.scripts.bumpFence(cacheBookkeeping.fence(owner), BOOKKEEPING_TTL_SECONDS);
    const matches = globToRegExp(pattern);
    this.forgetInflight((key) => matches.test(key));
    let removed = 0;
    for await (const found of scanKeys(this.redis, CACHE_PREFIX + pattern)) removed += await unlinkKeys(this.redis, found);
    return removed;
  }

  /**
   * Drops some entries (of one or more organizations), per organization and in
   * parallel: its fence first (a load that began before is not kept), then
   * its entries (one slot, one UNLINK).
   */
  async del(...entries: string[]): Promise<void> {
    const byOwner = new Map<string, string[]>();
    for (const key of entries) {
      const owner = ownerOrThrow(key);
      byOwner.set(owner, [...(byOwner.get(owner) ?? []), key]);
    }
    const wanted = new Set(entries);
    this.forgetInflight((key) => wanted.has(key));
    for (const key of entries) this.bodies.delete(key);
    await Promise.all(
      [...byOwner].map(async ([owner, owned]) => {
        await this.scripts.bumpFence(cacheBookkeeping.fence(owner), BOOKKEEPING_TTL_SECONDS);
        await this.redis.unlink(...owned.flatMap((k) => [CACHE_PREFIX + k, cacheBookkeeping.version(k)]));
      }),
    );
  }

  /** Everything cached for one organization, its plan included: its organization, its stats and its contact lists. */
  async invalidateOrganization(orgId: string): Promise<void> {
    this.forgetLocal(orgId);
    await this.invalidateOrg(orgId, 'now', true);
  }

  private invalidateOrg(orgId: string, phase: Phase, plan: boolean): Promise<unknown> {
    return this.scripts.invalidateOrg(
      cacheBookkeeping.fence(orgId),
      cacheBookkeeping.writing(orgId),
      cacheBookkeeping.index(orgId),
      CACHE_PREFIX + cacheKeys.org(orgId),
      CACHE_PREFIX + cacheKeys.dashboard(orgId),
      keys.plan(orgId),
      cacheBookkeeping.version(cacheKeys.dashboard(orgId)),
      phase,
      plan ? '1' : '0',
      BOOKKEEPING_TTL_SECONDS,
      WRITE_MARKER_TTL_MS,
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

  /** The bytes `cache.set(key, value, ttl)` would store: Keyv's serialized envelope, as the store encodes a string. */
  private async encode(value: unknown, ttlMs: number): Promise<string> {
    return JSON.stringify(await this.keyv.serializeData({ value, expires: Date.now() + ttlMs }));
  }

  private remember(key: string, raw: Buffer, text: string, version?: string): Buffer {
    const body = Buffer.from(text);
    // A copy: the reply may be a slice of a larger socket read, which the memo would otherwise keep alive.
    this.bodies.set(key, { raw: Buffer.from(raw), body, version });
    return body;
  }

  /** `versioned`: the value is a serialized body, stored with its version. */
  private loadOnce<T>(key: string, ttlSeconds: number, load: () => Promise<T>, options: LookupOptions, versioned = false): Promise<T> {
    let flight = this.inflight.get(key) as Promise<T> | undefined;
    if (!flight) {
      const started: Promise<T> = this.fill(key, ttlSeconds, load, options, versioned).finally(() => {
        if (this.inflight.get(key) === started) this.inflight.delete(key);
      });
      this.inflight.set(key, started);
      flight = started;
    }
    return flight;
  }

  private async fill<T>(key: string, ttlSeconds: number, load: () => Promise<T>, options: LookupOptions, versioned: boolean): Promise<T> {
    const owner = ownerOrThrow(key);
    const fence = cacheBookkeeping.fence(owner);
    const writing = cacheBookkeeping.writing(owner);
    // undefined: Redis failed; null: a write is in progress. In both cases the value is not stored.
    let seen: string | null | undefined = options.fence;
    if (seen === undefined) {
      try {
        seen = (await this.scripts.beginFill(fence, writing)) as string | null;
      } catch (error) {
        this.failed(error);
      }
    }
    const writes = this.localWrites.get(owner);
    const value = await load();
    if (typeof seen !== 'string' || value === undefined || value === null) return value;
    // A write of the organization began or ended in this process meanwhile: it bumped the fence (or was refused),
    // so the value would not be kept; not storing it saves encoding it and the round trip.
    if (this.localWrites.get(owner) !== writes) return value;
    try {
      const ttlMs = ttlSeconds * 1000;
      const encoded = await this.encode(value, ttlMs);
      await this.scripts.commitFill(
        fence,
        writing,
        CACHE_PREFIX + key,
        cacheBookkeeping.index(owner),
        keys.plan(owner),
        cacheBookkeeping.version(key),
        seen,
        encoded,
        ttlMs,
        options.indexed ? '1' : '',
        BOOKKEEPING_TTL_SECONDS,
        key === cacheKeys.org(owner) ? planOf(value) : '',
        PLAN_TTL_SECONDS,
        versioned ? versionOf(encoded) : '',
      );
    } catch (error) {
      this.failed(error);
    }
    return value;
  }

  /** A write or invalidation in this process: loads in flight for the organization are not joined by later reads. */
  private forgetLocal(orgId: string): void {
    this.localWrites.set(orgId, (this.localWrites.get(orgId) ?? 0) + 1);
    this.forgetInflight((key) => ownerOf(key) === orgId);
    for (const key of this.bodies.keys()) if (ownerOf(key) === orgId) this.bodies.delete(key);
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

/** Every entry belongs to an organization (its hash tag); a key without one could not share a slot with its fence. */
function ownerOrThrow(key: string): string {
  const owner = ownerOf(key);
  if (!owner) throw new Error(`Cache key "${key}" names no organization: cache keys are <kind>:{<orgId>}…`);
  return owner;
}

/** The version of stored bytes: their hash (any two different entries of a key get different ones). */
function versionOf(encoded: string): string {
  return createHash('sha256').update(encoded).digest('base64url').slice(0, 24);
}

function planOf(value: unknown): string {
  const plan = (value as { plan?: unknown } | null)?.plan;
  return typeof plan === 'string' ? plan : '';
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
