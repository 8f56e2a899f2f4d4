/** Cache keys (without the `zyva:cache:` prefix) and their TTLs, from the design document. */
export const cacheKeys = {
  user: (userId: string) => `user:${userId}`,
  org: (orgId: string) => `org:${orgId}`,
  dashboard: (orgId: string) => `stats:${orgId}:dashboard`,
  contacts: (orgId: string, query: string) => `contacts:${orgId}:${query}`,
};

export const CACHE_PREFIX = 'zyva:cache:';

export const CACHE_TTL_SECONDS = {
  user: 3600,
  org: 1800,
  dashboard: 300,
  contacts: 300,
};
