/** ioredis' ways of saying the connection is gone (its commands fail fast on the command connection). */
const REDIS_DOWN = /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|CLUSTERDOWN|TRYAGAIN/;

/** Redis cannot be reached right now (not a refused command: those are bugs). */
export function isRedisUnavailable(error: unknown): boolean {
  const e = error as { name?: string; message?: string } | undefined;
  return e?.name === 'MaxRetriesPerRequestError' || (typeof e?.message === 'string' && REDIS_DOWN.test(e.message));
}
