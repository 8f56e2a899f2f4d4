import type { ChildProcess } from 'node:child_process';
import { QueueName } from '../../src/core/queues/queue.catalogue';
import { bearer, Fixtures, randomIp, RegisteredUser, waitFor } from '../utils/factories';
import { ResendStandIn, startResendStandIn } from '../utils/provider-stand-ins';
import { spawnZyva, type ZyvaProcess } from '../utils/processes';
import { createTestApp, TestApp } from '../utils/test-app';

const KEY = 're_crash_key';
const LOCK_MS = '2000';

/**
 * Real worker processes (`APP_ROLE=worker`, src/main.ts run through the swc
 * require hook) on this file's queue prefix: stopped with SIGTERM they finish
 * what they hold; killed with SIGKILL mid-batch, their jobs are recovered as
 * stalled by the next worker, and nothing is lost or sent twice. Sends go to
 * a slow Resend stand-in, whose Idempotency-Key handling is the real one.
 */
describe('worker shutdown and crash recovery (e2e)', () => {
  let api: TestApp;
  let fx: Fixtures;
  let resend: ResendStandIn;
  let user: RegisteredUser;
  const children: ChildProcess[] = [];

  // Unpaced (Resend's default is 2 a second): this file is about workers dying with jobs in hand, not about pace.
  const providerEnv = () => ({ RESEND_API_URL: resend.url, RESEND_API_KEY: KEY, EMAIL_FROM: 'Zyva <no-reply@zyva.dev>', RESEND_MAX_PER_SECOND: '1000' });

  beforeAll(async () => {
    resend = await startResendStandIn({ apiKey: KEY });
    api = await createTestApp({ ...providerEnv(), APP_ROLE: 'api' });
    fx = new Fixtures(api);
    user = await fx.registerUser();
    await fx.setPlan(user.organizationId, 'PRO', { maxMessagesPerMonth: 1000 });
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await api.redis.del(`zyva:limits:{${user.organizationId}}:messages`);
    await fx.cleanup();
    await api.close();
    await resend.close();
  });

  function startWorker(): ZyvaProcess {
    const worker = spawnZyva({ ...providerEnv(), APP_ROLE: 'worker', WORKER_CONCURRENCY: '5', WORKER_LOCK_DURATION_MS: LOCK_MS, LOG_LEVEL: 'silent' });
    children.push(worker.child);
    return worker;
  }

  async function queueEmails(n: number): Promise<string[]> {
    const c = await api.prisma.contact.create({ data: { organizationId: user.organizationId, name: 'Crash', email: `crash-${Date.now()}@x.dev` } });
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const res = await api.http.post('/api/messages').set(bearer(user.token)).set('X-Forwarded-For', randomIp()).send({ contactId: c.id, channel: 'EMAIL', content: `Mensagem ${i}` });
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }
    return ids;
  }

  const statuses = async (ids: string[]) => api.prisma.message.findMany({ where: { id: { in: ids } } });
  const deliveriesOf = (ids: string[]) => resend.deliveries.filter((d) => ids.some((id) => d.idempotencyKey === `message-${id}`));
  const requestsOf = (ids: string[]) => resend.requestsTo('emails').filter((r) => ids.some((id) => r.headers['idempotency-key'] === `message-${id}`));

  it('SIGTERM: the worker stops taking jobs, finishes the active ones, exits; the rest waits for the next worker', async () => {
    const ids = await queueEmails(20);
    resend.delayMs = 400;
    const { child, exited } = startWorker();
    await waitFor(async () => (requestsOf(ids).length >= 3 ? true : undefined), 30000, 20);

    child.kill('SIGTERM');
    const exit = await exited;
    expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);

    // Every send that reached the provider was recorded; nothing was left active.
    const rows = await statuses(ids);
    const sent = rows.filter((m) => m.status === 'SENT');
    expect(new Set(sent.map((m) => m.id))).toEqual(new Set(requestsOf(ids).map((r) => (r.headers['idempotency-key'] as string).slice('message-'.length))));
    expect(sent.length).toBeLessThan(20);
    const queue = api.queue(QueueName.Messages);
    expect(await queue.getActiveCount()).toBe(0);
    expect(await queue.getWaitingCount()).toBeGreaterThanOrEqual(20 - sent.length);

    resend.delayMs = 0;
    const next = startWorker();
    await waitFor(async () => ((await statuses(ids)).every((m) => m.status === 'SENT') ? true : undefined), 30000, 100);
    expect(deliveriesOf(ids)).toHaveLength(20);
    expect(requestsOf(ids)).toHaveLength(20);
    next.child.kill('SIGTERM');
    await next.exited;
  }, 60000);

  it('SIGKILL mid-batch: stalled jobs are taken over by the next worker; nothing lost, nothing delivered twice', async () => {
    const ids = await queueEmails(30);
    resend.delayMs = 300;
    const { child, exited } = startWorker();
    await waitFor(async () => ((await statuses(ids)).filter((m) => m.status === 'SENT').length >= 5 ? true : undefined), 30000, 20);
    child.kill('SIGKILL');
    await exited;

    const atKill = await statuses(ids);
    const sentAtKill = atKill.filter((m) => m.status === 'SENT').length;
    expect(sentAtKill).toBeLessThan(30);
    // Jobs the dead worker held are still "active" until their lock expires.
    expect(await api.queue(QueueName.Messages).getActiveCount()).toBeGreaterThan(0);

    resend.delayMs = 0;
    const next = startWorker();
    const rows = await waitFor(async () => {
      const r = await statuses(ids);
      return r.every((m) => m.status === 'SENT') ? r : undefined;
    }, 45000, 100);

    const deliveries = deliveriesOf(ids);
    expect(deliveries).toHaveLength(30);
    expect(new Set(deliveries.map((d) => d.idempotencyKey)).size).toBe(30);
    for (const m of rows) {
      // The recorded provider id is that of the one delivery, even when the send was repeated after the crash.
      expect(m.externalId).toBe(deliveries.find((d) => d.idempotencyKey === `message-${m.id}`)!.id);
    }
    const org = await api.prisma.organization.findUniqueOrThrow({ where: { id: user.organizationId } });
    expect(org.messagesThisMonth).toBe(50);
    next.child.kill('SIGTERM');
    await next.exited;
  }, 90000);
});
