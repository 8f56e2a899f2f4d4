import { randomIp } from '../utils/factories';
import { TestApp, createTestApp, unlinkKeys } from '../utils/test-app';

// Read once per test file, before the app loads its configuration.
process.env.AUTH_RATE_LIMIT = '3';

describe('AUTH_RATE_LIMIT (e2e)', () => {
  let t: TestApp;
  const keysMade: string[] = [];

  beforeAll(async () => {
    t = await createTestApp();
  });

  afterAll(async () => {
    await unlinkKeys(t.redis, keysMade);
    await t.close();
  });

  it('sets how many requests per minute one address may make to each public auth route', async () => {
    const ip = randomIp();
    const key = `zyva:ratelimit:auth:/api/auth/login:${ip}`;
    keysMade.push(key);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await t.http.post('/api/auth/login').set('X-Forwarded-For', ip).send({ email: 'nobody@test.zyva.dev', password: 'wrong password' });
      statuses.push(res.status);
      expect(Number(res.headers['x-ratelimit-limit'])).toBe(3);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
    const ttl = await t.redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('counts URL spellings that route to the same auth route against the same limit', async () => {
    const ip = randomIp();
    keysMade.push(`zyva:ratelimit:auth:/api/auth/login:${ip}`);
    const statuses: number[] = [];
    for (const path of ['/api/auth/login', '/%61pi/auth/login', '/api/auth/%6cogin', '/%61pi/%61uth/login']) {
      const res = await t.http.post(path).set('X-Forwarded-For', ip).send({ email: 'nobody@test.zyva.dev', password: 'wrong password' });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([401, 401, 401, 429]);
  });
});
