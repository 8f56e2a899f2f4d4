import { createHmac, randomBytes } from 'node:crypto';
import { QueueName } from '../../src/core/queues/queue.catalogue';
import { bearer, Fixtures, RegisteredUser, waitFor } from '../utils/factories';
import { StandIn, startWhatsAppStandIn } from '../utils/provider-stand-ins';
import { createTestApp, TestApp } from '../utils/test-app';

const PHONE_ID = '106540352242922';
const TOKEN = 'wa-flows-token';

const sign = (secret: string, raw: string) => `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;

interface OutboxLike {
  kick(): Promise<void>;
}

describe('flows (e2e)', () => {
  let t: TestApp;
  let fx: Fixtures;
  let wa: StandIn;
  let user: RegisteredUser;

  beforeAll(async () => {
    wa = await startWhatsAppStandIn({ phoneNumberId: PHONE_ID, accessToken: TOKEN });
    t = await createTestApp({ WHATSAPP_API_URL: wa.url, WHATSAPP_PHONE_ID: PHONE_ID, WHATSAPP_TOKEN: TOKEN });
    fx = new Fixtures(t);
    user = await fx.registerUser();
    await fx.setPlan(user.organizationId, 'ENTERPRISE');
  });

  afterAll(async () => {
    await fx.cleanup();
    await t.close();
    await wa.close();
  });

  beforeEach(() => wa.reset());

  const as = (u: RegisteredUser = user) => ({
    get: (path: string) => t.http.get(path).set(bearer(u.token)),
    post: (path: string, body: object, headers: Record<string, string> = {}) => t.http.post(path).set(bearer(u.token)).set(headers).send(body),
    patch: (path: string, body: object) => t.http.patch(path).set(bearer(u.token)).send(body),
    delete: (path: string) => t.http.delete(path).set(bearer(u.token)),
  });

  const createFlow = async (body: object, u = user) => {
    const res = await as(u).post('/api/flows', body);
    if (res.status !== 201) throw new Error(`flow not created: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as { id: string; webhookSecret?: string; version: number };
  };

  const createContact = async (body: object = {}, u = user) => {
    const phone = `+55119${Math.floor(10000000 + Math.random() * 89999999)}`;
    const res = await as(u).post('/api/contacts', { name: 'Ana Souza', phone, ...body });
    if (res.status !== 201) throw new Error(`contact not created: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as { id: string; phone: string; tags: string[] };
  };

  const executionsOf = (flowId: string) => t.prisma.flowExecution.findMany({ where: { flowId }, orderBy: { startedAt: 'asc' } });
  const settledRun = (flowId: string, count = 1) =>
    waitFor(async () => {
      const runs = await executionsOf(flowId);
      return runs.length === count && runs.every((r) => r.status === 'COMPLETED' || r.status === 'FAILED') ? runs : undefined;
    }, 20_000);
  const tagsOf = async (contactId: string) =>
    (await t.prisma.contactTag.findMany({ where: { contactId }, include: { tag: true } })).map((l) => l.tag.name).sort();

  it('refuses an invalid step list with a 400 naming each bad step, and stores nothing', async () => {
    const res = await as().post('/api/flows', {
      name: 'Broken',
      trigger: { type: 'MANUAL' },
      steps: [
        { type: 'SEND_MESSAGE', channel: 'PIGEON', content: '' },
        { type: 'WAIT', seconds: 5 },
        { type: 'WAIT', seconds: -3 },
        { type: 'WAIT', seconds: '10' },
        { type: 'ADD_TAG', tag: 'ok', extra: true },
        { type: 'TELEPORT' },
        'not an object',
      ],
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    expect(res.body.message).toEqual([
      'steps[0].channel must be one of WHATSAPP, EMAIL, SMS, INSTAGRAM_DM',
      'steps[0].content must be a non-empty string',
      'steps[2].seconds must be a positive integer',
      'steps[3].seconds must be a positive integer',
      'steps[4].extra should not exist',
      'steps[5].type must be one of SEND_MESSAGE, WAIT, ADD_TAG, REMOVE_TAG',
      'steps[6] must be an object',
    ]);

    const cases: [object, string][] = [
      [{ name: 'x', trigger: { type: 'TAG_ADDED' }, steps: [{ type: 'WAIT', seconds: 1 }] }, 'trigger.tag should not be empty'],
      [{ name: 'x', trigger: { type: 'MANUAL', tag: 'vip' }, steps: [{ type: 'WAIT', seconds: 1 }] }, 'trigger.tag is only allowed when trigger.type is TAG_ADDED'],
      [{ name: 'x', trigger: { type: 'CRON' }, steps: [{ type: 'WAIT', seconds: 1 }] }, 'trigger.type must be one of the following values: MANUAL, TAG_ADDED, BIRTHDAY, WEBHOOK, INBOUND_MESSAGE'],
      [{ name: 'x', trigger: { type: 'MANUAL' }, steps: [] }, 'steps must contain at least 1 step'],
      [{ name: 'x', trigger: { type: 'MANUAL' }, steps: { type: 'WAIT' } }, 'steps must be an array'],
      [{ name: '   ', trigger: { type: 'MANUAL' }, steps: [{ type: 'WAIT', seconds: 1 }] }, 'name should not be empty'],
    ];
    for (const [body, message] of cases) {
      const bad = await as().post('/api/flows', body);
      expect(bad.status).toBe(400);
      expect(bad.body.message).toContain(message);
    }
    expect(await t.prisma.flow.count({ where: { organizationId: user.organizationId } })).toBe(0);
  });

  it('creates, reads, lists, edits (new version) and deletes flows; refreshes the dashboard; other organizations get 404', async () => {
    const dashboardKey = `zyva:cache:stats:{${user.organizationId}}:dashboard`;
    await t.redis.set(dashboardKey, '{"stale":true}', 'EX', 60);
    const flow = await createFlow({
      name: 'Boas-vindas',
      trigger: { type: 'TAG_ADDED', tag: ' vip ' },
      steps: [{ type: 'SEND_MESSAGE', channel: 'WHATSAPP', content: 'Oi {{nome}}' }],
    });
    expect(flow).toMatchObject({ name: 'Boas-vindas', active: true, trigger: { type: 'TAG_ADDED', tag: 'vip' }, version: 1 });
    expect(flow).not.toHaveProperty('webhookSecret');
    expect(await t.redis.exists(dashboardKey)).toBe(0);

    const got = await as().get(`/api/flows/${flow.id}`);
    expect(got.status).toBe(200);
    expect(got.body.steps).toEqual([{ type: 'SEND_MESSAGE', channel: 'WHATSAPP', content: 'Oi {{nome}}' }]);

    const patched = await as().patch(`/api/flows/${flow.id}`, { name: 'Boas-vindas VIP', steps: [{ type: 'WAIT', seconds: 60 }, { type: 'ADD_TAG', tag: 'welcomed' }] });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: 'Boas-vindas VIP', version: 2, trigger: { type: 'TAG_ADDED', tag: 'vip' } });
    const badPatch = await as().patch(`/api/flows/${flow.id}`, { steps: [{ type: 'WAIT', seconds: 0 }] });
    expect(badPatch.status).toBe(400);
    expect(badPatch.body.message).toEqual(['steps[0].seconds must be a positive integer']);
    expect((await t.prisma.flow.findUniqueOrThrow({ where: { id: flow.id } })).version).toBe(2);

    const list = await as().get('/api/flows?page=1&limit=10');
    expect(list.body).toMatchObject({ total: 1, page: 1, limit: 10 });
    expect(list.body.data[0].id).toBe(flow.id);

    const other = await fx.registerUser();
    expect((await as(other).get(`/api/flows/${flow.id}`)).status).toBe(404);
    expect((await as(other).patch(`/api/flows/${flow.id}`, { active: false })).status).toBe(404);
    expect((await as(other).delete(`/api/flows/${flow.id}`)).status).toBe(404);
    expect((await as(other).get(`/api/flows/${flow.id}/executions`)).status).toBe(404);
    expect((await as(other).get('/api/flows')).body.total).toBe(0);

    expect((await as().delete(`/api/flows/${flow.id}`)).status).toBe(204);
    expect(await t.prisma.flow.findUnique({ where: { id: flow.id } })).toBeNull();
    expect((await as().get(`/api/flows/${flow.id}`)).status).toBe(404);
  });

  it('answers the webhook secret of a WEBHOOK flow once, at creation', async () => {
    const flow = await createFlow({ name: 'Hook', trigger: { type: 'WEBHOOK' }, steps: [{ type: 'ADD_TAG', tag: 'hooked' }] });
    expect(flow.webhookSecret).toMatch(/^[0-9a-f]{64}$/);
    expect(flow).toMatchObject({ webhookUrl: expect.stringMatching(new RegExp(`/api/webhooks/flows/${flow.id}$`)) });
    const got = await as().get(`/api/flows/${flow.id}`);
    expect(got.body).not.toHaveProperty('webhookSecret');
    const list = await as().get('/api/flows');
    expect(JSON.stringify(list.body)).not.toContain(flow.webhookSecret);
    await as().delete(`/api/flows/${flow.id}`).expect(204);
  });

  it('a tag added to a contact starts its TAG_ADDED flow, which sends the message through messaging', async () => {
    const flow = await createFlow({
      name: 'VIP',
      trigger: { type: 'TAG_ADDED', tag: 'vip' },
      steps: [
        { type: 'SEND_MESSAGE', channel: 'WHATSAPP', content: 'Oi {{nome}}, bem-vinda ao VIP!' },
        { type: 'ADD_TAG', tag: 'welcomed' },
      ],
    });
    const contact = await createContact({ name: 'Ana' });
    const tagged = await as().post(`/api/contacts/${contact.id}/tags`, { tag: 'vip' });
    expect(tagged.status).toBe(200);

    const [run] = await settledRun(flow.id);
    expect(run).toMatchObject({ status: 'COMPLETED', stepIndex: 2, contactId: contact.id, triggerType: 'TAG_ADDED', flowVersion: 1, error: null });
    expect(run.finishedAt).not.toBeNull();

    const message = await waitFor(async () => {
      const m = await t.prisma.message.findFirst({ where: { flowExecutionId: run.id } });
      return m?.status === 'SENT' ? m : undefined;
    });
    expect(message).toMatchObject({ organizationId: user.organizationId, contactId: contact.id, channel: 'WHATSAPP', idempotencyKey: `flow-${run.id}-0` });
    const [sent] = wa.requestsTo('messages');
    expect(sent.body.text.body).toBe('Oi Ana, bem-vinda ao VIP!');
    expect(sent.body.to).toBe(contact.phone.slice(1));
    expect(message.externalId).toBe((sent.response!.body as { messages: { id: string }[] }).messages[0].id);
    expect(await tagsOf(contact.id)).toEqual(['vip', 'welcomed']);

    const page = await as().get(`/api/flows/${flow.id}/executions`);
    expect(page.status).toBe(200);
    expect(page.body).toMatchObject({ total: 1, page: 1, limit: 20 });
    expect(page.body.data[0]).toEqual({
      id: run.id,
      contactId: contact.id,
      status: 'COMPLETED',
      stepIndex: 2,
      triggerType: 'TAG_ADDED',
      flowVersion: 1,
      startedAt: run.startedAt.toISOString(),
      finishedAt: run.finishedAt!.toISOString(),
      error: null,
    });
  });

  it('starts one execution for a duplicated trigger event, a concurrent double tag, or a repeated Idempotency-Key', async () => {
    const flow = await createFlow({ name: 'Dup', trigger: { type: 'TAG_ADDED', tag: 'dup' }, steps: [{ type: 'ADD_TAG', tag: 'dup-done' }] });
    const contact = await createContact();
    const [a, b] = await Promise.all([
      as().post(`/api/contacts/${contact.id}/tags`, { tag: 'dup' }),
      as().post(`/api/contacts/${contact.id}/tags`, { tag: 'dup' }),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    const [first] = await settledRun(flow.id);
    expect(first.status).toBe('COMPLETED');

    // The same event handed out again after its run finished (twice at once, as after a drain crash, then once more).
    const outbox = t.get<OutboxLike>('core/outbox/outbox.service', 'OutboxService');
    const event = { organizationId: user.organizationId, namespace: process.env.QUEUE_PREFIX!, type: 'contact.tag-added', payload: { contactId: contact.id, tag: 'dup' } };
    const redeliver = async (copies: number) => {
      const rows = await t.prisma.outboxEvent.createManyAndReturn({ data: Array.from({ length: copies }, () => event), select: { id: true } });
      await outbox.kick();
      await waitFor(async () => (await t.prisma.outboxEvent.count({ where: { id: { in: rows.map((r) => r.id) }, processedAt: null } })) === 0);
    };
    await redeliver(2);
    await redeliver(1);
    expect(await executionsOf(flow.id)).toHaveLength(1);

    // Removing the tag and adding it again is a new event: a new run.
    await as().delete(`/api/contacts/${contact.id}/tags/dup`).expect(200);
    await as().post(`/api/contacts/${contact.id}/tags`, { tag: 'dup' }).expect(200);
    const runs = await settledRun(flow.id, 2);
    expect(runs[1].dedupeKey).not.toBe(runs[0].dedupeKey);

    const manual = await createFlow({ name: 'Manual', trigger: { type: 'MANUAL' }, steps: [{ type: 'ADD_TAG', tag: 'manual' }] });
    const key = { 'Idempotency-Key': `k-${randomBytes(4).toString('hex')}` };
    const [m1, m2] = await Promise.all([
      as().post(`/api/flows/${manual.id}/executions`, { contactId: contact.id }, key),
      as().post(`/api/flows/${manual.id}/executions`, { contactId: contact.id }, key),
    ]);
    expect([m1.status, m2.status]).toEqual([202, 202]);
    expect(m1.body.executionId).toBe(m2.body.executionId);
    const other = await as().post(`/api/flows/${manual.id}/executions`, { contactId: contact.id, data: { source: 'crm' } });
    expect(other.status).toBe(202);
    expect(other.body.executionId).not.toBe(m1.body.executionId);
    const manualRuns = await settledRun(manual.id, 2);
    expect(manualRuns.map((r) => r.triggerType)).toEqual(['MANUAL', 'MANUAL']);
    expect(manualRuns.find((r) => r.id === other.body.executionId)!.triggerData).toEqual({ source: 'crm' });
  });

  it('a SEND_MESSAGE step run again (a retry after a crash) sends nothing twice', async () => {
    const flow = await createFlow({ name: 'Once', trigger: { type: 'MANUAL' }, steps: [{ type: 'SEND_MESSAGE', channel: 'WHATSAPP', content: 'só uma vez' }] });
    const contact = await createContact();
    const started = await as().post(`/api/flows/${flow.id}/executions`, { contactId: contact.id });
    const [run] = await settledRun(flow.id);
    expect(run.id).toBe(started.body.executionId);
    await waitFor(async () => (await t.prisma.message.findFirst({ where: { flowExecutionId: run.id, status: 'SENT' } })) ?? undefined);

    // As if the worker had died after sending but before the run moved on: the step runs again.
    await t.prisma.flowExecution.update({ where: { id: run.id }, data: { status: 'RUNNING', stepIndex: 0, finishedAt: null } });
    const runner = t.get<{ runStep(a: { executionId: string; stepIndex: number; lastAttempt: boolean }): Promise<void> }>(
      'modules/flows/flow-runner.service',
      'FlowRunnerService',
    );
    await runner.runStep({ executionId: run.id, stepIndex: 0, lastAttempt: false });
    expect((await t.prisma.flowExecution.findUniqueOrThrow({ where: { id: run.id } })).status).toBe('COMPLETED');
    await new Promise((r) => setTimeout(r, 500));
    expect(await t.prisma.message.count({ where: { flowExecutionId: run.id } })).toBe(1);
    expect(wa.requestsTo('messages')).toHaveLength(1);
  });

  it('a flow that removes and re-adds its own trigger tag runs once, it does not loop', async () => {
    const flow = await createFlow({
      name: 'Loop',
      trigger: { type: 'TAG_ADDED', tag: 'loop' },
      steps: [
        { type: 'REMOVE_TAG', tag: 'loop' },
        { type: 'ADD_TAG', tag: 'loop' },
        { type: 'ADD_TAG', tag: 'loop' },
      ],
    });
    const contact = await createContact();
    await as().post(`/api/contacts/${contact.id}/tags`, { tag: 'loop' }).expect(200);
    await settledRun(flow.id);
    await new Promise((r) => setTimeout(r, 1500));
    const runs = await executionsOf(flow.id);
    expect(runs).toHaveLength(1);
    expect(runs[0].status).toBe('COMPLETED');
    expect(await tagsOf(contact.id)).toEqual(['loop']);
  });

  it('webhook: a good signature over the raw body starts a run; a bad or missing one is a 401 and starts nothing', async () => {
    const flow = await createFlow({ name: 'Order paid', trigger: { type: 'WEBHOOK' }, steps: [{ type: 'ADD_TAG', tag: 'paid' }] });
    const secret = flow.webhookSecret!;
    const contact = await createContact();
    const url = `/api/webhooks/flows/${flow.id}`;
    // Sent byte for byte as signed (spacing and key order matter to the HMAC).
    const raw = `{ "contactId": "${contact.id}",  "data": {"orderId": "A-1001", "total": 99.9} }`;
    const send = (body: string, signature?: string, headers: Record<string, string> = {}) => {
      const req = t.http.post(url).set('Content-Type', 'application/json').set(headers);
      if (signature !== undefined) req.set('X-Zyva-Signature', signature);
      return req.send(body);
    };

    expect((await send(raw)).status).toBe(401);
    expect((await send(raw, 'sha256=' + '0'.repeat(64))).status).toBe(401);
    expect((await send(raw, sign('wrong secret', raw))).status).toBe(401);
    expect((await send(raw, sign(secret, raw).replace('sha256=', 'sha1='))).status).toBe(401);
    const tampered = await send(raw.replace('99.9', '0.01'), sign(secret, raw));
    expect(tampered.status).toBe(401);
    expect(tampered.body).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'Missing or invalid X-Zyva-Signature.' });
    // Re-serialised JSON is a different byte string: the signature is over the raw body.
    expect((await send(JSON.stringify(JSON.parse(raw)), sign(secret, raw))).status).toBe(401);
    expect(await executionsOf(flow.id)).toHaveLength(0);

    const ok = await send(raw, sign(secret, raw));
    expect(ok.status).toBe(202);
    expect(ok.body).toEqual({ executionId: expect.any(String) });
    const redelivered = await send(raw, sign(secret, raw).toUpperCase().replace('SHA256=', 'sha256='));
    expect(redelivered.status).toBe(202);
    expect(redelivered.body.executionId).toBe(ok.body.executionId);

    const [run] = await settledRun(flow.id);
    expect(run).toMatchObject({ id: ok.body.executionId, triggerType: 'WEBHOOK', status: 'COMPLETED', triggerData: { orderId: 'A-1001', total: 99.9 } });
    expect(await tagsOf(contact.id)).toEqual(['paid']);

    const badBody = `{"contactId": 42}`;
    expect((await send(badBody, sign(secret, badBody))).status).toBe(400);
    // Signed, but not sent as JSON: the signature is checked first (401), then the type (415).
    expect((await send(raw, 'sha256=' + '0'.repeat(64), { 'Content-Type': 'text/plain' })).status).toBe(401);
    const plain = await send(raw, sign(secret, raw), { 'Content-Type': 'text/plain' });
    expect(plain.status).toBe(415);
    expect(plain.body).toMatchObject({ statusCode: 415, error: 'Unsupported Media Type' });
    const unknownContact = `{"contactId": "nope"}`;
    expect((await send(unknownContact, sign(secret, unknownContact))).status).toBe(404);
    expect((await t.http.post('/api/webhooks/flows/does-not-exist').set('X-Zyva-Signature', sign(secret, raw)).set('Content-Type', 'application/json').send(raw)).status).toBe(404);
    const manual = await createFlow({ name: 'not a hook', trigger: { type: 'MANUAL' }, steps: [{ type: 'ADD_TAG', tag: 'x' }] });
    expect((await t.http.post(`/api/webhooks/flows/${manual.id}`).set('Content-Type', 'application/json').send(raw)).status).toBe(404);
    expect(await executionsOf(flow.id)).toHaveLength(1);
  });

  it('runs in progress keep the version they started with; a deactivated flow starts nothing', async () => {
    const flow = await createFlow({ name: 'Versioned', trigger: { type: 'TAG_ADDED', tag: 'v' }, steps: [{ type: 'WAIT', seconds: 1 }, { type: 'ADD_TAG', tag: 'from-v1' }] });
    const contact = await createContact();
    await as().post(`/api/contacts/${contact.id}/tags`, { tag: 'v' }).expect(200);
    const waiting = await waitFor(async () => {
      const [run] = await executionsOf(flow.id);
      return run?.status === 'WAITING' ? run : undefined;
    });
    expect(waiting.stepIndex).toBe(0);
    const job = await t.queue(QueueName.Flows).getJob(`${waiting.id}-1`);
    expect(await job?.getState()).toBe('delayed');

    const edited = await as().patch(`/api/flows/${flow.id}`, { steps: [{ type: 'ADD_TAG', tag: 'from-v2' }] });
    expect(edited.body.version).toBe(2);
    const [run] = await settledRun(flow.id);
    expect(run).toMatchObject({ status: 'COMPLETED', flowVersion: 1, stepIndex: 2 });
    expect(await tagsOf(contact.id)).toEqual(['from-v1', 'v']);

    await as().patch(`/api/flows/${flow.id}`, { active: false }).expect(200);
    const second = await createContact();
    await as().post(`/api/contacts/${second.id}/tags`, { tag: 'v' }).expect(200);
    const manual = await as().post(`/api/flows/${flow.id}/executions`, { contactId: second.id });
    expect(manual.status).toBe(409);
    await new Promise((r) => setTimeout(r, 500));
    expect(await executionsOf(flow.id)).toHaveLength(1);

    await as().patch(`/api/flows/${flow.id}`, { active: true }).expect(200);
    const third = await as().post(`/api/flows/${flow.id}/executions`, { contactId: second.id });
    expect(third.status).toBe(202);
    const runs = await settledRun(flow.id, 2);
    expect(runs[1]).toMatchObject({ flowVersion: 4, triggerType: 'MANUAL', status: 'COMPLETED', stepIndex: 1 });
    expect(await tagsOf(second.id)).toEqual(['from-v2', 'v']);
  });

  it('fails a run at once, with the reason, when a step cannot succeed (contact deleted during a wait)', async () => {
    const flow = await createFlow({ name: 'Doomed', trigger: { type: 'MANUAL' }, steps: [{ type: 'WAIT', seconds: 1 }, { type: 'ADD_TAG', tag: 'never' }] });
    const contact = await createContact();
    const started = await as().post(`/api/flows/${flow.id}/executions`, { contactId: contact.id });
    expect(started.status).toBe(202);
    await as().delete(`/api/contacts/${contact.id}`).expect(204);
    const [run] = await settledRun(flow.id);
    expect(run).toMatchObject({ status: 'FAILED', stepIndex: 1, error: 'Contact not found.' });
    const job = await t.queue(QueueName.Flows).getJob(`${run.id}-1`);
    expect(await job?.getState()).toBe('failed');
    expect(job?.attemptsMade).toBe(1);

    expect((await as().post(`/api/flows/${flow.id}/executions`, { contactId: 'missing' })).status).toBe(404);
    expect((await as().post(`/api/flows/${flow.id}/executions`, { contactId: contact.id, data: 'x' })).status).toBe(400);
  });

  it('a run recorded while its first job never reached Redis is queued by the reconciler', async () => {
    const flow = await createFlow({ name: 'Stranded', trigger: { type: 'MANUAL' }, steps: [{ type: 'ADD_TAG', tag: 'rescued' }] });
    const contact = await createContact();
    const stored = await t.prisma.flow.findUniqueOrThrow({ where: { id: flow.id } });
    const stranded = await t.prisma.flowExecution.create({
      data: {
        flowId: flow.id,
        organizationId: user.organizationId,
        contactId: contact.id,
        flowVersion: stored.version,
        steps: stored.steps as object,
        triggerType: 'MANUAL',
        dedupeKey: `test-stranded-${randomBytes(4).toString('hex')}`,
        updatedAt: new Date(Date.now() - 10 * 60_000),
      },
    });
    expect(await t.queue(QueueName.Flows).getJob(`${stranded.id}-0`)).toBeUndefined();
    const reconciler = t.get<{ run(): Promise<{ checked: number; requeued: number }> }>('modules/flows/flow-reconciler.service', 'FlowReconcilerService');
    const report = await reconciler.run();
    expect(report.requeued).toBeGreaterThanOrEqual(1);
    const [run] = await settledRun(flow.id);
    expect(run).toMatchObject({ id: stranded.id, status: 'COMPLETED' });
    expect(await tagsOf(contact.id)).toEqual(['rescued']);
    const again = await reconciler.run();
    expect(again.requeued).toBe(0);

    const schedulers = await t.queue(QueueName.Flows).getJobSchedulers();
    expect(schedulers.map((j) => j.key)).toContain('reconcile-flows');
  });

  it('pages and filters executions', async () => {
    const flow = await createFlow({ name: 'Many', trigger: { type: 'MANUAL' }, steps: [{ type: 'ADD_TAG', tag: 'many' }] });
    const contact = await createContact();
    for (let i = 0; i < 3; i++) await as().post(`/api/flows/${flow.id}/executions`, { contactId: contact.id }).expect(202);
    await settledRun(flow.id, 3);
    const page = await as().get(`/api/flows/${flow.id}/executions?page=2&limit=2`);
    expect(page.body).toMatchObject({ total: 3, page: 2, limit: 2 });
    expect(page.body.data).toHaveLength(1);
    const failed = await as().get(`/api/flows/${flow.id}/executions?status=FAILED`);
    expect(failed.body).toMatchObject({ total: 0, data: [] });
    expect((await as().get(`/api/flows/${flow.id}/executions?limit=101`)).status).toBe(400);
  });
});
