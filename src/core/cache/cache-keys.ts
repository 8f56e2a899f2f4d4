import { orgTag } from '../redis/redis.constants';

/**
 * Cache keys (without the `zyva:cache:` prefix). Every entry belongs to one
 * organization and carries its id as hash tag, so the entries, the fence, the
 * write marker and the index of one organization (and its plan and rate-limit
 * counters) share one hash slot: each cache script touches one slot.
 */
export const cacheKeys = {
  org: (orgId: string) => `org:${orgTag(orgId)}`,
  dashboard: (orgId: string) => `stats:${orgTag(orgId)}:dashboard`,
  contacts: (orgId: string, query: string) => `contacts:${orgTag(orgId)}:${query}`,
};

/** Keyv namespace: Keyv joins it to every key with `:`. */
export const CACHE_NAMESPACE = 'zyva:cache';
export const CACHE_PREFIX = `${CACHE_NAMESPACE}:`;

export const CACHE_TTL_SECONDS = {
  org: 1800,
  dashboard: 300,
  contacts: 300,
};

/**
 * Bookkeeping keys of an organization (full names, raw Redis):
 * - fence: bumped by every invalidation; a value loaded while it moved is not kept;
 * - writing: how many writes of the organization are in progress (expires on its own); no value is stored meanwhile;
 * - index: the organization's contact-list keys, so invalidating them never scans the keyspace;
 * - version: beside a serialized-body entry (the key relative to the prefix), a short name of the bytes it
 *   holds, written with it and expiring with it, so a reader holding those bytes need not fetch them again.
 */
export const cacheBookkeeping = {
  fence: (orgId: string) => `${CACHE_PREFIX}fence:${orgTag(orgId)}`,
  writing: (orgId: string) => `${CACHE_PREFIX}writing:${orgTag(orgId)}`,
  index: (orgId: string) => `${CACHE_PREFIX}index:${orgTag(orgId)}`,
  version: (key: string) => `${CACHE_PREFIX}version:${key}`,
};

/** Outlives every cached value, so a fence read before a load is still there when the load ends. */
export const BOOKKEEPING_TTL_SECONDS = 2 * 3600;

/**
 * How long a write keeps new values out of the cache if it never says it is
 * done (Redis went away before the end of the write): longer than any write
 * takes, short enough that reads are cached again soon after.
 */
export const WRITE_MARKER_TTL_MS = 60_000;

/** The plan copied out of the cached organization (`zyva:plan:{orgId}`): lives long, so the plan limiter rarely needs Postgres. */
export const PLAN_TTL_SECONDS = 30 * 86_400;

/** The organization a cache key (or key pattern) belongs to: the id inside its hash tag. */
export function ownerOf(key: string): string | undefined {
  const owner = /^[^:{}]+:\{([^{}]+)\}/.exec(key)?.[1];
  return owner && !/[*?[\]]/.test(owner) ? owner : undefined;
}
