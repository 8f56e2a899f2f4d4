import { currentPeriod } from '../../src/core/plans/plans';
import { QueueName } from '../../src/core/queues/queue.catalogue';
import { bearer, Fixtures, randomIp, RegisteredUser, SETTLED_STATUSES, waitFor } from '../utils/factories';
import { graphError, StandIn, startWhatsAppStandIn, whatsAppErrors } from '../utils/provider-stand-ins';
import { createTestApp, TestApp, unlinkKeys } from '../utils/test-app';

const PHONE_ID = '106540352242922';
const TOKEN = 'wa-test-token';

describe('messages through WhatsApp (e2e)', () => {
  let t: TestApp;
  let fx: Fixtures;
  let wa: StandIn;
  let user: RegisteredUser;

  beforeAll(async () => {
    wa = await startWhatsAppStandIn({ phoneNumberId: PHONE_ID, accessToken: TOKEN });
    t = await createTestApp({ WHATSAPP_API_URL: wa.url, WHATSAPP_PHONE_ID: PHONE_ID, WHATSAPP_TOKEN: TOKEN });
    fx = new Fixtures(t);
    user = await fx.registerUser();
    await fx.setPlan(user.organizationId, 'ENTERPRISE', { maxMessagesPerMonth: 1_000_000 });
  });

  afterAll(async () => {
    await dropQuotaKeys(t, fx);
    await fx.cleanup();
    await t.close();
    await wa.close();
  });

  beforeEach(() => wa.reset());

  const contact = (data: { name?: string; phone?: string | null; email?: string | null }, orgId = user.organizationId) =>
    t.prisma.contact.create({
      data: {
        organizationId: orgId,
        name: data.name ?? 'Ana Souza',
        phone: data.phone === undefined ? `+55119${Math.floor(10000000 + Math.random() * 89999999)}` : data.phone,
        email: data.email ?? null,
      },
    });

  const post = (body: Record<string, unknown>, token = user.token, headers: Record<string, string> = {}) =>
    t.http.post('/api/messages').set(bearer(token)).set('X-Forwarded-For', randomIp()).set(headers).send(body);

  const message = (id: string) => t.prisma.message.findUniqueOrThrow({ where: { id } });
  const settled = (id: string) =>
    waitFor(async () => {
      const m = await message(id);
      return SETTLED_STATUSES.includes(m.status) ? m : undefined;
    }, 20000);

  it('goes QUEUED -> SENT with the provider id, the rendered text at the provider, and the monthly counters', async () => {
    const c = await contact({ name: 'Ana Souza', email: 'ana@loja.dev' });
    const before = await t.prisma.organization.findUniqueOrThrow({ where: { id: user.organizationId } });
    const res = await post({ contactId: c.id, channel: 'WHATSAPP', content: 'Olá {{nome}} ({{email}}, {{phone}}) {{name}}!' });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ id: expect.any(String), status: 'QUEUED' });
    expect((await message(res.body.id)).status).toMatch(/QUEUED|SENDING|SENT/);

    const m = await settled(res.body.id);
    expect(m.status).toBe('SENT');
    expect(m.attempts).toBe(1);
    expect(m.sentAt).toBeInstanceOf(Date);

    const calls = wa.requestsTo('messages');
    expect(calls).toHaveLength(1);
    expect(calls[0].path).toBe(`/${PHONE_ID}/messages`);
    expect(calls[0].headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(calls[0].body).toEqual({
      messaging_product: 'whatsapp',
      recipient_type: 'individual',
      to: c.phone!.slice(1),
      // Meta echoes it in the status reports of this message: how a send whose answer was lost is recognised.
      biz_opaque_callback_data: m.id,
      type: 'text',
      text: { preview_url: false, body: `Olá Ana Souza (ana@loja.dev, ${c.phone}) Ana Souza!` },
    });
    expect(m.externalId).toBe((calls[0].response!.body as { messages: { id: string }[] }).messages[0].id);

    const org = await t.prisma.organization.findUniqueOrThrow({ where: { id: user.organizationId } });
    expect(org.messagesPeriod).toBe(currentPeriod());
    expect(org.messagesThisMonth).toBe((before.messagesPeriod === currentPeriod() ? before.messagesThisMonth : 0) + 1);
    const got = await t.http.get(`/api/messages/${m.id}`).set(bearer(user.token));
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id: m.id, contactId: c.id, channel: 'WHATSAPP', status: 'SENT', externalId: m.externalId, attempts: 1, errorMessage: null });
  });

  it('never evaluates a template, and leaves unknown placeholders alone', async () => {
    const c = await contact({ name: '$& $1 {{email}}' });
    const res = await post({ contactId: c.id, channel: 'WHATSAPP', content: '${process.exit()} {{constructor}} {{ nome }} {{nome.length}}' });
    await settled(res.body.id);
    expect(wa.requestsTo('messages')[0].body.text.body).toBe('${process.exit()} {{constructor}} $& $1 {{email}} {{nome.length}}');
  });

  it('sends media by link with the text as caption', async () => {
    const c = await contact({});
    const res = await post({ contactId: c.id, channel: 'WHATSAPP', content: 'Nova coleção, {{nome}}', mediaUrl: 'https://cdn.loja.dev/p/colecao.jpg' });
    expect((await settled(res.body.id)).status).toBe('SENT');
    const body = wa.requestsTo('messages')[0].body;
    expect(body.type).toBe('image');
    expect(body.image).toEqual({ link: 'https://cdn.loja.dev/p/colecao.jpg', caption: 'Nova coleção, Ana Souza' });
  });

  it('retries a 500: 500 then 200 gives SENT with attempts 2', async () => {
    const c = await contact({});
    wa.script('messages', whatsAppErrors.serverError());
    const res = await post({ contactId: c.id, channel: 'WHATSAPP', content: 'retry me' });
    const m = await settled(res.body.id);
    expect(m.status).toBe('SENT');
    expect(m.attempts).toBe(2);
    expect(m.errorMessage).toBeNull();
    expect(wa.requestsTo('messages')).toHaveLength(2);
  });

  it('waits out WhatsApp throttling (130429 in a 400) without using an attempt', async () => {
    const c = await contact({});
    wa.script('messages', whatsAppErrors.rateLimited());
    const res = await post({ contactId: c.id, channel: 'WHATSAPP', content: 'rate limited once' });
    const m = await settled(res.body.id);
    expect(m).toMatchObject({ status: 'SENT', attempts: 1 });
    expect(wa.requestsTo('messages')).toHaveLength(2);
  });

  it('three 500s give FAILED only after the third attempt', async () => {
    const c = await contact({});
    const fail = { status: 500, body: { error: { message: 'An unknown error occurred', type: 'OAuthException', code: 1, fbtrace_id: 'x' } } };
    wa.script('messages', fail, fail, fail);
    const res = await post({ contactId: c.id, channel: 'WHATSAPP', content: 'doomed' });

    const afterFirst = await waitFor(async () => {
      const m = await message(res.body.id);
      return m.attempts >= 1 ? m : undefined;
    });
    if (afterFirst.attempts === 1 && afterFirst.status !== 'SENDING') {
      expect(afterFirst.status).toBe('QUEUED');
      expect(afterFirst.failedAt).toBeNull();
      expect(afterFirst.errorMessage).toContain('An unknown error occurred');
    }

    const m = await settled(res.body.id);
    expect(m.status).toBe('FAILED');
    expect(m.attempts).toBe(3);
    expect(m.failedAt).toBeInstanceOf(Date);
    expect(m.errorMessage).toContain('WhatsApp Cloud API: An unknown error occurred');
    expect(wa.requestsTo('messages')).toHaveLength(3);
    // Retries are the message's own attempts (postponed jobs); the job ends failed once the message is FAILED.
    const job = await t.queue(QueueName.Messages).getJob(m.id);
    expect(await job?.getState()).toBe('failed');
  });

  it('fails at once on an error no retry can fix (131026 undeliverable, 190 expired token)', async () => {
    for (const error of [whatsAppErrors.undeliverable(), whatsAppErrors.expiredToken(), graphError(100, '(#100) Invalid parameter')]) {
      wa.reset();
      const c = await contact({});
      wa.script('messages', error);
      const res = await post({ contactId: c.id, channel: 'WHATSAPP', content: 'no luck' });
      const m = await settled(res.body.id);
      expect(m.status).toBe('FAILED');
      expect(m.attempts).toBe(1);
      expect(m.errorMessage).toContain(`[code ${(error.body as { error: { code: number } }).error.code}]`);
      expect(wa.requestsTo('messages')).toHaveLength(1);
    }
  });

  it('fails at once, without calling the provider, a contact without a phone or a deleted contact', async () => {
    const noPhone = await contact({ phone: null, email: 'only-email@loja.dev' });
    const gone = await contact({});
    const a = await post({ contactId: noPhone.id, channel: 'WHATSAPP', content: 'hi' });
    expect(a.status).toBe(202);
    await t.prisma.contact.delete({ where: { id: gone.id } });
    // A message to a contact deleted after it was accepted: the job finds no contact.
    const stored = await t.prisma.message.create({
      data: { organizationId: user.organizationId, contactId: gone.id, channel: 'WHATSAPP', content: 'hi' },
    });
    await t.queue(QueueName.Messages).add('send-message', { messageId: stored.id, organizationId: user.organizationId }, { jobId: stored.id });

    expect(await settled(a.body.id)).toMatchObject({ status: 'FAILED', attempts: 1, errorMessage: 'The contact has no phone number for WHATSAPP' });
    expect(await settled(stored.id)).toMatchObject({ status: 'FAILED', attempts: 1, errorMessage: 'The contact was deleted' });
    expect(wa.requestsTo('messages')).toHaveLength(0);
  });

  it('honours Idempotency-Key: the same key answers the same message and sends once', async () => {
    const c = await contact({});
    const key = `order-${Date.now()}`;
    const body = { contactId: c.id, channel: 'WHATSAPP', content: 'Pedido confirmado' };
    const quotaBefore = Number((await t.redis.get(`zyva:limits:{${user.organizationId}}:messages`)) ?? 0);
    const [first, second] = await Promise.all([post(body, user.token, { 'Idempotency-Key': key }), post(body, user.token, { 'Idempotency-Key': key })]);
    const third = await post(body, user.token, { 'Idempotency-Key': key });
    expect([first.status, second.status, third.status]).toEqual([202, 202, 202]);
    expect(second.body).toEqual(first.body);
    expect(third.body).toEqual(first.body);
    await settled(first.body.id);
    await new Promise((r) => setTimeout(r, 300));
    expect(await t.prisma.message.count({ where: { organizationId: user.organizationId, idempotencyKey: key } })).toBe(1);
    expect(wa.requestsTo('messages')).toHaveLength(1);
    expect(Number(await t.redis.get(`zyva:limits:{${user.organizationId}}:messages`))).toBe(quotaBefore + 1);

    const reused = await post({ ...body, content: 'something else' }, user.token, { 'Idempotency-Key': key });
    expect(reused.status).toBe(422);
  });

  it('reads Idempotency-Key as the flow routes do: a bad key is a 400 whose message is a list, an empty header is no key', async () => {
    const c = await contact({});
    const body = { contactId: c.id, channel: 'WHATSAPP', content: 'Sem chave' };
    const before = await t.prisma.message.count({ where: { contactId: c.id } });
    for (const bad of ['bad key with spaces', 'x'.repeat(256), 'acentuação']) {
      const res = await post(body, user.token, { 'Idempotency-Key': bad });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ statusCode: 400, error: 'Bad Request', message: ['Idempotency-Key must be 1 to 255 printable ASCII characters without spaces'] });
    }
    expect(await t.prisma.message.count({ where: { contactId: c.id } })).toBe(before);

    const [first, second] = [await post(body, user.token, { 'Idempotency-Key': '' }), await post(body, user.token, { 'Idempotency-Key': '' })];
    expect([first.status, second.status]).toEqual([202, 202]);
    expect(second.body.id).not.toBe(first.body.id);
    const rows = await t.prisma.message.findMany({ where: { id: { in: [first.body.id, second.body.id] } } });
    expect(rows.map((m) => m.idempotencyKey)).toEqual([null, null]);
  });

  it('keeps one message for one Idempotency-Key under 8 concurrent requests: one row, one unit of quota, one in messagesThisMonth', async () => {
    const c = await contact({});
    const key = `race-${Date.now()}`;
    const body = { contactId: c.id, channel: 'WHATSAPP', content: 'Pedido confirmado' };
    const quotaKey = `zyva:limits:{${user.organizationId}}:messages`;
    const org = () => t.prisma.organization.findUniqueOrThrow({ where: { id: user.organizationId } });
    const quotaBefore = Number((await t.redis.get(quotaKey)) ?? 0);
    const countedBefore = (await org()).messagesThisMonth;
    const answers = await Promise.all(Array.from({ length: 8 }, () => post(body, user.token, { 'Idempotency-Key': key })));
    expect(answers.map((r) => r.status)).toEqual(Array(8).fill(202));
    expect(new Set(answers.map((r) => r.body.id)).size).toBe(1);
    await settled(answers[0].body.id);
    expect(await t.prisma.message.count({ where: { organizationId: user.organizationId, idempotencyKey: key } })).toBe(1);
    expect(Number(await t.redis.get(quotaKey))).toBe(quotaBefore + 1);
    expect((await org()).messagesThisMonth).toBe(countedBefore + 1);
    expect((await org()).messagesPeriod).toBe(currentPeriod());
  });

  it('schedules a message as a delayed job, and cancels it (job removed, quota given back)', async () => {
    const c = await contact({});
    const at = new Date(Date.now() + 3600_000).toISOString();
    const res = await post({ contactId: c.id, channel: 'WHATSAPP', content: 'later', scheduledFor: at });
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('SCHEDULED');
    const queue = t.queue(QueueName.Messages);
    const job = await queue.getJob(res.body.id);
    expect(await job!.getState()).toBe('delayed');
    expect(job!.opts.delay).toBeGreaterThan(3500_000);
    const quotaKey = `zyva:limits:{${user.organizationId}}:messages`;
    const used = Number(await t.redis.get(quotaKey));

    const del = await t.http.delete(`/api/messages/${res.body.id}`).set(bearer(user.token));
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ id: res.body.id, status: 'CANCELED', scheduledFor: at });
    expect(await queue.getJob(res.body.id)).toBeUndefined();
    expect((await message(res.body.id)).status).toBe('CANCELED');
    expect(Number(await t.redis.get(quotaKey))).toBe(used - 1);
  });

  it('answers 409 when canceling a message already sent', async () => {
    const c = await contact({});
    const res = await post({ contactId: c.id, channel: 'WHATSAPP', content: 'too late' });
    await settled(res.body.id);
    const del = await t.http.delete(`/api/messages/${res.body.id}`).set(bearer(user.token));
    expect(del.status).toBe(409);
    expect((await message(res.body.id)).status).toBe('SENT');
  });

  it('refuses the message past maxMessagesPerMonth with 402, storing and queueing nothing', async () => {
    const u = await fx.registerUser();
    await fx.setPlan(u.organizationId, 'PRO', { maxMessagesPerMonth: 2 });
    const c = await contact({}, u.organizationId);
    const ok1 = await post({ contactId: c.id, channel: 'WHATSAPP', content: 'one' }, u.token);
    const ok2 = await post({ contactId: c.id, channel: 'WHATSAPP', content: 'two' }, u.token);
    expect([ok1.status, ok2.status]).toEqual([202, 202]);
    const jobsBefore = await t.queue(QueueName.Messages).getJobCountByTypes('wait', 'active', 'completed', 'failed', 'delayed', 'prioritized');
    const refused = await post({ contactId: c.id, channel: 'WHATSAPP', content: 'three' }, u.token);
    expect(refused.status).toBe(402);
    expect(refused.body).toMatchObject({ statusCode: 402, error: 'Plan Quota Exceeded' });
    expect(await t.prisma.message.count({ where: { organizationId: u.organizationId } })).toBe(2);
    expect(Number(await t.redis.get(`zyva:limits:{${u.organizationId}}:messages`))).toBe(2);
    const jobsAfter = await t.queue(QueueName.Messages).getJobCountByTypes('wait', 'active', 'completed', 'failed', 'delayed', 'prioritized');
    expect(jobsAfter).toBe(jobsBefore);
    await t.redis.del(`zyva:limits:{${u.organizationId}}:messages`);
  });

  it("keeps tenants apart: another organization's contact or message answers 404", async () => {
    const other = await fx.registerUser();
    const theirs = await contact({}, other.organizationId);
    expect((await post({ contactId: theirs.id, channel: 'WHATSAPP', content: 'x' })).status).toBe(404);
    const mine = await contact({});
    const res = await post({ contactId: mine.id, channel: 'WHATSAPP', content: 'mine' });
    expect((await t.http.get(`/api/messages/${res.body.id}`).set(bearer(other.token))).status).toBe(404);
    expect((await t.http.delete(`/api/messages/${res.body.id}`).set(bearer(other.token))).status).toBe(404);
    const list = await t.http.get('/api/messages').set(bearer(other.token));
    expect(list.status).toBe(200);
    expect(list.body).toEqual({ data: [], total: 0, page: 1, limit: 20 });
  });

  it('lists messages newest first with filters', async () => {
    const c = await contact({});
    const res = await post({ contactId: c.id, channel: 'WHATSAPP', content: 'listed' });
    await settled(res.body.id);
    const list = await t.http.get(`/api/messages?contactId=${c.id}&status=SENT&limit=5`).set(bearer(user.token));
    expect(list.body).toMatchObject({ total: 1 });
    expect(list.status).toBe(200);
    expect(list.body.data[0]).toMatchObject({ id: res.body.id, status: 'SENT', content: 'listed' });
  });

  it('rejects bad input with 400 and stores nothing', async () => {
    const c = await contact({});
    const count = await t.prisma.message.count({ where: { organizationId: user.organizationId } });
    for (const body of [
      { contactId: c.id, channel: 'PIGEON', content: 'x' },
      { contactId: c.id, channel: 'WHATSAPP', content: '' },
      { contactId: c.id, channel: 'WHATSAPP', content: 'x', extra: true },
      { contactId: c.id, channel: 'WHATSAPP', content: 'x', scheduledFor: '2030-01-01' },
      { contactId: c.id, channel: 'WHATSAPP', content: 'x', mediaUrl: 'not a url' },
      { contactId: 42, channel: 'WHATSAPP', content: 'x' },
    ]) {
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('Bad Request');
    }
    expect((await post({ contactId: c.id, channel: 'WHATSAPP', content: 'x' }, user.token, { 'Idempotency-Key': 'bad key with spaces' })).status).toBe(400);
    expect(await t.prisma.message.count({ where: { organizationId: user.organizationId } })).toBe(count);
  });
});

/** The monthly quota counters of the organizations this file made (Redis keys outlive the rows). */
async function dropQuotaKeys(app: TestApp, fixtures: Fixtures): Promise<void> {
  const ids = [...(fixtures['orgIds'] as Set<string>)];
  await unlinkKeys(app.redis, ids.map((id) => `zyva:limits:{${id}}:messages`));
}
