import type { RedisOptions } from 'ioredis';

/**
 * Connection options from a `redis://` or `rediss://` URL (TLS for the latter,
 * `/db` index honoured), with the design's retry strategy: back off 50 ms per
 * attempt up to 2 s, forever, so a Redis restart is survived.
 */
export function redisOptionsFromUrl(url: string, extra: RedisOptions = {}): RedisOptions {
  const parsed = new URL(url);
  const db = parsed.pathname && parsed.pathname !== '/' ? Number(parsed.pathname.slice(1)) : 0;
  return {
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : 6379,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: Number.isInteger(db) ? db : 0,
    tls: parsed.protocol === 'rediss:' ? { servername: parsed.hostname } : undefined,
    retryStrategy: (times: number) => Math.min(times * 50, 2000),
    ...extra,
  };
}
