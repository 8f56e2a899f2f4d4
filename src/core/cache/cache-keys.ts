/** Cache keys (without the `zyva:cache:` prefix) and their TTLs, from the design document. */
export const cacheKeys = {
  org: (orgId: string) => `org:${orgId}`,
  dashboard: (orgId: string) => `stats:${orgId}:dashboard`,
  contacts: (orgId: string, query: string) => `contacts:${orgId}:${query}`,
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
 * Bookkeeping keys (full names, raw Redis). The owner of a key is its second
 * segment (`org:{id}`, `stats:{id}:dashboard`, `contacts:{id}:…`).
 * - fence: bumped by every invalidation of that owner; a value loaded while it moved is not kept.
 * - index: the contact-list keys of an organization, so invalidating them never scans the keyspace.
 */
export const cacheBookkeeping = {
  fence: (owner: string) => `${CACHE_PREFIX}fence:${owner}`,
  index: (orgId: string) => `${CACHE_PREFIX}index:${orgId}`,
};

/** Outlives every cached value, so a fence read before a load is still there when the load ends. */
export const BOOKKEEPING_TTL_SECONDS = 2 * 3600;

export function ownerOf(key: string): string | undefined {
  const owner = key.split(':', 2)[1];
  return owner && !/[*?[\]]/.test(owner) ? owner : undefined;
}
