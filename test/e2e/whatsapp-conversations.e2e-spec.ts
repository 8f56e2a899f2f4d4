import { randomBytes } from 'node:crypto';
import { bearer, Fixtures, randomIp, RegisteredUser, SETTLED_STATUSES, waitFor } from '../utils/factories';
import { graphError, hubSignature, StandIn, startWhatsAppStandIn, whatsAppStatusNotification, WhatsAppNumber } from '../utils/provider-stand-ins';
import { createTestApp, TestApp } from '../utils/test-app';

const APP_SECRET = 'meta-app-secret-conversations';
/** The contract's text for free-form WhatsApp outside the 24-hour window, as is. */
const OUTSIDE_WINDOW = 'outside the 24-hour window: send an approved template';
const uid = () => randomBytes(4).toString('hex');

/**
 * WhatsApp as WhatsApp works: templates synced from Meta (every page) and
 * checked before anything is sent; free-form text only inside the 24-hour
 * window a contact's own message opens; inbound messages stored once, in the
 * store that owns the number; late failures reported by Meta; and flows that
 * start on a reply.
 */
describe('WhatsApp templates, the 24-hour window and conversations (e2e)', () => {
  let t: TestApp;
  let fx: Fixtures;
  let wa: StandIn;
  let a: RegisteredUser;
  let b: RegisteredUser;
  const wabaA = String(110000000000000 + Math.floor(Math.random() * 1e9));
  const numberA: WhatsAppNumber = { phoneNumberId: String(810000000000000 + Math.floor(Math.random() * 1e9)), accessToken: `EAAG-a-${uid()}`, businessAccountId: wabaA };
  const numberB: WhatsAppNumber = { phoneNumberId: String(820000000000000 + Math.floor(Math.random() * 1e9)), accessToken: `EAAG-b-${uid()}`, businessAccountId: '120000000000001' };
  const templates = {
    [wabaA]: [
      { name: 'promo_aniversario', language: 'pt_BR', body: 'Feliz aniversário, {{1}}! Seu cupom: {{2}}' },
      { name: 'boas_vindas', language: 'pt_BR', body: 'Bem-vinda à loja, {{1}}!' },
      { name: 'boas_vindas', language: 'en_US', body: 'Welcome, {{1}}!' },
      { name: 'aviso_sem_variaveis', language: 'pt_BR', body: 'Temos novidades para você.' },
      { name: 'rejeitado', language: 'pt_BR', status: 'REJECTED' as const, body: 'Compre já {{1}}' },
    ],
  };

  beforeAll(async () => {
    wa = await startWhatsAppStandIn({ numbers: [numberA, numberB], templates, templatePageSize: 2 });
    t = await createTestApp({ WHATSAPP_API_URL: wa.url, WHATSAPP_APP_SECRET: APP_SECRET });
    fx = new Fixtures(t);
    [a, b] = [await fx.registerUser(), await fx.registerUser()];
    for (const u of [a, b]) await fx.setPlan(u.organizationId, 'ENTERPRISE', { maxMessagesPerMonth: 1_000_000 });
    const connect = (u: RegisteredUser, n: WhatsAppNumber) =>
      t.http.put('/api/channels/whatsapp').set(bearer(u.token)).send({ phoneNumberId: n.phoneNumberId, businessAccountId: n.businessAccountId, accessToken: n.accessToken });
    expect((await connect(a, numberA)).status).toBe(200);
    expect((await connect(b, numberB)).status).toBe(200);
  });

  afterAll(async () => {
    await fx.cleanup();
    await t.close();
    await wa.close();
  });

  beforeEach(() => wa.reset());

  const api = (u: RegisteredUser) => ({
    get: (path: string) => t.http.get(path).set(bearer(u.token)),
    post: (path: string, body: object) => t.http.post(path).set(bearer(u.token)).set('X-Forwarded-For', randomIp()).send(body),
  });
  const contact = (u: RegisteredUser, name = 'Ana Souza') =>
    t.prisma.contact.create({ data: { organizationId: u.organizationId, name, phone: `+55119${Math.floor(1e7 + Math.random() * 8e7)}` } });
  const settled = (id: string) =>
    waitFor(async () => {
      const m = await t.prisma.message.findUniqueOrThrow({ where: { id } });
      return SETTLED_STATUSES.includes(m.status) ? m : undefined;
    });
  const sentTo = (phone: string) => wa.requestsTo('messages').filter((r) => r.body?.to === phone.slice(1));
  /** A signed Meta notification of a message the contact sent to `number`. */
  const inbound = (number: WhatsAppNumber, from: string, text: string, opts: { id?: string; name?: string; timestamp?: number } = {}) => {
    const payload = {
      object: 'whatsapp_business_account',
      entry: [
        {
          id: number.businessAccountId,
          changes: [
            {
              field: 'messages',
              value: {
                messaging_product: 'whatsapp',
                metadata: { display_phone_number: '5511900000000', phone_number_id: number.phoneNumberId },
                contacts: [{ profile: { name: opts.name ?? 'Cliente Novo' }, wa_id: from.slice(1) }],
                messages: [{ from: from.slice(1), id: opts.id ?? `wamid.in-${uid()}`, timestamp: String(opts.timestamp ?? Math.floor(Date.now() / 1000)), type: 'text', text: { body: text } }],
              },
            },
          ],
        },
      ],
    };
    const raw = JSON.stringify(payload);
    return t.http.post('/api/webhooks/whatsapp').set('Content-Type', 'application/json').set('X-Hub-Signature-256', hubSignature(raw, APP_SECRET)).send(raw);
  };

  it('syncs the templates on connect, across every page, and lists them whatever their status', async () => {
    const list = await api(a).get('/api/channels/whatsapp/templates');
    expect(list.status).toBe(200);
    expect(list.body.data).toHaveLength(5);
    expect(list.body.data).toEqual(
      expect.arrayContaining([
        { name: 'promo_aniversario', language: 'pt_BR', category: 'MARKETING', status: 'APPROVED', body: 'Feliz aniversário, {{1}}! Seu cupom: {{2}}', variables: 2 },
        expect.objectContaining({ name: 'rejeitado', status: 'REJECTED', variables: 1 }),
        expect.objectContaining({ name: 'aviso_sem_variaveis', variables: 0 }),
      ]),
    );
    expect(Date.parse(list.body.syncedAt)).toBeGreaterThan(Date.now() - 60_000);

    const sync = await api(a).post('/api/channels/whatsapp/templates/sync', {});
    expect(sync.status).toBe(200);
    const pages = wa.requestsTo('templates');
    expect(pages).toHaveLength(3); // 5 templates, 2 a page
    expect(pages.map((p) => p.query.after ?? '0')).toEqual(['0', '2', '4']);
    expect(pages[0].headers.authorization).toBe(`Bearer ${numberA.accessToken}`);

    // Meta failing keeps the stored list and answers 502.
    wa.script('templates', graphError(2, 'Service temporarily unavailable', 503));
    expect((await api(a).post('/api/channels/whatsapp/templates/sync', {})).status).toBe(502);
    expect((await api(a).get('/api/channels/whatsapp/templates')).body.data).toHaveLength(5);
  });

  it('sends a template message with its variables rendered for the contact, and stores the filled-in body', async () => {
    const c = await contact(a, 'Bia Lima');
    const res = await api(a).post('/api/messages', { contactId: c.id, channel: 'WHATSAPP', template: { name: 'promo_aniversario', language: 'pt_BR', variables: ['{{nome}}', 'ANIVER10'] } });
    expect(res.status).toBe(202);
    const m = await settled(res.body.id);
    expect(m).toMatchObject({ status: 'SENT', content: 'Feliz aniversário, Bia Lima! Seu cupom: ANIVER10' });
    const [call] = sentTo(c.phone!);
    expect(call.body).toMatchObject({
      type: 'template',
      template: { name: 'promo_aniversario', language: { code: 'pt_BR' }, components: [{ type: 'body', parameters: [{ type: 'text', text: 'Bia Lima' }, { type: 'text', text: 'ANIVER10' }] }] },
    });
    // The API answers what was asked; the stored row also keeps the body the sender fills in.
    const asked = { name: 'promo_aniversario', language: 'pt_BR', variables: ['{{nome}}', 'ANIVER10'] };
    const got = await api(a).get(`/api/messages/${m.id}`);
    expect(got.body.direction).toBe('OUTBOUND');
    expect(got.body.template).toEqual(asked);
    const conversation = await api(a).get(`/api/contacts/${c.id}/messages`);
    expect(conversation.body.data.map((x: { template: unknown }) => x.template)).toEqual([asked]);
    const listed = await api(a).get(`/api/messages?contactId=${c.id}`);
    expect(listed.body.data[0].template).toEqual(asked);
    expect(m.template).toEqual({ ...asked, body: 'Feliz aniversário, {{1}}! Seu cupom: {{2}}' });
  });

  it('refuses (422) an unknown template, one not approved, or the wrong number of variables, storing and sending nothing', async () => {
    const c = await contact(a);
    const before = await t.prisma.message.count({ where: { organizationId: a.organizationId } });
    for (const [template, reason] of [
      [{ name: 'nao_existe', language: 'pt_BR', variables: [] }, 'Unknown WhatsApp template'],
      [{ name: 'boas_vindas', language: 'es_ES', variables: ['x'] }, 'Unknown WhatsApp template'],
      [{ name: 'rejeitado', language: 'pt_BR', variables: ['x'] }, 'is REJECTED'],
      [{ name: 'promo_aniversario', language: 'pt_BR', variables: ['só um'] }, 'takes 2 variable(s), 1 given'],
    ] as const) {
      const res = await api(a).post('/api/messages', { contactId: c.id, channel: 'WHATSAPP', template });
      expect(res.status).toBe(422);
      expect(res.body.message).toContain(reason);
      const campaign = await api(a).post('/api/campaigns', { name: `c-${uid()}`, channel: 'WHATSAPP', template });
      expect(campaign.status).toBe(422);
      const flow = await api(a).post('/api/flows', { name: `f-${uid()}`, trigger: { type: 'MANUAL' }, steps: [{ type: 'SEND_MESSAGE', channel: 'WHATSAPP', template }] });
      expect(flow.status).toBe(422);
      expect(JSON.stringify(flow.body.message)).toContain('steps[0].template');
    }
    expect(await t.prisma.message.count({ where: { organizationId: a.organizationId } })).toBe(before);
    expect(await t.prisma.campaign.count({ where: { organizationId: a.organizationId } })).toBe(0);
    expect(await t.prisma.flow.count({ where: { organizationId: a.organizationId } })).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(wa.requestsTo('messages')).toHaveLength(0);
  });

  it('fails a template send Meta refuses after the sync (deleted there: 132001), without retrying', async () => {
    const c = await contact(a);
    const removed = templates[wabaA].splice(templates[wabaA].findIndex((x) => x.name === 'aviso_sem_variaveis'), 1);
    try {
      const res = await api(a).post('/api/messages', { contactId: c.id, channel: 'WHATSAPP', template: { name: 'aviso_sem_variaveis', language: 'pt_BR', variables: [] } });
      expect(res.status).toBe(202);
      const m = await settled(res.body.id);
      expect(m).toMatchObject({ status: 'FAILED', attempts: 1 });
      expect(m.errorMessage).toContain('[code 132001]');
      expect(sentTo(c.phone!)).toHaveLength(1);
    } finally {
      templates[wabaA].push(...removed);
    }
  });

  it('sends a template campaign and a template flow step with each contact’s parameters', async () => {
    const tag = `aniver-${uid()}`;
    const [c1, c2] = [await contact(a, 'Carla'), await contact(a, 'Davi')];
    for (const c of [c1, c2]) expect((await api(a).post(`/api/contacts/${c.id}/tags`, { tag })).status).toBe(200);
    const campaign = await api(a).post('/api/campaigns', { name: 'Aniversários', channel: 'WHATSAPP', tag, template: { name: 'promo_aniversario', language: 'pt_BR', variables: ['{{nome}}', 'BDAY'] } });
    expect(campaign.status).toBe(202);
    await waitFor(async () => (sentTo(c1.phone!).length + sentTo(c2.phone!).length === 2 ? true : undefined));
    expect(sentTo(c1.phone!)[0].body.template.components[0].parameters[0].text).toBe('Carla');
    expect(sentTo(c2.phone!)[0].body.template.components[0].parameters[0].text).toBe('Davi');
    const stored = await waitFor(async () => {
      const rows = await t.prisma.message.findMany({ where: { campaignId: campaign.body.id } });
      return rows.every((m) => m.status === 'SENT') ? rows : undefined;
    });
    expect(stored.map((m) => m.content).sort()).toEqual(['Feliz aniversário, Carla! Seu cupom: BDAY', 'Feliz aniversário, Davi! Seu cupom: BDAY']);

    const flow = await api(a).post('/api/flows', {
      name: 'Boas-vindas',
      trigger: { type: 'MANUAL' },
      steps: [{ type: 'SEND_MESSAGE', channel: 'WHATSAPP', template: { name: 'boas_vindas', language: 'en_US', variables: ['{{nome}}'] } }],
    });
    expect(flow.status).toBe(201);
    const c3 = await contact(a, 'Eva');
    expect((await api(a).post(`/api/flows/${flow.body.id}/executions`, { contactId: c3.id })).status).toBe(202);
    await waitFor(async () => (sentTo(c3.phone!).length === 1 ? true : undefined));
    expect(sentTo(c3.phone!)[0].body.template).toMatchObject({ name: 'boas_vindas', language: { code: 'en_US' }, components: [{ parameters: [{ text: 'Eva' }] }] });
  });

  it('refuses free-form text outside the 24-hour window, and accepts it after the contact writes', async () => {
    const c = await contact(a);
    const refused = await api(a).post('/api/messages', { contactId: c.id, channel: 'WHATSAPP', content: 'Oi!' });
    expect(refused.status).toBe(422);
    expect(refused.body).toEqual({ statusCode: 422, error: 'Unprocessable Entity', message: OUTSIDE_WINDOW });
    const campaign = await api(a).post('/api/campaigns', { name: 'texto', channel: 'WHATSAPP', content: 'Promo!' });
    expect(campaign.status).toBe(422);
    expect(campaign.body.message).toBe(OUTSIDE_WINDOW);
    // A flow step with free-form text fails its run with that reason.
    const flow = await api(a).post('/api/flows', { name: `texto-${uid()}`, trigger: { type: 'MANUAL' }, steps: [{ type: 'SEND_MESSAGE', channel: 'WHATSAPP', content: 'Oi!' }] });
    expect(flow.status).toBe(201);
    const run = await api(a).post(`/api/flows/${flow.body.id}/executions`, { contactId: c.id });
    expect(run.status).toBe(202);
    const failedRun = await waitFor(async () => {
      const row = await t.prisma.flowExecution.findUniqueOrThrow({ where: { id: run.body.executionId } });
      return row.status === 'FAILED' ? row : undefined;
    });
    expect(failedRun.error).toBe(OUTSIDE_WINDOW);
    expect(await t.prisma.message.count({ where: { contactId: c.id } })).toBe(0);

    const sentAt = Math.floor(Date.now() / 1000) - 60;
    expect((await inbound(numberA, c.phone!, 'Oi, tem desconto?', { timestamp: sentAt })).status).toBe(200);
    const withWindow = await api(a).get(`/api/contacts/${c.id}`);
    expect(withWindow.body.whatsappWindowExpiresAt).toBe(new Date((sentAt + 24 * 3600) * 1000).toISOString());

    const accepted = await api(a).post('/api/messages', { contactId: c.id, channel: 'WHATSAPP', content: 'Tem sim, {{nome}}!' });
    expect(accepted.status).toBe(202);
    expect((await settled(accepted.body.id)).status).toBe('SENT');

    // A message accepted inside the window whose window closed before it was sent fails with the reason.
    const later = await api(a).post('/api/messages', { contactId: c.id, channel: 'WHATSAPP', content: 'Agendada', scheduledFor: new Date(Date.now() + 1500).toISOString() });
    expect(later.status).toBe(202);
    await t.prisma.contact.update({ where: { id: c.id }, data: { whatsappWindowExpiresAt: new Date(Date.now() - 1000) } });
    const failed = await settled(later.body.id);
    expect(failed.status).toBe('FAILED');
    expect(failed.errorMessage).toBe(OUTSIDE_WINDOW);
  });

  it('stores an inbound message once however often Meta delivers it, in the store that owns the number, as a new contact if need be', async () => {
    const phone = `+55119${Math.floor(1e7 + Math.random() * 8e7)}`;
    const id = `wamid.repeat-${uid()}`;
    expect((await inbound(numberA, phone, 'Olá!', { id, name: 'Gabi Novo' })).body).toEqual({ received: 1, applied: 1 });
    expect((await inbound(numberA, phone, 'Olá!', { id, name: 'Gabi Novo' })).body).toEqual({ received: 1, applied: 0 });
    const stored = await t.prisma.message.findMany({ where: { externalId: id } });
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ organizationId: a.organizationId, direction: 'INBOUND', status: 'RECEIVED', attempts: 0, content: 'Olá!', channel: 'WHATSAPP' });
    const created = await t.prisma.contact.findFirstOrThrow({ where: { organizationId: a.organizationId, phone } });
    expect(created.name).toBe('Gabi Novo');
    expect(await t.prisma.contact.count({ where: { organizationId: b.organizationId, phone } })).toBe(0);
    expect(await t.prisma.message.count({ where: { organizationId: b.organizationId, externalId: id } })).toBe(0);

    // The conversation shows both directions, newest first; inbound messages count against no quota.
    const before = (await t.prisma.organization.findUniqueOrThrow({ where: { id: a.organizationId } })).messagesThisMonth;
    const reply = await api(a).post('/api/messages', { contactId: created.id, channel: 'WHATSAPP', content: 'Oi Gabi!' });
    await settled(reply.body.id);
    const conversation = await api(a).get(`/api/contacts/${created.id}/messages`);
    expect(conversation.status).toBe(200);
    expect(conversation.body.data.map((m: { direction: string }) => m.direction)).toEqual(['OUTBOUND', 'INBOUND']);
    expect((await api(b).get(`/api/contacts/${created.id}/messages`)).status).toBe(404);
    const onlyInbound = await api(a).get(`/api/messages?direction=INBOUND&channel=WHATSAPP&contactId=${created.id}`);
    expect(onlyInbound.body.data).toHaveLength(1);
    expect((await t.prisma.organization.findUniqueOrThrow({ where: { id: a.organizationId } })).messagesThisMonth).toBe(before + 1);

    // The dashboard's sent figures count what the store sent, not what its contacts wrote.
    const dashboard = t.get<{ stats(scope: { organizationId: string; where(w?: object): object }): Promise<{ recentActivity: { count: number }[] }> }>(
      'modules/organizations/dashboard.service',
      'DashboardService',
    );
    const scope = { organizationId: a.organizationId, where: (w: object = {}) => ({ ...w, organizationId: a.organizationId }) };
    const sevenDaysAgo = new Date(Date.now() - 7 * 86_400_000);
    const outbound = await t.prisma.message.count({ where: { organizationId: a.organizationId, direction: 'OUTBOUND', sentAt: { gte: sevenDaysAgo } } });
    const stats = await dashboard.stats(scope);
    expect(stats.recentActivity.reduce((sum, day) => sum + day.count, 0)).toBe(outbound);
  });

  it('turns SENT into FAILED on a late 131047 status, naming the code and its title', async () => {
    const c = await contact(a);
    await inbound(numberA, c.phone!, 'oi');
    const res = await api(a).post('/api/messages', { contactId: c.id, channel: 'WHATSAPP', content: 'fora da janela?' });
    const m = await settled(res.body.id);
    expect(m.status).toBe('SENT');
    const raw = JSON.stringify(
      whatsAppStatusNotification([{ id: m.externalId!, status: 'failed', error: { code: 131047, title: 'Re-engagement message', message: 'Message failed to send because more than 24 hours have passed' } }], numberA.phoneNumberId),
    );
    await t.http.post('/api/webhooks/whatsapp').set('Content-Type', 'application/json').set('X-Hub-Signature-256', hubSignature(raw, APP_SECRET)).send(raw);
    const failed = await t.prisma.message.findUniqueOrThrow({ where: { id: m.id } });
    expect(failed.status).toBe('FAILED');
    expect(failed.errorMessage).toBe('WhatsApp 131047: Re-engagement message');
  });

  it('starts an INBOUND_MESSAGE flow on its keyword ("quero "), not on another text ("quero mais")', async () => {
    const keyword = await api(a).post('/api/flows', {
      name: 'Cupom por resposta',
      trigger: { type: 'INBOUND_MESSAGE', keyword: 'QUERO' },
      steps: [{ type: 'ADD_TAG', tag: 'pediu-cupom' }],
    });
    expect(keyword.status).toBe(201);
    expect(keyword.body.trigger).toEqual({ type: 'INBOUND_MESSAGE', tag: null, keyword: 'QUERO' });
    expect((await api(a).post('/api/flows', { name: 'x', trigger: { type: 'MANUAL', keyword: 'QUERO' }, steps: [{ type: 'ADD_TAG', tag: 'x' }] })).status).toBe(400);
    const [yes, no] = [await contact(a), await contact(a)];
    await inbound(numberA, yes.phone!, 'quero ');
    await inbound(numberA, no.phone!, 'quero mais');
    const runs = await waitFor(async () => {
      const rows = await t.prisma.flowExecution.findMany({ where: { flowId: keyword.body.id } });
      return rows.length >= 1 && rows.every((r) => r.status === 'COMPLETED') ? rows : undefined;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect((await t.prisma.flowExecution.findMany({ where: { flowId: keyword.body.id } })).map((r) => r.contactId)).toEqual([yes.id]);
    expect(runs[0].triggerType).toBe('INBOUND_MESSAGE');
    const tags = await t.prisma.contactTag.findMany({ where: { contactId: { in: [yes.id, no.id] } }, include: { tag: true } });
    expect(tags.map((x) => [x.contactId, x.tag.name])).toEqual([[yes.id, 'pediu-cupom']]);
  });
});
