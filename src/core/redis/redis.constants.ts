/** Injection token of the shared command connection (cache, sessions, tokens, limits). */
export const REDIS = Symbol('REDIS');

/** Prefix of every Zyva key outside BullMQ's own `bull:{queue}:…`. */
export const KEY_PREFIX = 'zyva:';

export const keys = {
  session: (token: string) => `${KEY_PREFIX}session:${token}`,
  userSessions: (userId: string) => `${KEY_PREFIX}user-sessions:${userId}`,
  emailToken: (token: string) => `${KEY_PREFIX}token:email:${token}`,
  resetToken: (token: string) => `${KEY_PREFIX}token:reset:${token}`,
  messageQuota: (orgId: string) => `${KEY_PREFIX}limits:${orgId}:messages`,
};
