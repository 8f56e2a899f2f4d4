/** Injection token of the shared command connection (cache bookkeeping, sessions, tokens, quotas). */
export const REDIS = Symbol('REDIS');

/** Prefix of every Zyva key outside BullMQ's own `bull:{queue}:…`. */
export const KEY_PREFIX = 'zyva:';

/**
 * The hash tag of an organization: every key of one organization carries it,
 * so a script touching several of them stays in one slot of a Redis Cluster
 * (and the same layout serves one node, so a later move needs nothing).
 */
export function orgTag(orgId: string): string {
  if (/[{}]/.test(orgId)) throw new Error(`An organization id cannot contain braces: ${orgId}`);
  return `{${orgId}}`;
}

/**
 * Session, token and per-user keys keep their part-one names (no tag): they
 * are never touched together by one script or MULTI.
 */
export const keys = {
  session: (token: string) => `${KEY_PREFIX}session:${token}`,
  userSessions: (userId: string) => `${KEY_PREFIX}user-sessions:${userId}`,
  emailToken: (token: string) => `${KEY_PREFIX}token:email:${token}`,
  resetToken: (token: string) => `${KEY_PREFIX}token:reset:${token}`,
  messageQuota: (orgId: string) => `${KEY_PREFIX}limits:${orgTag(orgId)}:messages`,
  /** The organization's plan, kept long so the plan limiter does not need Postgres (see CacheService). */
  plan: (orgId: string) => `${KEY_PREFIX}plan:${orgTag(orgId)}`,
};
