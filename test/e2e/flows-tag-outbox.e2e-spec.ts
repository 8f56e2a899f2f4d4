import { Worker } from 'bullmq';
import { randomBytes } from 'node:crypto';
import { QueueName } from '../../src/core/queues/queue.catalogue';
import { bearer, Fixtures, RegisteredUser, waitFor } from '../utils/factories';
import { createTestApp, TestApp } from '../utils/test-app';

const DRAIN_CONCURRENCY = 5; // src/modules/flows/flow-outbox-drain.service.ts
const MAX_TAG_RUNS_PER_CONTACT_HOUR = 10; // src/modules/flows/flow-triggers.service.ts

interface TriggersLike {
  tagAdded(event: { organizationId: string; contactId: string; tag: string }): Promise<void>;
}

/**
 * Tag triggers through the outbox: the event is committed with the tag, the
 * drain starts the flows. One API process (no workers) takes the requests;
 * a separate worker process (in-process app, `APP_ROLE=worker`, its drain
 * scheduler ticking every second) drains.
 */
describe('tag triggers through the outbox (e2e)', () => {
  let api: TestApp;
  let worker: TestApp | undefined;
  let fx: Fixtures;
  let user: RegisteredUser;

  beforeAll(async () => {
    api = await createTestApp({ APP_ROLE: 'api' });
    fx = new Fixtures(api);
    user = await fx.registerUser();
    await fx.setPlan(user.organizationId, 'ENTERPRISE', { maxContacts: 10_000 });
  });

  afterAll(async () => {
    await fx?.cleanup();
    await worker?.close();
    await api?.close();
  });

  const as = (app: TestApp) => ({
    post: (path: string, body: object) => app.http.post(path).set(bearer(user.token)).send(body),
    get: (path: string) => app.http.get(path).set(bearer(user.token)),
  });
  const createFlow = async (body: object) => {
    const res = await as(api).post('/api/flows', body);
    if (res.status !== 201) throw new Error(`flow not created: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as { id: string };
  };
  const createContact = async (name = 'Bia') => {
    const res = await as(api).post('/api/contacts', { name });
    if (res.status !== 201) throw new Error(`contact not created: ${res.status}`);
    return res.body as { id: string };
  };
  const startWorker = async () => {
    worker ??= await createTestApp({ APP_ROLE: 'worker', RECONCILE_INTERVAL_MS: '1000' });
    return worker;
  };
  const pendingEvents = () => api.prisma.outboxEvent.count({ where: { organizationId: user.organizationId, type: 'contact.tag-added', processedAt: null } });

  it('one drain job at a time: kicks while one waits add nothing, a kick while one runs makes exactly one follow-up', async () => {
    const outbox = api.get<{ kick(): Promise<void> }>('core/outbox/outbox.service', 'OutboxService');
    const flows = api.queue(QueueName.Flows);
    const drains = async () => (await flows.getJobs(['waiting', 'active'])).filter((j) => j.name === 'drain-outbox');
    await Promise.all([outbox.kick(), outbox.kick(), outbox.kick()]);
    expect(await drains()).toHaveLength(1);

    // Take it as a worker would (no worker runs yet in this file), kick twice while it runs, then finish it.
    const worker = new Worker(QueueName.Flows, null, { connection: flows.opts.connection, prefix: flows.opts.prefix, autorun: false });
    try {
      const token = `test-${randomBytes(4).toString('hex')}`;
      const running = (await worker.getNextJob(token))!;
      expect(running.name).toBe('drain-outbox');
      await outbox.kick();
      await outbox.kick();
      expect((await flows.getJobs(['waiting'])).filter((j) => j.name === 'drain-outbox')).toHaveLength(0);
      await running.moveToCompleted({ handled: 0 }, token, false);
      const next = await waitFor(async () => ((await drains()).length > 0 ? drains() : undefined), 5000);
      expect(next).toHaveLength(1);
      expect(next[0].id).not.toBe(running.id);
      await flows.remove(next[0].id!);
    } finally {
      await worker.close();
    }
  });

  it('an event handed out under a lease goes to no other drain until the lease ends, never to another deployment; handled events are purged after 7 days', async () => {
    interface OutboxLike {
      claim(types: string[], limit: number, leaseMs: number): Promise<{ events: { id: bigint; attempts: number }[]; completed: number }>;
      purge(): Promise<number>;
    }
    const outbox = api.get<OutboxLike>('core/outbox/outbox.service', 'OutboxService');
    const type = `test.leased-${randomBytes(3).toString('hex')}`; // no drain handles it
    const old = new Date(Date.now() - 8 * 24 * 3600_000);
    const namespace = process.env.QUEUE_PREFIX!;
    const [pending, handledLongAgo, handledRecently, pendingLongAgo] = await api.prisma.outboxEvent.createManyAndReturn({
      data: [
        { organizationId: user.organizationId, namespace, type, payload: {} },
        { organizationId: user.organizationId, namespace, type, payload: {}, createdAt: old, processedAt: old },
        { organizationId: user.organizationId, namespace, type, payload: {}, processedAt: new Date() },
        { organizationId: user.organizationId, namespace, type: `${type}-other`, payload: {}, createdAt: old, availableAt: new Date(Date.now() + 3600_000) },
        // Written by another deployment sharing the database (another test run here): its workers drain it, not ours.
        { organizationId: user.organizationId, namespace: `${namespace}-elsewhere`, type, payload: {} },
      ],
    });

    const first = await outbox.claim([type], 10, 1500);
    expect(first).toEqual({ events: [expect.objectContaining({ id: pending.id, attempts: 1 })], completed: 0 });
    expect(await outbox.claim([type], 10, 1500)).toEqual({ events: [], completed: 0 }); // leased: a second drain gets nothing
    const again = await waitFor(async () => {
      const claimed = (await outbox.claim([type], 10, 60_000)).events;
      return claimed.length > 0 ? claimed : undefined;
    }, 10_000, 200);
    expect(again).toEqual([expect.objectContaining({ id: pending.id, attempts: 2 })]); // the first drain died: handed out again

    // Another suite's drain on this database may purge the old event first: what counts is which events are left.
    await outbox.purge();
    const left = await api.prisma.outboxEvent.findMany({ where: { id: { in: [pending.id, handledLongAgo.id, handledRecently.id, pendingLongAgo.id] } }, select: { id: true } });
    expect(left.map((e) => e.id).sort()).toEqual([pending.id, handledRecently.id, pendingLongAgo.id].sort());
    await api.prisma.outboxEvent.deleteMany({ where: { organizationId: user.organizationId, type: { startsWith: type } } });
  });

  it('a crash between the commit and the kick loses nothing: the scheduled drain starts the flow once', async () => {
    const flow = await createFlow({ name: 'Boas-vindas', trigger: { type: 'TAG_ADDED', tag: 'novo' }, steps: [{ type: 'ADD_TAG', tag: 'recebido' }] });
    const contact = await createContact();

    // An API process whose kick never happens (it dies right after the commit), closed right after answering.
    const doomed = await createTestApp({ APP_ROLE: 'api' });
    doomed.get<{ kick(): Promise<void> }>('core/outbox/outbox.service', 'OutboxService').kick = async () => undefined;
    const tagged = await as(doomed).post(`/api/contacts/${contact.id}/tags`, { tag: 'novo' });
    expect(tagged.status).toBe(200);
    await doomed.close();

    // Committed with the tag, and nothing started it yet.
    const [event] = await api.prisma.outboxEvent.findMany({ where: { organizationId: user.organizationId, payload: { path: ['contactId'], equals: contact.id } } });
    expect(event).toMatchObject({ type: 'contact.tag-added', payload: { contactId: contact.id, tag: 'novo' }, processedAt: null });
    expect(await api.prisma.flowExecution.count({ where: { flowId: flow.id } })).toBe(0);

    await startWorker();
    const [run] = await waitFor(async () => {
      const runs = await api.prisma.flowExecution.findMany({ where: { flowId: flow.id } });
      return runs.length === 1 && runs[0].status === 'COMPLETED' ? runs : undefined;
    }, 30_000);
    expect(run).toMatchObject({ contactId: contact.id, triggerType: 'TAG_ADDED', triggerData: { tag: 'novo' } });
    expect((await api.prisma.outboxEvent.findUniqueOrThrow({ where: { id: event.id } })).processedAt).not.toBeNull();

    // Later ticks find nothing to do: still one run.
    await new Promise((r) => setTimeout(r, 2500));
    expect(await api.prisma.flowExecution.count({ where: { flowId: flow.id } })).toBe(1);
  });

  it('a CSV import of 2,000 tagged rows starts every flow once, paced, without exhausting the pool', async () => {
    const w = await startWorker();
    const triggers = w.get<TriggersLike>('modules/flows/flow-triggers.service', 'FlowTriggersService');
    const original = triggers.tagAdded.bind(triggers);
    let inFlight = 0;
    let maxInFlight = 0;
    triggers.tagAdded = async (event) => {
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      try {
        await original(event);
      } finally {
        inFlight--;
      }
    };
    try {
      const flow = await createFlow({ name: 'Importados', trigger: { type: 'TAG_ADDED', tag: 'importado' }, steps: [{ type: 'WAIT', seconds: 3600 }] });
      const rows = 2000;
      const stamp = randomBytes(3).toString('hex');
      const csv = ['name,email,tags', ...Array.from({ length: rows }, (_, i) => `Cliente ${i},c${i}-${stamp}@import.zyva.dev,importado;lote-${stamp}`)].join('\n');
      const res = await api.http.post('/api/contacts/import').set(bearer(user.token)).attach('file', Buffer.from(csv), { filename: 'contatos.csv', contentType: 'text/csv' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ created: rows, rejected: 0 });

      await waitFor(async () => ((await pendingEvents()) === 0 ? true : undefined), 120_000, 500);
      const runs = await api.prisma.flowExecution.findMany({ where: { flowId: flow.id }, select: { contactId: true, triggerType: true } });
      expect(runs).toHaveLength(rows);
      expect(new Set(runs.map((r) => r.contactId)).size).toBe(rows);
      // Every event handled at the first try: no pool timeouts, nothing left failing.
      const events = await api.prisma.outboxEvent.findMany({ where: { organizationId: user.organizationId, payload: { path: ['tag'], equals: 'importado' } } });
      expect(events).toHaveLength(rows);
      expect(events.filter((e) => e.lastError !== null || e.attempts !== 1)).toEqual([]);
      // The 2,000 `lote-…` tags start nothing and never reach the trigger; the rest go at most DRAIN_CONCURRENCY at a time.
      expect(maxInFlight).toBeGreaterThan(0);
      expect(maxInFlight).toBeLessThanOrEqual(DRAIN_CONCURRENCY);
    } finally {
      triggers.tagAdded = original;
    }
  }, 180_000);

  it('two flows feeding each other through tags (A adds b, B adds a) stop after a bounded number of runs, with a clear error', async () => {
    await startWorker();
    const a = await createFlow({ name: 'A', trigger: { type: 'TAG_ADDED', tag: 'loop-a' }, steps: [{ type: 'REMOVE_TAG', tag: 'loop-a' }, { type: 'ADD_TAG', tag: 'loop-b' }] });
    const b = await createFlow({ name: 'B', trigger: { type: 'TAG_ADDED', tag: 'loop-b' }, steps: [{ type: 'REMOVE_TAG', tag: 'loop-b' }, { type: 'ADD_TAG', tag: 'loop-a' }] });
    const contact = await createContact('Loop');
    expect((await as(api).post(`/api/contacts/${contact.id}/tags`, { tag: 'loop-a' })).status).toBe(200);

    const refused = await waitFor(
      async () => (await api.prisma.flowExecution.findFirst({ where: { flowId: a.id, status: 'FAILED' } })) ?? undefined,
      90_000,
      200,
    );
    await waitFor(async () => ((await pendingEvents()) === 0 ? true : undefined), 10_000);
    await new Promise((r) => setTimeout(r, 1500));

    const runsOf = (flowId: string) => api.prisma.flowExecution.findMany({ where: { flowId, contactId: contact.id }, orderBy: { startedAt: 'asc' } });
    const [runsA, runsB] = await Promise.all([runsOf(a.id), runsOf(b.id)]);
    expect(runsA.filter((r) => r.status === 'COMPLETED')).toHaveLength(MAX_TAG_RUNS_PER_CONTACT_HOUR);
    expect(runsB.filter((r) => r.status === 'COMPLETED')).toHaveLength(MAX_TAG_RUNS_PER_CONTACT_HOUR);
    expect(runsA).toHaveLength(MAX_TAG_RUNS_PER_CONTACT_HOUR + 1);
    expect(runsB).toHaveLength(MAX_TAG_RUNS_PER_CONTACT_HOUR);
    expect(refused.error).toContain(`already started this flow ${MAX_TAG_RUNS_PER_CONTACT_HOUR} times for this contact in the last hour`);
    expect(refused.stepIndex).toBe(0);

    const listed = await as(api).get(`/api/flows/${a.id}/executions?status=FAILED`);
    expect(listed.status).toBe(200);
    expect(listed.body.data).toEqual([expect.objectContaining({ id: refused.id, status: 'FAILED', error: refused.error })]);
  }, 120_000);
});
