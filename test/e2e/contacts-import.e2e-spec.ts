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
    // Tag events are written for tags that start a flow (one that waits, doing nothing): all of them here but `a` and `b`.
    await t.prisma.flow.createMany({
      data: ['antiga', 'vip', 'newsletter', 'cliente'].map((tag) => ({ organizationId: user.organizationId, name: tag, triggerType: 'TAG_ADDED' as const, triggerTag: tag, steps: [{ type: 'WAIT', seconds: 3600 }] })),
    });
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
      omittedErrors: 0,
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
    expect(events.filter((e) => e.contactId === byName['Iris'].id)).toEqual([]);

    // The lists cached before the import were dropped.
    const list = await t.http.get('/api/contacts').set(bearer(user.token));
    expect(list.headers['x-cache']).toBe('MISS');
    expect(list.body.total).toBe(6);

    // Importing the same file again creates nothing new.
    const again = await upload(user, csv);
    expect(again.body).toMatchObject({ created: 0, updated: 6, rejected: 6 });
    expect(await contactCount(user.organizationId)).toBe(6);
  });

  it('records the optIn column as OPTED_IN (source IMPORT, with its line), rejects a bad channel, and never undoes an opt-out', async () => {
    const user = await store();
    const consent = t.get<{ record(o: string, c: string, ch: string, s: string, x: object): Promise<string> }>(
      'modules/contacts/consent/consent.service',
      'ConsentService',
    );
    const velha = await t.http.post('/api/contacts').set(bearer(user.token)).send({ name: 'Velha', email: 'velha@example.com' });
    const dudu = await t.http.post('/api/contacts').set(bearer(user.token)).send({ name: 'Dudu', email: 'dudu@example.com' });
    expect(await consent.record(user.organizationId, velha.body.id, 'EMAIL', 'OPTED_OUT', { source: 'UNSUBSCRIBE_LINK' })).toBe('recorded');
    const csv = [
      'name,email,optIn', //                          line 1
      'Ana,ana@example.com,EMAIL;WHATSAPP', //        2 created, opted in to both
      'Bruno,bruno@example.com,', //                  3 created, nothing recorded
      'Carla,carla@example.com,EMAIL;FAX', //         4 rejected whole
      'Velha,velha@example.com,email;sms', //         5 updates: EMAIL stays OPTED_OUT, SMS opted in
      'Dudu,dudu@example.com,SMS', //                 6 updates: SMS opted in
    ].join('\n');

    const res = await upload(user, csv);
    expect(res.body).toEqual({
      created: 2,
      updated: 2,
      rejected: 1,
      errors: [{ line: 4, reason: 'optIn "FAX" is not a channel (WHATSAPP, EMAIL, SMS, INSTAGRAM_DM)' }],
      omittedErrors: 0,
    });
    expect(await t.prisma.contact.count({ where: { organizationId: user.organizationId, name: 'Carla' } })).toBe(0);

    const idOf = async (name: string) =>
      (await t.prisma.contact.findFirstOrThrow({ where: { organizationId: user.organizationId, name } })).id;
    const imported = await t.prisma.consentEvent.findMany({ where: { organizationId: user.organizationId, source: 'IMPORT' } });
    const ana = await idOf('Ana');
    const shown = imported.map((e) => ({ contactId: e.contactId, channel: e.channel, status: e.status, evidence: e.evidence, actorId: e.actorId }));
    expect(shown).toHaveLength(4);
    expect(shown).toEqual(
      expect.arrayContaining([
        { contactId: ana, channel: 'EMAIL', status: 'OPTED_IN', evidence: `CSV import by user ${user.userId}, line 2`, actorId: null },
        { contactId: ana, channel: 'WHATSAPP', status: 'OPTED_IN', evidence: `CSV import by user ${user.userId}, line 2`, actorId: null },
        { contactId: velha.body.id, channel: 'SMS', status: 'OPTED_IN', evidence: `CSV import by user ${user.userId}, line 5`, actorId: null },
        { contactId: dudu.body.id, channel: 'SMS', status: 'OPTED_IN', evidence: `CSV import by user ${user.userId}, line 6`, actorId: null },
      ]),
    );
    const consentOf = async (id: string) => (await t.http.get(`/api/contacts/${id}`).set(bearer(user.token))).body.consent;
    expect(await consentOf(ana)).toEqual({ WHATSAPP: 'OPTED_IN', EMAIL: 'OPTED_IN', SMS: 'UNKNOWN', INSTAGRAM_DM: 'UNKNOWN' });
    expect(await consentOf(await idOf('Bruno'))).toEqual({ WHATSAPP: 'UNKNOWN', EMAIL: 'UNKNOWN', SMS: 'UNKNOWN', INSTAGRAM_DM: 'UNKNOWN' });
    expect(await consentOf(velha.body.id)).toMatchObject({ EMAIL: 'OPTED_OUT', SMS: 'OPTED_IN' });
    const history = await t.http.get(`/api/contacts/${ana}/consent`).set(bearer(user.token));
    expect(history.body).toHaveLength(2);
    expect(history.body[0]).toMatchObject({ source: 'IMPORT', status: 'OPTED_IN', actor: null, evidence: `CSV import by user ${user.userId}, line 2` });

    // The same file again records nothing new.
    expect((await upload(user, csv)).body).toMatchObject({ created: 0, updated: 4, rejected: 1 });
    expect(await t.prisma.consentEvent.count({ where: { organizationId: user.organizationId } })).toBe(imported.length + 1);
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
    expect(unknown.body.message).toContain('optIn');
    expect((await upload(user, 'email\nana@example.com')).status).toBe(400);
    expect(await t.prisma.contact.count({ where: { organizationId: user.organizationId } })).toBe(0);
  });

  it('answers 400 to a multipart body it cannot read or cut short, writing nothing, and imports an oversized file up to its limit', async () => {
    const user = await store();
    const raw = (contentType: string, body: string) =>
      t.http.post('/api/contacts/import').set(bearer(user.token)).set('Content-Type', contentType).send(body);
    for (const [contentType, body] of [
      ['multipart/form-data', 'x'],
      ['multipart/form-data; boundary=zyva', '--zyva\r\nbad'],
    ]) {
      const res = await raw(contentType, body);
      expect({ body, status: res.status, error: res.body.error }).toEqual({ body, status: 400, error: 'Bad Request' });
      expect(JSON.stringify(res.body.message)).toContain('The multipart body cannot be read');
    }
    expect(await contactCount(user.organizationId)).toBe(0);

    // The file's part starts, then the body ends without its closing boundary: the parser gets none of it.
    const part = '--zyva\r\nContent-Disposition: form-data; name="file"; filename="c.csv"\r\nContent-Type: text/csv\r\n\r\n';
    const cut = await raw('multipart/form-data; boundary=zyva', `${part}name,email\nAna,ana@example.com\nBia,bia@exa`);
    expect(cut.status).toBe(400);
    expect(cut.body.message).toContain('The upload ended before the file did');
    expect(await contactCount(user.organizationId)).toBe(0);

    // Past 20 MB the upload is cut at the limit: what came before is imported, and the answer says so.
    const big = await upload(user, `name,email\nCaio,caio@example.com\n${'Zé,'.padEnd(21 * 1024 * 1024, 'z')}\n`);
    expect(big.status).toBe(200);
    expect(big.body.created).toBe(1);
    expect(big.body.errors).toContainEqual({ line: 0, reason: 'the file is larger than 20 MB; the rest of the file was not read' });
    expect(await contactCount(user.organizationId)).toBe(1);
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
    expect(res.body).toEqual({ created: 10_000, updated: 0, rejected: 0, errors: [], omittedErrors: 0 });
    expect(await t.prisma.contact.count({ where: { organizationId: user.organizationId } })).toBe(10_000);
    expect(await contactCount(user.organizationId)).toBe(10_000);
    expect(await t.prisma.contact.count({ where: { organizationId: user.organizationId, birthMonth: 3, birthDay: 3 } })).toBeGreaterThan(0);
    expect(await t.prisma.contactTag.count({ where: { tag: { organizationId: user.organizationId, name: 'vip' } } })).toBe(1000);
    process.stdout.write(`    10,000-row import took ${seconds.toFixed(1)} s\n`);
  });
});
