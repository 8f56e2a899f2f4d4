import { SESSION_COOKIE } from '../../src/core/auth/auth.types';
import { Fixtures, RegisteredUser, bearer, waitFor } from '../utils/factories';
import { TestApp, createTestApp } from '../utils/test-app';
import { TcpProxy } from '../utils/tcp-proxy';

const cookie = (token: string) => ({ Cookie: `${SESSION_COOKIE}=${token}` });

describe('operations while Postgres goes away and comes back (e2e)', () => {
  const proxy = new TcpProxy(new URL(process.env.DATABASE_URL!));
  let t: TestApp;
  let fixtures: Fixtures;
  let admin: RegisteredUser;

  beforeAll(async () => {
    await proxy.start();
    t = await createTestApp({ APP_ROLE: 'api', DATABASE_URL: proxy.url, METRICS_TOKEN: '' });
    fixtures = new Fixtures(t);
    admin = await fixtures.createAdmin();
  });

  afterAll(async () => {
    await fixtures?.cleanup();
    await t?.close();
    await proxy.cut().catch(() => undefined);
  });

  it('reports the database down on /health while the dashboard, Redis stats and metrics keep working', async () => {
    await proxy.cut();

    const health = await t.http.get('/health');
    expect(health.status).toBe(503);
    expect(health.body.error.database.status).toBe('down');
    expect(health.body.info.redis.status).toBe('up');
    expect((await t.http.get('/admin/queues/api/queues').set(cookie(admin.token))).status).toBe(200);
    expect((await t.http.get('/api/admin/redis/stats').set(bearer(admin.token))).status).toBe(200);
    expect((await t.http.get('/metrics')).status).toBe(200);
    // Routes that need the database fail without leaking connection details.
    const list = await t.http.get('/api/admin/organizations').set(bearer(admin.token));
    expect(list.status).toBeGreaterThanOrEqual(500);
    expect(JSON.stringify(list.body)).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|5432|prisma|postgres/i);

    await proxy.start();
    await waitFor(async () => (await t.http.get('/health')).status === 200, 20_000);
    expect((await t.http.get('/api/admin/organizations').set(bearer(admin.token))).status).toBe(200);
  });
});
