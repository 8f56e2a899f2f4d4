import { randomUUID } from 'node:crypto';
import { QueueName } from '../../src/core/queues/queue.catalogue';
import { bearer, Fixtures, randomIp, uniqueEmail, waitFor } from '../utils/factories';
import { createTestApp, TestApp } from '../utils/test-app';

const WEEK = 7 * 24 * 3600;

describe('auth and sessions (e2e)', () => {
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

  /** The last `template` email job of the user with this email. */
  async function emailJobOf(to: string, template: 'verify-email' | 'password-reset') {
    const user = await t.prisma.user.findUniqueOrThrow({ where: { email: to } });
    const jobs = await t.queue(QueueName.Emails).getJobs(['waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized']);
    const job = jobs.filter((j) => j.data.userId === user.id && j.data.template === template).sort((a, b) => b.timestamp - a.timestamp)[0];
    if (!job) throw new Error(`no ${template} email queued for ${to}`);
    return job;
  }

  /**
   * The single-use token of the last `template` email to `to`: issued when the (sandboxed) email is sent,
   * found in Redis by the email's reference, since the job payload holds none.
   */
  async function tokenFromEmail(to: string, template: 'verify-email' | 'password-reset'): Promise<string> {
    const job = await emailJobOf(to, template);
    return waitFor(async () => t.redis.get(`zyva:token:link:${job.data.ref}`));
  }

  const post = (path: string) => t.http.post(path).set('X-Forwarded-For', randomIp());

  describe('register', () => {
    it('creates a FREE organization, a LOJA user, a session and queues a verification email', async () => {
      const email = uniqueEmail('reg');
      const res = await post('/api/auth/register').send({
        email: email.toUpperCase(),
        password: 'longenough1',
        name: 'Ana',
        organizationName: 'Loja da Ana',
      });
      expect(res.status).toBe(201);
      fx.trackRegistration(res.body);
      expect(res.body.user).toEqual({
        id: expect.any(String),
        email,
        name: 'Ana',
        role: 'LOJA',
        organizationId: res.body.organization.id,
      });
      expect(res.body.organization).toMatchObject({
        name: 'Loja da Ana',
        plan: 'FREE',
        maxContacts: 100,
        maxMessagesPerMonth: 300,
        currentContacts: 0,
        messagesThisMonth: 0,
      });
      expect(res.body.user).not.toHaveProperty('passwordHash');

      const user = await t.prisma.user.findUniqueOrThrow({ where: { email } });
      expect(user.passwordHash).toMatch(/^\$argon2id\$/);
      expect(user.emailVerifiedAt).toBeNull();

      const session = JSON.parse((await t.redis.get(`zyva:session:${res.body.token}`))!);
      expect(session).toMatchObject({ userId: user.id, role: 'LOJA', organizationId: res.body.organization.id });

      const job = await emailJobOf(email, 'verify-email');
      expect(job.name).toBe('send-email');
      // A reference only: the token is issued and the link built when the email is sent.
      expect(job.data).toEqual({ template: 'verify-email', userId: user.id, ref: expect.any(String) });
      const token = await tokenFromEmail(email, 'verify-email');
      expect(JSON.stringify(job.data)).not.toContain(token);
      expect(await t.redis.get(`zyva:token:email:${token}`)).toBe(user.id);
      const ttl = await t.redis.ttl(`zyva:token:email:${token}`);
      expect(ttl).toBeGreaterThan(3500);
      expect(ttl).toBeLessThanOrEqual(3600);
    });

    it('refuses a second account with the same email (409) and creates nothing', async () => {
      const u = await fx.registerUser();
      const organizationName = `Copy ${randomUUID()}`;
      const res = await post('/api/auth/register').send({
        email: u.email,
        password: 'longenough1',
        name: 'Copy',
        organizationName,
      });
      expect(res.status).toBe(409);
      expect(res.body).toEqual({ statusCode: 409, error: 'Conflict', message: expect.any(String) });
      expect(await t.prisma.organization.count({ where: { name: organizationName } })).toBe(0);
      expect(await t.prisma.user.count({ where: { email: u.email } })).toBe(1);
    });

    it('lists every invalid field and rejects unknown properties', async () => {
      const res = await post('/api/auth/register').send({ email: 'not-an-email', password: 'short', name: '', isAdmin: true });
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('Bad Request');
      const messages: string[] = res.body.message;
      expect(messages).toEqual(
        expect.arrayContaining([
          expect.stringContaining('email'),
          expect.stringContaining('password'),
          expect.stringContaining('name'),
          expect.stringContaining('organizationName'),
          'property isAdmin should not exist',
        ]),
      );
    });

    it('does not coerce JSON values', async () => {
      const res = await post('/api/auth/register').send({
        email: uniqueEmail(),
        password: 12345678,
        name: 'N',
        organizationName: 'O',
      });
      expect(res.status).toBe(400);
      expect(res.body.message).toEqual(expect.arrayContaining([expect.stringContaining('password must be a string')]));
    });

    it('answers malformed JSON with a 400 in the one error shape', async () => {
      const res = await post('/api/auth/register').set('Content-Type', 'application/json').send('{"email":');
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    });
  });

  describe('login, me, logout', () => {
    it('logs in with a token and an HttpOnly cookie; me works with either', async () => {
      const u = await fx.registerUser({ name: 'Bia' });
      const res = await post('/api/auth/login').send({ email: u.email, password: u.password });
      expect(res.status).toBe(200);
      expect(res.body.user).toMatchObject({ id: u.userId, role: 'LOJA' });
      const cookie = (res.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('zyva_session='))!;
      expect(cookie).toContain(`zyva_session=${res.body.token}`);
      expect(cookie).toMatch(/HttpOnly/i);
      expect(cookie).toMatch(/SameSite=Lax/i);
      expect(cookie).toMatch(/Path=\//);

      const viaBearer = await t.http.get('/api/auth/me').set(bearer(res.body.token));
      expect(viaBearer.status).toBe(200);
      expect(viaBearer.body).toEqual({
        id: u.userId,
        email: u.email,
        name: 'Bia',
        role: 'LOJA',
        organizationId: u.organizationId,
        plan: 'FREE',
        emailVerified: false,
      });

      const viaCookie = await t.http.get('/api/auth/me').set('Cookie', `zyva_session=${res.body.token}`);
      expect(viaCookie.status).toBe(200);
      expect(viaCookie.body.id).toBe(u.userId);
    });

    it('takes the Bearer scheme in any case, as RFC 7235 says of auth schemes', async () => {
      const u = await fx.registerUser();
      for (const scheme of ['bearer', 'BEARER', 'BeArEr']) {
        const res = await t.http.get('/api/auth/me').set('Authorization', `${scheme} ${u.token}`);
        expect(res.status).toBe(200);
        expect(res.body.id).toBe(u.userId);
      }
      const write = await t.http.post('/api/contacts').set('Authorization', `bearer ${u.token}`).send({ name: 'Case' });
      expect(write.status).toBe(201);
      expect((await t.http.get('/api/auth/me').set('Authorization', 'bearer')).status).toBe(401);
    });

    it('answers a wrong password and an unknown email with the same 401', async () => {
      const u = await fx.registerUser();
      const wrong = await post('/api/auth/login').send({ email: u.email, password: 'not the password' });
      const unknown = await post('/api/auth/login').send({ email: uniqueEmail('nobody'), password: 'not the password' });
      expect(wrong.status).toBe(401);
      expect(unknown.status).toBe(401);
      expect(wrong.body).toEqual(unknown.body);
      expect(wrong.headers['set-cookie']).toBeUndefined();
    });

    it('stores the session with a 7-day TTL and slides it on use', async () => {
      const u = await fx.registerUser();
      const key = `zyva:session:${u.token}`;
      const ttl = await t.redis.ttl(key);
      expect(ttl).toBeGreaterThan(WEEK - 10);
      expect(ttl).toBeLessThanOrEqual(WEEK);

      await t.redis.expire(key, 100);
      const res = await t.http.get('/api/auth/me').set(bearer(u.token));
      expect(res.status).toBe(200);
      expect(await t.redis.ttl(key)).toBeGreaterThan(WEEK - 10);
    });

    it('logout removes the session from Redis at once', async () => {
      const u = await fx.registerUser();
      const res = await t.http.post('/api/auth/logout').set(bearer(u.token));
      expect(res.status).toBe(204);
      expect(await t.redis.exists(`zyva:session:${u.token}`)).toBe(0);
      expect(await t.redis.sismember(`zyva:user-sessions:${u.userId}`, u.token)).toBe(0);
      const after = await t.http.get('/api/auth/me').set(bearer(u.token));
      expect(after.status).toBe(401);
    });

    it('refuses missing, malformed and unknown tokens with 401', async () => {
      expect((await t.http.get('/api/auth/me')).status).toBe(401);
      expect((await t.http.get('/api/auth/me').set('Authorization', 'Basic abc')).status).toBe(401);
      const res = await t.http.get('/api/auth/me').set(bearer('no-such-session'));
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: expect.any(String) });
    });
  });

  describe('email verification', () => {
    it('verifies with the emailed token once; a second use is a 400', async () => {
      const u = await fx.registerUser();
      const token = await tokenFromEmail(u.email, 'verify-email');

      const first = await post('/api/auth/verify-email').send({ token });
      expect(first.status).toBe(204);
      const user = await t.prisma.user.findUniqueOrThrow({ where: { id: u.userId } });
      expect(user.emailVerifiedAt).toBeInstanceOf(Date);
      expect(await t.redis.exists(`zyva:token:email:${token}`)).toBe(0);

      const second = await post('/api/auth/verify-email').send({ token });
      expect(second.status).toBe(400);

      const me = await t.http.get('/api/auth/me').set(bearer(u.token));
      expect(me.body.emailVerified).toBe(true);
    });

    it('consumes a token exactly once under concurrent use', async () => {
      const u = await fx.registerUser();
      const token = await tokenFromEmail(u.email, 'verify-email');
      const results = await Promise.all(Array.from({ length: 8 }, () => post('/api/auth/verify-email').send({ token })));
      expect(results.filter((r) => r.status === 204)).toHaveLength(1);
      expect(results.filter((r) => r.status === 400)).toHaveLength(7);
    });

    it('refuses an expired token', async () => {
      const u = await fx.registerUser();
      const token = await tokenFromEmail(u.email, 'verify-email');
      await t.redis.pexpire(`zyva:token:email:${token}`, 1);
      await new Promise((r) => setTimeout(r, 20));
      const res = await post('/api/auth/verify-email').send({ token });
      expect(res.status).toBe(400);
      const user = await t.prisma.user.findUniqueOrThrow({ where: { id: u.userId } });
      expect(user.emailVerifiedAt).toBeNull();
    });

    it('refuses an unknown token', async () => {
      expect((await post('/api/auth/verify-email').send({ token: 'made-up' })).status).toBe(400);
    });
  });

  describe('password reset', () => {
    it('answers 202 for unknown emails without queueing anything', async () => {
      const resets = async () =>
        (await t.queue(QueueName.Emails).getJobs(['waiting', 'active', 'completed', 'delayed'])).filter((j) => j.data.template === 'password-reset').length;
      const before = await resets();
      const email = uniqueEmail('ghost');
      const res = await post('/api/auth/password/forgot').send({ email });
      expect(res.status).toBe(202);
      expect(await t.prisma.user.count({ where: { email } })).toBe(0);
      expect(await resets()).toBe(before);
    });

    it('resets once, ends every session, and the new password works', async () => {
      const u = await fx.registerUser();
      const second = await post('/api/auth/login').send({ email: u.email, password: u.password });
      const forgot = await post('/api/auth/password/forgot').send({ email: u.email });
      expect(forgot.status).toBe(202);
      const token = await tokenFromEmail(u.email, 'password-reset');
      expect(await t.redis.ttl(`zyva:token:reset:${token}`)).toBeGreaterThan(3500);

      const reset = await post('/api/auth/password/reset').send({ token, password: 'brand new password' });
      expect(reset.status).toBe(204);

      for (const old of [u.token, second.body.token]) {
        expect(await t.redis.exists(`zyva:session:${old}`)).toBe(0);
        expect((await t.http.get('/api/auth/me').set(bearer(old))).status).toBe(401);
      }
      expect(await t.redis.exists(`zyva:user-sessions:${u.userId}`)).toBe(0);

      const again = await post('/api/auth/password/reset').send({ token, password: 'another password' });
      expect(again.status).toBe(400);

      expect((await post('/api/auth/login').send({ email: u.email, password: u.password })).status).toBe(401);
      expect((await post('/api/auth/login').send({ email: u.email, password: 'brand new password' })).status).toBe(200);
    });

    it('refuses an expired reset token and keeps the old password', async () => {
      const u = await fx.registerUser();
      await post('/api/auth/password/forgot').send({ email: u.email });
      const token = await tokenFromEmail(u.email, 'password-reset');
      await t.redis.pexpire(`zyva:token:reset:${token}`, 1);
      await new Promise((r) => setTimeout(r, 20));
      const res = await post('/api/auth/password/reset').send({ token, password: 'brand new password' });
      expect(res.status).toBe(400);
      expect((await post('/api/auth/login').send({ email: u.email, password: u.password })).status).toBe(200);
    });

    it('validates the new password', async () => {
      const res = await post('/api/auth/password/reset').send({ token: 'x', password: 'short' });
      expect(res.status).toBe(400);
      expect(res.body.message).toEqual(expect.arrayContaining([expect.stringContaining('password')]));
    });
  });
});
