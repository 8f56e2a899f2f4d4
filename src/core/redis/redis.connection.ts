import Redis, { type ChainableCommander, Cluster, type ClusterOptions, type RedisOptions } from 'ioredis';
import { parseClusterNodes, reconnectDelay, redisOptionsFromUrl } from './redis.options';

/** A connection to one Redis node or to a Redis Cluster: the same commands, routed by key on a cluster. */
export type RedisClient = Redis | Cluster;

/** Where Redis is: exactly one of the two is set (the env schema enforces it). */
export interface RedisTarget {
  REDIS_URL?: string;
  REDIS_CLUSTER_NODES?: string;
}

/**
 * How a connection behaves while Redis is unreachable:
 * - `fail-fast` (commands, cache, limiters): a command fails within about a
 *   second, so callers fail open or answer 503 instead of hanging;
 * - `queue` (BullMQ): commands wait for Redis to come back
 *   (`maxRetriesPerRequest: null`, which BullMQ requires);
 * - `probe` (health checks, the CLI): one attempt, no reconnection.
 */
export type ConnectionProfile = 'fail-fast' | 'queue' | 'probe';

export interface ConnectionSpec {
  /** Shown by `CLIENT LIST` on every node, so an operator can tell Zyva's connections apart. */
  name: string;
  profile: ConnectionProfile;
  /** Connect on the first command instead of at once. */
  lazy?: boolean;
  connectTimeoutMs?: number;
}

export const isCluster = (client: RedisClient): client is Cluster => (client as Cluster).isCluster === true;

function nodeOptions(spec: ConnectionSpec): RedisOptions {
  const options: RedisOptions = { connectionName: spec.name, lazyConnect: spec.lazy };
  if (spec.connectTimeoutMs) options.connectTimeout = spec.connectTimeoutMs;
  if (spec.profile === 'fail-fast') Object.assign(options, { maxRetriesPerRequest: 1, enableOfflineQueue: true, enableAutoPipelining: true });
  if (spec.profile === 'queue') Object.assign(options, { maxRetriesPerRequest: null, enableReadyCheck: false });
  if (spec.profile === 'probe') Object.assign(options, { maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  return options;
}

function clusterOptions(target: string, spec: ConnectionSpec): { nodes: { host: string; port: number }[]; options: ClusterOptions } {
  const seeds = parseClusterNodes(target);
  const redisOptions: RedisOptions = { ...nodeOptions(spec), username: seeds.username, password: seeds.password };
  // Node connections are lazy and never reconnect on their own: the cluster client re-reads the slot map instead.
  delete redisOptions.lazyConnect;
  delete redisOptions.retryStrategy;
  delete redisOptions.enableOfflineQueue;
  delete redisOptions.enableAutoPipelining;
  if (seeds.tls) redisOptions.tls = {};
  const options: ClusterOptions = {
    redisOptions,
    lazyConnect: spec.lazy,
    // Node addresses stay host names, so TLS verifies each node's certificate against its name.
    ...(seeds.tls ? { dnsLookup: (address: string, callback: (error: null, address: string) => void) => callback(null, address) } : {}),
  };
  if (spec.profile === 'fail-fast') {
    // Without the offline queue a command sent while the cluster reconnects fails at once (after the client's own
    // redirection retries) instead of waiting for it: the same fail-fast behaviour as one node.
    Object.assign(options, { enableAutoPipelining: true, enableOfflineQueue: false, clusterRetryStrategy: reconnectDelay });
  }
  if (spec.profile === 'queue') Object.assign(options, { enableOfflineQueue: true, enableReadyCheck: true, clusterRetryStrategy: reconnectDelay });
  if (spec.profile === 'probe') Object.assign(options, { enableOfflineQueue: false, clusterRetryStrategy: () => null });
  return { nodes: seeds.nodes, options };
}

/**
 * The one place Zyva opens a Redis connection: one node from `REDIS_URL`, or
 * ioredis' cluster client from `REDIS_CLUSTER_NODES` (password and TLS from
 * the URLs). Nothing else constructs `new Redis(...)`.
 *
 * What holds on a cluster, and so everywhere: a script, MULTI or multi-key
 * command touches keys of one hash slot only (give them a common `{tag}`);
 * a script is defined with a fixed `numberOfKeys`, so that its first argument
 * is a key, which the fail-fast connections' auto-pipelining groups commands
 * by; SCAN and INFO go to every node (`scanKeys`, `dataNodes`).
 */
export function createRedisClient(target: RedisTarget, spec: ConnectionSpec): RedisClient {
  if (target.REDIS_CLUSTER_NODES) {
    const { nodes, options } = clusterOptions(target.REDIS_CLUSTER_NODES, spec);
    return new Cluster(nodes, options);
  }
  if (!target.REDIS_URL) throw new Error('Neither REDIS_URL nor REDIS_CLUSTER_NODES is set');
  const options = redisOptionsFromUrl(target.REDIS_URL, nodeOptions(spec));
  if (spec.profile === 'probe') options.retryStrategy = () => null;
  return new Redis(options);
}

/** Each seed of a cluster as a one-node target (same credentials and TLS), to diagnose a cluster that cannot be reached. */
export function seedTargets(target: RedisTarget): RedisTarget[] {
  if (!target.REDIS_CLUSTER_NODES) return [target];
  const seeds = parseClusterNodes(target.REDIS_CLUSTER_NODES);
  const auth = seeds.password ? `${encodeURIComponent(seeds.username ?? '')}:${encodeURIComponent(seeds.password)}@` : '';
  return seeds.nodes.map(({ host, port }) => ({ REDIS_URL: `${seeds.tls ? 'rediss' : 'redis'}://${auth}${host.includes(':') ? `[${host}]` : host}:${port}` }));
}

/**
 * Resolves once the client is connected, or on its first connection error,
 * or after `timeoutMs`: whichever comes first. A fail-fast cluster client
 * refuses commands until it has read the slot map, so the app waits for that
 * at startup; a Redis that is down does not hold the startup up for long.
 */
export function settled(client: RedisClient, timeoutMs = 5000): Promise<void> {
  if (client.status === 'ready' || client.status === 'end') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      client.off('ready', done);
      client.off('error', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    timer.unref();
    client.once('ready', done);
    client.once('error', done);
  });
}

/** QUIT when connected (pending replies arrive); otherwise drop the socket, since QUIT would wait for a Redis that may never come back. */
export async function closeRedisClient(client: RedisClient): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  await client.quit().catch(() => client.disconnect());
}

/** Every node that holds data (the masters of a cluster, or the one node), each an ordinary connection. */
export function dataNodes(client: RedisClient): Redis[] {
  return isCluster(client) ? client.nodes('master') : [client];
}

/** `host:port` of a node, for logs and statistics (never credentials). */
export function nodeAddress(node: Redis): string {
  return `${node.options.host}:${node.options.port}`;
}

/**
 * Every key matching `pattern`, with SCAN (never KEYS), on every node that
 * holds data: on a cluster SCAN only walks the node it is sent to.
 */
export async function* scanKeys(client: RedisClient, pattern: string, count = 1000): AsyncGenerator<string[]> {
  for (const node of dataNodes(client)) {
    let cursor = '0';
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count);
      cursor = next;
      if (found.length > 0) yield found;
    } while (cursor !== '0');
  }
}

/** Deletes keys that may live in different hash slots: one UNLINK per key (auto-pipelined), never one multi-slot command. */
export async function unlinkKeys(client: RedisClient, keys: string[]): Promise<number> {
  if (!isCluster(client)) return keys.length === 0 ? 0 : client.unlink(...keys);
  const removed = await Promise.all(keys.map((key) => client.unlink(key)));
  return removed.reduce((sum, n) => sum + n, 0);
}

/** Runs a MULTI (keys of one slot only) and answers its replies, throwing the first command error instead of returning it. */
export async function execOrThrow(tx: ChainableCommander): Promise<unknown[]> {
  const results = await tx.exec();
  if (!results) throw new Error('MULTI was aborted');
  const failure = results.find(([error]) => error);
  if (failure) throw failure[0];
  return results.map(([, reply]) => reply);
}
