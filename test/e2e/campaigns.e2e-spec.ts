import { randomBytes } from 'node:crypto';
import { JobName, QueueName } from '../../src/core/queues/queue.catalogue';
import { bearer, Fixtures, randomIp, RegisteredUser, uniquePhone, waitFor } from '../utils/factories';
import { StandIn, startWhatsAppStandIn } from '../utils/provider-stand-ins';
import { createTestApp, TestApp, unlinkKeys } from '../utils/test-app';

const WA = { phoneNumberId: '2002', accessToken: 'wa-campaign-token' };

describe('campaigns: fan-out in batches, counts, quota (e2e)', () => {
  let t: TestApp;
  let fx: Fixtures;
  let wa: StandIn;
  let user: RegisteredUser;

  beforeAll(async () => {
    wa = await startWhatsAppStandIn(WA);
    t = await createTestApp({ WHATSAPP_API_URL: wa.url, WHATSAPP_PHONE_ID: WA.phoneNumberId, WHATSAPP_TOKEN: WA.accessToken, WORKER_CONCURRENCY: '20' });
    fx = new Fixtures(t);
    user = await fx.registerUser();
    await fx.setPlan(user.organizationId, 'ENTERPRISE', { maxMessagesPerMonth: 1_000_000 });
  });

  afterAll(async () => {
    await t.redis.del(`zyva:limits:{${user.organizationId}}:messages`);
    await dropQuotaKeys(t, fx);
    await fx.cleanup();
    await t.close();
    await wa.close();
  });

  beforeEach(() => wa.reset());

  /** Contacts created straight in the database, `tag` attached when given. */
  async function contacts(orgId: string, n: number, opts: { tag?: string; phone?: boolean; prefix?: string } = {}) {
    const label = opts.prefix ?? randomBytes(3).toString('hex');
    const rows = Array.from({ length: n }, (_, i) => ({
      organizationId: orgId,
      name: `Cliente ${label} ${i}`,
      phone: opts.phone === false ? null : uniquePhone(),
      email: opts.phone === false ? `c-${label}-${i}@x.dev` : null,
    }));
    const created = await t.prisma.contact.createManyAndReturn({ data: rows, select: { id: true, phone: true, name: true } });
    if (opts.tag) {
      const tag = await t.prisma.tag.upsert({
        where: { organizationId_name: { organizationId: orgId, name: opts.tag } },
        create: { organizationId: orgId, name: opts.tag },
        update: {},
      });
      await t.prisma.contactTag.createMany({ data: created.map((c) => ({ contactId: c.id, tagId: tag.id })) });
    }
    return created;
  }

  const create = (body: Record<string, unknown>, token = user.token) =>
    t.http.post('/api/campaigns').set(bearer(token)).set('X-Forwarded-For', randomIp()).send(body);
  const get = (id: string, token = user.token) => t.http.get(`/api/campaigns/${id}`).set(bearer(token));

  it('sends one message per tagged contact the channel can reach, with counts in GET /api/campaigns/:id', async () => {
    const tag = `vip-${randomBytes(2).toString('hex')}`;
    const vip = await contacts(user.organizationId, 25, { tag });
    await contacts(user.organizationId, 5, { tag, phone: false }); // no phone: not reachable on WhatsApp
    await contacts(user.organizationId, 10); // not tagged
    const before = await t.prisma.organization.findUniqueOrThrow({ where: { id: user.organizationId } });

    const res = await create({ name: 'VIP week', channel: 'WHATSAPP', content: 'Oi {{nome}}, 20% off!', tag });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ id: expect.any(String), status: 'PENDING', total: 25, queued: 0, sent: 0, failed: 0, tag });

    const done = await waitFor(async () => {
      const r = await get(res.body.id);
      return r.body.sent === 25 ? r.body : undefined;
    }, 20000);
    expect(done).toMatchObject({ status: 'COMPLETED', total: 25, queued: 0, sent: 25, failed: 0 });

    const calls = wa.requestsTo('messages');
    expect(calls).toHaveLength(25);
    expect(new Set(calls.map((c) => c.body.to))).toEqual(new Set(vip.map((c) => c.phone!.slice(1))));
    for (const call of calls) {
      const c = vip.find((v) => v.phone!.slice(1) === call.body.to)!;
      expect(call.body.text.body).toBe(`Oi ${c.name}, 20% off!`);
    }
    expect(await t.prisma.message.count({ where: { campaignId: res.body.id, status: 'SENT' } })).toBe(25);
    const after = await t.prisma.organization.findUniqueOrThrow({ where: { id: user.organizationId } });
    expect(after.messagesThisMonth - (before.messagesPeriod === after.messagesPeriod ? before.messagesThisMonth : 0)).toBe(25);

    const fanOut = await t.queue(QueueName.Messages).getJob(`campaign-${res.body.id}`);
    expect(fanOut!.name).toBe(JobName.FanOutCampaign);
    expect(fanOut!.progress).toBe(100);
    expect(fanOut!.returnvalue).toEqual({ created: 25, total: 25 });
  });

  it('fans out a 2,500-contact campaign in batches without blocking the request, sending each contact once', async () => {
    const u = await fx.registerUser();
    await fx.setPlan(u.organizationId, 'ENTERPRISE', { maxMessagesPerMonth: 1_000_000 });
    const all = await contacts(u.organizationId, 2500);
    const started = Date.now();
    const res = await create({ name: 'Everyone', channel: 'WHATSAPP', content: 'Hi {{name}}' }, u.token);
    expect(res.status).toBe(202);
    expect(res.body.total).toBe(2500);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await t.prisma.message.count({ where: { campaignId: res.body.id } })).toBeLessThan(2500);

    // WhatsApp's default pace (80/s, slots ~10% under it) alone takes 34 s for 2,500; a busy machine adds the fan-out.
    await waitFor(async () => ((await get(res.body.id, u.token)).body.sent === 2500 ? true : undefined), 120_000, 250);
    const calls = wa.requestsTo('messages');
    // Paced as the number allows (80/s by default): 2,500 sends spread over at least 31 s. (A 1-second window is
    // checked at 5/s in channels-pace: here the stand-in's clock, in this busy process, blurs 13 ms spacings.)
    const times = calls.map((c) => c.receivedAt).sort((a, b) => a - b);
    expect(times[times.length - 1] - times[0]).toBeGreaterThanOrEqual(30_000);
    expect(calls).toHaveLength(2500);
    expect(new Set(calls.map((c) => c.body.to)).size).toBe(2500);
    expect(new Set(calls.map((c) => c.body.to))).toEqual(new Set(all.map((c) => c.phone!.slice(1))));
    await t.redis.del(`zyva:limits:{${u.organizationId}}:messages`);
  }, 150_000);

  it('running the fan-out again (a crashed worker retried) creates and sends nothing twice', async () => {
    const tag = `again-${randomBytes(2).toString('hex')}`;
    await contacts(user.organizationId, 12, { tag });
    const res = await create({ name: 'Twice', channel: 'WHATSAPP', content: 'once {{nome}}', tag });
    await waitFor(async () => ((await get(res.body.id)).body.sent === 12 ? true : undefined));
    await t.prisma.campaign.update({ where: { id: res.body.id }, data: { status: 'FANNING_OUT' } });
    const rerun = await t.queue(QueueName.Messages).add(JobName.FanOutCampaign, { campaignId: res.body.id, organizationId: user.organizationId }, { jobId: `rerun-${res.body.id}` });
    await waitFor(async () => ((await rerun.getState()) === 'completed' ? true : undefined));
    await new Promise((r) => setTimeout(r, 300));
    expect(await t.prisma.message.count({ where: { campaignId: res.body.id } })).toBe(12);
    expect(wa.requestsTo('messages')).toHaveLength(12);
    expect((await get(res.body.id)).body).toMatchObject({ total: 12, sent: 12, status: 'COMPLETED' });
  });

  it('refuses a campaign larger than the remaining quota whole (402): nothing stored, queued or consumed', async () => {
    const u = await fx.registerUser();
    await fx.setPlan(u.organizationId, 'PRO', { maxMessagesPerMonth: 10 });
    await contacts(u.organizationId, 11);
    const quotaKey = `zyva:limits:{${u.organizationId}}:messages`;
    const refused = await create({ name: 'Too big', channel: 'WHATSAPP', content: 'x' }, u.token);
    expect(refused.status).toBe(402);
    expect(refused.body.error).toBe('Plan Quota Exceeded');
    expect(await t.prisma.campaign.count({ where: { organizationId: u.organizationId } })).toBe(0);
    expect(await t.prisma.message.count({ where: { organizationId: u.organizationId } })).toBe(0);
    expect(Number((await t.redis.get(quotaKey)) ?? 0)).toBe(0);
    expect(wa.requests).toHaveLength(0);

    await fx.setPlan(u.organizationId, 'PRO', { maxMessagesPerMonth: 11 });
    const fits = await create({ name: 'Just fits', channel: 'WHATSAPP', content: 'x' }, u.token);
    expect(fits.status).toBe(202);
    expect(Number(await t.redis.get(quotaKey))).toBe(11);
    await waitFor(async () => ((await get(fits.body.id, u.token)).body.sent === 11 ? true : undefined));
    const single = await t.prisma.contact.findFirstOrThrow({ where: { organizationId: u.organizationId } });
    const more = await t.http.post('/api/messages').set(bearer(u.token)).set('X-Forwarded-For', randomIp()).send({ contactId: single.id, channel: 'WHATSAPP', content: 'one more' });
    expect(more.status).toBe(402);
    await t.redis.del(quotaKey);
  });

  it('schedules the messages of a campaign with scheduledFor as delayed jobs', async () => {
    const tag = `later-${randomBytes(2).toString('hex')}`;
    await contacts(user.organizationId, 3, { tag });
    const at = new Date(Date.now() + 2 * 3600_000).toISOString();
    const res = await create({ name: 'Later', channel: 'WHATSAPP', content: 'later', tag, scheduledFor: at });
    expect(res.status).toBe(202);
    const body = await waitFor(async () => {
      const r = await get(res.body.id);
      return r.body.status === 'QUEUED' ? r.body : undefined;
    });
    expect(body).toMatchObject({ total: 3, queued: 3, sent: 0, scheduledFor: at });
    const messages = await t.prisma.message.findMany({ where: { campaignId: res.body.id } });
    expect(messages.every((m) => m.status === 'SCHEDULED')).toBe(true);
    // One send-campaign-batch job holds them, delayed until scheduledFor.
    const batch = await t.queue(QueueName.Messages).getJob(`batch-${messages[0].id}`);
    const held = batch ? batch : (await t.queue(QueueName.Messages).getDelayed()).find((j) => j.name === JobName.SendCampaignBatch && j.data.campaignId === res.body.id);
    expect(held!.name).toBe(JobName.SendCampaignBatch);
    expect(await held!.getState()).toBe('delayed');
    expect(new Set(held!.data.messageIds)).toEqual(new Set(messages.map((m) => m.id)));
    expect(wa.requests).toHaveLength(0);
  });

  it('completes at once when no contact matches, and validates input', async () => {
    const none = await create({ name: 'Nobody', channel: 'WHATSAPP', content: 'x', tag: 'no-such-tag' });
    expect(none.status).toBe(202);
    expect(none.body).toMatchObject({ status: 'COMPLETED', total: 0 });
    for (const body of [
      { name: 'x', channel: 'FAX', content: 'x' },
      { name: '', channel: 'WHATSAPP', content: 'x' },
      { name: 'x', channel: 'WHATSAPP', content: 'x', scheduledFor: 'tomorrow' },
      { name: 'x', channel: 'WHATSAPP', content: 'x', unknown: 1 },
    ]) {
      expect((await create(body)).status).toBe(400);
    }
  });

  it("answers 404 for another organization's campaign, and lists only the caller's", async () => {
    const other = await fx.registerUser();
    const res = await create({ name: 'Mine', channel: 'WHATSAPP', content: 'x', tag: 'nothing' });
    expect((await get(res.body.id, other.token)).status).toBe(404);
    const list = await t.http.get('/api/campaigns').set(bearer(other.token));
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject({ data: [], total: 0 });
    const mine = await t.http.get('/api/campaigns?limit=100').set(bearer(user.token));
    expect(mine.body.data.map((c: { id: string }) => c.id)).toContain(res.body.id);
  });
});

/** The monthly quota counters of the organizations this file made (Redis keys outlive the rows). */
async function dropQuotaKeys(app: TestApp, fixtures: Fixtures): Promise<void> {
  const ids = [...(fixtures['orgIds'] as Set<string>)];
  await unlinkKeys(app.redis, ids.map((id) => `zyva:limits:{${id}}:messages`));
}
