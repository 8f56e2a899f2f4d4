import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { dataNodes, nodeAddress } from '../../src/core/redis/redis.connection';
import { waitFor } from '../utils/factories';
import { freePort, spawnZyva } from '../utils/processes';
import { TestApp, clusterMode, createTestApp } from '../utils/test-app';

const STARTED = 'Zyva worker started';

/** A real worker process (src/main.ts through the swc hook), its log collected until it has started. */
async function startWorker(env: Record<string, string>, started: ChildProcess[]): Promise<{ child: ChildProcess; log: () => string }> {
  const { child } = spawnZyva(
    {
      ...env,
      APP_ROLE: 'worker',
      LOG_LEVEL: 'info',
      NODE_ENV: 'production',
      // What production requires besides Redis (none of it is used here).
      UNSUBSCRIBE_SECRET: 'eviction-test-unsubscribe-secret',
      CHANNEL_ENCRYPTION_KEYS: `test:${Buffer.alloc(32, 3).toString('base64')}`,
      APP_URL: 'https://zyva.test',
    },
    ['ignore', 'pipe', 'pipe'],
  );
  started.push(child);
  let log = '';
  child.stdout!.on('data', (chunk) => (log += chunk));
  child.stderr!.on('data', (chunk) => (log += chunk));
  await waitFor(async () => log.includes(STARTED) || child.exitCode !== null, 30_000);
  return { child, log: () => log };
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

const warningLines = (log: string) => log.split('\n').filter((line) => line.includes('maxmemory-policy'));

/**
 * Every process checks `maxmemory-policy` on every node when it connects:
 * anything but noeviction may evict BullMQ's keys, so it warns, naming the
 * node and the policy. On one node the evicting Redis is a redis-server of
 * this test's own; on the cluster one node is switched for the duration of
 * the test (with no maxmemory set, nothing is evicted meanwhile).
 */
describe('maxmemory-policy checked at startup (e2e)', () => {
  let t: TestApp;
  let server: ChildProcess | undefined;
  const workers: ChildProcess[] = [];

  beforeAll(async () => {
    t = await createTestApp({ APP_ROLE: 'api' });
  });

  afterAll(async () => {
    await Promise.all(workers.map(stop));
    if (clusterMode) await dataNodes(t.redis)[1].config('SET', 'maxmemory-policy', 'noeviction');
    server?.kill('SIGTERM');
    await t.close();
  });

  it('starts without a warning on noeviction', async () => {
    const worker = await startWorker({}, workers);
    expect(worker.log()).toContain(STARTED);
    expect(warningLines(worker.log())).toEqual([]);
  });

  it('warns loudly, naming the node and its policy, when a node may evict keys', async () => {
    let env: Record<string, string> = {};
    let node: string;
    if (clusterMode) {
      const target = dataNodes(t.redis)[1];
      await target.config('SET', 'maxmemory-policy', 'allkeys-lru');
      node = nodeAddress(target);
    } else {
      expect(spawnSync('redis-server', ['--version']).status).toBe(0);
      const port = await freePort();
      server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'allkeys-lru'], {
        stdio: 'ignore',
      });
      node = `127.0.0.1:${port}`;
      env = { REDIS_URL: `redis://${node}` };
      await waitFor(async () => spawnSync('redis-cli', ['-p', String(port), 'ping']).stdout?.toString().trim() === 'PONG');
    }
    const worker = await startWorker(env, workers);
    const warnings = warningLines(worker.log());
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`Redis ${node} runs with maxmemory-policy allkeys-lru`);
    expect(warnings[0]).toContain('an evicted BullMQ key is a lost job');
    expect(warnings[0]).toContain('Set maxmemory-policy noeviction on every node');
  });
});
