import { Logger } from '@nestjs/common';
import { getStorageToken } from '@nestjs/throttler';
import type { Response } from 'supertest';
import { rateLimitKeys } from '../../src/core/throttling/rate-limit.guard';
import type { RedisClient } from '../../src/core/redis/redis.connection';
import { Fixtures, RegisteredUser, bearer, randomIp } from '../utils/factories';
import { TestApp, createTestApp, unlinkKeys } from '../utils/test-app';

/** Tagged with the organization: the limiter's one script reads the organization's plan in the same slot. */
const planKey = (user: RegisteredUser) => `zyva:ratelimit:plan:{${user.organizationId}}:${user.userId}`;

function expectLimitHeaders(res: Response, limit: number, remaining: number) {
  expect(Number(res.headers['x-ratelimit-limit'])).toBe(limit);
  expect(Number(res.headers['x-ratelimit-remaining'])).toBe(remaining);
  const reset = Number(res.headers['x-ratelimit-reset']);
  const now = Date.now() / 1000;
  // Epoch seconds when the 60 s window ends.
  expect(reset).toBeGreaterThan(now);
  expect(reset).toBeLessThanOrEqual(Math.ceil(now) + 61);
}

describe('Per-plan throttling on Redis (e2e)', () => {
  let a: TestApp;
  let b: TestApp;
  let fixtures: Fixtures;
  const keysMade: string[] = [];

  beforeAll(async () => {
    // Two API processes sharing one Redis, as a deployment with several replicas runs.
    a = await createTestApp();
    b = await createTestApp();
    fixtures = new Fixtures(a);
  });

  afterAll(async () => {
    await unlinkKeys(a.redis, keysMade);
    await fixtures.cleanup();
    await b.close();
    await a.close();
  });

  async function freeUser(): Promise<RegisteredUser> {
    const user = await fixtures.registerUser();
    keysMade.push(planKey(user));
    return user;
  }

  const me = (app: TestApp, user: RegisteredUser) => app.http.get('/api/auth/me').set(bearer(user.token));

  it('gives a FREE user exactly 10 answers a minute, then 429 with Retry-After and the contract body', async () => {
    const user = await freeUser();
    for (let i = 1; i <= 10; i++) {
      const res = await me(a, user);
      expect(res.status).toBe(200);
      expectLimitHeaders(res, 10, 10 - i);
    }
    const refused = await me(a, user);
    expect(refused.status).toBe(429);
    expectLimitHeaders(refused, 10, 0);
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.body).toEqual({
      statusCode: 429,
      error: 'Plan Limit Exceeded',
      message: expect.stringContaining('FREE plan allows 10 requests per minute'),
      retryAfter,
    });

    // The counter is one key per user with the 60 s window as its TTL.
    expect(Number(await a.redis.get(planKey(user)))).toBe(11);
    const ttl = await a.redis.pttl(planKey(user));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('holds one limit across two app instances: 50 concurrent requests at a limit of 10 let exactly 10 through', async () => {
    const user = await freeUser();
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => me(i % 2 === 0 ? a : b, user)));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(40);
    // Both instances did answer some of them.
    expect(new Set(responses.filter((_, i) => i % 2 === 1).map((r) => r.status)).size).toBeGreaterThan(0);
    expect(Number(await a.redis.get(planKey(user)))).toBe(50);
  });

  it('counts users of many organizations at once, each in its own window (their keys on different cluster slots)', async () => {
    const users = await Promise.all(Array.from({ length: 6 }, () => freeUser()));
    const responses = await Promise.all(users.flatMap((user) => [0, 1, 2].map((i) => me(i % 2 === 0 ? a : b, user))));
    expect(responses.map((r) => r.status)).toEqual(Array(18).fill(200));
    // Every one was counted (a failing limiter would let them through without headers).
    expect(responses.every((r) => r.headers['x-ratelimit-limit'] === '10')).toBe(true);
    for (const user of users) expect(Number(await a.redis.get(planKey(user)))).toBe(3);
  });

  it('lifts the limit on the very next request after an admin upgrades the plan', async () => {
    const user = await freeUser();
    const admin = await fixtures.createAdmin();
    for (let i = 0; i < 10; i++) expect((await me(a, user)).status).toBe(200);
    expect((await me(b, user)).status).toBe(429);

    const patched = await b.http.patch(`/api/admin/organizations/${user.organizationId}`).set(bearer(admin.token)).send({ plan: 'PRO' });
    expect(patched.status).toBe(200);

    const next = await me(a, user);
    expect(next.status).toBe(200);
    expectLimitHeaders(next, 100, 100 - 12);
    const org = await a.http.get('/api/organization').set(bearer(user.token));
    expect(org.body.plan).toBe('PRO');
  });

  it('does not plan-limit ADMIN users', async () => {
    const admin = await fixtures.createAdmin();
    const responses = await Promise.all(Array.from({ length: 15 }, () => a.http.get('/api/admin/organizations').set(bearer(admin.token))));
    expect(responses.map((r) => r.status)).toEqual(Array(15).fill(200));
    expect(responses[0].headers['x-ratelimit-limit']).toBeUndefined();
    expect(await a.redis.exists(`zyva:ratelimit:plan:{${admin.organizationId}}:${admin.userId}`)).toBe(0);
  });

  it('limits public /api/auth routes per client IP and route (AUTH_RATE_LIMIT, 10 by default)', async () => {
    const ip = randomIp();
    const login = () => a.http.post('/api/auth/login').set('X-Forwarded-For', ip).send({ email: 'nobody@test.zyva.dev', password: 'wrong password' });
    for (let i = 1; i <= 10; i++) {
      const res = await login();
      expect(res.status).toBe(401);
      expectLimitHeaders(res, 10, 10 - i);
    }
    const refused = await login();
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: expect.any(String),
      retryAfter: Number(refused.headers['retry-after']),
    });
    // One key per window (a cluster runs the script on the key's node).
    const key = `zyva:ratelimit:auth:/api/auth/login:${ip}`;
    keysMade.push(key);
    expect(await a.redis.get(key)).toBe('11');
    expect((await a.redis.exists(`${key}:hits`)) + (await a.redis.exists(`${key}:blocked`))).toBe(0);

    // Another address, or another auth route from the same address, is not affected.
    expect((await a.http.post('/api/auth/login').set('X-Forwarded-For', randomIp()).send({ email: 'nobody@test.zyva.dev', password: 'wrong password' })).status).toBe(401);
    const forgot = await a.http.post('/api/auth/password/forgot').set('X-Forwarded-For', ip).send({ email: 'nobody@test.zyva.dev' });
    expect(forgot.status).toBe(202);
    keysMade.push(`zyva:ratelimit:auth:/api/auth/password/forgot:${ip}`, rateLimitKeys.forgotAccount('nobody@test.zyva.dev'));
  });

  it('fails open when its Redis is unreachable: requests pass, logged once, /health says so; enforced again after', async () => {
    const user = await freeUser();
    const storage = a.app.get<{ redis: RedisClient }>(getStorageToken());
    const errors = jest.spyOn(Logger.prototype, 'error');
    try {
      storage.redis.disconnect();
      const statuses: number[] = [];
      for (let i = 0; i < 15; i++) statuses.push((await me(a, user)).status);
      expect(statuses).toEqual(Array(15).fill(200));
      const failOpenLogs = errors.mock.calls.filter(([message]) => String(message).includes('failing open'));
      expect(failOpenLogs).toHaveLength(1);

      const health = await a.http.get('/health');
      expect(health.body.info.redis.rateLimiting).toMatch(/^failing open/);
    } finally {
      errors.mockRestore();
      await storage.redis.connect();
    }
    // Back on Redis: 15 requests went uncounted, so this user now gets its 10.
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await me(a, user)).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses[10]).toBe(429);
    expect((await a.http.get('/health')).body.info.redis.rateLimiting).toBe('enforced');
  });
});
