import { SESSION_TTL_SECONDS } from '../../src/core/auth/auth.types';
import { Fixtures, RegisteredUser, bearer, randomIp } from '../utils/factories';
import { TestApp, createTestApp } from '../utils/test-app';

const DAY = 86_400;
const sessionKey = (token: string) => `zyva:session:${token}`;
const indexKey = (userId: string) => `zyva:user-sessions:${userId}`;

/**
 * A password reset ends every session of the user, also sessions in use for
 * longer than seven days (issue 14): the per-user index outlives its sessions.
 * Time passing is stood for by the TTLs and the session's own note of until
 * when its index holds.
 */
describe('sessions and the per-user index (e2e)', () => {
  let t: TestApp;
  let fixtures: Fixtures;
  let tokens: { issue(kind: 'reset', userId: string): Promise<string> };

  beforeAll(async () => {
    t = await createTestApp();
    fixtures = new Fixtures(t);
    tokens = t.get('modules/auth/token.service', 'TokenService');
  });

  afterAll(async () => {
    await fixtures.cleanup();
    await t.close();
  });

  const me = (token: string) => t.http.get('/api/auth/me').set(bearer(token));
  const stored = async (token: string) => JSON.parse((await t.redis.get(sessionKey(token)))!) as { indexedUntil?: number; userId: string };

  it('lists a new session in an index that lives twice as long as the session', async () => {
    const user = await fixtures.registerUser();
    expect(await t.redis.sismember(indexKey(user.userId), user.token)).toBe(1);
    expect(await t.redis.ttl(sessionKey(user.token))).toBeLessThanOrEqual(SESSION_TTL_SECONDS);
    expect(await t.redis.ttl(indexKey(user.userId))).toBeGreaterThan(2 * SESSION_TTL_SECONDS - 10);
    expect((await stored(user.token)).indexedUntil).toBeGreaterThan(Date.now() + (2 * SESSION_TTL_SECONDS - 10) * 1000);
    // What the API answers about the session is unchanged.
    expect((await me(user.token)).body).toMatchObject({ id: user.userId, organizationId: user.organizationId });
  });

  it('refreshes the index when a session in use would outlive it, and lists a session the index lost', async () => {
    const user: RegisteredUser = await fixtures.registerUser();
    // Thirteen days later, the session used every day: 1 day left on the index, the session slid to 7.
    const raw = await stored(user.token);
    await t.redis.set(sessionKey(user.token), JSON.stringify({ ...raw, indexedUntil: Date.now() + DAY * 1000 }), 'KEEPTTL');
    await t.redis.expire(indexKey(user.userId), DAY);
    expect((await me(user.token)).status).toBe(200);
    expect(await t.redis.ttl(indexKey(user.userId))).toBeGreaterThan(2 * SESSION_TTL_SECONDS - 10);
    expect((await stored(user.token)).indexedUntil).toBeGreaterThan(Date.now() + (2 * SESSION_TTL_SECONDS - 10) * 1000);
    expect(await t.redis.ttl(sessionKey(user.token))).toBeGreaterThan(SESSION_TTL_SECONDS - 10);

    // A second session of the same user, of part one's layout (no note), whose index expired long ago while
    // it was in use (part one's index lived 7 days from the login): its next use lists it again.
    const login = await t.http.post('/api/auth/login').set('X-Forwarded-For', randomIp()).send({ email: user.email, password: user.password });
    const old = login.body.token as string;
    const { indexedUntil: _dropped, ...partOne } = await stored(old);
    await t.redis.set(sessionKey(old), JSON.stringify(partOne), 'KEEPTTL');
    await t.redis.srem(indexKey(user.userId), old);
    expect((await me(old)).status).toBe(200);
    expect(await t.redis.sismember(indexKey(user.userId), old)).toBe(1);

    // The reset ends both, and the index with them.
    const reset = await t.http
      .post('/api/auth/password/reset')
      .set('X-Forwarded-For', randomIp())
      .send({ token: await tokens.issue('reset', user.userId), password: 'a brand new password' });
    expect(reset.status).toBe(204);
    for (const token of [user.token, old]) {
      expect(await t.redis.exists(sessionKey(token))).toBe(0);
      expect((await me(token)).status).toBe(401);
    }
    expect(await t.redis.exists(indexKey(user.userId))).toBe(0);
  });

  it('does not refresh the index on every request', async () => {
    const user = await fixtures.registerUser();
    await t.redis.expire(indexKey(user.userId), 2 * SESSION_TTL_SECONDS - 3600);
    expect((await me(user.token)).status).toBe(200);
    // Still the shortened TTL: the session's note says the index holds long enough.
    expect(await t.redis.ttl(indexKey(user.userId))).toBeLessThanOrEqual(2 * SESSION_TTL_SECONDS - 3600);
  });
});
