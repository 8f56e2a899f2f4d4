import type { RedisOptions } from 'ioredis';

/** The design's retry strategy: back off 50 ms per attempt up to 2 s, forever, so a Redis restart is survived. */
export const reconnectDelay = (times: number) => Math.min(times * 50, 2000);

/**
 * Connection options from a `redis://` or `rediss://` URL (TLS for the latter,
 * `/db` index honoured), with the design's retry strategy.
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
    retryStrategy: reconnectDelay,
    ...extra,
  };
}

export interface ClusterSeeds {
  nodes: { host: string; port: number }[];
  /** Applied to every node of the cluster, the ones discovered from the seeds included. */
  username?: string;
  password?: string;
  tls: boolean;
}

/** A host name (Docker's service names may hold `_`), an IPv4 address, or an IPv6 one in brackets; then the port. */
const HOST_PORT = /^([A-Za-z0-9._-]+|\[[0-9A-Fa-f:]+\]):(\d{1,5})$/;

/**
 * `REDIS_CLUSTER_NODES`: comma-separated seeds, each `host:port` or a
 * `redis://` / `rediss://` URL. Credentials and TLS come from the URLs and
 * hold for the whole cluster (ioredis applies one set of node options to every
 * node it discovers), so seeds that disagree on them are refused rather than
 * half applied. Errors never repeat a password.
 */
export function parseClusterNodes(value: string): ClusterSeeds {
  const seeds: ClusterSeeds = { nodes: [], tls: false };
  let credentials: string | undefined;
  let scheme: string | undefined;
  const items = value.split(',').map((item) => item.trim()).filter(Boolean);
  if (items.length === 0) throw new Error('REDIS_CLUSTER_NODES names no node');
  for (const item of items) {
    const plain = HOST_PORT.exec(item);
    if (plain) {
      seeds.nodes.push({ host: plain[1].replace(/^\[|\]$/g, ''), port: Number(plain[2]) });
      continue;
    }
    if (!/^rediss?:\/\//.test(item)) throw new Error('each REDIS_CLUSTER_NODES entry must be host:port or a redis:// or rediss:// URL');
    let url: URL;
    try {
      url = new URL(item);
    } catch {
      throw new Error('a REDIS_CLUSTER_NODES entry is not a valid URL');
    }
    if (url.pathname && url.pathname !== '/' && url.pathname !== '/0') {
      throw new Error('REDIS_CLUSTER_NODES URLs take no /db index: a Redis Cluster only has database 0');
    }
    const own = `${url.username}:${url.password}`;
    if ((credentials !== undefined && credentials !== own) || (scheme !== undefined && scheme !== url.protocol)) {
      throw new Error('REDIS_CLUSTER_NODES URLs must all use the same scheme and credentials');
    }
    credentials = own;
    scheme = url.protocol;
    seeds.nodes.push({ host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port ? Number(url.port) : 6379 });
    if (url.username) seeds.username = decodeURIComponent(url.username);
    if (url.password) seeds.password = decodeURIComponent(url.password);
    seeds.tls = url.protocol === 'rediss:';
  }
  if (seeds.nodes.some((node) => node.port < 1 || node.port > 65535)) throw new Error('a REDIS_CLUSTER_NODES port is out of range');
  return seeds;
}
