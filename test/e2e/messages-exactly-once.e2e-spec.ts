import type { ChildProcess } from 'node:child_process';
import { QueueName } from '../../src/core/queues/queue.catalogue';
import { bearer, Fixtures, randomIp, RegisteredUser, SETTLED_STATUSES, waitFor } from '../utils/factories';
import { hubSignature, StandIn, startTwilioStandIn, startWhatsAppStandIn, whatsAppStatusNotification } from '../utils/provider-stand-ins';
import { spawnZyva } from '../utils/processes';
import { TcpProxy } from '../utils/tcp-proxy';
import { createTestApp, TestApp } from '../utils/test-app';

const APP_SECRET = 'meta-app-secret-exactly-once';
const PHONE = { phoneNumberId: '700000000000001', accessToken: 'wa-exactly-once' };
const TWILIO = { accountSid: `AC${'e'.repeat(32)}`, authToken: 'tw-exactly-once', from: '+5511900009999' };
const WAIT_MS = 1500;

/**
 * The send guarantees under faults, on real Postgres and Redis with the API
 * and the workers as separate apps: a provider's acceptance survives Postgres
 * going away; an unknown outcome is settled by the provider's own report, a
 * lookup or a wait, never by a blind second send; a report that beats the
 * record is kept; an outage burns no attempt; a killed worker's messages are
 * neither lost nor sent twice.
 */
describe('messages exactly once under faults (e2e)', () => {
  let api: TestApp;
  let worker: TestApp;
  let fx: Fixtures;
  let wa: StandIn;
  let twilio: StandIn;
  let db: TcpProxy;
  let user: RegisteredUser;
  let apiUrl: string;
  let reports: { url: string; appSecret: string };
  const children: ChildProcess[] = [];

  const providerEnv = () => ({
    WHATSAPP_API_URL: wa.url,
    WHATSAPP_PHONE_ID: PHONE.phoneNumberId,
    WHATSAPP_TOKEN: PHONE.accessToken,
    WHATSAPP_APP_SECRET: APP_SECRET,
    TWILIO_API_URL: twilio.url,
    TWILIO_ACCOUNT_SID: TWILIO.accountSid,
    TWILIO_AUTH_TOKEN: TWILIO.authToken,
    TWILIO_FROM: TWILIO.from,
    PROVIDER_TIMEOUT_MS: '400',
    UNCERTAIN_SEND_WAIT_MS: String(WAIT_MS),
  });

  beforeAll(async () => {
    db = new TcpProxy(new URL(process.env.DATABASE_URL!));
    await db.start();
    // The stand-in reports every accepted message to the API, as Meta does; its URL is known once the API listens.
    reports = { url: '', appSecret: APP_SECRET };
    wa = await startWhatsAppStandIn({ ...PHONE, reports });
    twilio = await startTwilioStandIn(TWILIO);
    api = await createTestApp({ ...providerEnv(), APP_ROLE: 'api' });
    await api.app.listen(0, '127.0.0.1');
    apiUrl = (await api.app.getUrl()).replace('[::1]', '127.0.0.1');
    reports.url = `${apiUrl}/api/webhooks/whatsapp`;
    worker = await createTestApp({ ...providerEnv(), APP_ROLE: 'worker', DATABASE_URL: db.url });
    fx = new Fixtures(api);
    user = await fx.registerUser();
    await fx.setPlan(user.organizationId, 'ENTERPRISE', { maxMessagesPerMonth: 1_000_000 });
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await fx.cleanup();
    await worker.close();
    await api.close();
    await db.cut().catch(() => undefined);
    await Promise.all([wa.close(), twilio.close()]);
  });

  beforeEach(() => {
    wa.reset();
    twilio.reset();
  });

  const contact = () =>
    api.prisma.contact.create({ data: { organizationId: user.organizationId, name: 'Cliente', phone: `+55119${Math.floor(1e7 + Math.random() * 8e7)}` } });
  const send = async (body: Record<string, unknown>) => {
    const res = await api.http.post('/api/messages').set(bearer(user.token)).set('X-Forwarded-For', randomIp()).send(body);
    expect(res.status).toBe(202);
    return res.body.id as string;
  };
  const row = (id: string) => api.prisma.message.findUniqueOrThrow({ where: { id } });
  const settled = (id: string, timeoutMs = 20000) =>
    waitFor(async () => {
      const m = await row(id);
      return SETTLED_STATUSES.includes(m.status) ? m : undefined;
    }, timeoutMs);
  /** Sends the stand-in really accepted (it generated a wamid), per recipient. */
  const acceptedTo = (to: string) => wa.requestsTo('messages').filter((r) => r.body?.to === to && r.response?.status === 200).length;

  it('keeps the acceptance when Postgres goes away before the send is recorded, and records it once it is back', async () => {
    const c = await contact();
    const reportUrl = reports.url;
    reports.url = ''; // no report from Meta this time: the record alone must survive
    wa.delayMs = 300; // answered within PROVIDER_TIMEOUT_MS, after Postgres went away
    const id = await send({ contactId: c.id, channel: 'WHATSAPP', content: 'durante a queda' });
    await waitFor(async () => (wa.requestsTo('messages').length === 1 ? true : undefined), 10000, 10);
    await db.cut();
    const job = await waitFor(async () => {
      const j = await api.queue(QueueName.Messages).getJob(id);
      return j?.data.accepted ? j : undefined;
    }, 10000);
    expect(job.data.accepted.externalId).toMatch(/^wamid\./);
    expect((await row(id)).status).toBe('SENDING');
    wa.delayMs = 0;
    await db.start();
    const m = await settled(id);
    expect(m).toMatchObject({ status: 'SENT', attempts: 1, externalId: job.data.accepted.externalId });
    expect(wa.requestsTo('messages')).toHaveLength(1);
    reports.url = reportUrl;
  });

  it('keeps the acceptance when the connection is reset while the send is being recorded', async () => {
    const c = await contact();
    const reportUrl = reports.url;
    reports.url = ''; // no report from Meta: only the job's record of the acceptance stands between it and a second send
    wa.delayMs = 300; // answered within PROVIDER_TIMEOUT_MS, once the test holds the message's row
    const id = await send({ contactId: c.id, channel: 'WHATSAPP', content: 'queda durante a gravação' });
    await waitFor(async () => (wa.requestsTo('messages').length === 1 ? true : undefined), 10000, 5);
    // Hold the message's row: the worker's write of the send waits for it in Postgres, in flight, when the
    // connection is reset (the pg adapter reports ECONNRESET as kind ConnectionClosed, without a code).
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let holder = 0;
    const holding = api.prisma.$transaction(
      async (tx) => {
        holder = (await tx.$queryRaw<{ pid: number }[]>`SELECT pg_backend_pid() AS pid, id FROM messages WHERE id = ${id} FOR UPDATE`)[0].pid;
        await released;
      },
      { timeout: 30000 },
    );
    await waitFor(async () => {
      const [{ n }] = await api.prisma.$queryRaw<{ n: number }[]>`
        SELECT count(*)::int AS n FROM pg_stat_activity WHERE ${holder} > 0 AND ${holder} = ANY(pg_blocking_pids(pid))`;
      return n > 0 ? true : undefined;
    }, 10000, 10);
    await db.cut({ reset: true });
    const job = await waitFor(async () => {
      const j = await api.queue(QueueName.Messages).getJob(id);
      return j?.data.accepted ? j : undefined;
    }, 10000);
    expect(job.data.accepted.externalId).toMatch(/^wamid\./);
    release();
    await holding;
    wa.delayMs = 0;
    await db.start();
    const m = await settled(id);
    expect(m).toMatchObject({ status: 'SENT', attempts: 1, externalId: job.data.accepted.externalId });
    expect(wa.requestsTo('messages')).toHaveLength(1);
    reports.url = reportUrl;
  });

  it('waits out a Postgres outage before the claim without using an attempt', async () => {
    await db.cut();
    const c = await contact();
    const id = await send({ contactId: c.id, channel: 'WHATSAPP', content: 'banco fora' });
    await new Promise((r) => setTimeout(r, 2500));
    expect((await row(id)).status).toBe('QUEUED');
    await db.start();
    expect(await settled(id)).toMatchObject({ status: 'SENT', attempts: 1 });
    expect(wa.requestsTo('messages')).toHaveLength(1);
  });

  it('a flow step waits out a Postgres outage longer than its retries without using them: the run completes, one send', async () => {
    const c = await contact();
    const created = await api.http
      .post('/api/flows')
      .set(bearer(user.token))
      .set('X-Forwarded-For', randomIp())
      .send({ name: 'Banco fora', trigger: { type: 'MANUAL' }, steps: [{ type: 'SEND_MESSAGE', channel: 'WHATSAPP', content: 'passo com banco fora' }] });
    expect(created.status).toBe(201);
    await db.cut();
    const started = await api.http.post(`/api/flows/${created.body.id}/executions`).set(bearer(user.token)).set('X-Forwarded-For', randomIp()).send({ contactId: c.id });
    expect(started.status).toBe(202);
    // Longer than the flows queue's two attempts 5 s apart: without waiting it out, the step would be lost.
    await new Promise((r) => setTimeout(r, 7000));
    expect(wa.requestsTo('messages')).toHaveLength(0);
    await db.start();
    const run = await waitFor(async () => {
      const [execution] = await api.prisma.flowExecution.findMany({ where: { flowId: created.body.id } });
      return execution?.status === 'COMPLETED' ? execution : undefined;
    }, 30000);
    const [message] = await api.prisma.message.findMany({ where: { flowExecutionId: run.id } });
    expect(await settled(message.id)).toMatchObject({ status: 'SENT', attempts: 1 });
    expect(wa.requestsTo('messages')).toHaveLength(1);
    // The step job was postponed while the database was away, and completed on its first counted attempt.
    const step = await api.queue(QueueName.Flows).getJob(`${run.id}-0`);
    expect(step).toBeDefined();
    expect(step!.attemptsMade).toBe(1);
    expect(step!.data.outages).toBeGreaterThanOrEqual(1);
  }, 60000);

  it('settles a WhatsApp send whose answer timed out by Meta’s report naming it, without a second send', async () => {
    const c = await contact();
    wa.delayMs = 1000; // accepted (and reported) at once, answered after the client gave up
    const id = await send({ contactId: c.id, channel: 'WHATSAPP', content: 'resposta perdida' });
    const m = await settled(id);
    expect(m.status).toBe('SENT');
    expect(m.attempts).toBe(1);
    const request = await waitFor(async () => wa.requestsTo('messages').find((r) => r.response));
    expect(request.body.biz_opaque_callback_data).toBe(id);
    expect(m.externalId).toBe((request.response!.body as { messages: { id: string }[] }).messages[0].id);
    await new Promise((r) => setTimeout(r, WAIT_MS + 500));
    expect(wa.requestsTo('messages')).toHaveLength(1);
    wa.delayMs = 0;
  });

  it('sends a WhatsApp message once more only after the wait, when no report named it (the request never arrived)', async () => {
    const c = await contact();
    wa.script('messages', { drop: true });
    const id = await send({ contactId: c.id, channel: 'WHATSAPP', content: 'nunca chegou' });
    const waiting = await waitFor(async () => {
      const m = await row(id);
      return m.uncertainSince ? m : undefined;
    });
    expect(waiting.status).toBe('SENDING');
    expect((await api.http.get(`/api/messages/${id}`).set(bearer(user.token))).body.status).toBe('SENDING');
    const m = await settled(id);
    expect(m).toMatchObject({ status: 'SENT', attempts: 2 });
    expect(acceptedTo(c.phone!.slice(1))).toBe(1);
  });

  it('looks a Twilio message up after a timeout and records it, instead of sending it again', async () => {
    const c = await contact();
    twilio.delayMs = 1000;
    const id = await send({ contactId: c.id, channel: 'SMS', content: 'sms sem resposta' });
    await waitFor(async () => (twilio.requestsTo('messages').length === 1 ? true : undefined), 10000, 10);
    twilio.delayMs = 0;
    const m = await settled(id);
    expect(m.status).toBe('SENT');
    expect(twilio.requestsTo('messages')).toHaveLength(1);
    expect(twilio.requestsTo('list')).toHaveLength(1);
    expect(twilio.requestsTo('list')[0].query).toMatchObject({ To: c.phone, From: TWILIO.from });
    expect(m.externalId).toBe((twilio.requestsTo('messages')[0].response!.body as { sid: string }).sid);
  });

  it('keeps a delivery report that arrives before the send is recorded, and applies it with the record', async () => {
    const wamid = `wamid.early-${Date.now()}`;
    const report = JSON.stringify(whatsAppStatusNotification([{ id: wamid, status: 'delivered' }], PHONE.phoneNumberId));
    const early = await api.http.post('/api/webhooks/whatsapp').set('Content-Type', 'application/json').set('X-Hub-Signature-256', hubSignature(report, APP_SECRET)).send(report);
    expect(early.body).toEqual({ received: 1, applied: 0 });
    expect(await api.prisma.pendingDeliveryReport.count({ where: { externalId: wamid } })).toBe(1);

    const c = await contact();
    wa.script('messages', { status: 200, body: { messaging_product: 'whatsapp', contacts: [{ input: c.phone!.slice(1), wa_id: c.phone!.slice(1) }], messages: [{ id: wamid }] } });
    const id = await send({ contactId: c.id, channel: 'WHATSAPP', content: 'relatório adiantado' });
    const m = await waitFor(async () => {
      const r = await row(id);
      return r.status === 'DELIVERED' ? r : undefined;
    });
    expect(m.externalId).toBe(wamid);
    expect(await api.prisma.pendingDeliveryReport.count({ where: { externalId: wamid } })).toBe(0);
  });

  it('re-creates a once-per-cluster scheduler that Redis lost, without a restart', async () => {
    const queue = worker.queue(QueueName.Messages);
    expect(await queue.getJobScheduler('reconcile-messages')).toBeTruthy();
    await queue.removeJobScheduler('reconcile-messages');
    expect(await queue.getJobScheduler('reconcile-messages')).toBeFalsy();
    // A message whose job Redis lost with it, accepted a while ago.
    const c = await contact();
    const lost = await api.prisma.message.create({
      data: { organizationId: user.organizationId, contactId: c.id, channel: 'WHATSAPP', content: 'perdida', route: 'PLATFORM', updatedAt: new Date(Date.now() - 60_000) },
    });
    const producer = worker.get<{ checkSchedulers(): Promise<number> }>('core/queues/job-producer.service', 'JobProducer');
    expect(await producer.checkSchedulers()).toBeGreaterThanOrEqual(1);
    expect(await queue.getJobScheduler('reconcile-messages')).toBeTruthy();
    // Finding its schedulers gone, the worker reconciles at once instead of at its next interval.
    expect(await settled(lost.id)).toMatchObject({ status: 'SENT', attempts: 1 });
  });

  it('SIGKILL of a worker mid-send: nothing lost, nothing sent twice', async () => {
    await worker.close(); // the child processes are the only workers from now on
    const ids: string[] = [];
    const phones: string[] = [];
    for (let i = 0; i < 20; i++) {
      const c = await contact();
      phones.push(c.phone!.slice(1));
      ids.push(await send({ contactId: c.id, channel: 'WHATSAPP', content: `em massa ${i}` }));
    }
    wa.delayMs = 250;
    const first = startWorker();
    await waitFor(async () => (wa.requestsTo('messages').length >= 8 ? true : undefined), 30000, 10);
    first.child.kill('SIGKILL');
    await first.exited;
    wa.delayMs = 0;
    const next = startWorker();
    await waitFor(async () => {
      const rows = await api.prisma.message.findMany({ where: { id: { in: ids } } });
      return rows.every((m) => m.status === 'SENT') ? rows : undefined;
    }, 60000, 200);
    for (const phone of phones) expect(acceptedTo(phone)).toBe(1);
    next.child.kill('SIGTERM');
    await next.exited;
    worker = await createTestApp({ ...providerEnv(), APP_ROLE: 'api' });
  }, 90000);

  function startWorker() {
    // The takeover resends a WhatsApp message no report named once the wait has passed; on a loaded machine the
    // stand-in's reports of the killed worker's sends can take longer than the suite's 1.5 s to be applied.
    const worker = spawnZyva({
      ...providerEnv(),
      APP_ROLE: 'worker',
      WORKER_CONCURRENCY: '10',
      WORKER_LOCK_DURATION_MS: '2000',
      UNCERTAIN_SEND_WAIT_MS: '8000',
      LOG_LEVEL: 'silent',
    });
    children.push(worker.child);
    return worker;
  }
});
