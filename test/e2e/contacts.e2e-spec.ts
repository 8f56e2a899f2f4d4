import { Fixtures, RegisteredUser, bearer, tagEventsOf } from '../utils/factories';
import { TestApp, createTestApp } from '../utils/test-app';

describe('Contacts (e2e)', () => {
  let t: TestApp;
  let fixtures: Fixtures;
  let owner: RegisteredUser;
  let other: RegisteredUser;

  beforeAll(async () => {
    t = await createTestApp();
    fixtures = new Fixtures(t);
    owner = await fixtures.registerUser();
    other = await fixtures.registerUser();
    await fixtures.setPlan(owner.organizationId, 'ENTERPRISE');
    await fixtures.setPlan(other.organizationId, 'ENTERPRISE');
    // A tag's event is written only when a flow starts on it: these tags start one (that waits, doing nothing).
    await flowsOn(owner, ['vip', 'newsletter', 'cliente-fiel']);
    await flowsOn(other, ['a']);
  });

  const flowsOn = (user: RegisteredUser, tags: string[]) =>
    t.prisma.flow.createMany({
      data: tags.map((tag) => ({ organizationId: user.organizationId, name: `On ${tag}`, triggerType: 'TAG_ADDED' as const, triggerTag: tag, steps: [{ type: 'WAIT', seconds: 3600 }] })),
    });

  afterAll(async () => {
    await fixtures.cleanup();
    await t.close();
  });

  const as = (user: RegisteredUser) => ({
    get: (path: string) => t.http.get(path).set(bearer(user.token)),
    post: (path: string, body?: object) => t.http.post(path).set(bearer(user.token)).send(body),
    patch: (path: string, body: object) => t.http.patch(path).set(bearer(user.token)).send(body),
    delete: (path: string) => t.http.delete(path).set(bearer(user.token)),
  });
  const contactCount = async (orgId: string) =>
    (await t.prisma.organization.findUniqueOrThrow({ where: { id: orgId }, select: { contactCount: true } })).contactCount;
  const eventsFor = (contactId: string) => tagEventsOf(t, { contactId });

  it('creates a contact with every field, writes birthMonth/birthDay, counts it and emits one event per tag that starts a flow', async () => {
    const before = await contactCount(owner.organizationId);
    const res = await as(owner).post('/api/contacts', {
      name: '  Ana Souza ',
      email: 'Ana@Example.com',
      phone: '+5511987654321',
      birthday: '1990-02-28',
      instagramId: 'ana.souza',
      tags: ['vip', 'newsletter', 'vip', 'avulsa'],
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      name: 'Ana Souza',
      email: 'ana@example.com',
      phone: '+5511987654321',
      birthday: '1990-02-28',
      instagramId: 'ana.souza',
      tags: ['avulsa', 'newsletter', 'vip'],
      consent: { WHATSAPP: 'UNKNOWN', EMAIL: 'UNKNOWN', SMS: 'UNKNOWN', INSTAGRAM_DM: 'UNKNOWN' },
      whatsappWindowExpiresAt: null,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const row = await t.prisma.contact.findUniqueOrThrow({ where: { id: res.body.id } });
    expect(row).toMatchObject({ organizationId: owner.organizationId, birthMonth: 2, birthDay: 28 });
    expect(row.birthday?.toISOString()).toBe('1990-02-28T00:00:00.000Z');
    expect(await contactCount(owner.organizationId)).toBe(before + 1);
    expect(await eventsFor(res.body.id)).toEqual(
      expect.arrayContaining([
        { organizationId: owner.organizationId, contactId: res.body.id, tag: 'vip' },
        { organizationId: owner.organizationId, contactId: res.body.id, tag: 'newsletter' },
      ]),
    );
    expect(await eventsFor(res.body.id)).toHaveLength(2); // `avulsa` starts nothing: no event
  });

  it.each([
    [{ name: 'X', phone: '11987654321' }, 'phone must be in E.164 format'],
    [{ name: 'X', phone: '+0123456789' }, 'phone must be in E.164 format'],
    [{ name: 'X', birthday: '1990-02-30' }, 'birthday must be a past date'],
    [{ name: 'X', birthday: '2999-01-01' }, 'birthday must be a past date'],
    [{ name: 'X', birthday: '1990-02-03T00:00:00Z' }, 'birthday must be a past date'],
    [{ name: 'X', email: 'not-an-email' }, 'email must be an email'],
    [{ name: '' }, 'name should not be empty'],
    [{ name: 42 }, 'name must be a string'],
    [{ name: 'X', tags: 'vip' }, 'tags must be an array'],
    [{ name: 'X', tags: ['x'.repeat(51)] }, 'each value in tags must be shorter than or equal to 50 characters'],
    [{ name: 'X', role: 'ADMIN' }, 'property role should not exist'],
  ])('rejects %j with 400 and creates nothing', async (body, message) => {
    const before = await t.prisma.contact.count({ where: { organizationId: owner.organizationId } });
    const res = await as(owner).post('/api/contacts', body);
    expect(res.status).toBe(400);
    expect(res.body.message).toEqual(expect.arrayContaining([expect.stringContaining(message)]));
    expect(await t.prisma.contact.count({ where: { organizationId: owner.organizationId } })).toBe(before);
  });

  it('answers 409 (not 500) for an email or phone already used in the organization, and changes nothing', async () => {
    const first = await as(owner).post('/api/contacts', { name: 'Bia', email: 'bia@example.com', phone: '+5511911112222' });
    expect(first.status).toBe(201);
    const count = await contactCount(owner.organizationId);
    const sameEmail = await as(owner).post('/api/contacts', { name: 'Bia 2', email: 'BIA@example.com' });
    expect(sameEmail.status).toBe(409);
    expect(sameEmail.body).toEqual({ statusCode: 409, error: 'Conflict', message: expect.stringContaining('email') });
    const samePhone = await as(owner).post('/api/contacts', { name: 'Bia 3', phone: '+5511911112222' });
    expect(samePhone.status).toBe(409);
    expect(samePhone.body.message).toContain('phone');
    expect(await contactCount(owner.organizationId)).toBe(count);

    // Uniqueness is per organization: another store may have the same email.
    expect((await as(other).post('/api/contacts', { name: 'Bia', email: 'bia@example.com' })).status).toBe(201);

    const second = await as(owner).post('/api/contacts', { name: 'Caio', email: 'caio@example.com' });
    const clash = await as(owner).patch(`/api/contacts/${second.body.id}`, { email: 'bia@example.com' });
    expect(clash.status).toBe(409);
    expect((await t.prisma.contact.findUniqueOrThrow({ where: { id: second.body.id } })).email).toBe('caio@example.com');
  });

  it('reads, updates (null clears, birthday columns follow) and deletes, keeping contactCount exact', async () => {
    const created = await as(owner).post('/api/contacts', { name: 'Duda', email: 'duda@example.com', birthday: '1985-12-01' });
    const id = created.body.id;
    expect((await as(owner).get(`/api/contacts/${id}`)).body).toEqual(created.body);

    const patched = await as(owner).patch(`/api/contacts/${id}`, { birthday: '1986-07-09', phone: '+5521999990000', email: null });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ birthday: '1986-07-09', phone: '+5521999990000', email: null, name: 'Duda' });
    expect(await t.prisma.contact.findUniqueOrThrow({ where: { id } })).toMatchObject({ birthMonth: 7, birthDay: 9, email: null });

    const cleared = await as(owner).patch(`/api/contacts/${id}`, { birthday: null });
    expect(cleared.body.birthday).toBeNull();
    expect(await t.prisma.contact.findUniqueOrThrow({ where: { id } })).toMatchObject({ birthday: null, birthMonth: null, birthDay: null });
    expect((await as(owner).patch(`/api/contacts/${id}`, { name: null })).status).toBe(400);

    const count = await contactCount(owner.organizationId);
    expect((await as(owner).delete(`/api/contacts/${id}`)).status).toBe(204);
    expect(await t.prisma.contact.findUnique({ where: { id } })).toBeNull();
    expect(await contactCount(owner.organizationId)).toBe(count - 1);
    expect((await as(owner).delete(`/api/contacts/${id}`)).status).toBe(404);
    expect(await contactCount(owner.organizationId)).toBe(count - 1);
    expect(await contactCount(owner.organizationId)).toBe(await t.prisma.contact.count({ where: { organizationId: owner.organizationId } }));
  });

  it("answers 404 for another organization's contact on every route, and changes nothing", async () => {
    const theirs = await as(other).post('/api/contacts', { name: 'Secreta', email: 'secreta@example.com', tags: ['a'] });
    const id = theirs.body.id;
    for (const res of [
      await as(owner).get(`/api/contacts/${id}`),
      await as(owner).patch(`/api/contacts/${id}`, { name: 'Hacked' }),
      await as(owner).delete(`/api/contacts/${id}`),
      await as(owner).post(`/api/contacts/${id}/tags`, { tag: 'stolen' }),
      await as(owner).delete(`/api/contacts/${id}/tags/a`),
    ]) {
      expect(res.status).toBe(404);
      expect(JSON.stringify(res.body)).not.toContain('Secreta');
    }
    const row = await t.prisma.contact.findUniqueOrThrow({ where: { id }, include: { tags: { include: { tag: true } } } });
    expect(row.name).toBe('Secreta');
    expect(row.tags.map((x) => x.tag.name)).toEqual(['a']);
    expect((await eventsFor(id)).map((e) => e.tag)).toEqual(['a']);
  });

  it('adds a tag once (event only when new) and removes it', async () => {
    const { body: contact } = await as(owner).post('/api/contacts', { name: 'Edu' });
    const added = await as(owner).post(`/api/contacts/${contact.id}/tags`, { tag: ' cliente-fiel ' });
    expect(added.status).toBe(200);
    expect(added.body.tags).toEqual(['cliente-fiel']);
    expect(await eventsFor(contact.id)).toEqual([{ organizationId: owner.organizationId, contactId: contact.id, tag: 'cliente-fiel' }]);

    const again = await as(owner).post(`/api/contacts/${contact.id}/tags`, { tag: 'cliente-fiel' });
    expect(again.body.tags).toEqual(['cliente-fiel']);
    expect(await eventsFor(contact.id)).toHaveLength(1);
    expect(await t.prisma.tag.count({ where: { organizationId: owner.organizationId, name: 'cliente-fiel' } })).toBe(1);

    const removed = await as(owner).delete(`/api/contacts/${contact.id}/tags/cliente-fiel`);
    expect(removed.status).toBe(200);
    expect(removed.body.tags).toEqual([]);
    expect(await t.prisma.contactTag.count({ where: { contactId: contact.id } })).toBe(0);
    expect((await as(owner).delete(`/api/contacts/${contact.id}/tags/never-had`)).status).toBe(200);

    // Removed then added again is new again.
    await as(owner).post(`/api/contacts/${contact.id}/tags`, { tag: 'cliente-fiel' });
    expect(await eventsFor(contact.id)).toHaveLength(2);
    expect((await as(owner).post(`/api/contacts/${contact.id}/tags`, {})).status).toBe(400);
  });

  it('lists newest first with search (name, email, phone), tag filter and pagination', async () => {
    const user = await fixtures.registerUser();
    await fixtures.setPlan(user.organizationId, 'ENTERPRISE');
    const make = (body: object) => as(user).post('/api/contacts', body);
    await make({ name: 'Fernanda Lima', email: 'fe@lima.com', tags: ['vip'] });
    await make({ name: 'Gabriel', phone: '+5531988887777', tags: ['vip', 'novo'] });
    await make({ name: 'Helena', email: 'helena@FERNANDES.com' });
    for (let i = 0; i < 5; i++) await make({ name: `Extra ${i}` });

    const all = await as(user).get('/api/contacts?limit=3&page=2');
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({ total: 8, page: 2, limit: 3 });
    expect(all.body.data.map((c: { name: string }) => c.name)).toEqual(['Extra 1', 'Extra 0', 'Helena']);

    const byName = await as(user).get('/api/contacts?search=fern');
    expect(byName.body.data.map((c: { name: string }) => c.name).sort()).toEqual(['Fernanda Lima', 'Helena']);
    expect((await as(user).get('/api/contacts?search=98888')).body.data.map((c: { name: string }) => c.name)).toEqual(['Gabriel']);
    const vip = await as(user).get('/api/contacts?tag=vip');
    expect(vip.body.total).toBe(2);
    expect((await as(user).get('/api/contacts?tag=vip&search=gab')).body.data).toHaveLength(1);
    expect((await as(user).get('/api/contacts?tag=none')).body).toMatchObject({ data: [], total: 0 });
    // A page past the end still tells the total; every contact carries its tags.
    expect((await as(user).get('/api/contacts?limit=5&page=3')).body).toMatchObject({ data: [], total: 8, page: 3 });
    expect((await as(user).get('/api/contacts?search=Gabriel')).body.data[0]).toMatchObject({ tags: ['novo', 'vip'], phone: '+5531988887777' });
  });

  it('answers pages asked for at the same moment, of two organizations, in one statement, each with its own rows and total', async () => {
    const [a, b] = [await fixtures.registerUser(), await fixtures.registerUser()];
    await fixtures.setPlan(a.organizationId, 'ENTERPRISE');
    for (let i = 0; i < 7; i++) await as(a).post('/api/contacts', { name: `A ${i}`, tags: i % 2 ? ['par'] : [] });
    for (let i = 0; i < 3; i++) await as(b).post('/api/contacts', { name: `B ${i}` });
    await as(a).post('/api/contacts/' + (await t.prisma.contact.findFirstOrThrow({ where: { organizationId: a.organizationId } })).id + '/tags', { tag: 'novo' });
    const repository = t.get<{ page(scope: object, filter: object, skip: number, take: number): Promise<[{ id: string; tags: unknown[] }[], number]> }>(
      'modules/contacts/contacts.repository',
      'ContactsRepository',
    );
    const newestFirst = async (organizationId: string) =>
      (
        await t.prisma.contact.findMany({
          where: { organizationId },
          orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
          include: { tags: { select: { tag: { select: { name: true } } } } },
        })
      ).map((c) => ({ id: c.id, tags: c.tags.map((l) => ({ tag: { name: l.tag.name } })).sort((x, y) => x.tag.name.localeCompare(y.tag.name)) }));
    const [ofA, ofB] = [await newestFirst(a.organizationId), await newestFirst(b.organizationId)];
    const asked: [RegisteredUser, number, number][] = [
      [a, 0, 3], [b, 0, 2], [a, 3, 3], [a, 6, 3], [b, 2, 2], [a, 9, 3], [b, 4, 2], [a, 0, 7],
    ];
    const statements = jest.spyOn(t.prisma, 'queryPrepared');
    // All asked in one tick: one batch.
    const pages = await Promise.all(
      asked.map(([user, skip, take]) => repository.page({ organizationId: user.organizationId }, {}, skip, take)),
    );
    expect(statements.mock.calls.filter(([name]) => name === 'zyva_contacts_pages')).toHaveLength(1);
    statements.mockRestore();
    asked.forEach(([user, skip, take], i) => {
      const [rows, total] = pages[i];
      const all = user === a ? ofA : ofB;
      expect(total).toBe(all.length);
      expect(rows.map((r) => ({ id: r.id, tags: [...(r.tags as { tag: { name: string } }[])].sort((x, y) => x.tag.name.localeCompare(y.tag.name)) }))).toEqual(
        all.slice(skip, skip + take),
      );
    });
    // And over HTTP, as many pages at once as a busy API sees: the same answers as one at a time.
    const paths = [1, 2, 3, 4].map((page) => `/api/contacts?limit=3&page=${page}`);
    const together = await Promise.all([...paths.map((p) => as(a).get(p)), ...paths.map((p) => as(b).get(p))]);
    for (const [i, res] of together.entries()) {
      const user = i < 4 ? a : b;
      const all = i < 4 ? ofA : ofB;
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ total: all.length, page: (i % 4) + 1 });
      expect(res.body.data.map((c: { id: string }) => c.id)).toEqual(all.slice((i % 4) * 3, (i % 4) * 3 + 3).map((c) => c.id));
      expect(res.body.data).toEqual(
        await Promise.all(res.body.data.map(async (c: { id: string }) => (await as(user).get(`/api/contacts/${c.id}`)).body)),
      );
    }
  });

  it('a page shows each contact exactly as reading it does (birthday, times, tags, consent)', async () => {
    const user = await fixtures.registerUser();
    const created = await as(user).post('/api/contacts', { name: 'Zona', birthday: '1990-02-28', tags: ['vip'] });
    await as(user).patch(`/api/contacts/${created.body.id}`, { name: 'Zona Sul' });
    const read = (await as(user).get(`/api/contacts/${created.body.id}`)).body;
    const page = await as(user).get('/api/contacts');
    expect(page.body).toMatchObject({ total: 1, data: [read] });
    expect(read).toMatchObject({ name: 'Zona Sul', birthday: '1990-02-28', createdAt: created.body.createdAt, tags: ['vip'] });
    const row = await t.prisma.contact.findUniqueOrThrow({ where: { id: created.body.id } });
    expect(page.body.data[0]).toMatchObject({ createdAt: row.createdAt.toISOString(), updatedAt: row.updatedAt.toISOString() });
  });

  it('searches for the text as typed: % and _ are not wildcards', async () => {
    const user = await fixtures.registerUser();
    await as(user).post('/api/contacts', { name: '100% Cliente' });
    await as(user).post('/api/contacts', { name: 'Cliente_A' });
    await as(user).post('/api/contacts', { name: 'ClienteXA' });
    const names = async (search: string) =>
      (await as(user).get(`/api/contacts?search=${encodeURIComponent(search)}`)).body.data.map((c: { name: string }) => c.name);
    expect(await names('%')).toEqual(['100% Cliente']);
    expect(await names('e_a')).toEqual(['Cliente_A']);
    expect(await names('exa')).toEqual(['ClienteXA']);
    expect(await names('\\')).toEqual([]);

    expect((await as(user).get('/api/contacts?limit=101')).status).toBe(400);
    expect((await as(user).get('/api/contacts?page=0')).status).toBe(400);
    expect((await as(user).get('/api/contacts?sort=name')).status).toBe(400);
  });

  it('answers 402 at the contact cap and, under 20 concurrent creates for the last slot, admits exactly one', async () => {
    const user = await fixtures.registerUser();
    await fixtures.setPlan(user.organizationId, 'ENTERPRISE', { maxContacts: 3 });
    for (let i = 0; i < 2; i++) expect((await as(user).post('/api/contacts', { name: `C${i}` })).status).toBe(201);

    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => as(user).post('/api/contacts', { name: `Race ${i}`, tags: ['race'] })));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 402)).toHaveLength(19);
    const refused = results.find((r) => r.status === 402)!;
    expect(refused.body).toEqual({ statusCode: 402, error: 'Plan Quota Exceeded', message: expect.stringContaining('(3)') });

    expect(await t.prisma.contact.count({ where: { organizationId: user.organizationId } })).toBe(3);
    expect(await contactCount(user.organizationId)).toBe(3);
    expect(await t.prisma.contactTag.count({ where: { tag: { organizationId: user.organizationId, name: 'race' } } })).toBe(1);
    const org = await as(user).get('/api/organization');
    expect(org.body).toMatchObject({ currentContacts: 3, maxContacts: 3 });

    // Deleting one frees the slot again.
    const winner = results.find((r) => r.status === 201)!;
    await as(user).delete(`/api/contacts/${winner.body.id}`);
    expect((await as(user).post('/api/contacts', { name: 'Again' })).status).toBe(201);
  });

  it('gives other modules ContactsService.findForTenant (null outside the organization)', async () => {
    const service = t.get<{ findForTenant(scope: unknown, id: string): Promise<{ id: string; name: string } | null> }>(
      'modules/contacts/contacts.service',
      'ContactsService',
    );
    const { TenantScope } = await import('../../src/core/auth/tenant-scope');
    const { body } = await as(owner).post('/api/contacts', { name: 'Igor' });
    expect(await service.findForTenant(new TenantScope(owner.organizationId, owner.userId), body.id)).toMatchObject({ id: body.id, name: 'Igor' });
    expect(await service.findForTenant(new TenantScope(other.organizationId, other.userId), body.id)).toBeNull();
  });
});
