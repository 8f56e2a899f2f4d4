import { createServer } from 'node:net';
import { runNode } from '../utils/processes';
import { TestApp, createTestApp, redisOverrides } from '../utils/test-app';

const CLOSED_PORT = '1';

/**
 * Runs src/healthcheck.ts in its own Node process, compiled on the fly by swc with
 * decorator metadata as `nest build` compiles it (the env schema converts on it).
 */
const RUNNER = `
const swc = require('@swc/core');
require.extensions['.ts'] = (m, file) => m._compile(swc.transformFileSync(file, {
  jsc: { parser: { syntax: 'typescript', decorators: true }, transform: { legacyDecorator: true, decoratorMetadata: true }, target: 'es2022' },
  module: { type: 'commonjs' },
}).code, file);
require('./src/healthcheck.ts').runHealthcheck();
`;

const healthcheck = (env: Record<string, string>) => runNode(['-e', RUNNER], env);

/** A port nothing listens on (fetch refuses well-known ports such as 1 outright, before connecting). */
function closedPort(): Promise<string> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(String(port)));
    });
    server.on('error', reject);
  });
}

function withPort(url: string, port: string): string {
  const parsed = new URL(url);
  parsed.port = port;
  return parsed.toString();
}

describe('container health check, dist/healthcheck.js (e2e)', () => {
  const databaseUrl = process.env.DATABASE_URL!;

  describe('worker role (no HTTP server): pings Postgres and Redis itself', () => {
    it('exits 0 when both answer', async () => {
      const run = await healthcheck({ APP_ROLE: 'worker' });
      expect(run).toMatchObject({ code: 0, stdout: 'healthy: database up, redis up\n' });
    });

    it('exits 1 naming Redis when Redis is unreachable', async () => {
      // In cluster mode the same unreachable address becomes the cluster's only seed.
      const run = await healthcheck({ APP_ROLE: 'worker', ...redisOverrides({ REDIS_URL: withPort(process.env.REDIS_URL ?? 'redis://127.0.0.1', CLOSED_PORT) }) });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^unhealthy: database up, redis down: .*ECONNREFUSED/);
    });

    it('exits 1 naming Postgres when Postgres is unreachable, without printing its password', async () => {
      const url = new URL(withPort(databaseUrl, CLOSED_PORT));
      url.password = 'hunter2-secret';
      const run = await healthcheck({ APP_ROLE: 'worker', DATABASE_URL: url.toString() });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^unhealthy: database down: .*, redis up/);
      expect(run.stderr + run.stdout).not.toContain('hunter2-secret');
    });

    it('exits 1 on an invalid configuration, naming the variable', async () => {
      const run = await healthcheck({ APP_ROLE: 'worker', REDIS_URL: 'http://not-redis', REDIS_CLUSTER_NODES: '' });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('REDIS_URL must be a redis:// or rediss:// URL');
      expect(run.stderr).not.toContain('not-redis');
    });
  });

  describe('api role: asks the running process for GET /health', () => {
    let t: TestApp;
    let port: string;

    beforeAll(async () => {
      t = await createTestApp({ APP_ROLE: 'api' });
      await t.app.listen(0, '127.0.0.1');
      port = new URL(await t.app.getUrl()).port;
    });

    afterAll(() => t.close());

    it('exits 0 when the API answers /health with 200', async () => {
      const run = await healthcheck({ APP_ROLE: 'api', PORT: port });
      expect(run).toMatchObject({ code: 0, stdout: 'healthy: api up\n' });
    });

    it('exits 1 when nothing listens on PORT', async () => {
      const port = await closedPort();
      const run = await healthcheck({ APP_ROLE: 'api', PORT: port });
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(`unhealthy: api down: fetch failed (connect ECONNREFUSED 127.0.0.1:${port})\n`);
    });
  });
});
