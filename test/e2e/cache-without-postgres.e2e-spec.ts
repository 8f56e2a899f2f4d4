import { Fixtures, RegisteredUser, bearer, waitFor } from '../utils/factories';
import { TestApp, createTestApp } from '../utils/test-app';
import { TcpProxy } from '../utils/tcp-proxy';

/**
 * A cached read needs no Postgres (issue 11): the plan limiter finds the
 * plan in Redis (the organization's plan key, kept 30 days) even when the
 * cached organization is gone, and the cache serves the entry. Only misses
 * and writes answer 503. Postgres is cut with a TCP proxy in DATABASE_URL.
 */
describe('cached reads while Postgres is away (e2e)', () => {
  const proxy = new TcpProxy(new URL(process.env.DATABASE_URL!));
  let t: TestApp;
  let fixtures: Fixtures;
  let user: RegisteredUser;

  beforeAll(async () => {
    await proxy.start();
    t = await createTestApp({ APP_ROLE: 'api', DATABASE_URL: proxy.url });
    fixtures = new Fixtures(t);
    user = await fixtures.registerUser();
    await fixtures.setPlan(user.organizationId, 'PRO');
  });

  afterAll(async () => {
    await fixtures?.cleanup();
    await t?.close();
    await proxy.cut().catch(() => undefined);
  });

  const get = (path: string) => t.http.get(path).set(bearer(user.token));

  it('answers a cached GET from Redis with the plan limit applied; a miss and a write answer 503', async () => {
    expect((await t.http.post('/api/contacts').set(bearer(user.token)).send({ name: 'Cached' })).status).toBe(201);
    await get('/api/organization');
    expect((await get('/api/contacts')).headers['x-cache']).toBe('MISS');
    expect(await t.redis.get(`zyva:plan:{${user.organizationId}}`)).toBe('PRO');
    // The cached organization expired (30 min) while the plan key (30 days) is still there.
    await t.redis.unlink(`zyva:cache:org:{${user.organizationId}}`);

    await proxy.cut();
    try {
      const hit = await get('/api/contacts');
      expect(hit.status).toBe(200);
      expect(hit.headers['x-cache']).toBe('HIT');
      expect(hit.body.data.map((c: { name: string }) => c.name)).toEqual(['Cached']);
      expect(hit.headers['x-ratelimit-limit']).toBe('100');

      // Neither Redis nor Postgres can tell the plan: the request passes unlimited rather than fail.
      await t.redis.unlink(`zyva:plan:{${user.organizationId}}`);
      const unlimited = await get('/api/contacts');
      expect(unlimited.status).toBe(200);
      expect(unlimited.headers['x-cache']).toBe('HIT');
      expect(unlimited.headers['x-ratelimit-limit']).toBeUndefined();

      const miss = await get('/api/contacts?page=2');
      expect(miss.status).toBe(503);
      expect(miss.headers['retry-after']).toBe('5');
      const write = await t.http.post('/api/contacts').set(bearer(user.token)).send({ name: 'Not now' });
      expect(write.status).toBe(503);
    } finally {
      await proxy.start();
    }

    // Back: the plan is looked up again (and stored), limits apply, writes go through.
    await waitFor(async () => (await get('/api/organization')).status === 200, 20_000);
    expect(await t.redis.get(`zyva:plan:{${user.organizationId}}`)).toBe('PRO');
    expect((await get('/api/contacts')).headers['x-ratelimit-limit']).toBe('100');
    expect((await t.http.post('/api/contacts').set(bearer(user.token)).send({ name: 'Later' })).status).toBe(201);
  });
});
