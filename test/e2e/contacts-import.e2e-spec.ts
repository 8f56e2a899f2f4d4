import { Fixtures, RegisteredUser, bearer, tagEventsOf, waitFor } from '../utils/factories';
import { TestApp, createTestApp } from '../utils/test-app';

describe('Contacts CSV import (e2e)', () => {
  let t: TestApp;
  let fixtures: Fixtures;

  beforeAll(async () => {
    t = await createTestApp();
    fixtures = new Fixtures(t);
  });

  afterAll(async () => {
    // The imports' tag events are drained by this app's worker: let it finish before the queues go away.
    await waitFor(async () => (await t.prisma.outboxEvent.count({ where: { namespace: process.env.QUEUE_PREFIX, processedAt: null } })) === 0, 30_000, 100);
    await fixtures.cleanup();
    await t.close();
  });

  async function store(maxContacts?: number): Promise<RegisteredUser> {
    const user = await fixtures.registerUser();
    await fixtures.setPlan(user.organizationId, 'ENTERPRISE', { maxContacts: maxContacts ?? 200_000 });
    return user;
  }

  const upload = (user: RegisteredUser, csv: string | Buffer, filename = 'contacts.csv') =>
    t.http.post('/api/contacts/import').set(bearer(user.token)).attach('file', Buffer.from(csv), { filename, contentType: 'text/csv' });
  const contactCount = async (orgId: string) =>
    (await t.prisma.organization.findUniqueOrThrow({ where: { id: orgId }, select: { contactCount: true } })).contactCount;

  it('imports good rows, updates duplicates, and rejects bad lines with their reasons', async () => {
    const user = await store();
    const existing = await t.http.post('/api/contacts').set(bearer(user.token)).send({ name: 'Velha', email: 'velha@example.com', tags: ['antiga'] });
    const other = await t.http.post('/api/contacts').set(bearer(user.token)).send({ name: 'Outra', phone: '+5511900000001' });
    await t.http.get('/api/contacts').set(bearer(user.token)); // cached before the import
    const csv = [
      'name,email,phone,birthday,tags', //                                  line 1
      'Ana,ana@example.com,+5511987654321,1990-02-28,vip;newsletter', //    2 created
      'Bruno,,+5521987654321,,', //                                          3 created
      'Carla,carla@,+5511911111111,,', //                                   4 bad email
      'Davi,davi@example.com,11 98765-4321,,', //                           5 bad phone
      'Eva,eva@example.com,,1990-02-30,', //                                6 bad birthday
      ',semnome@example.com,,,', //                                         7 no name
      'Velha Atualizada,VELHA@example.com,,1970-05-06,vip', //              8 updates the existing contact
      'Ana Maria,ana@example.com,,,cliente', //                             9 updates row 2 (same email)
      'Fabio,velha@example.com,+5511900000001,,', //                        10 email of one, phone of another
      '"Gil, o Bom",gil@example.com,,,', //                                 11 created (quoted comma)
      'Hugo,hugo@example.com', //                                           12 wrong field count
      '', //                                                                 blank line, skipped
      'Iris,iris@example.com,,2000-01-01,a|b', //                           14 created
    ].join('\n');

    const res = await upload(user, csv);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      created: 4,
      updated: 2,
      rejected: 6,
      errors: [
        { line: 4, reason: expect.stringContaining('email "carla@" is not a valid address') },
        { line: 5, reason: expect.stringContaining('E.164') },
        { line: 6, reason: expect.stringContaining('birthday "1990-02-30"') },
        { line: 7, reason: 'name is required' },
        { line: 10, reason: 'its email belongs to one contact and its phone to another' },
        { line: 12, reason: 'expected 5 fields, found 2' },
      ],
    });

    const rows = await t.prisma.contact.findMany({
      where: { organizationId: user.organizationId },
      include: { tags: { include: { tag: true } } },
      orderBy: { name: 'asc' },
    });
    const byName = Object.fromEntries(rows.map((r) => [r.name, r]));
    expect(Object.keys(byName).sort()).toEqual(['Ana Maria', 'Bruno', 'Gil, o Bom', 'Iris', 'Outra', 'Velha Atualizada']);
    expect(byName['Ana Maria']).toMatchObject({ email: 'ana@example.com', phone: '+5511987654321', birthMonth: 2, birthDay: 28 });
    expect(byName['Ana Maria'].tags.map((x) => x.tag.name).sort()).toEqual(['cliente', 'newsletter', 'vip']);
    expect(byName['Velha Atualizada']).toMatchObject({ id: existing.body.id, birthMonth: 5, birthDay: 6 });
    expect(byName['Velha Atualizada'].tags.map((x) => x.tag.name).sort()).toEqual(['antiga', 'vip']);
    expect(byName['Outra'].id).toBe(other.body.id);
    expect(byName['Iris'].tags.map((x) => x.tag.name).sort()).toEqual(['a', 'b']);
    expect(await contactCount(user.organizationId)).toBe(6);

    const events = await tagEventsOf(t, { organizationId: user.organizationId });
    expect(events.filter((e) => e.contactId === existing.body.id).map((e) => e.tag)).toEqual(['antiga', 'vip']);
    expect(events.filter((e) => e.contactId === byName['Ana Maria'].id).map((e) => e.tag).sort()).toEqual(['cliente', 'newsletter', 'vip']);

    // The lists cached before the import were dropped.
    const list = await t.http.get('/api/contacts').set(bearer(user.token));
    expect(list.headers['x-cache']).toBe('MISS');
    expect(list.body.total).toBe(6);

    // Importing the same file again creates nothing new.
    const again = await upload(user, csv);
    expect(again.body).toMatchObject({ created: 0, updated: 6, rejected: 6 });
    expect(await contactCount(user.organizationId)).toBe(6);
  });

  it('rejects rows past the plan’s contact cap, and counts exactly', async () => {
    const user = await store(3);
    const csv = ['name,email', ...Array.from({ length: 5 }, (_, i) => `P${i},p${i}@example.com`)].join('\n');
    const res = await upload(user, csv);
    expect(res.body).toMatchObject({ created: 3, updated: 0, rejected: 2 });
    expect(res.body.errors).toEqual([
      { line: 5, reason: "your plan's contact limit is reached" },
      { line: 6, reason: "your plan's contact limit is reached" },
    ]);
    expect(await t.prisma.contact.count({ where: { organizationId: user.organizationId } })).toBe(3);
    expect(await contactCount(user.organizationId)).toBe(3);
    // Updates need no free slot.
    expect((await upload(user, 'name,email\nP0 novo,p0@example.com')).body).toMatchObject({ created: 0, updated: 1 });
  });

  it('answers 400 and writes nothing for a missing file, an empty file or a bad header', async () => {
    const user = await store();
    expect((await t.http.post('/api/contacts/import').set(bearer(user.token)).send({})).status).toBe(400);
    expect((await upload(user, '')).status).toBe(400);
    const unknown = await upload(user, 'nome,email\nAna,ana@example.com');
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toContain('Unknown column(s): nome');
    expect((await upload(user, 'email\nana@example.com')).status).toBe(400);
    expect(await t.prisma.contact.count({ where: { organizationId: user.organizationId } })).toBe(0);
  });

  it('reports a malformed line and keeps what it could read', async () => {
    const user = await store();
    const res = await upload(user, 'name,email\nAna,ana@example.com\nBi"a,bia@example.com\n"Caio,caio@example.com\nDani,dani@example.com\n');
    expect(res.status).toBe(200);
    expect(res.body.created).toBe(1);
    expect(res.body.errors).toEqual([
      { line: 3, reason: expect.stringContaining('malformed CSV') },
      { line: expect.any(Number), reason: expect.stringContaining('malformed CSV') },
    ]);
    expect(await contactCount(user.organizationId)).toBe(1);
  });

  it('imports 10,000 rows (streamed, in batches) with every row stored and counted', async () => {
    const user = await store();
    const lines = ['name,email,phone,birthday,tags'];
    for (let i = 0; i < 10_000; i++) {
      const day = String((i % 28) + 1).padStart(2, '0');
      const month = String((i % 12) + 1).padStart(2, '0');
      lines.push(`Cliente ${i},cliente${i}@example.com,+55119${String(i).padStart(8, '0')},1980-${month}-${day},${i % 10 === 0 ? 'vip' : 'base'}`);
    }
    const started = Date.now();
    const res = await upload(user, lines.join('\n'));
    const seconds = (Date.now() - started) / 1000;
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ created: 10_000, updated: 0, rejected: 0, errors: [] });
    expect(await t.prisma.contact.count({ where: { organizationId: user.organizationId } })).toBe(10_000);
    expect(await contactCount(user.organizationId)).toBe(10_000);
    expect(await t.prisma.contact.count({ where: { organizationId: user.organizationId, birthMonth: 3, birthDay: 3 } })).toBeGreaterThan(0);
    expect(await t.prisma.contactTag.count({ where: { tag: { organizationId: user.organizationId, name: 'vip' } } })).toBe(1000);
    process.stdout.write(`    10,000-row import took ${seconds.toFixed(1)} s\n`);
  });
});
