import { randomBytes } from 'node:crypto';
import { bearer, Fixtures, randomIp, RegisteredUser, waitFor } from '../utils/factories';
import { Scripted, StandIn, startWhatsAppStandIn, WhatsAppNumber } from '../utils/provider-stand-ins';
import { createTestApp, TestApp } from '../utils/test-app';

const uid = () => randomBytes(4).toString('hex');
const wabaId = () => String(130000000000000 + Math.floor(Math.random() * 1e9));

/**
 * The template list as a store relies on it: the platform's number lists its
 * templates with only WHATSAPP_BUSINESS_ACCOUNT_ID, and a sync either stores
 * Meta's whole list or keeps the stored one (502) whatever Meta answers.
 */
describe('WhatsApp template list and sync (e2e)', () => {
  let t: TestApp;
  let fx: Fixtures;
  let wa: StandIn;
  let store: RegisteredUser;
  let platformUser: RegisteredUser;
  const platformWaba = wabaId();
  const number: WhatsAppNumber = { phoneNumberId: String(830000000000000 + Math.floor(Math.random() * 1e9)), accessToken: `EAAG-s-${uid()}`, businessAccountId: wabaId() };
  const templates = {
    [number.businessAccountId!]: [
      { name: 'boas_vindas', language: 'pt_BR', body: 'Bem-vinda, {{1}}!' },
      { name: 'cupom', language: 'pt_BR', body: 'Seu cupom: {{1}}' },
      { name: 'novidades', language: 'pt_BR', body: 'Temos novidades.' },
    ],
  };

  beforeAll(async () => {
    wa = await startWhatsAppStandIn({ numbers: [number], templates, templatePageSize: 2 });
    // The platform's account without its token: its stored templates can be read, not synced.
    t = await createTestApp({ WHATSAPP_API_URL: wa.url, WHATSAPP_BUSINESS_ACCOUNT_ID: platformWaba, WHATSAPP_TOKEN: '' });
    fx = new Fixtures(t);
    [store, platformUser] = [await fx.registerUser(), await fx.registerUser()];
    for (const u of [store, platformUser]) await fx.setPlan(u.organizationId, 'ENTERPRISE');
    const connected = await t.http
      .put('/api/channels/whatsapp')
      .set(bearer(store.token))
      .send({ phoneNumberId: number.phoneNumberId, businessAccountId: number.businessAccountId, accessToken: number.accessToken });
    expect(connected.status).toBe(200);
    // Connecting syncs the number's templates (every page).
    await waitFor(async () => (await t.prisma.whatsAppTemplate.count({ where: { businessAccountId: number.businessAccountId } })) === 3 || undefined);
  });

  afterAll(async () => {
    const accounts = [platformWaba, number.businessAccountId!];
    await t.prisma.whatsAppTemplate.deleteMany({ where: { businessAccountId: { in: accounts } } });
    await t.prisma.whatsAppTemplateSync.deleteMany({ where: { businessAccountId: { in: accounts } } });
    await fx.cleanup();
    await t.close();
    await wa.close();
  });

  beforeEach(() => wa.reset());

  const api = (u: RegisteredUser) => ({
    get: (path: string) => t.http.get(path).set(bearer(u.token)),
    post: (path: string) => t.http.post(path).set(bearer(u.token)).set('X-Forwarded-For', randomIp()).send({}),
  });
  const stored = (businessAccountId: string) =>
    t.prisma.whatsAppTemplate.findMany({ where: { businessAccountId }, orderBy: [{ name: 'asc' }, { language: 'asc' }] });

  it("lists the platform number's stored templates with only WHATSAPP_BUSINESS_ACCOUNT_ID; its sync is a 422 naming what is missing", async () => {
    const syncedAt = new Date(Date.now() - 3600_000);
    await t.prisma.whatsAppTemplate.createMany({
      data: [
        { businessAccountId: platformWaba, name: 'aviso', language: 'pt_BR', category: 'UTILITY', status: 'APPROVED', body: 'Aviso: {{1}}', variables: 1, syncedAt },
        { businessAccountId: platformWaba, name: 'promo', language: 'en_US', category: 'MARKETING', status: 'PENDING', body: 'Promo', variables: 0, syncedAt },
      ],
    });
    await t.prisma.whatsAppTemplateSync.create({ data: { businessAccountId: platformWaba, attemptedAt: syncedAt, syncedAt } });

    const list = await api(platformUser).get('/api/channels/whatsapp/templates');
    expect(list.status).toBe(200);
    expect(list.body).toEqual({
      data: [
        { name: 'aviso', language: 'pt_BR', category: 'UTILITY', status: 'APPROVED', body: 'Aviso: {{1}}', variables: 1 },
        { name: 'promo', language: 'en_US', category: 'MARKETING', status: 'PENDING', body: 'Promo', variables: 0 },
      ],
      syncedAt: syncedAt.toISOString(),
    });

    const before = await stored(platformWaba);
    const sync = await api(platformUser).post('/api/channels/whatsapp/templates/sync');
    expect(sync.status).toBe(422);
    expect(sync.body.message).toContain('WHATSAPP_TOKEN is not set');
    expect(wa.requestsTo('templates')).toHaveLength(0);
    expect(await stored(platformWaba)).toEqual(before);
  });

  const page = (data: unknown, next?: string): Scripted => ({ status: 200, body: { data, paging: next ? { next } : {} } });
  const template = (name: string) => ({ name, language: 'pt_BR', status: 'APPROVED', category: 'MARKETING', components: [{ type: 'BODY', text: `Olá de ${name}` }] });
  const pageUrl = (after: number) => `${wa.url}/${number.businessAccountId}/message_templates?limit=100&after=${after}`;

  it.each<[string, () => Scripted[], number]>([
    ['a paging.next on another origin (the token is not sent there)', () => [page([template('parcial')], 'http://127.0.0.1:1/next-page')], 1],
    ['a paging.next that loops back', () => [page([template('a')], pageUrl(1)), page([template('b')], pageUrl(1))], 2],
    ['pages without end', () => Array.from({ length: 251 }, (_, i) => page([template(`t${i}`)], pageUrl(i + 1))), 250],
    ['a 2xx body that is not JSON', () => [{ status: 200, body: '<html>manutenção</html>' }], 1],
    ['a 2xx body without a data list', () => [{ status: 200, body: { data: { name: 'x' } } }], 1],
    ['a template whose components hold null', () => [page([{ ...template('quebrado'), components: [null] }])], 1],
  ])('keeps the stored list (502, nothing written) when Meta answers %s', async (_, answers, calls) => {
    const before = await stored(number.businessAccountId!);
    expect(before.map((x) => x.name)).toEqual(['boas_vindas', 'cupom', 'novidades']);
    const listBefore = await api(store).get('/api/channels/whatsapp/templates');

    wa.script('templates', ...answers());
    const sync = await api(store).post('/api/channels/whatsapp/templates/sync');
    expect(sync.status).toBe(502);
    expect(sync.body.error).toBe('Bad Gateway');
    expect(sync.body.message).toMatch(/^Templates could not be synced: WhatsApp Cloud API: .+; the stored list is kept\.$/);
    expect(sync.body.message).not.toContain(number.accessToken);
    expect(wa.requestsTo('templates')).toHaveLength(calls);
    expect(wa.requestsTo('unmatched')).toHaveLength(0);

    expect(await stored(number.businessAccountId!)).toEqual(before);
    expect((await api(store).get('/api/channels/whatsapp/templates')).body).toEqual(listBefore.body);
  });

  it('after those, a sync Meta answers in full replaces the list again', async () => {
    const sync = await api(store).post('/api/channels/whatsapp/templates/sync');
    expect(sync.status).toBe(200);
    expect(sync.body.data.map((x: { name: string }) => x.name)).toEqual(['boas_vindas', 'cupom', 'novidades']);
    expect(wa.requestsTo('templates')).toHaveLength(2);
  });
});
