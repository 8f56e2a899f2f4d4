import { QueueName } from '../../src/core/queues/queue.catalogue';
import { bearer, Fixtures, RegisteredUser, waitFor } from '../utils/factories';
import { createTestApp, TestApp } from '../utils/test-app';

interface TriggersLike {
  tagAdded(event: { organizationId: string; contactId: string; tag: string }): Promise<void>;
}

/**
 * The drain's claim on the database: one statement takes the due `contact.tag-added` events, marks handled those
 * whose tag starts no flow (any more: such an event is not even written) and hands out only the others. One API process takes the requests; a worker process
 * drains, its scheduler ticking every 10 minutes (never within this file), so every drain here comes from a kick.
 */
describe('the tag outbox drain on the database (e2e)', () => {
  let api: TestApp;
  let worker: TestApp;
  let fx: Fixtures;
  let user: RegisteredUser;
  let other: RegisteredUser;
  let triggers: TriggersLike;
  let original: TriggersLike['tagAdded'];
  /** The events that reached the trigger, as `contactId:tag`, and what to do before one goes on. */
  let triggered: string[] = [];
  let beforeTrigger: (event: { contactId: string; tag: string }) => Promise<void> = async () => undefined;

  beforeAll(async () => {
    api = await createTestApp({ APP_ROLE: 'api' });
    worker = await createTestApp({ APP_ROLE: 'worker', RECONCILE_INTERVAL_MS: '600000' });
    fx = new Fixtures(api);
    [user, other] = [await fx.registerUser(), await fx.registerUser()];
    for (const u of [user, other]) await fx.setPlan(u.organizationId, 'ENTERPRISE', { maxContacts: 10_000 });
    triggers = worker.get<TriggersLike>('modules/flows/flow-triggers.service', 'FlowTriggersService');
    original = triggers.tagAdded.bind(triggers);
    triggers.tagAdded = async (event) => {
      triggered.push(`${event.contactId}:${event.tag}`);
      await beforeTrigger(event);
      await original(event);
    };
  });

  afterEach(() => {
    triggered = [];
    beforeTrigger = async () => undefined;
  });

  afterAll(async () => {
    if (triggers) triggers.tagAdded = original;
    await fx?.cleanup();
    await worker?.close();
    await api?.close();
  });

  const as = (u: RegisteredUser) => ({
    post: (path: string, body: object) => api.http.post(path).set(bearer(u.token)).send(body),
    patch: (path: string, body: object) => api.http.patch(path).set(bearer(u.token)).send(body),
  });
  const createFlow = async (u: RegisteredUser, tag: string) => {
    const res = await as(u).post('/api/flows', { name: `On ${tag}`, trigger: { type: 'TAG_ADDED', tag }, steps: [{ type: 'WAIT', seconds: 3600 }] });
    if (res.status !== 201) throw new Error(`flow not created: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as { id: string };
  };
  const createContact = async (u: RegisteredUser, tags: string[]) => {
    const res = await as(u).post('/api/contacts', { name: 'Bia', tags });
    if (res.status !== 201) throw new Error(`contact not created: ${res.status} ${JSON.stringify(res.body)}`);
    return (res.body as { id: string }).id;
  };
  const addTag = async (contactId: string, tag: string) => {
    const res = await as(user).post(`/api/contacts/${contactId}/tags`, { tag });
    if (res.status !== 200) throw new Error(`tag not added: ${res.status}`);
  };
  const eventsOf = (contactIds: string[]) =>
    api.prisma.outboxEvent.findMany({ where: { OR: contactIds.map((id) => ({ payload: { path: ['contactId'], equals: id } })) }, orderBy: { id: 'asc' } });
  const handled = (contactIds: string[], count: number) =>
    waitFor(async () => {
      const events = await eventsOf(contactIds);
      return events.length === count && events.every((e) => e.processedAt !== null) ? events : undefined;
    }, 15_000, 100);
  const runsOf = async (flowId: string) =>
    (await api.prisma.flowExecution.findMany({ where: { flowId }, select: { contactId: true } })).map((r) => r.contactId).sort();

  it('a batch mixing tags with and without flows: only the events of tags with a flow are written, and each starts its flow once', async () => {
    const vip = await createFlow(user, 'vip');
    const lead = await createFlow(other, 'lead'); // another organization's flow: the user's `lead` tag starts nothing

    // Written while the drain waits (a backlog), so that one claim takes them all.
    const flows = api.queue(QueueName.Flows);
    await flows.pause();
    let contacts: string[];
    try {
      contacts = [
        await createContact(user, ['vip']),
        await createContact(user, ['lead']),
        await createContact(user, ['vip', 'lead']),
        await createContact(other, ['vip']),
        await createContact(other, ['lead']),
      ];
      const [c1, , c3, , c5] = contacts;
      const written = await eventsOf(contacts);
      expect(written.map((e) => `${(e.payload as { contactId: string }).contactId}:${(e.payload as { tag: string }).tag}`).sort()).toEqual([`${c1}:vip`, `${c3}:vip`, `${c5}:lead`].sort());
      expect(written.filter((e) => e.processedAt === null)).toHaveLength(3);
    } finally {
      await flows.resume();
    }
    const [c1, c2, c3, c4, c5] = contacts;

    const events = await handled(contacts, 3);
    expect(events.filter((e) => e.attempts !== 1 || e.lastError !== null)).toEqual([]);
    expect(triggered.sort()).toEqual([`${c1}:vip`, `${c3}:vip`, `${c5}:lead`].sort());
    expect(await runsOf(vip.id)).toEqual([c1, c3].sort());
    expect(await runsOf(lead.id)).toEqual([c5]);
    expect(await api.prisma.flowExecution.count({ where: { contactId: { in: [c2, c4] } } })).toBe(0);
  });

  it('a flow deactivated after its event was written starts nothing: the claim marks the event handled, and one that failed before is then done, its error cleared', async () => {
    const promo = await createFlow(user, 'promo');
    const [d1, d2, d3, d4] = [await createContact(user, []), await createContact(user, []), await createContact(user, []), await createContact(user, [])];
    await addTag(d1, 'promo');
    await handled([d1], 1);
    expect(await runsOf(promo.id)).toEqual([d1]);

    // Written while the flow is active and the drain waits; the flow is deactivated before the drain takes it.
    const flows = api.queue(QueueName.Flows);
    await flows.pause();
    let failing: { id: bigint };
    try {
      await addTag(d2, 'promo');
      expect(await eventsOf([d2])).toHaveLength(1);
      expect((await as(user).patch(`/api/flows/${promo.id}`, { active: false })).status).toBe(200);
      // An earlier event of the tag, left failing and due again now.
      failing = await api.prisma.outboxEvent.create({
        data: {
          organizationId: user.organizationId,
          namespace: process.env.QUEUE_PREFIX!,
          type: 'contact.tag-added',
          payload: { contactId: d2, tag: 'promo' },
          attempts: 3,
          lastError: 'flow broken',
          availableAt: new Date(Date.now() - 1000),
        },
      });
    } finally {
      await flows.resume();
    }
    await handled([d2], 2);
    expect(await api.prisma.outboxEvent.findUniqueOrThrow({ where: { id: failing.id } })).toMatchObject({ attempts: 4, lastError: null });
    expect(triggered).toEqual([`${d1}:promo`]);
    expect(await runsOf(promo.id)).toEqual([d1]);

    // While it is inactive, the tag writes no event at all.
    await addTag(d3, 'promo');
    expect(await eventsOf([d3])).toEqual([]);

    // Active again: the next event starts it.
    expect((await as(user).patch(`/api/flows/${promo.id}`, { active: true })).status).toBe(200);
    await addTag(d4, 'promo');
    await handled([d4], 1);
    expect(await runsOf(promo.id)).toEqual([d1, d4].sort());
  });

  it('an event committed while a drain runs, after its last claim, is drained at once by the follow-up job, not by the scheduler', async () => {
    const first = await createFlow(user, 'first');
    const second = await createFlow(user, 'second');
    let late: string | undefined;
    // While the drain handles the first event, a request commits another (and kicks, the drain job being active).
    beforeTrigger = async (event) => {
      if (event.tag === 'first' && !late) late = await createContact(user, ['second']);
    };
    const early = await createContact(user, ['first']);

    await handled([early], 1);
    const [event] = await handled([late!], 1);
    expect(event.processedAt!.getTime() - event.createdAt.getTime()).toBeLessThan(10_000); // the scheduler's next tick is minutes away
    expect(await runsOf(first.id)).toEqual([early]);
    expect(await runsOf(second.id)).toEqual([late]);
  });
});
