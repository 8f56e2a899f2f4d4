import { randomBytes } from 'node:crypto';
import { CACHE_PREFIX, cacheKeys } from '../../src/core/cache/cache-keys';
import type { ConsentService } from '../../src/modules/contacts/consent/consent.service';
import { Fixtures, RegisteredUser, bearer } from '../utils/factories';
import { TestApp, createTestApp } from '../utils/test-app';

const ALL_UNKNOWN = { WHATSAPP: 'UNKNOWN', EMAIL: 'UNKNOWN', SMS: 'UNKNOWN', INSTAGRAM_DM: 'UNKNOWN' };

describe('Consent (e2e)', () => {
  let t: TestApp;
  let fixtures: Fixtures;
  let consent: ConsentService;
  let owner: RegisteredUser;
  let other: RegisteredUser;

  beforeAll(async () => {
    t = await createTestApp();
    fixtures = new Fixtures(t);
    consent = t.get<ConsentService>('modules/contacts/consent/consent.service', 'ConsentService');
    owner = await fixtures.registerUser();
    other = await fixtures.registerUser();
    await fixtures.setPlan(owner.organizationId, 'ENTERPRISE');
    await fixtures.setPlan(other.organizationId, 'ENTERPRISE');
  });

  afterAll(async () => {
    await fixtures.cleanup();
    await t.close();
  });

  const as = (user: RegisteredUser) => ({
    get: (path: string) => t.http.get(path).set(bearer(user.token)),
    post: (path: string, body?: object) => t.http.post(path).set(bearer(user.token)).send(body),
    put: (path: string, body: object) => t.http.put(path).set(bearer(user.token)).send(body),
    patch: (path: string, body: object) => t.http.patch(path).set(bearer(user.token)).send(body),
    delete: (path: string) => t.http.delete(path).set(bearer(user.token)),
  });
  const newContact = async (user: RegisteredUser, body: object = {}) => {
    const res = await as(user).post('/api/contacts', { name: `Pessoa ${randomBytes(3).toString('hex')}`, ...body });
    expect(res.status).toBe(201);
    return res.body as { id: string; consent: Record<string, string> };
  };
  const eventsOf = (contactId: string) => t.prisma.consentEvent.findMany({ where: { contactId }, orderBy: { id: 'asc' } });
  const stateOf = (contactId: string) => t.prisma.contactConsent.findMany({ where: { contactId }, orderBy: { channel: 'asc' } });

  it('sets consent per channel (source API, the user as actor), answers the contact, and records an unchanged status only once', async () => {
    const contact = await newContact(owner);
    expect(contact.consent).toEqual(ALL_UNKNOWN);

    const opted = await as(owner).put(`/api/contacts/${contact.id}/consent`, { channel: 'WHATSAPP', status: 'OPTED_IN', evidence: ' Formulário da loja, 20/11 ' });
    expect(opted.status).toBe(200);
    expect(opted.body).toMatchObject({ id: contact.id, consent: { ...ALL_UNKNOWN, WHATSAPP: 'OPTED_IN' } });
    expect(await stateOf(contact.id)).toMatchObject([{ channel: 'WHATSAPP', status: 'OPTED_IN', organizationId: owner.organizationId }]);
    expect(await eventsOf(contact.id)).toMatchObject([
      { channel: 'WHATSAPP', status: 'OPTED_IN', source: 'API', evidence: 'Formulário da loja, 20/11', actorId: owner.userId, organizationId: owner.organizationId },
    ]);

    const again = await as(owner).put(`/api/contacts/${contact.id}/consent`, { channel: 'WHATSAPP', status: 'OPTED_IN' });
    expect(again.status).toBe(200);
    expect(again.body.consent.WHATSAPP).toBe('OPTED_IN');
    expect(await eventsOf(contact.id)).toHaveLength(1);

    await as(owner).put(`/api/contacts/${contact.id}/consent`, { channel: 'EMAIL', status: 'OPTED_OUT' });
    const back = await as(owner).put(`/api/contacts/${contact.id}/consent`, { channel: 'WHATSAPP', status: 'OPTED_OUT', evidence: null });
    expect(back.body.consent).toEqual({ ...ALL_UNKNOWN, WHATSAPP: 'OPTED_OUT', EMAIL: 'OPTED_OUT' });
    expect(await eventsOf(contact.id)).toHaveLength(3);
    expect(await stateOf(contact.id)).toMatchObject([
      { channel: 'WHATSAPP', status: 'OPTED_OUT' },
      { channel: 'EMAIL', status: 'OPTED_OUT' },
    ]);
  });

  it('answers the history newest first as a bare array', async () => {
    const contact = await newContact(owner);
    for (const [channel, status] of [
      ['EMAIL', 'OPTED_IN'],
      ['SMS', 'OPTED_IN'],
      ['EMAIL', 'OPTED_OUT'],
    ]) {
      expect((await as(owner).put(`/api/contacts/${contact.id}/consent`, { channel, status })).status).toBe(200);
    }
    const history = await as(owner).get(`/api/contacts/${contact.id}/consent`);
    expect(history.status).toBe(200);
    expect(history.body).toEqual([
      { channel: 'EMAIL', status: 'OPTED_OUT', source: 'API', evidence: null, actor: owner.userId, at: expect.any(String) },
      { channel: 'SMS', status: 'OPTED_IN', source: 'API', evidence: null, actor: owner.userId, at: expect.any(String) },
      { channel: 'EMAIL', status: 'OPTED_IN', source: 'API', evidence: null, actor: owner.userId, at: expect.any(String) },
    ]);
    const times = history.body.map((e: { at: string }) => Date.parse(e.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect((await as(owner).get(`/api/contacts/${(await newContact(owner)).id}/consent`)).body).toEqual([]);
  });

  it.each([
    ['an unknown channel', { channel: 'FAX', status: 'OPTED_IN' }, 'channel must be one of the following values'],
    ['UNKNOWN (it is what nothing recorded means)', { channel: 'EMAIL', status: 'UNKNOWN' }, 'status must be one of the following values'],
    ['no status', { channel: 'EMAIL' }, 'status must be one of the following values'],
    ['evidence over 1000 characters', { channel: 'EMAIL', status: 'OPTED_IN', evidence: 'x'.repeat(1001) }, 'evidence must be shorter than or equal to 1000'],
    ['evidence not text', { channel: 'EMAIL', status: 'OPTED_IN', evidence: 42 }, 'evidence must be a string'],
    ['a source (only the server decides it)', { channel: 'EMAIL', status: 'OPTED_IN', source: 'IMPORT' }, 'property source should not exist'],
  ])('refuses %s with 400 and records nothing', async (_label, body, message) => {
    const contact = await newContact(owner);
    const res = await as(owner).put(`/api/contacts/${contact.id}/consent`, body);
    expect(res.status).toBe(400);
    expect(res.body.message).toEqual(expect.arrayContaining([expect.stringContaining(message)]));
    expect(await eventsOf(contact.id)).toHaveLength(0);
    expect(await stateOf(contact.id)).toHaveLength(0);
  });

  it("answers 404 for another organization's contact, or none, and records nothing", async () => {
    const theirs = await newContact(other);
    const put = await as(owner).put(`/api/contacts/${theirs.id}/consent`, { channel: 'EMAIL', status: 'OPTED_OUT' });
    expect(put.status).toBe(404);
    expect(put.body).toEqual({ statusCode: 404, error: 'Not Found', message: 'Contact not found.' });
    expect((await as(owner).get(`/api/contacts/${theirs.id}/consent`)).status).toBe(404);
    expect((await as(owner).put('/api/contacts/nope/consent', { channel: 'EMAIL', status: 'OPTED_OUT' })).status).toBe(404);
    expect(await eventsOf(theirs.id)).toHaveLength(0);
    expect(await stateOf(theirs.id)).toHaveLength(0);
    expect(await consent.record(owner.organizationId, theirs.id, 'EMAIL', 'OPTED_OUT', { source: 'PROVIDER' })).toBe('no-contact');
    expect(await eventsOf(theirs.id)).toHaveLength(0);
  });

  it('records one change under 10 concurrent identical requests', async () => {
    const contact = await newContact(owner);
    const results = await Promise.all(
      Array.from({ length: 10 }, () => as(owner).put(`/api/contacts/${contact.id}/consent`, { channel: 'SMS', status: 'OPTED_OUT' })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(await eventsOf(contact.id)).toHaveLength(1);
  });

  it('carries consent on every contact answer: create, get, list, update and both tag routes', async () => {
    const contact = await newContact(owner, { tags: ['consent-shape'] });
    await as(owner).put(`/api/contacts/${contact.id}/consent`, { channel: 'INSTAGRAM_DM', status: 'OPTED_IN' });
    const expected = { ...ALL_UNKNOWN, INSTAGRAM_DM: 'OPTED_IN' };
    expect((await as(owner).get(`/api/contacts/${contact.id}`)).body.consent).toEqual(expected);
    expect((await as(owner).patch(`/api/contacts/${contact.id}`, { name: 'Renomeada' })).body.consent).toEqual(expected);
    expect((await as(owner).post(`/api/contacts/${contact.id}/tags`, { tag: 'outra' })).body.consent).toEqual(expected);
    expect((await as(owner).delete(`/api/contacts/${contact.id}/tags/outra`)).body.consent).toEqual(expected);
    const list = await as(owner).get('/api/contacts?tag=consent-shape');
    expect(list.body.data).toEqual([expect.objectContaining({ id: contact.id, consent: expected })]);
  });

  it('keeps the history append-only: UPDATE and DELETE are refused; deleting the contact (erasure) takes its history with it', async () => {
    const contact = await newContact(owner);
    await as(owner).put(`/api/contacts/${contact.id}/consent`, { channel: 'EMAIL', status: 'OPTED_IN' });
    const [event] = await eventsOf(contact.id);

    await expect(t.prisma.consentEvent.update({ where: { id: event.id }, data: { status: 'OPTED_OUT' } })).rejects.toThrow(/append-only: UPDATE refused/);
    await expect(t.prisma.$executeRaw`UPDATE consent_events SET evidence = 'rewritten' WHERE "contactId" = ${contact.id}`).rejects.toThrow(/append-only/);
    await expect(t.prisma.consentEvent.delete({ where: { id: event.id } })).rejects.toThrow(/append-only: DELETE refused/);
    await expect(t.prisma.$executeRaw`DELETE FROM consent_events WHERE "contactId" = ${contact.id}`).rejects.toThrow(/append-only/);
    expect(await eventsOf(contact.id)).toEqual([event]);

    expect((await as(owner).delete(`/api/contacts/${contact.id}`)).status).toBe(204);
    expect(await eventsOf(contact.id)).toEqual([]);
    expect(await stateOf(contact.id)).toEqual([]);
  });

  describe('the list filter ?consent=CHANNEL:STATUS', () => {
    let store: RegisteredUser;
    let ids: Record<'ana' | 'bia' | 'caio', string>;

    beforeAll(async () => {
      store = await fixtures.registerUser();
      await fixtures.setPlan(store.organizationId, 'ENTERPRISE');
      ids = {
        ana: (await newContact(store, { name: 'Ana', tags: ['vip'] })).id,
        bia: (await newContact(store, { name: 'Bia', tags: ['vip'] })).id,
        caio: (await newContact(store, { name: 'Caio' })).id,
      };
      await as(store).put(`/api/contacts/${ids.ana}/consent`, { channel: 'EMAIL', status: 'OPTED_OUT' });
      await as(store).put(`/api/contacts/${ids.bia}/consent`, { channel: 'EMAIL', status: 'OPTED_IN' });
      await as(store).put(`/api/contacts/${ids.caio}/consent`, { channel: 'SMS', status: 'OPTED_OUT' });
      // Another store's opted-out contact never shows up.
      const theirs = await newContact(other, { name: 'Ana' });
      await as(other).put(`/api/contacts/${theirs.id}/consent`, { channel: 'EMAIL', status: 'OPTED_OUT' });
    });

    const names = async (query: string) => {
      const res = await as(store).get(`/api/contacts?${query}`);
      expect(res.status).toBe(200);
      return { names: res.body.data.map((c: { name: string }) => c.name).sort(), total: res.body.total, cache: res.headers['x-cache'] };
    };

    it('filters by one channel, UNKNOWN meaning nothing recorded, and combines with tag and search', async () => {
      expect(await names('consent=EMAIL:OPTED_OUT')).toMatchObject({ names: ['Ana'], total: 1 });
      expect(await names('consent=EMAIL:OPTED_IN')).toMatchObject({ names: ['Bia'], total: 1 });
      expect(await names('consent=EMAIL:UNKNOWN')).toMatchObject({ names: ['Caio'], total: 1 });
      expect(await names('consent=SMS:UNKNOWN')).toMatchObject({ names: ['Ana', 'Bia'], total: 2 });
      expect(await names('consent=WHATSAPP:OPTED_IN')).toMatchObject({ names: [], total: 0 });
      expect(await names('consent=EMAIL:OPTED_OUT&tag=vip')).toMatchObject({ names: ['Ana'] });
      expect(await names('consent=SMS:UNKNOWN&search=bi')).toMatchObject({ names: ['Bia'] });
    });

    it.each(['EMAIL:MAYBE', 'FAX:OPTED_IN', 'EMAIL', 'email:opted_out', 'EMAIL:OPTED_OUT:x', ''])('refuses consent=%s with 400', async (value) => {
      const res = await as(store).get(`/api/contacts?consent=${encodeURIComponent(value)}`);
      expect(res.status).toBe(400);
      expect(res.body.message).toEqual([expect.stringContaining('consent must be CHANNEL:STATUS, e.g. EMAIL:OPTED_OUT')]);
      expect(await t.redis.exists(CACHE_PREFIX + cacheKeys.contacts(store.organizationId, `consent=${encodeURIComponent(value)}`))).toBe(0);
    });

    it('caches each filter under its own key, and a consent change drops them before it answers', async () => {
      const key = CACHE_PREFIX + cacheKeys.contacts(store.organizationId, 'consent=EMAIL%3AOPTED_OUT');
      await t.redis.unlink(key, CACHE_PREFIX + cacheKeys.contacts(store.organizationId, 'consent=EMAIL%3AOPTED_IN'));
      expect(await names('consent=EMAIL:OPTED_OUT')).toMatchObject({ names: ['Ana'], cache: 'MISS' });
      expect(await t.redis.exists(key)).toBe(1);
      expect(await names('consent=EMAIL:OPTED_OUT')).toMatchObject({ names: ['Ana'], cache: 'HIT' });
      expect(await names('consent=EMAIL:OPTED_IN')).toMatchObject({ names: ['Bia'], cache: 'MISS' });

      await as(store).put(`/api/contacts/${ids.bia}/consent`, { channel: 'EMAIL', status: 'OPTED_OUT' });
      expect(await t.redis.exists(key)).toBe(0);
      expect(await names('consent=EMAIL:OPTED_OUT')).toMatchObject({ names: ['Ana', 'Bia'], cache: 'MISS' });
      expect(await names('consent=EMAIL:OPTED_IN')).toMatchObject({ names: [], cache: 'MISS' });

      // Unchanged: nothing recorded, so the cache stays.
      await as(store).put(`/api/contacts/${ids.bia}/consent`, { channel: 'EMAIL', status: 'OPTED_OUT' });
      expect(await names('consent=EMAIL:OPTED_OUT')).toMatchObject({ cache: 'HIT' });

      // A change from outside the API (ConsentService.record) invalidates just the same.
      expect(await consent.record(store.organizationId, ids.caio, 'EMAIL', 'OPTED_OUT', { source: 'PROVIDER', evidence: 'bounce' })).toBe('recorded');
      expect(await names('consent=EMAIL:OPTED_OUT')).toMatchObject({ names: ['Ana', 'Bia', 'Caio'], cache: 'MISS' });
    });
  });

  describe('ConsentService, for the send paths and the automatic opt-out sources', () => {
    it('record: idempotent, with source, evidence and actor kept; evidence is capped at 1000 characters', async () => {
      const contact = await newContact(owner);
      const context = { source: 'INBOUND_KEYWORD' as const, evidence: `SAIR ${'!'.repeat(2000)}` };
      expect(await consent.record(owner.organizationId, contact.id, 'WHATSAPP', 'OPTED_OUT', context)).toBe('recorded');
      expect(await consent.record(owner.organizationId, contact.id, 'WHATSAPP', 'OPTED_OUT', context)).toBe('unchanged');
      expect(await consent.record(owner.organizationId, contact.id, 'WHATSAPP', 'OPTED_IN', { source: 'INBOUND_KEYWORD', evidence: 'VOLTAR' })).toBe('recorded');
      const events = await eventsOf(contact.id);
      expect(events).toMatchObject([
        { channel: 'WHATSAPP', status: 'OPTED_OUT', source: 'INBOUND_KEYWORD', actorId: null },
        { channel: 'WHATSAPP', status: 'OPTED_IN', source: 'INBOUND_KEYWORD', evidence: 'VOLTAR', actorId: null },
      ]);
      expect(events[0].evidence).toHaveLength(1000);
    });

    it('statusOf: one channel of many contacts in one call; unknown and foreign ids are UNKNOWN', async () => {
      const a = await newContact(owner);
      const b = await newContact(owner);
      const foreign = await newContact(other);
      await consent.record(owner.organizationId, a.id, 'EMAIL', 'OPTED_OUT', { source: 'PROVIDER' });
      await consent.record(owner.organizationId, b.id, 'EMAIL', 'OPTED_IN', { source: 'API' });
      await consent.record(other.organizationId, foreign.id, 'EMAIL', 'OPTED_OUT', { source: 'PROVIDER' });
      await consent.record(owner.organizationId, b.id, 'SMS', 'OPTED_OUT', { source: 'PROVIDER' });

      const statuses = await consent.statusOf(owner.organizationId, [a.id, b.id, foreign.id, 'missing', a.id], 'EMAIL');
      expect(Object.fromEntries(statuses)).toEqual({ [a.id]: 'OPTED_OUT', [b.id]: 'OPTED_IN', [foreign.id]: 'UNKNOWN', missing: 'UNKNOWN' });
      expect((await consent.statusOf(owner.organizationId, [], 'EMAIL')).size).toBe(0);
    });

    it("recordByPhone: the platform's shared number opts the phone out in every organization, once", async () => {
      const phone = `+55119${Math.floor(10_000_000 + Math.random() * 89_999_999)}`;
      const mine = await newContact(owner, { phone });
      const theirs = await newContact(other, { phone });
      const unrelated = await newContact(owner, { phone: `+55219${Math.floor(10_000_000 + Math.random() * 89_999_999)}` });
      await as(owner).get('/api/contacts'); // cached before
      const changed = await consent.recordByPhone(phone.slice(1), 'WHATSAPP', 'OPTED_OUT', { source: 'INBOUND_KEYWORD', evidence: 'STOP' });
      expect(changed).toEqual(
        expect.arrayContaining([
          { organizationId: owner.organizationId, contactId: mine.id },
          { organizationId: other.organizationId, contactId: theirs.id },
        ]),
      );
      expect(changed).toHaveLength(2);
      for (const id of [mine.id, theirs.id]) {
        expect(await eventsOf(id)).toMatchObject([{ channel: 'WHATSAPP', status: 'OPTED_OUT', source: 'INBOUND_KEYWORD', evidence: 'STOP' }]);
      }
      expect(await eventsOf(unrelated.id)).toEqual([]);
      const list = await as(owner).get('/api/contacts?consent=WHATSAPP:OPTED_OUT');
      expect(list.headers['x-cache']).toBe('MISS');
      expect(list.body.data.map((c: { id: string }) => c.id)).toContain(mine.id);

      expect(await consent.recordByPhone(phone, 'WHATSAPP', 'OPTED_OUT', { source: 'PROVIDER' })).toEqual([]);
      expect(await eventsOf(mine.id)).toHaveLength(1);
      expect(await consent.recordByPhone('+5500000000000', 'SMS', 'OPTED_OUT', { source: 'PROVIDER' })).toEqual([]);
    });

    it('unsubscribeUrl: a public link under APP_URL that names one contact and channel', async () => {
      const contact = await newContact(owner);
      const url = consent.unsubscribeUrl(owner.organizationId, contact.id, 'EMAIL');
      expect(url).toMatch(/^http:\/\/localhost:3000\/api\/unsubscribe\/[A-Za-z0-9._-]+$/);
      expect(url.length).toBeLessThan(160);
      expect(consent.unsubscribeUrl(owner.organizationId, contact.id, 'SMS')).not.toBe(url);
      const res = await t.http.post(new URL(url).pathname);
      expect(res.status).toBe(200);
      expect(await stateOf(contact.id)).toMatchObject([{ channel: 'EMAIL', status: 'OPTED_OUT' }]);
    });
  });
});
