import { randomBytes } from 'node:crypto';
import { QueueName } from '../../src/core/queues/queue.catalogue';
import type { RedisClient } from '../../src/core/redis/redis.connection';
import { bearer, Fixtures, randomIp, RegisteredUser, waitFor } from '../utils/factories';
import { StandIn, startWhatsAppStandIn } from '../utils/provider-stand-ins';
import { createTestApp, TestApp } from '../utils/test-app';

const WA = { phoneNumberId: '3003', accessToken: 'wa-reconcile-token' };

/**
 * An API process whose queue is unreachable stores messages it cannot queue;
 * a worker's reconciler (a BullMQ job scheduler) queues them once they are
 * older than the grace period, and they are sent.
 */
describe('reconciler: messages stored while the queue was unreachable (e2e)', () => {
  let api: TestApp;
  let worker: TestApp;
  let fx: Fixtures;
  let wa: StandIn;
  let user: RegisteredUser;

  beforeAll(async () => {
    wa = await startWhatsAppStandIn(WA);
    const providers = { WHATSAPP_API_URL: wa.url, WHATSAPP_PHONE_ID: WA.phoneNumberId, WHATSAPP_TOKEN: WA.accessToken };
    api = await createTestApp({ ...providers, APP_ROLE: 'api' });
    worker = await createTestApp({ ...providers, APP_ROLE: 'worker', RECONCILE_INTERVAL_MS: '1000', RECONCILE_GRACE_MS: '60000' });
    fx = new Fixtures(api);
    user = await fx.registerUser();
    await fx.setPlan(user.organizationId, 'PRO', { maxMessagesPerMonth: 1000 });
    // The API's queue connection (one per process, shared by its queues) goes away: enqueueing fails from now on.
    (api.queue(QueueName.Messages).opts.connection as RedisClient).disconnect();
  });

  afterAll(async () => {
    await api.redis.del(`zyva:limits:{${user.organizationId}}:messages`);
    await fx.cleanup();
    await api.close();
    await worker.close();
    await wa.close();
  });

  const phone = () => `+55319${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
  /** Requests for our own contacts only: other suites' stale messages may be reconciled into this queue too. */
  const callsTo = (p: string) => wa.requestsTo('messages').filter((r) => r.body.to === p.slice(1));
  /** Stands for time passing: the row was last touched `ms` ago. */
  const age = (table: 'messages' | 'campaigns', id: string, ms: number) =>
    api.prisma.$executeRawUnsafe(`UPDATE ${table} SET "updatedAt" = "updatedAt" - ($1 || ' milliseconds')::interval WHERE id = $2`, String(ms), id);

  it('accepts the message (202, stored QUEUED) although it could not be queued, and sends it once reconciled', async () => {
    const p = phone();
    const c = await api.prisma.contact.create({ data: { organizationId: user.organizationId, name: 'Rui', phone: p } });
    const res = await api.http.post('/api/messages').set(bearer(user.token)).set('X-Forwarded-For', randomIp()).send({ contactId: c.id, channel: 'WHATSAPP', content: 'Olá {{nome}}' });
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('QUEUED');
    expect(await worker.queue(QueueName.Messages).getJob(res.body.id)).toBeUndefined();
    expect((await api.prisma.message.findUniqueOrThrow({ where: { id: res.body.id } })).status).toBe('QUEUED');

    // Within the grace period the reconciler leaves it alone (the normal path may still be on its way).
    await new Promise((r) => setTimeout(r, 2500));
    expect(callsTo(p)).toHaveLength(0);
    expect((await api.prisma.message.findUniqueOrThrow({ where: { id: res.body.id } })).status).toBe('QUEUED');

    await age('messages', res.body.id, 10 * 60_000);
    // Completed runs are trimmed (the newest 20 are kept, one more every second): look at them while waiting.
    const requeuedBy: number[] = [];
    const sent = await waitFor(async () => {
      const runs = (await worker.queue(QueueName.Messages).getJobs(['completed'])).filter((j) => j?.name === 'reconcile-messages');
      requeuedBy.push(...runs.map((j) => (j.returnvalue as { requeued: number }).requeued));
      const m = await api.prisma.message.findUniqueOrThrow({ where: { id: res.body.id } });
      return m.status === 'SENT' ? m : undefined;
    }, 15000);
    expect(sent.attempts).toBe(1);
    expect(callsTo(p)).toHaveLength(1);
    expect(callsTo(p)[0].body.text.body).toBe('Olá Rui');
    const job = await worker.queue(QueueName.Messages).getJob(res.body.id);
    expect(job?.name).toBe('send-message');

    const runs = (await worker.queue(QueueName.Messages).getJobs(['completed'])).filter((j) => j?.name === 'reconcile-messages');
    requeuedBy.push(...runs.map((j) => (j.returnvalue as { requeued: number }).requeued));
    expect(requeuedBy.some((requeued) => requeued >= 1)).toBe(true);
    expect(await worker.queue(QueueName.Messages).getJobSchedulers()).toEqual(
      expect.arrayContaining([expect.objectContaining({ key: 'reconcile-messages', every: 1000 })]),
    );
  });

  it('queues again the fan-out of a campaign accepted while the queue was unreachable', async () => {
    const tag = `rec-${randomBytes(2).toString('hex')}`;
    const phones = [phone(), phone(), phone()];
    const t = await api.prisma.tag.create({ data: { organizationId: user.organizationId, name: tag } });
    for (const p of phones) {
      await api.prisma.contact.create({ data: { organizationId: user.organizationId, name: 'Camp', phone: p, tags: { create: { tagId: t.id } } } });
    }
    const res = await api.http.post('/api/campaigns').set(bearer(user.token)).set('X-Forwarded-For', randomIp()).send({ name: 'Offline', channel: 'WHATSAPP', content: 'x', tag });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'PENDING', total: 3 });
    await age('campaigns', res.body.id, 10 * 60_000);
    await waitFor(async () => ((await api.prisma.message.count({ where: { campaignId: res.body.id, status: 'SENT' } })) === 3 ? true : undefined), 15000);
    for (const p of phones) expect(callsTo(p)).toHaveLength(1);
  });

  it('never sends a message again that is already SENT, even when its job is queued a second time', async () => {
    const p = phone();
    const c = await api.prisma.contact.create({ data: { organizationId: user.organizationId, name: 'Once', phone: p } });
    const m = await api.prisma.message.create({
      data: { organizationId: user.organizationId, contactId: c.id, channel: 'WHATSAPP', content: 'x', status: 'SENT', externalId: 'wamid.already', sentAt: new Date() },
    });
    const job = await worker.queue(QueueName.Messages).add('send-message', { messageId: m.id, organizationId: user.organizationId }, { jobId: m.id });
    await waitFor(async () => ((await job.getState()) === 'completed' ? true : undefined));
    expect((await worker.queue(QueueName.Messages).getJob(m.id))!.returnvalue).toEqual({ status: 'SKIPPED', reason: 'the message is already SENT' });
    expect(callsTo(p)).toHaveLength(0);
    expect((await api.prisma.message.findUniqueOrThrow({ where: { id: m.id } })).attempts).toBe(0);
  });
});
