/**
 * Container health check: `node dist/healthcheck.js` exits 0 when healthy, 1 otherwise.
 *
 * - `api` and `all` roles ask the process itself: GET http://127.0.0.1:$PORT/health,
 *   which answers 200 only when Postgres and Redis both answer it.
 * - `worker` role has no HTTP server, so the check connects to Postgres and Redis
 *   from inside the worker's container, with its configuration, and pings both:
 *   a worker that cannot reach them cannot take or finish jobs.
 */
import 'reflect-metadata';
import { Client } from 'pg';
import { isApiRole, loadConfig } from './core/config/app-config';
import type { EnvironmentVariables } from './core/config/env.schema';
import { type RedisTarget, createRedisClient, dataNodes, isCluster, seedTargets } from './core/redis/redis.connection';

const TIMEOUT_MS = 3000;

export interface HealthReport {
  healthy: boolean;
  checks: Record<string, string>;
}

function withTimeout<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

async function pingPostgres(url: string): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: TIMEOUT_MS });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } finally {
    await client.end().catch(() => undefined); // the connection may never have opened
  }
}

/** One node: PING. A cluster: its slot map, then PING on every master (a worker needs all of them). */
async function pingRedis(target: RedisTarget): Promise<void> {
  const client = createRedisClient(target, { name: 'zyva:healthcheck', profile: 'probe', lazy: true, connectTimeoutMs: TIMEOUT_MS });
  // The connect/ping rejection only says "Connection is closed"; the error event says why.
  let cause: Error | undefined;
  client.on('error', (error: Error) => (cause = error));
  try {
    await client.connect();
    if (isCluster(client)) await Promise.all(dataNodes(client).map((node) => node.ping()));
    else await client.ping();
  } catch (error) {
    // A cluster client reports only that no seed answered: ask the seeds one by one, which says why.
    if (isCluster(client)) throw (await firstSeedFailure(target)) ?? error;
    throw cause ?? error;
  } finally {
    client.disconnect();
  }
}

async function firstSeedFailure(target: RedisTarget): Promise<Error | undefined> {
  for (const seed of seedTargets(target)) {
    const failure = await pingRedis(seed).then(
      () => undefined,
      (error: Error) => error,
    );
    if (failure) return failure;
  }
  return undefined;
}

async function probe(checks: Record<string, string>, name: string, run: () => Promise<unknown>): Promise<boolean> {
  try {
    await withTimeout(run(), name);
    checks[name] = 'up';
    return true;
  } catch (error) {
    // fetch() only says "fetch failed"; its cause names the refused connection.
    const { message, cause } = error as Error & { cause?: Error };
    checks[name] = `down: ${message}${cause?.message ? ` (${cause.message})` : ''}`;
    return false;
  }
}

export async function checkHealth(config: EnvironmentVariables): Promise<HealthReport> {
  const checks: Record<string, string> = {};
  if (isApiRole(config)) {
    const healthy = await probe(checks, 'api', async () => {
      const res = await fetch(`http://127.0.0.1:${config.PORT}/health`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
      if (!res.ok) throw new Error(`GET /health answered ${res.status}: ${await res.text()}`);
    });
    return { healthy, checks };
  }
  // Keys in a fixed order, whichever check finishes first.
  Object.assign(checks, { database: 'unchecked', redis: 'unchecked' });
  const results = await Promise.all([
    probe(checks, 'database', () => pingPostgres(config.DATABASE_URL)),
    probe(checks, 'redis', () => pingRedis(config)),
  ]);
  return { healthy: results.every(Boolean), checks };
}

/** Checks, prints one line, exits 0 (healthy) or 1. */
export async function runHealthcheck(): Promise<never> {
  try {
    const { healthy, checks } = await checkHealth(loadConfig());
    const summary = Object.entries(checks).map(([name, state]) => `${name} ${state}`).join(', ');
    (healthy ? process.stdout : process.stderr).write(`${healthy ? 'healthy' : 'unhealthy'}: ${summary}\n`);
    process.exit(healthy ? 0 : 1);
  } catch (error) {
    process.stderr.write(`unhealthy: ${(error as Error).message}\n`);
    process.exit(1);
  }
}

if (require.main === module) void runHealthcheck();
