import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { bearer, Fixtures, randomIp, RegisteredUser, SETTLED_STATUSES, waitFor } from '../utils/factories';
import { busiestSecond, StandIn, startWhatsAppStandIn, whatsAppErrors, WhatsAppNumber } from '../utils/provider-stand-ins';
import { spawnZyva, stopProcess } from '../utils/processes';
import { createTestApp, TestApp } from '../utils/test-app';
import { JobName, QueueName } from '../../src/core/queues/queue.catalogue';

/**
 * The pace of a connection holds across worker processes together (a Redis
 * limiter per connection), and the provider's throttling pauses the account
 * without using the message's attempts.
 */
describe('pace per connection across workers, and throttling (e2e)', () => {
  let api: TestApp;
  let fx: Fixtures;
  let wa: StandIn;
  let user: RegisteredUser;
  const children: ChildProcess[] = [];
  const number: WhatsAppNumber = { phoneNumberId: String(850000000000000 + Math.floor(Math.random() * 1e9)), accessToken: `EAAG-${randomBytes(6).toString('hex')}` };

  beforeAll(async () => {
    wa = await startWhatsAppStandIn({ numbers: [number], templates: { '1': [{ name: 'ritmo', language: 'pt_BR', body: 'Oi {{1}}, chegou a coleção nova' }] } });
    api = await createTestApp({ WHATSAPP_API_URL: wa.url, APP_ROLE: 'api' });
    fx = new Fixtures(api);
    user = await fx.registerUser();
    await fx.setPlan(user.organizationId, 'ENTERPRISE', { maxMessagesPerMonth: 1_000_000 });
    const connected = await api.http
      .put('/api/channels/whatsapp')
      .set(bearer(user.token))
      .send({ phoneNumberId: number.phoneNumberId, businessAccountId: '1', accessToken: number.accessToken, maxPerSecond: 5 });
    expect(connected.body.maxPerSecond).toBe(5);
    for (let i = 0; i < 2; i++) startWorker();
  });

  afterAll(async () => {
    await Promise.all(children.map((child) => stopProcess(child)));
    await fx.cleanup();
    await api.close();
    await wa.close();
  });

  beforeEach(async () => {
    wa.reset();
    // Each test starts with the account's limiter as new: no slot reserved, no pause or streak of pauses left.
    const connection = await api.prisma.channelConnection.findFirstOrThrow({ where: { organizationId: user.organizationId } });
    await api.redis.del(`zyva:pace:{${user.organizationId}}:${connection.id}`);
  });

  function startWorker(): void {
    children.push(spawnZyva({ WHATSAPP_API_URL: wa.url, APP_ROLE: 'worker', WORKER_CONCURRENCY: '20', LOG_LEVEL: 'silent' }).child);
  }

  const contact = () =>
    api.prisma.contact.create({
      data: { organizationId: user.organizationId, name: 'Cliente', phone: `+55119${Math.floor(1e7 + Math.random() * 8e7)}`, whatsappWindowExpiresAt: new Date(Date.now() + 3600_000) },
    });
  const send = async (text: string) => {
    const c = await contact();
    const res = await api.http.post('/api/messages').set(bearer(user.token)).set('X-Forwarded-For', randomIp()).send({ contactId: c.id, channel: 'WHATSAPP', content: text });
    expect(res.status).toBe(202);
    return res.body.id as string;
  };
  /** The campaign's `size` messages once every one is settled. */
  const settledCampaign = (campaignId: string, size: number) =>
    waitFor(async () => {
      const r = await api.prisma.message.findMany({ where: { campaignId } });
      return r.length === size && r.every((m) => SETTLED_STATUSES.includes(m.status)) ? r : undefined;
    }, 60000, 200);
  /** A template campaign to `size` new contacts in the window (through the 5/s connection); answers its id. */
  const campaign = async (size: number) => {
    const tag = `ritmo-${randomBytes(3).toString('hex')}`;
    const made = await Promise.all(Array.from({ length: size }, () => contact()));
    const tagRow = await api.prisma.tag.create({ data: { organizationId: user.organizationId, name: tag } });
    await api.prisma.contactTag.createMany({ data: made.map((c) => ({ contactId: c.id, tagId: tagRow.id })) });
    const res = await api.http
      .post('/api/campaigns')
      .set(bearer(user.token))
      .set('X-Forwarded-For', randomIp())
      .send({ name: 'Ritmo', channel: 'WHATSAPP', tag, template: { name: 'ritmo', language: 'pt_BR', variables: ['{{nome}}'] } });
    expect(res.status).toBe(202);
    return res.body.id as string;
  };

  it('never exceeds maxPerSecond (5) in any 1-second window, with two worker processes sending', async () => {
    const ids = await Promise.all(Array.from({ length: 25 }, (_, i) => send(`ritmo ${i}`)));
    const rows = await waitFor(async () => {
      const r = await api.prisma.message.findMany({ where: { id: { in: ids } } });
      return r.every((m) => SETTLED_STATUSES.includes(m.status)) ? r : undefined;
    }, 60000, 100);
    expect(rows.every((m) => m.status === 'SENT' && m.attempts === 1)).toBe(true);
    const calls = wa.requestsTo('messages');
    const times = calls.map((r) => r.receivedAt).sort((x, y) => x - y);
    expect(times).toHaveLength(25);
    expect(busiestSecond(calls)).toBeLessThanOrEqual(5);
    // And it was paced, not merely slow: 25 sends at 5 a second take about 5 seconds.
    expect(times[times.length - 1] - times[0]).toBeGreaterThanOrEqual(4000);
    expect(await api.redis.exists(`zyva:pace:{${user.organizationId}}:${(await api.prisma.channelConnection.findFirstOrThrow({ where: { organizationId: user.organizationId } })).id}`)).toBe(1);
  }, 90000);

  it("a campaign's batches hand their messages on at their slots: at most 5 in any second, each sent once, across two workers", async () => {
    const campaignId = await campaign(60);
    // Each message's job waits, delayed, for the slot its batch reserved for it, without having run: no job is
    // fetched only to be put back (one whose slot was due at once may run, miss it on a busy machine, and wait again).
    await waitFor(async () => {
      const jobs = await api.queue(QueueName.Messages).getDelayed();
      const waiting = jobs.filter(
        (j) =>
          j.name === JobName.SendMessage &&
          (j.data as { organizationId?: string }).organizationId === user.organizationId &&
          typeof (j.data as { paceSlot?: { latest: number } }).paceSlot?.latest === 'number' &&
          j.attemptsStarted === 0,
      );
      return waiting.length >= 40 ? waiting : undefined;
    }, 20000, 100);
    const rows = await settledCampaign(campaignId, 60);
    expect(rows.every((m) => m.status === 'SENT' && m.attempts === 1)).toBe(true);
    const calls = wa.requestsTo('messages');
    expect(new Set(calls.map((c) => c.body.to)).size).toBe(60);
    expect(calls).toHaveLength(60);
    const times = calls.map((r) => r.receivedAt).sort((x, y) => x - y);
    expect(busiestSecond(calls)).toBeLessThanOrEqual(5);
    expect(times[times.length - 1] - times[0]).toBeGreaterThanOrEqual(10_000);
  }, 120000);

  it("a 130429 answer during a paced campaign pauses it: the slots its jobs hold inside the pause are taken again after it", async () => {
    wa.script('messages', whatsAppErrors.rateLimited());
    const campaignId = await campaign(20);
    const rows = await settledCampaign(campaignId, 20);
    expect(rows.every((m) => m.status === 'SENT' && m.attempts === 1)).toBe(true);
    const calls = wa.requestsTo('messages');
    expect(calls).toHaveLength(21);
    const throttled = calls.find((c) => c.response?.status !== 200)!;
    // The pause (1 s, the answer named none) holds for every job, the ones holding a slot inside it too.
    expect(calls.filter((c) => c !== throttled && c.receivedAt > throttled.receivedAt && c.receivedAt < throttled.receivedAt + 1000)).toEqual([]);
    const accepted = calls.filter((c) => c.response?.status === 200);
    expect(new Set(accepted.map((c) => c.body.to)).size).toBe(20);
  }, 90000);

  it('waits out four 130429 answers without using an attempt, then sends: SENT with attempts 1', async () => {
    wa.script('messages', whatsAppErrors.rateLimited(), whatsAppErrors.rateLimited(), whatsAppErrors.rateLimited(), whatsAppErrors.rateLimited());
    const id = await send('limitado');
    const m = await waitFor(async () => {
      const row = await api.prisma.message.findUniqueOrThrow({ where: { id } });
      return SETTLED_STATUSES.includes(row.status) ? row : undefined;
    }, 60000, 100);
    expect(m).toMatchObject({ status: 'SENT', attempts: 1 });
    const calls = wa.requestsTo('messages');
    expect(calls).toHaveLength(5);
    // The account paused at least 1 s, doubling, between throttled answers (1 + 2 + 4 + 8 s).
    expect(calls[4].receivedAt - calls[0].receivedAt).toBeGreaterThanOrEqual(14_000);
  }, 90000);
});
