import { bearer, Fixtures } from '../utils/factories';
import { createTestApp, TestApp } from '../utils/test-app';

describe('GET /health (e2e)', () => {
  let t: TestApp;
  let fx: Fixtures;

  beforeAll(async () => {
    t = await createTestApp();
    fx = new Fixtures(t);
  });

  afterAll(async () => {
    await fx.cleanup();
    await t.close();
  });

  it('answers 200 with database and redis up', async () => {
    const res = await t.http.get('/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', info: { database: { status: 'up' }, redis: { status: 'up' } } });
  });

  it('answers 503 naming redis when Redis is unreachable', async () => {
    // A second app pointed at a port where nothing listens.
    const broken = await createTestApp({ REDIS_URL: 'redis://127.0.0.1:1', APP_ROLE: 'api' });
    try {
      const res = await broken.http.get('/health');
      expect(res.status).toBe(503);
      expect(res.body.status).toBe('error');
      expect(res.body.error).toHaveProperty('redis.status', 'down');
      expect(res.body.info).toHaveProperty('database.status', 'up');
      // What failed, never the driver's words (hosts, ports, users).
      expect(['unreachable', 'no answer in time']).toContain(res.body.error.redis.message);
      expect(JSON.stringify(res.body)).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|:1\b/);
    } finally {
      await broken.close();
    }
  });

  it('answers 503 naming the database when Postgres is unreachable, and API routes say 503 too', async () => {
    const user = await fx.registerUser();
    const broken = await createTestApp({ DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/zyva', APP_ROLE: 'api' });
    try {
      const res = await broken.http.get('/health');
      expect(res.status).toBe(503);
      expect(res.body.error).toHaveProperty('database.status', 'down');
      expect(res.body.info).toHaveProperty('redis.status', 'up');
      expect(['unreachable', 'no answer in time']).toContain(res.body.error.database.message);
      expect(JSON.stringify(res.body)).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|postgres@|zyva\b/);

      const me = await broken.http.get('/api/auth/me').set(bearer(user.token));
      expect(me.status).toBe(503);
      expect(me.headers['retry-after']).toBe('5');
      expect(me.body).toEqual({ statusCode: 503, error: 'Service Unavailable', message: expect.any(String) });
      expect(me.body.message).not.toMatch(/127\.0\.0\.1|postgres/i);
    } finally {
      await broken.close();
    }
  });
});
