import type { Response } from 'supertest';
import { Fixtures, RegisteredUser, bearer } from '../utils/factories';
import type Redis from 'ioredis';
import { TestApp, clusterMode, createTestApp, unlinkKeys } from '../utils/test-app';

const PREFIX = 'zyva:cache:';
const planKey = (user: RegisteredUser) => `zyva:ratelimit:plan:{${user.organizationId}}:${user.userId}`;
const listKey = (user: RegisteredUser, query = '-') => `${PREFIX}contacts:{${user.organizationId}}:${query}`;
const versionKey = (user: RegisteredUser, query = '-') => `${PREFIX}version:contacts:{${user.organizationId}}:${query}`;

/**
 * The cached read path (CachedReadPath): a hit of a cached body route is
 * answered in a Fastify hook through the same guards and interceptor code, and
 * the limiter's script sends a version instead of the body when this process
 * already holds it. Same answers, headers and counts as Nest's chain; never a
 * body Redis no longer holds.
 */
describe('Cached read path (e2e)', () => {
  let t: TestApp;
  let fixtures: Fixtures;
  let intercepts: jest.SpyInstance;
  const keysMade: string[] = [];

  beforeAll(async () => {
    t = await createTestApp();
    fixtures = new Fixtures(t);
    // The interceptor class of this app's own module registry: Nest's chain calls its intercept(), the hook its hit().
    const interceptor = t.get<object>('core/cache/tenant-cache.interceptor', 'TenantCacheInterceptor');
    intercepts = jest.spyOn(Object.getPrototypeOf(interceptor) as { intercept: () => unknown }, 'intercept');
  });

  afterAll(async () => {
    intercepts.mockRestore();
    await unlinkKeys(t.redis, keysMade);
    await fixtures.cleanup();
    await t.close();
  });

  async function freeUser(): Promise<RegisteredUser> {
    const user = await fixtures.registerUser();
    keysMade.push(planKey(user));
    return user;
  }

  /** The request id the last `list` sent (requests of one test run one after the other). */
  let sentId = '';
  const list = (user: RegisteredUser, query = '') => {
    sentId = `read-${Math.random().toString(36).slice(2)}`;
    return t.http.get(`/api/contacts${query}`).set(bearer(user.token)).set('X-Request-Id', sentId);
  };

  /** A request through Nest's chain (true) or answered by the hook (false). */
  async function throughNest<T>(request: () => Promise<T>): Promise<[T, boolean]> {
    const before = intercepts.mock.calls.length;
    const res = await request();
    return [res, intercepts.mock.calls.length > before];
  }

  function expectHeaders(res: Response, cache: 'HIT' | 'MISS', limit: number, remaining: number) {
    expect(res.status).toBe(200);
    expect(res.headers['x-cache']).toBe(cache);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['x-request-id']).toBe(sentId);
    expect(Number(res.headers['x-ratelimit-limit'])).toBe(limit);
    expect(Number(res.headers['x-ratelimit-remaining'])).toBe(remaining);
    expect(Number(res.headers['x-ratelimit-reset'])).toBeGreaterThan(Date.now() / 1000);
  }

  it('is installed for the cached body routes only', () => {
    const path = t.get<{ routes: Map<string, unknown> }>('app.cached-read', 'CachedReadPath');
    expect([...path.routes.keys()].sort()).toEqual(['/api/contacts', '/api/dashboard/stats']);
  });

  it('answers a hit without Nest’s chain, with the same body and headers, counting each request once', async () => {
    const user = await freeUser();
    await t.http.post('/api/contacts').set(bearer(user.token)).send({ name: 'Primeira' });

    const [miss, missViaNest] = await throughNest(() => list(user));
    expectHeaders(miss, 'MISS', 10, 8);
    expect(missViaNest).toBe(true);
    // The first hit fetches the entry (and its version); the next ones name the version instead.
    for (let i = 0; i < 3; i++) {
      const [hit, hitViaNest] = await throughNest(() => list(user));
      expectHeaders(hit, 'HIT', 10, 7 - i);
      expect(hitViaNest).toBe(false);
      expect(hit.text).toBe(miss.text);
    }
    expect(Number(await t.redis.get(planKey(user)))).toBe(5);

    // Past the plan's limit: the same 429 as everywhere, through the exception filter, counted once.
    for (let i = 0; i < 5; i++) expect((await list(user)).status).toBe(200);
    const refused = await list(user);
    expect(refused.status).toBe(429);
    expect(refused.headers['x-cache']).toBeUndefined();
    expect(Number(refused.headers['x-ratelimit-remaining'])).toBe(0);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(refused.body).toEqual({
      statusCode: 429,
      error: 'Plan Limit Exceeded',
      message: expect.stringContaining('FREE plan allows 10 requests per minute'),
      retryAfter: Number(refused.headers['retry-after']),
    });
    expect(Number(await t.redis.get(planKey(user)))).toBe(11);
  });

  it('refuses a missing or ended session with the chain’s own 401, and sees a changed session at once', async () => {
    const user = await freeUser();
    await list(user);
    await list(user);
    const none = await t.http.get('/api/contacts');
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'Authentication required.' });

    // A session changed in Redis (here made ADMIN, who is not plan-limited) is read again, not reused.
    const key = `zyva:session:${user.token}`;
    const session = JSON.parse((await t.redis.get(key))!);
    await t.redis.set(key, JSON.stringify({ ...session, role: 'ADMIN' }), 'KEEPTTL');
    const asAdmin = await list(user);
    expect(asAdmin.status).toBe(200);
    expect(asAdmin.headers['x-ratelimit-limit']).toBeUndefined();

    await t.http.post('/api/auth/logout').set(bearer(user.token));
    const ended = await list(user);
    expect(ended.status).toBe(401);
    expect(ended.body.message).toMatch(/expired or was ended/);
  });

  // On a cluster the session key is in another slot than the organization's: two round trips, as the suite's other tests show there.
  (clusterMode ? it.skip : it)('makes one Redis round trip per hit on one node: the session is read in the limiter’s script', async () => {
    const user = await freeUser();
    await list(user); // a miss: this process learns who is behind the token
    await list(user); // the first hit fetches the entry
    const monitor = await (t.redis as Redis).monitor(); // a connection of its own
    const commands: string[][] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      // What a script calls is reported too, from the source "lua": only the clients' own commands are round trips.
      if (source !== 'lua' && args.some((arg) => arg.includes(user.token) || arg.includes(user.organizationId))) commands.push(args);
    });
    try {
      for (let i = 0; i < 3; i++) {
        const [hit, viaNest] = await throughNest(() => list(user));
        expectHeaders(hit, 'HIT', 10, 7 - i);
        expect(viaNest).toBe(false);
      }
      await t.redis.ping(); // MONITOR reports in order: once this is seen, so are the hits' commands
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      monitor.disconnect();
    }
    expect(commands.map(([name]) => name.toLowerCase())).toEqual(['evalsha', 'evalsha', 'evalsha']);
    for (const args of commands) expect(args).toEqual(expect.arrayContaining([`zyva:session:${user.token}`, planKey(user), listKey(user)]));
    expect(Number(await t.redis.get(planKey(user)))).toBe(5);
  });

  it('slides the session on a hit, and counts nothing for a session ended elsewhere that this process still remembers', async () => {
    const user = await freeUser();
    await list(user);
    await list(user);
    const key = `zyva:session:${user.token}`;
    await t.redis.expire(key, 60);
    const [hit, viaNest] = await throughNest(() => list(user));
    expectHeaders(hit, 'HIT', 10, 7);
    expect(viaNest).toBe(false);
    expect(await t.redis.ttl(key)).toBeGreaterThan(7 * 24 * 3600 - 60);

    await t.redis.unlink(key); // ended by another API process: this one still holds the parsed session
    const ended = await list(user);
    expect(ended.status).toBe(401);
    expect(ended.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'Your session has expired or was ended; log in again.' });
    expect(Number(await t.redis.get(planKey(user)))).toBe(3);
  });

  it('stores a version beside each list, written with it, expiring with it, dropped with it', async () => {
    const user = await freeUser();
    await list(user);
    expect(await t.redis.get(versionKey(user))).toMatch(/^[\w-]{24}$/);
    expect(await t.redis.pexpiretime(versionKey(user))).toBe(await t.redis.pexpiretime(listKey(user)));
    expect(await t.redis.smembers(`${PREFIX}index:{${user.organizationId}}`)).toEqual(expect.arrayContaining([listKey(user), versionKey(user)]));
    await t.http.post('/api/contacts').set(bearer(user.token)).send({ name: 'Outra' });
    expect(await t.redis.exists(listKey(user), versionKey(user))).toBe(0);
  });

  it('never answers the memo once Redis holds other bytes: after a write, a rewrite behind its back, or a deletion', async () => {
    const user = await freeUser();
    const created = await t.http.post('/api/contacts').set(bearer(user.token)).send({ name: 'Primeira' });
    const names = (res: Response) => (res.body as { data: { name: string }[] }).data.map((c) => c.name);
    await list(user);
    await list(user);
    expect(names(await list(user))).toEqual(['Primeira']); // answered from the memo by version

    // A write: the next read is a miss with the new data.
    await t.http.patch(`/api/contacts/${created.body.id}`).set(bearer(user.token)).send({ name: 'Segunda!' });
    const afterWrite = await list(user);
    expect(afterWrite.headers['x-cache']).toBe('MISS');
    expect(names(afterWrite)).toEqual(['Segunda!']);
    await list(user);
    expect(names(await list(user))).toEqual(['Segunda!']);

    // Rewritten by something that writes no version (an older release, an operator), to bytes of the same
    // length, the version key left in place: the entry's own expiry no longer matches, so it is fetched.
    const raw = (await t.redis.get(listKey(user)))!;
    const rewritten = raw.replace('Segunda!', 'Terceira');
    expect(rewritten.length).toBe(raw.length);
    await t.redis.set(listKey(user), rewritten, 'PX', 60_000);
    const behindItsBack = await list(user);
    expect(behindItsBack.headers['x-cache']).toBe('HIT');
    expect(names(behindItsBack)).toEqual(['Terceira']);

    // Deleted, the version left behind: a miss, rendered from Postgres.
    await t.redis.unlink(listKey(user));
    expect(await t.redis.exists(versionKey(user))).toBe(1);
    const deleted = await list(user);
    expect(deleted.headers['x-cache']).toBe('MISS');
    expect(names(deleted)).toEqual(['Segunda!']);
  });

  it('keeps a bad query a 400 and another route untouched', async () => {
    const user = await freeUser();
    await list(user);
    expect((await list(user, '?limit=500')).status).toBe(400);
    expect((await list(user, '?search=%00')).status).toBe(400);
    // The NUL is refused by the input checks before any guard; the too-large limit by the route's pipe, on a miss.
    const me = await t.http.get('/api/auth/me').set(bearer(user.token));
    expect(me.status).toBe(200);
    expect(Number(me.headers['x-ratelimit-remaining'])).toBe(7);
  });
});
