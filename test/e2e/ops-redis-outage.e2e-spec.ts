import { Queue, Worker } from 'bullmq';
import { JobName, QueueName } from '../../src/core/queues/queue.catalogue';
import { SESSION_COOKIE } from '../../src/core/auth/auth.types';
import { Fixtures, RegisteredUser, bearer, randomIp, waitFor } from '../utils/factories';
import { TestApp, createTestApp, describeOnSingleNode } from '../utils/test-app';
import { TcpProxy } from '../utils/tcp-proxy';

const cookie = (token: string) => ({ Cookie: `${SESSION_COOKIE}=${token}` });

function sampleOf(text: string, name: string, labels: Record<string, string> = {}): number {
  const line = text.split('\n').find((l) => l.startsWith(name) && Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

// A TCP proxy stands for one node; a cluster client would learn the nodes' own addresses and go round it.
describeOnSingleNode('operations while Redis goes away and comes back (e2e)', () => {
  const proxy = new TcpProxy(new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1'));
  let t: TestApp;
  let fixtures: Fixtures;
  let admin: RegisteredUser;
  let direct: Queue;
  let worker: Worker;

  const metrics = async () => {
    const res = await t.http.get('/metrics');
    expect(res.status).toBe(200);
    return res.text;
  };

  beforeAll(async () => {
    await proxy.start();
    t = await createTestApp({ APP_ROLE: 'api', REDIS_URL: proxy.url, METRICS_TOKEN: '' });
    fixtures = new Fixtures(t);
    admin = await fixtures.createAdmin();
    // Another process's view of the queues, on the real Redis: it never loses its connection.
    const prefix = t.queue(QueueName.Emails).opts.prefix;
    const connection = { url: process.env.REDIS_URL!, maxRetriesPerRequest: null };
    direct = new Queue(QueueName.Emails, { connection, prefix });
    worker = new Worker(QueueName.Emails, async () => 'sent', { connection, prefix });
  });

  afterAll(async () => {
    await worker?.close();
    await direct?.close();
    await fixtures?.cleanup();
    await t?.close();
    await proxy.cut().catch(() => undefined);
  });

  const payload = { template: 'verify-email' as const, userId: 'u1', ref: 'outage-test' };
  const completed = { queue: 'emails' };

  it('keeps serving /metrics, refuses the dashboard with 503, and counts jobs finished meanwhile once Redis is back', async () => {
    await direct.add(JobName.SendEmail, payload);
    const start = await waitFor(async () => {
      const text = await metrics();
      return sampleOf(text, 'zyva_queue_jobs_completed_total', completed) === 1 ? text : null;
    });
    const sampledBefore = sampleOf(start, 'zyva_queue_sampled_timestamp_seconds');
    expect((await t.http.get('/admin/queues').set(cookie(admin.token))).status).toBe(200);

    await proxy.cut();

    const health = await t.http.get('/health');
    expect(health.status).toBe(503);
    expect(health.body.error.redis.status).toBe('down');
    const board = await t.http.get('/admin/queues').set(cookie(admin.token));
    expect(board.status).toBe(503);
    expect(board.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
    expect((await t.http.get('/api/admin/redis/stats').set(bearer(admin.token))).status).toBe(503);
    const during = await metrics();
    expect(sampleOf(during, 'zyva_queue_jobs_completed_total', completed)).toBe(1);

    // Finished by another worker while this API process cannot see Redis.
    const job = await direct.add(JobName.SendEmail, payload);
    await waitFor(async () => (await job.getState()) === 'completed');

    await proxy.start();
    const after = await waitFor(async () => {
      const text = await metrics();
      return sampleOf(text, 'zyva_queue_jobs_completed_total', completed) === 2 &&
        sampleOf(text, 'zyva_queue_sampled_timestamp_seconds') > sampledBefore
        ? text
        : null;
    }, 20_000);
    expect(sampleOf(after, 'zyva_queue_jobs_completed_total', completed)).toBe(2);
    await waitFor(async () => (await t.http.get('/admin/queues').set(cookie(admin.token))).status === 200);
    expect((await t.http.get('/api/admin/redis/stats').set(bearer(admin.token))).status).toBe(200);
    expect((await t.http.get('/health')).status).toBe(200);
  });

  it('leaves no half registration when Redis fails after the rows are written: the same registration works once it is back', async () => {
    const email = `outage-${Date.now()}@zyva.test`;
    const body = { email, password: 'a good password 1', name: 'Ana', organizationName: 'Loja da Ana' };
    await proxy.cut();
    try {
      const refused = await t.http.post('/api/auth/register').set('X-Forwarded-For', randomIp()).send(body);
      expect(refused.status).toBe(503);
      expect(await t.prisma.user.count({ where: { email } })).toBe(0);
      expect(await t.prisma.organization.count({ where: { name: body.organizationName, users: { none: {} } } })).toBe(0);
    } finally {
      await proxy.start();
    }
    const registered = await waitFor(async () => {
      const res = await t.http.post('/api/auth/register').set('X-Forwarded-For', randomIp()).send(body);
      return res.status === 201 ? res : undefined;
    }, 20_000, 200);
    try {
      expect((await t.http.get('/api/auth/me').set(bearer(registered.body.token))).status).toBe(200);
      expect(await t.prisma.user.count({ where: { email } })).toBe(1);
    } finally {
      await t.http.post('/api/auth/logout').set(bearer(registered.body.token));
      await t.prisma.organization.delete({ where: { id: registered.body.organization.id } });
    }
  });
});
