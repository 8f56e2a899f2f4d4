import { randomBytes } from 'node:crypto';
import type { AppConfig } from '../../src/core/config/app-config';
import type { ConsentService } from '../../src/modules/contacts/consent/consent.service';
import { UnsubscribeTokens } from '../../src/modules/contacts/consent/unsubscribe-token';
import { Fixtures, RegisteredUser, bearer } from '../utils/factories';
import { TestApp, createTestApp } from '../utils/test-app';

const PAGE_PATH = '/api/unsubscribe/{token}';

describe('Unsubscribe link (e2e)', () => {
  let t: TestApp;
  let fixtures: Fixtures;
  let consent: ConsentService;
  let store: RegisteredUser;

  beforeAll(async () => {
    t = await createTestApp();
    fixtures = new Fixtures(t);
    consent = t.get<ConsentService>('modules/contacts/consent/consent.service', 'ConsentService');
    store = await fixtures.registerUser({ organizationName: 'Loja <Ana> & "Filhos"' });
    await fixtures.setPlan(store.organizationId, 'ENTERPRISE');
  });

  afterAll(async () => {
    await fixtures.cleanup();
    await t.close();
  });

  /** A new contact and the path of its unsubscribe link (what ConsentService.unsubscribeUrl puts in emails). */
  async function linkFor(channel: 'EMAIL' | 'SMS' | 'WHATSAPP' | 'INSTAGRAM_DM' = 'EMAIL') {
    const res = await t.http.post('/api/contacts').set(bearer(store.token)).send({ name: `Pessoa ${randomBytes(3).toString('hex')}` });
    expect(res.status).toBe(201);
    return { contactId: res.body.id as string, path: new URL(consent.unsubscribeUrl(store.organizationId, res.body.id, channel)).pathname };
  }
  const eventsOf = (contactId: string) => t.prisma.consentEvent.findMany({ where: { contactId } });
  const stateOf = (contactId: string) => t.prisma.contactConsent.findMany({ where: { contactId } });

  it('GET shows an accessible page naming the store, with a form that POSTs, and changes nothing', async () => {
    const { contactId, path } = await linkFor('EMAIL');
    await consent.record(store.organizationId, contactId, 'EMAIL', 'OPTED_IN', { source: 'API' });
    const before = await eventsOf(contactId);

    for (let i = 0; i < 3; i++) {
      const res = await t.http.get(path);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['x-ratelimit-limit']).toBeUndefined();
      const html = res.text;
      expect(html).toMatch(/^<!doctype html>\n<html lang="pt-BR">/);
      expect(html).toContain('<title>Cancelar inscrição · Loja &lt;Ana&gt; &amp; &quot;Filhos&quot;</title>');
      expect(html).toContain('<h1>Parar de receber e-mails de Loja &lt;Ana&gt; &amp; &quot;Filhos&quot;</h1>');
      expect(html).not.toContain('<Ana>');
      expect(html).toMatch(/<form method="post">[\s\S]*<button type="submit">Cancelar inscrição<\/button>[\s\S]*<\/form>/);
      expect(html).not.toMatch(/<script|<link|src=|https?:\/\//);
    }
    expect((await t.http.head(path)).status).toBe(200);
    expect(await eventsOf(contactId)).toEqual(before);
    expect(await stateOf(contactId)).toMatchObject([{ channel: 'EMAIL', status: 'OPTED_IN' }]);
  });

  it('names the channel of the token on the page', async () => {
    expect((await t.http.get((await linkFor('WHATSAPP')).path)).text).toContain('<h1>Parar de receber mensagens no WhatsApp de Loja');
    expect((await t.http.get((await linkFor('SMS')).path)).text).toContain('<h1>Parar de receber mensagens SMS de Loja');
  });

  it('POST (RFC 8058 one-click, form-encoded) opts the contact out of that channel once; again answers 200 and records nothing', async () => {
    const { contactId, path } = await linkFor('EMAIL');
    await consent.record(store.organizationId, contactId, 'EMAIL', 'OPTED_IN', { source: 'API' });
    await consent.record(store.organizationId, contactId, 'SMS', 'OPTED_IN', { source: 'API' });
    const post = () => t.http.post(path).type('form').send('List-Unsubscribe=One-Click');

    const first = await post();
    expect(first.status).toBe(200);
    expect(first.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(first.headers['x-ratelimit-limit']).toBeUndefined();
    expect(first.text).toContain('<h1>Inscrição cancelada</h1>');
    expect(first.text).toContain('você não vai mais receber e-mails de <strong>Loja &lt;Ana&gt; &amp; &quot;Filhos&quot;</strong>');
    const events = await eventsOf(contactId);
    expect(events.filter((e) => e.source === 'UNSUBSCRIBE_LINK')).toMatchObject([
      { channel: 'EMAIL', status: 'OPTED_OUT', source: 'UNSUBSCRIBE_LINK', evidence: null, actorId: null, organizationId: store.organizationId },
    ]);
    expect((await stateOf(contactId)).map((s) => `${s.channel}:${s.status}`).sort()).toEqual(['EMAIL:OPTED_OUT', 'SMS:OPTED_IN']);

    const second = await post();
    expect(second.status).toBe(200);
    expect(second.text).toContain('<h1>Inscrição cancelada</h1>');
    expect(await eventsOf(contactId)).toHaveLength(events.length);
  });

  it.each([
    ['no body at all', (req: ReturnType<TestApp['http']['post']>) => req],
    ['an empty form-encoded body', (req: ReturnType<TestApp['http']['post']>) => req.set('Content-Type', 'application/x-www-form-urlencoded').send('')],
    ['a multipart body (what RFC 8058 says clients SHOULD send)', (req: ReturnType<TestApp['http']['post']>) => req.field('List-Unsubscribe', 'One-Click')],
    ['a JSON body', (req: ReturnType<TestApp['http']['post']>) => req.send({ 'List-Unsubscribe': 'One-Click' })],
    ['an empty JSON body', (req: ReturnType<TestApp['http']['post']>) => req.set('Content-Type', 'application/json').send('')],
    ['malformed JSON', (req: ReturnType<TestApp['http']['post']>) => req.set('Content-Type', 'application/json').send('{"List-Unsubscribe":')],
    ['a type no parser knows', (req: ReturnType<TestApp['http']['post']>) => req.set('Content-Type', 'application/xml').send('<one-click/>')],
    ['a body with unknown fields', (req: ReturnType<TestApp['http']['post']>) => req.type('form').send('List-Unsubscribe=One-Click&role=ADMIN')],
  ])('POST with %s opts out (the body is never read)', async (_label, send) => {
    const { contactId, path } = await linkFor('SMS');
    const res = await send(t.http.post(path));
    expect(res.status).toBe(200);
    expect(res.text).toContain('<h1>Inscrição cancelada</h1>');
    expect(await eventsOf(contactId)).toMatchObject([{ channel: 'SMS', status: 'OPTED_OUT', source: 'UNSUBSCRIBE_LINK' }]);
  });

  it('ignores only that route\'s body: other routes still parse theirs and refuse unknown types', async () => {
    const xml = await t.http.post('/api/contacts').set(bearer(store.token)).set('Content-Type', 'application/xml').send('<contact/>');
    expect(xml.status).toBe(415);
    const badJson = await t.http.post('/api/contacts').set(bearer(store.token)).set('Content-Type', 'application/json').send('{"name":');
    expect(badJson.status).toBe(400);
    const ok = await t.http.post('/api/contacts').set(bearer(store.token)).send({ name: 'Depois' });
    expect(ok.status).toBe(201);
  });

  it('answers 404 with an HTML page to forged, altered, truncated or foreign tokens, on GET and POST, and records nothing', async () => {
    const { contactId, path } = await linkFor('EMAIL');
    const token = path.split('/').pop()!;
    const [org, contact, channel, mac] = token.split('.');
    const { contactId: otherId } = await linkFor('EMAIL');
    const flip = (text: string, at: number) => text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1);
    const bad = [
      `${org}.${contact}.SMS.${mac}`, // another channel, same mac
      `${org}.${otherId}.${channel}.${mac}`, // another contact, same mac
      `${flip(org, 3)}.${contact}.${channel}.${mac}`,
      `${org}.${contact}.${channel}.${flip(mac, 0)}`,
      `${org}.${contact}.${channel}.${flip(mac, mac.length - 1)}`, // even the last character's spare bits count
      `${org}.${contact}.${channel}.${mac.slice(0, -1)}`,
      `${org}.${contact}.${channel}`,
      `${org}.${contact}.${channel}.${'A'.repeat(22)}`,
      `${org}.${contact}.TELEGRAM.${mac}`,
      'not-a-token',
    ];
    for (const forged of bad) {
      for (const res of [await t.http.get(`/api/unsubscribe/${forged}`), await t.http.post(`/api/unsubscribe/${forged}`).type('form').send('List-Unsubscribe=One-Click')]) {
        expect(res.status).toBe(404);
        expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
        expect(res.text).toContain('<h1>Link inválido</h1>');
        expect(res.text).not.toContain('Loja');
      }
    }
    expect(await eventsOf(contactId)).toEqual([]);
    expect(await eventsOf(otherId)).toEqual([]);

    // A token signed with another secret is a forgery too.
    const elsewhere = new UnsubscribeTokens({ UNSUBSCRIBE_SECRET: 'another-secret-another-secret-another' } as AppConfig);
    const foreignToken = elsewhere.sign({ organizationId: store.organizationId, contactId, channel: 'EMAIL' });
    expect(foreignToken).not.toBe(token);
    expect((await t.http.post(`/api/unsubscribe/${foreignToken}`)).status).toBe(404);
    expect(await eventsOf(contactId)).toEqual([]);

    // The genuine token still works; once its contact is deleted it is unknown.
    expect((await t.http.post(path)).status).toBe(200);
    expect((await t.http.delete(`/api/contacts/${contactId}`).set(bearer(store.token))).status).toBe(204);
    expect((await t.http.get(path)).status).toBe(404);
    expect((await t.http.post(path)).status).toBe(404);
  });

  it('answers the same 404 page to tokens the router or the input guards refuse (too long, a broken %-escape, a NUL), on GET and POST', async () => {
    const { contactId, path } = await linkFor('EMAIL');
    const token = path.split('/').pop()!;
    const bad = [
      `${token}${'A'.repeat(120)}`, // over the router's 100 characters
      'abc%',
      '%ZZ',
      `${token}%`,
      '%E0%A4%A',
      '%ED%A0%80', // an unpaired surrogate in UTF-8
      encodeURIComponent(`${token}\u0000`),
      '%00',
    ];
    for (const forged of bad) {
      const url = `/api/unsubscribe/${forged}`;
      for (const res of [await t.http.get(url), await t.http.post(url).type('form').send('List-Unsubscribe=One-Click'), await t.http.post(url)]) {
        expect({ forged, status: res.status, type: res.headers['content-type'] }).toEqual({ forged, status: 404, type: 'text/html; charset=utf-8' });
        expect(res.headers['cache-control']).toBe('no-store');
        expect(res.headers['x-frame-options']).toBe('DENY');
        expect(res.text).toContain('<h1>Link inválido</h1>');
      }
      expect((await t.http.head(url)).status).toBe(404);
    }
    expect(await eventsOf(contactId)).toEqual([]);
    // Elsewhere the router's refusals keep the API's error shape.
    const elsewhere = await t.http.get(`/api/contacts/${'x'.repeat(150)}`).set(bearer(store.token));
    expect(elsewhere.status).toBe(414);
    expect(elsewhere.headers['content-type']).toMatch(/^application\/json/);
    expect((await t.http.get('/api/contacts/abc%').set(bearer(store.token))).body).toMatchObject({ statusCode: 400 });
    expect((await t.http.get('/api/contacts/abc%00').set(bearer(store.token))).body).toMatchObject({ statusCode: 400 });
  });

  it('needs no login and ignores a session: the token is the only credential', async () => {
    const { contactId, path } = await linkFor('INSTAGRAM_DM');
    const other = await fixtures.registerUser();
    // A browser of another store's user (cookie and bearer) unsubscribes this contact and spends nothing of its plan.
    const res = await t.http.post(path).set(bearer(other.token)).set('Cookie', `zyva_session=${other.token}`);
    expect(res.status).toBe(200);
    expect(res.headers['x-ratelimit-limit']).toBeUndefined();
    expect(await eventsOf(contactId)).toMatchObject([{ channel: 'INSTAGRAM_DM', status: 'OPTED_OUT', actorId: null }]);
  });

  it("drops the store's cached lists before it answers", async () => {
    const { contactId, path } = await linkFor('EMAIL');
    const list = () => t.http.get('/api/contacts?consent=EMAIL:OPTED_OUT&limit=100').set(bearer(store.token));
    await list();
    expect((await list()).headers['x-cache']).toBe('HIT');
    await t.http.post(path);
    const after = await list();
    expect(after.headers['x-cache']).toBe('MISS');
    expect(after.body.data.map((c: { id: string }) => c.id)).toContain(contactId);
  });

  it('is documented: public (security: []), HTML answers, every status', async () => {
    const document = (await t.http.get('/docs-json')).body;
    const item = document.paths[PAGE_PATH];
    for (const method of ['get', 'post']) {
      const operation = item[method];
      expect(operation.security).toEqual([]);
      expect(operation.tags).toEqual(['consent']);
      expect(operation.summary).toEqual(expect.any(String));
      expect(Object.keys(operation.responses).sort()).toEqual(['200', '404']);
      expect(Object.keys(operation.responses['200'].content)).toEqual(['text/html']);
      expect(Object.keys(operation.responses['404'].content)).toEqual(['text/html']);
    }
    expect(Object.keys(item.post.requestBody.content).sort()).toEqual(['application/json', 'application/x-www-form-urlencoded', 'multipart/form-data']);
    expect(item.post.requestBody.required).toBe(false);
    const consentRoutes = document.paths['/api/contacts/{id}/consent'];
    expect(Object.keys(consentRoutes.put.responses).sort()).toEqual(['200', '400', '401', '403', '404', '415', '429']);
    expect(consentRoutes.get.responses['200'].content['application/json'].schema).toEqual({ type: 'array', items: { $ref: '#/components/schemas/ConsentEventDto' } });
    const list = document.paths['/api/contacts'].get.parameters.find((p: { name: string }) => p.name === 'consent');
    expect(list).toMatchObject({ in: 'query', required: false, schema: { example: 'EMAIL:OPTED_OUT' } });
    expect(document.components.schemas.ContactDto.properties.consent).toMatchObject({ allOf: [{ $ref: '#/components/schemas/ConsentMapDto' }] });
  });
});
