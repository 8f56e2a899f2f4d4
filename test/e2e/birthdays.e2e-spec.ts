import { QueueName } from '../../src/core/queues/queue.catalogue';
import { bearer, Fixtures, RegisteredUser, waitFor } from '../utils/factories';
import { createTestApp, TestApp } from '../utils/test-app';

interface RunSummary {
  date: string;
  contacts: number;
  started: number;
}

describe('birthdays (e2e)', () => {
  let t: TestApp;
  let fx: Fixtures;
  let admin: RegisteredUser;
  let storeA: RegisteredUser;
  let storeB: RegisteredUser;

  beforeAll(async () => {
    t = await createTestApp();
    fx = new Fixtures(t);
    admin = await fx.createAdmin();
    storeA = await fx.registerUser();
    storeB = await fx.registerUser();
    await fx.setPlan(storeA.organizationId, 'ENTERPRISE');
    await fx.setPlan(storeB.organizationId, 'ENTERPRISE');
  });

  afterAll(async () => {
    await fx.cleanup();
    await t.close();
  });

  const flow = async (u: RegisteredUser, body: object) => {
    const res = await t.http.post('/api/flows').set(bearer(u.token)).send(body);
    if (res.status !== 201) throw new Error(`flow: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.id as string;
  };
  const contact = async (u: RegisteredUser, name: string, birthday?: string) => {
    const res = await t.http.post('/api/contacts').set(bearer(u.token)).send({ name, ...(birthday ? { birthday } : {}) });
    if (res.status !== 201) throw new Error(`contact: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.id as string;
  };
  const runFor = async (date: string): Promise<RunSummary> => {
    const res = await t.http.post('/api/admin/birthdays/run').set(bearer(admin.token)).send({ date });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ jobId: expect.any(String), date });
    return waitFor(async () => {
      const job = await t.queue(QueueName.Birthdays).getJob(res.body.jobId);
      if (await job?.isFailed()) throw new Error(`check-birthdays failed: ${job!.failedReason}`);
      return (await job?.isCompleted()) ? (job!.returnvalue as RunSummary) : undefined;
    });
  };
  const runsOf = async (flowId: string) =>
    (await t.prisma.flowExecution.findMany({ where: { flowId }, select: { contactId: true, dedupeKey: true, triggerType: true, triggerData: true } })).sort(
      (a, b) => a.dedupeKey.localeCompare(b.dedupeKey),
    );

  it('starts every active BIRTHDAY flow once per contact born that day, however often the check runs', async () => {
    const f1 = await flow(storeA, { name: 'Parabéns', trigger: { type: 'BIRTHDAY' }, steps: [{ type: 'ADD_TAG', tag: 'aniversario' }] });
    const f2 = await flow(storeA, { name: 'Cupom', trigger: { type: 'BIRTHDAY' }, steps: [{ type: 'WAIT', seconds: 3600 }, { type: 'ADD_TAG', tag: 'cupom' }] });
    const off = await flow(storeA, { name: 'Desligado', active: false, trigger: { type: 'BIRTHDAY' }, steps: [{ type: 'ADD_TAG', tag: 'x' }] });
    const notBirthday = await flow(storeA, { name: 'Manual', trigger: { type: 'MANUAL' }, steps: [{ type: 'ADD_TAG', tag: 'x' }] });
    const g1 = await flow(storeB, { name: 'Parabéns B', trigger: { type: 'BIRTHDAY' }, steps: [{ type: 'ADD_TAG', tag: 'aniversario' }] });
    const a1 = await contact(storeA, 'Ana', '1990-07-14');
    const a2 = await contact(storeA, 'Bruno', '1985-07-14');
    await contact(storeA, 'Caio', '1990-07-15');
    await contact(storeA, 'Duda');
    const b1 = await contact(storeB, 'Eva', '2001-07-14');

    const first = await runFor('2031-07-14');
    expect(first.date).toBe('2031-07-14');
    const expected = (flowId: string, contacts: string[]) =>
      contacts
        .map((c) => ({ contactId: c, dedupeKey: `birthday:${flowId}:${c}:2031-07-14`, triggerType: 'BIRTHDAY', triggerData: { date: '2031-07-14' } }))
        .sort((a, b) => a.dedupeKey.localeCompare(b.dedupeKey));
    expect(await runsOf(f1)).toEqual(expected(f1, [a1, a2]));
    expect(await runsOf(f2)).toEqual(expected(f2, [a1, a2]));
    expect(await runsOf(g1)).toEqual(expected(g1, [b1]));
    expect(await runsOf(off)).toEqual([]);
    expect(await runsOf(notBirthday)).toEqual([]);
    await waitFor(async () => (await t.prisma.flowExecution.count({ where: { flowId: { in: [f1, g1] }, status: 'COMPLETED' } })) === 3);
    expect((await t.prisma.flowExecution.findFirstOrThrow({ where: { flowId: f2, contactId: a1 } })).status).toBe('WAITING');

    const [again, concurrent] = await Promise.all([runFor('2031-07-14'), runFor('2031-07-14')]);
    expect(again.started + concurrent.started).toBe(0);
    expect(again.contacts).toBeGreaterThanOrEqual(3);
    expect(await t.prisma.flowExecution.count({ where: { flowId: { in: [f1, f2, g1] } } })).toBe(5);
    const flowJobs = await t.queue(QueueName.Flows).getJobs(['completed', 'delayed', 'waiting', 'active']);
    const firstSteps = flowJobs.filter((j) => j.id?.endsWith('-0'));
    expect(new Set(firstSteps.map((j) => j.id)).size).toBe(firstSteps.length);
  });

  it('counts Feb 29 birthdays on Feb 28 of a year without Feb 29, and only then', async () => {
    const leapling = await contact(storeB, 'Leap', '2000-02-29');
    const feb28 = await contact(storeB, 'Feb 28', '1999-02-28');
    const march1 = await contact(storeB, 'Mar 1', '1999-03-01');
    const f = await flow(storeB, { name: 'Feb', trigger: { type: 'BIRTHDAY' }, steps: [{ type: 'ADD_TAG', tag: 'feb' }] });
    const startedFor = async (date: string) =>
      (await t.prisma.flowExecution.findMany({ where: { flowId: f, dedupeKey: { endsWith: `:${date}` } } })).map((e) => e.contactId).sort();

    await runFor('2031-02-28');
    expect(await startedFor('2031-02-28')).toEqual([leapling, feb28].sort());
    await runFor('2031-02-28');
    expect(await startedFor('2031-02-28')).toHaveLength(2);
    await runFor('2032-02-28');
    expect(await startedFor('2032-02-28')).toEqual([feb28]);
    await runFor('2032-02-29');
    expect(await startedFor('2032-02-29')).toEqual([leapling]);
    await runFor('2031-03-01');
    expect(await startedFor('2031-03-01')).toEqual([march1]);
  });

  it('a run without a date (as the scheduler queues it) checks today in BIRTHDAY_TZ', async () => {
    const today = t.get<{ today(): string }>('modules/birthdays/birthdays.service', 'BirthdaysService').today();
    const [, mm, dd] = today.split('-');
    const born = `${mm === '02' && dd === '29' ? '1992' : '1990'}-${mm}-${dd}`;
    const c = await contact(storeA, 'Hoje', born);
    const f = await flow(storeA, { name: 'Hoje', trigger: { type: 'BIRTHDAY' }, steps: [{ type: 'ADD_TAG', tag: 'hoje' }] });
    const job = await t.queue(QueueName.Birthdays).add('check-birthdays', {});
    const summary = await waitFor(async () => {
      const j = await t.queue(QueueName.Birthdays).getJob(job.id!);
      return (await j?.isCompleted()) ? (j!.returnvalue as RunSummary) : undefined;
    });
    expect(summary.date).toBe(today);
    expect(await runsOf(f)).toEqual([{ contactId: c, dedupeKey: `birthday:${f}:${c}:${today}`, triggerType: 'BIRTHDAY', triggerData: { date: today } }]);
  });

  it('POST /api/admin/birthdays/run is for ADMINs, with a real YYYY-MM-DD date', async () => {
    const path = '/api/admin/birthdays/run';
    expect((await t.http.post(path).send({ date: '2031-01-01' })).status).toBe(401);
    expect((await t.http.post(path).set(bearer(storeA.token)).send({ date: '2031-01-01' })).status).toBe(403);
    for (const date of ['2031-02-29', '2031-13-01', '2031-01-01T09:00:00Z', 20310101, '']) {
      const res = await t.http.post(path).set(bearer(admin.token)).send({ date });
      expect(res.status).toBe(400);
      expect(res.body.message).toEqual(expect.arrayContaining([expect.stringMatching(/^date /)]));
    }
    expect((await t.http.post(path).set(bearer(admin.token)).send({})).status).toBe(400);
  });

  it('GET /api/birthdays/upcoming lists the next N days of birthdays, soonest first, for the caller only', async () => {
    const store = await fx.registerUser();
    await fx.setPlan(store.organizationId, 'PRO');
    const service = t.get<{ today(): string }>('modules/birthdays/birthdays.service', 'BirthdaysService');
    const today = service.today();
    const plus = (days: number) => {
      const d = new Date(`${today}T00:00:00Z`);
      d.setUTCDate(d.getUTCDate() + days);
      return d.toISOString().slice(0, 10);
    };
    // A birthday on that day of another year (a Feb 29 is another case, unit-tested).
    const shift = (days: number, year: number) => (plus(days).endsWith('-02-29') ? null : `${year}${plus(days).slice(4)}`);
    const inThree = shift(3, 1991);
    const inTen = shift(10, 1980);
    const born = shift(0, 1990);
    const ids: Record<string, string> = {};
    for (const [name, date] of [['today', born], ['three', inThree], ['ten', inTen]] as const) {
      if (date) ids[name] = await contact(store, name, date);
    }
    await contact(store, 'no birthday');
    await contact(storeA, 'other store', born ?? undefined);

    const week = await t.http.get('/api/birthdays/upcoming').set(bearer(store.token));
    expect(week.status).toBe(200);
    const expectedWeek = ['today', 'three'].filter((n) => ids[n]);
    expect(week.body).toMatchObject({ total: expectedWeek.length, page: 1, limit: 20 });
    expect(week.body.data.map((c: { id: string }) => c.id)).toEqual(expectedWeek.map((n) => ids[n]));
    if (ids.three) {
      expect(week.body.data.find((c: { id: string }) => c.id === ids.three)).toMatchObject({
        name: 'three',
        birthday: inThree,
        nextBirthday: plus(3),
        turning: Number(plus(3).slice(0, 4)) - 1991,
        daysUntil: 3,
      });
    }
    const longer = await t.http.get('/api/birthdays/upcoming?days=11&limit=2').set(bearer(store.token));
    expect(longer.body.total).toBe(Object.keys(ids).length);
    expect(longer.body.data).toHaveLength(Math.min(2, Object.keys(ids).length));
    for (const days of ['0', '367', 'abc']) {
      expect((await t.http.get(`/api/birthdays/upcoming?days=${days}`).set(bearer(store.token))).status).toBe(400);
    }
  });
});
