import { randomBytes } from 'node:crypto';
import { QueueName } from '../../src/core/queues/queue.catalogue';
import { FORGOT_PASSWORD_PER_ACCOUNT } from '../../src/modules/auth/auth.service';
import { Fixtures, randomIp, uniqueEmail } from '../utils/factories';
import { TestApp, createTestApp, scanKeys, unlinkKeys } from '../utils/test-app';

/** Public routes: the provider webhooks per IP, reset emails per account as well as per IP, IPv6 by /64. */
describe('rate limits of public routes (e2e)', () => {
  let t: TestApp;
  let fx: Fixtures;
  const prefixes: string[] = [];

  beforeAll(async () => {
    t = await createTestApp({ WEBHOOK_RATE_LIMIT: '3', AUTH_RATE_LIMIT: '4' });
    fx = new Fixtures(t);
  });

  afterAll(async () => {
    for (const prefix of prefixes) await unlinkKeys(t.redis, await scan(prefix));
    await fx.cleanup();
    await t.close();
  });

  /** Keys starting with `prefix` (SCAN on every node, never KEYS). */
  async function scan(prefix: string): Promise<string[]> {
    const found: string[] = [];
    for await (const batch of scanKeys(t.redis, `${prefix}*`)) found.push(...batch);
    return found;
  }

  const limitKeysOf = async (prefix: string) => {
    prefixes.push(prefix);
    return scan(prefix);
  };

  it('limits the provider webhooks per client IP and route (WEBHOOK_RATE_LIMIT), on one key', async () => {
    const ip = randomIp();
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await t.http.post('/api/webhooks/whatsapp').set('X-Forwarded-For', ip).send({ object: 'whatsapp_business_account', entry: [] });
      statuses.push(res.status);
      expect(res.headers['x-ratelimit-limit']).toBe('3');
    }
    expect(statuses.slice(0, 3)).not.toContain(429);
    expect(statuses[3]).toBe(429);
    expect(await limitKeysOf(`zyva:ratelimit:webhook:/api/webhooks/whatsapp:${ip}`)).toEqual([`zyva:ratelimit:webhook:/api/webhooks/whatsapp:${ip}`]);
    // Another provider's route from the same address has its own window.
    const resend = await t.http.post('/api/webhooks/resend').set('X-Forwarded-For', ip).send({});
    expect(resend.status).not.toBe(429);
    prefixes.push(`zyva:ratelimit:webhook:/api/webhooks/resend:${ip}`);
  });

  it('sends reset emails per account up to its hourly allowance, whatever address asks, answering 202 every time', async () => {
    const registered = (await fx.registerUser()).email;
    const unknown = 'no-such-account@test.zyva.dev'.replace('no-such', randomBytes(3).toString('hex'));
    const resetsOf = async (userId: string) =>
      (await t.queue(QueueName.Emails).getJobs(['waiting', 'active', 'completed', 'delayed', 'failed'])).filter((j) => j.data.userId === userId && j.data.template === 'password-reset').length;
    for (const email of [registered, unknown]) {
      const statuses: number[] = [];
      for (let i = 0; i <= FORGOT_PASSWORD_PER_ACCOUNT.limit; i++) {
        const ip = randomIp();
        prefixes.push(`zyva:ratelimit:auth:/api/auth/password/forgot:${ip}`);
        const res = await t.http.post('/api/auth/password/forgot').set('X-Forwarded-For', ip).send({ email: email.toUpperCase() });
        statuses.push(res.status);
        // The headers are the route's own per-IP window: the allowance per account shows in nothing answered.
        expect(res.headers['x-ratelimit-limit']).toBe('4');
        expect(res.headers['x-ratelimit-remaining']).toBe('3');
      }
      expect(statuses).toEqual(Array(FORGOT_PASSWORD_PER_ACCOUNT.limit + 1).fill(202));
    }
    const user = await t.prisma.user.findUniqueOrThrow({ where: { email: registered } });
    expect(await resetsOf(user.id)).toBe(FORGOT_PASSWORD_PER_ACCOUNT.limit);
    const keys = await limitKeysOf('zyva:ratelimit:forgot:');
    expect(keys.length).toBeGreaterThanOrEqual(2);
    for (const key of keys) expect(key).toMatch(/^zyva:ratelimit:forgot:[0-9a-f]{32}$/);
  });

  it('counts IPv6 clients by their /64 prefix', async () => {
    const group = () => (0x1000 + randomBytes(2).readUInt16BE() % 0xe000).toString(16);
    const [g3, g4] = [group(), group()];
    const prefix = `2001:db8:${g3}:${g4}`;
    const login = (ip: string) =>
      t.http.post('/api/auth/login').set('X-Forwarded-For', ip).send({ email: 'nobody@test.zyva.dev', password: 'wrong password' });
    const statuses: number[] = [];
    for (let i = 1; i <= 5; i++) statuses.push((await login(`${prefix}::${i.toString(16)}`)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 429]);
    expect(await limitKeysOf(`zyva:ratelimit:auth:/api/auth/login:${prefix}::/64`)).toHaveLength(1);
    // The next /64 is another client.
    const neighbour = `2001:db8:${g3}:${(parseInt(g4, 16) ^ 1).toString(16)}`;
    expect((await login(`${neighbour}::1`)).status).toBe(401);
    prefixes.push(`zyva:ratelimit:auth:/api/auth/login:${neighbour}::/64`);
  });
});
