import { randomBytes } from 'node:crypto';
import { twilioSignature } from '../../src/modules/channels/webhooks/signatures';
import { bearer, Fixtures, randomIp, RegisteredUser, SETTLED_STATUSES, waitFor } from '../utils/factories';
import {
  hubSignature,
  ResendStandIn,
  StandIn,
  startResendStandIn,
  startTwilioStandIn,
  startWhatsAppStandIn,
  svixHeaders,
  whatsAppStatusNotification,
  WhatsAppNumber,
} from '../utils/provider-stand-ins';
import { createTestApp, TestApp } from '../utils/test-app';

const APP_SECRET = 'meta-app-secret-consent';
const APP_URL = 'https://api.zyva.test';
const uid = () => randomBytes(4).toString('hex');

/**
 * Consent where messages are created and sent: an opted-out contact is never
 * sent to on that channel (the API refuses, a campaign skips, a flow step is
 * skipped, a queued message is canceled), store emails carry one-click
 * unsubscribe, and opt-outs arrive by themselves (keywords, provider reports).
 */
describe('consent enforced everywhere a message is created or sent (e2e)', () => {
  let t: TestApp;
  let fx: Fixtures;
  let wa: StandIn;
  let resend: ResendStandIn;
  let twilio: StandIn;
  let store: RegisteredUser;
  let other: RegisteredUser;
  let smsConnection: { id: string; webhookUrl: string };
  let emailConnection: { id: string };
  const number: WhatsAppNumber = { phoneNumberId: String(830000000000000 + Math.floor(Math.random() * 1e9)), accessToken: `EAAG-${uid()}`, businessAccountId: '130000000000001' };
  const platform: WhatsAppNumber = { phoneNumberId: String(840000000000000 + Math.floor(Math.random() * 1e9)), accessToken: `EAAG-p-${uid()}` };
  const resendKey = `re_${uid()}${uid()}`;
  const webhookSecret = `whsec_${randomBytes(24).toString('base64')}`;
  const sms = { accountSid: `AC${randomBytes(16).toString('hex')}`, authToken: randomBytes(16).toString('hex'), from: '+5511900001234' };

  beforeAll(async () => {
    [wa, resend, twilio] = await Promise.all([
      startWhatsAppStandIn({ numbers: [number, platform] }),
      startResendStandIn({ teams: [{ apiKey: resendKey, domains: [{ name: 'lojaconsent.com.br', status: 'verified' }] }] }),
      startTwilioStandIn({ accounts: [sms] }),
    ]);
    t = await createTestApp({
      APP_URL,
      WHATSAPP_API_URL: wa.url,
      WHATSAPP_APP_SECRET: APP_SECRET,
      WHATSAPP_PHONE_ID: platform.phoneNumberId,
      WHATSAPP_TOKEN: platform.accessToken,
      RESEND_API_URL: resend.url,
      TWILIO_API_URL: twilio.url,
    });
    fx = new Fixtures(t);
    store = await fx.registerUser({ organizationName: 'Loja Consentida' });
    other = await fx.registerUser();
    for (const u of [store, other]) await fx.setPlan(u.organizationId, 'ENTERPRISE', { maxMessagesPerMonth: 1_000_000 });
    const put = (kind: string, body: object) => t.http.put(`/api/channels/${kind}`).set(bearer(store.token)).send(body);
    expect((await put('whatsapp', { phoneNumberId: number.phoneNumberId, businessAccountId: number.businessAccountId, accessToken: number.accessToken })).status).toBe(200);
    emailConnection = (await put('email', { apiKey: resendKey, from: 'Loja Consentida <oi@lojaconsent.com.br>', webhookSecret })).body;
    smsConnection = (await put('sms', sms)).body;
  });

  afterAll(async () => {
    await fx.cleanup();
    await t.close();
    await Promise.all([wa.close(), resend.close(), twilio.close()]);
  });

  beforeEach(() => [wa, resend, twilio].forEach((s) => s.reset()));

  const api = (u: RegisteredUser = store) => ({
    get: (path: string) => t.http.get(path).set(bearer(u.token)),
    post: (path: string, body: object) => t.http.post(path).set(bearer(u.token)).set('X-Forwarded-For', randomIp()).send(body),
    put: (path: string, body: object) => t.http.put(path).set(bearer(u.token)).send(body),
  });
  const contact = (u: RegisteredUser = store, phone = `+55119${Math.floor(1e7 + Math.random() * 8e7)}`) =>
    t.prisma.contact.create({ data: { organizationId: u.organizationId, name: 'Cliente', phone, email: `c-${uid()}@cliente.dev` } });
  const optOut = (contactId: string, channel: string) => api().put(`/api/contacts/${contactId}/consent`, { channel, status: 'OPTED_OUT', evidence: 'pediu por telefone' });
  const consentOf = async (contactId: string, channel: string) => (await t.prisma.contactConsent.findUnique({ where: { contactId_channel: { contactId, channel: channel as never } } }))?.status ?? 'UNKNOWN';
  const history = (contactId: string) => t.prisma.consentEvent.findMany({ where: { contactId }, orderBy: { at: 'desc' } });
  const quota = async (u: RegisteredUser = store) => Number((await t.redis.get(`zyva:limits:{${u.organizationId}}:messages`)) ?? 0);
  const emailsTo = (address: string) => resend.requestsTo('emails').filter((r) => JSON.stringify(r.body?.to) === JSON.stringify([address]));
  const postWhatsApp = (payload: unknown) => {
    const raw = JSON.stringify(payload);
    return t.http.post('/api/webhooks/whatsapp').set('Content-Type', 'application/json').set('X-Hub-Signature-256', hubSignature(raw, APP_SECRET)).send(raw);
  };
  const inboundWhatsApp = (to: WhatsAppNumber, from: string, text: string) =>
    postWhatsApp({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: 'waba',
          changes: [
            {
              field: 'messages',
              value: {
                messaging_product: 'whatsapp',
                metadata: { display_phone_number: '5511900000000', phone_number_id: to.phoneNumberId },
                contacts: [{ profile: { name: 'Cliente' }, wa_id: from.slice(1) }],
                messages: [{ from: from.slice(1), id: `wamid.in-${uid()}`, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: text } }],
              },
            },
          ],
        },
      ],
    });

  it('refuses a message to an opted-out contact (422), consuming nothing', async () => {
    const c = await contact();
    expect((await optOut(c.id, 'EMAIL')).status).toBe(200);
    const before = await quota();
    const res = await api().post('/api/messages', { contactId: c.id, channel: 'EMAIL', content: 'Promo' });
    expect(res.status).toBe(422);
    expect(res.body.message).toContain('opted out of EMAIL');
    expect(await t.prisma.message.count({ where: { contactId: c.id } })).toBe(0);
    expect(await quota()).toBe(before);
    // Another channel is not affected.
    expect((await api().post('/api/messages', { contactId: c.id, channel: 'SMS', content: 'Oi' })).status).toBe(202);
  });

  it('leaves opted-out contacts out of a campaign, counts them in skipped, and reserves quota only for the rest', async () => {
    const tag = `promo-${uid()}`;
    const contacts = [await contact(), await contact(), await contact()];
    for (const c of contacts) await api().post(`/api/contacts/${c.id}/tags`, { tag });
    await optOut(contacts[1].id, 'EMAIL');
    const before = await quota();
    const res = await api().post('/api/campaigns', { name: 'Black Friday', channel: 'EMAIL', tag, content: 'Black Friday!\nSó hoje' });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ total: 2, skipped: 1 });
    expect(await quota()).toBe(before + 2);
    await waitFor(async () => (emailsTo(contacts[0].email!).length + emailsTo(contacts[2].email!).length === 2 ? true : undefined));
    const got = await api().get(`/api/campaigns/${res.body.id}`);
    expect(got.body).toMatchObject({ total: 2, skipped: 1 });
    expect(emailsTo(contacts[1].email!)).toHaveLength(0);
  });

  it('skips a flow’s SEND_MESSAGE step for an opted-out contact, and the run goes on', async () => {
    const flow = await api().post('/api/flows', {
      name: 'Pós-venda',
      trigger: { type: 'MANUAL' },
      steps: [
        { type: 'SEND_MESSAGE', channel: 'EMAIL', content: 'Obrigado!' },
        { type: 'ADD_TAG', tag: 'pos-venda' },
      ],
    });
    const c = await contact();
    await optOut(c.id, 'EMAIL');
    const run = await api().post(`/api/flows/${flow.body.id}/executions`, { contactId: c.id });
    expect(run.status).toBe(202);
    const execution = await waitFor(async () => {
      const e = await t.prisma.flowExecution.findUniqueOrThrow({ where: { id: run.body.executionId } });
      return e.status === 'COMPLETED' || e.status === 'FAILED' ? e : undefined;
    });
    expect(execution.status).toBe('COMPLETED');
    expect(await t.prisma.message.count({ where: { contactId: c.id } })).toBe(0);
    expect(await t.prisma.contactTag.count({ where: { contactId: c.id, tag: { name: 'pos-venda' } } })).toBe(1);
  });

  it('cancels a queued message whose contact opted out before it was sent, giving its quota back', async () => {
    const c = await contact();
    const before = await quota();
    const org = async () => (await t.prisma.organization.findUniqueOrThrow({ where: { id: store.organizationId } })).messagesThisMonth;
    const orgBefore = await org();
    const res = await api().post('/api/messages', { contactId: c.id, channel: 'EMAIL', content: 'Agendada', scheduledFor: new Date(Date.now() + 1500).toISOString() });
    expect(res.status).toBe(202);
    expect(await quota()).toBe(before + 1);
    await optOut(c.id, 'EMAIL');
    // Cached while the message still counts: the worker's give-back drops it again.
    expect((await api().get('/api/organization')).body.messagesThisMonth).toBe(orgBefore + 1);
    const m = await waitFor(async () => {
      const row = await t.prisma.message.findUniqueOrThrow({ where: { id: res.body.id } });
      return SETTLED_STATUSES.includes(row.status) ? row : undefined;
    });
    expect(m.status).toBe('CANCELED');
    expect(m.errorMessage).toBe('The contact opted out of EMAIL before it was sent');
    expect(emailsTo(c.email!)).toHaveLength(0);
    expect(await quota()).toBe(before);
    expect(await org()).toBe(orgBefore);
    expect((await api().get('/api/organization')).body.messagesThisMonth).toBe(orgBefore);
  });

  it('sends store emails with List-Unsubscribe headers and the same link in the HTML and text footer', async () => {
    const c = await contact();
    const res = await api().post('/api/messages', { contactId: c.id, channel: 'EMAIL', content: 'Novidades\nChegou coleção nova' });
    await waitFor(async () => (emailsTo(c.email!).length === 1 ? true : undefined));
    const [email] = emailsTo(c.email!);
    const header = email.body.headers['List-Unsubscribe'] as string;
    expect(header).toMatch(new RegExp(`^<${APP_URL}/api/unsubscribe/[^>]+>$`));
    expect(email.body.headers['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
    const url = header.slice(1, -1);
    expect(email.body.text).toContain(`Para não receber mais e-mails de Loja Consentida: ${url}`);
    expect(email.body.html).toContain(`href="${url}"`);
    // The link is the contact's own and works without a session.
    const path = new URL(url).pathname;
    expect((await t.http.get(path)).text).toContain('Loja Consentida');
    expect((await t.http.post(path).type('form').send('List-Unsubscribe=One-Click')).status).toBe(200);
    expect(await consentOf(c.id, 'EMAIL')).toBe('OPTED_OUT');
    expect(res.status).toBe(202);
  });

  it('opts out on an inbound PARAR (WhatsApp), starting no INBOUND_MESSAGE flow; back in on VOLTAR, which then starts flows like any message', async () => {
    const flow = await api().post('/api/flows', { name: 'qualquer resposta', trigger: { type: 'INBOUND_MESSAGE' }, steps: [{ type: 'ADD_TAG', tag: 'respondeu' }] });
    const back = await api().post('/api/flows', { name: 'voltou', trigger: { type: 'INBOUND_MESSAGE', keyword: 'VOLTAR' }, steps: [{ type: 'ADD_TAG', tag: 'voltou' }] });
    expect([flow.status, back.status]).toEqual([201, 201]);
    const runs = (flowId: string, contactId: string) => t.prisma.flowExecution.count({ where: { flowId, contactId } });
    const c = await contact();
    expect((await inboundWhatsApp(number, c.phone!, '  Parar ')).status).toBe(200);
    expect(await consentOf(c.id, 'WHATSAPP')).toBe('OPTED_OUT');
    const [event] = await history(c.id);
    expect(event).toMatchObject({ channel: 'WHATSAPP', status: 'OPTED_OUT', source: 'INBOUND_KEYWORD' });
    expect(event.evidence).toContain('Parar');
    await new Promise((r) => setTimeout(r, 300));
    expect(await runs(flow.body.id, c.id)).toBe(0);
    expect(await consentOf(c.id, 'SMS')).toBe('UNKNOWN'); // a keyword opts out only the channel it came on

    expect((await inboundWhatsApp(number, c.phone!, 'voltar')).status).toBe(200);
    expect(await consentOf(c.id, 'WHATSAPP')).toBe('OPTED_IN');
    expect((await history(c.id))[0]).toMatchObject({ channel: 'WHATSAPP', status: 'OPTED_IN', source: 'INBOUND_KEYWORD' });
    await waitFor(async () => ((await runs(flow.body.id, c.id)) === 1 && (await runs(back.body.id, c.id)) === 1 ? true : undefined));
    const tagged = async () => (await t.prisma.contactTag.findMany({ where: { contactId: c.id }, include: { tag: true } })).map((ct) => ct.tag.name).sort();
    await waitFor(async () => ((await tagged()).length === 2 ? true : undefined));
    expect(await tagged()).toEqual(['respondeu', 'voltou']);
    expect(await t.prisma.message.count({ where: { contactId: c.id, direction: 'INBOUND' } })).toBe(2);
  });

  it('opts out on an inbound STOP SMS through the store’s signed Twilio webhook; a bad signature changes nothing', async () => {
    const c = await contact();
    const form = { MessageSid: `SM${uid()}${uid()}`, AccountSid: sms.accountSid, From: c.phone!, To: sms.from, Body: 'STOP', SmsStatus: 'received' };
    const url = `/api/webhooks/twilio/${smsConnection.id}`;
    const forged = await t.http.post(url).type('form').set('X-Twilio-Signature', twilioSignature('wrong-token', smsConnection.webhookUrl, form)).send(form);
    expect(forged.status).toBe(401);
    expect(await consentOf(c.id, 'SMS')).toBe('UNKNOWN');
    const ok = await t.http.post(url).type('form').set('X-Twilio-Signature', twilioSignature(sms.authToken, smsConnection.webhookUrl, form)).send(form);
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toBe('text/xml');
    expect(ok.text).toBe('<Response/>');
    expect(await consentOf(c.id, 'SMS')).toBe('OPTED_OUT');
    expect((await history(c.id))[0]).toMatchObject({ channel: 'SMS', source: 'INBOUND_KEYWORD' });
    expect(await t.prisma.message.count({ where: { contactId: c.id, direction: 'INBOUND', channel: 'SMS' } })).toBe(1);
  });

  it('opts out on WhatsApp error 131050, on a permanent Resend bounce and on a complaint (source PROVIDER), not on a transient bounce', async () => {
    const [cw, cb, cc, ct] = [await contact(), await contact(), await contact(), await contact()];
    await inboundWhatsApp(number, cw.phone!, 'oi'); // opens the window for a free-form message
    const mw = await api().post('/api/messages', { contactId: cw.id, channel: 'WHATSAPP', content: 'Promo' });
    const emails = await Promise.all([cb, cc, ct].map((c) => api().post('/api/messages', { contactId: c.id, channel: 'EMAIL', content: 'Oferta' })));
    const sent = await Promise.all([mw, ...emails].map((r) => waitFor(async () => {
      const m = await t.prisma.message.findUniqueOrThrow({ where: { id: r.body.id } });
      return m.status === 'SENT' ? m : undefined;
    })));

    const stopped = await postWhatsApp(
      whatsAppStatusNotification([{ id: sent[0].externalId!, status: 'failed', error: { code: 131050, title: 'User has stopped marketing messages' } }], number.phoneNumberId),
    );
    expect(stopped.status).toBe(200);
    expect(await consentOf(cw.id, 'WHATSAPP')).toBe('OPTED_OUT');
    expect((await history(cw.id))[0]).toMatchObject({ source: 'PROVIDER', evidence: expect.stringContaining('131050') });

    const resendEvent = (type: string, emailId: string, bounce?: object) => {
      const raw = JSON.stringify({ type, created_at: new Date().toISOString(), data: { email_id: emailId, ...(bounce ? { bounce } : {}) } });
      return { raw, headers: svixHeaders(raw, webhookSecret) };
    };
    const post = ({ raw, headers }: { raw: string; headers: Record<string, string> }) =>
      t.http.post(`/api/webhooks/resend/${emailConnection.id}`).set('Content-Type', 'application/json').set(headers).send(raw);
    const forged = resendEvent('email.complained', sent[2].externalId!);
    forged.headers = svixHeaders(forged.raw, `whsec_${randomBytes(24).toString('base64')}`);
    expect((await post(forged)).status).toBe(401);
    expect(await consentOf(cc.id, 'EMAIL')).toBe('UNKNOWN');

    await post(resendEvent('email.bounced', sent[1].externalId!, { type: 'Permanent', subType: 'General', message: 'The recipient does not exist' }));
    await post(resendEvent('email.complained', sent[2].externalId!));
    await post(resendEvent('email.bounced', sent[3].externalId!, { type: 'Transient', subType: 'MailboxFull', message: 'Mailbox full' }));
    expect(await consentOf(cb.id, 'EMAIL')).toBe('OPTED_OUT');
    expect(await consentOf(cc.id, 'EMAIL')).toBe('OPTED_OUT');
    expect(await consentOf(ct.id, 'EMAIL')).toBe('UNKNOWN');
    expect((await history(cb.id))[0]).toMatchObject({ source: 'PROVIDER', evidence: expect.stringContaining('bounced permanently') });
    expect((await history(cc.id))[0]).toMatchObject({ source: 'PROVIDER', evidence: expect.stringContaining('spam') });
  });

  it('applies an opt-out keyword on the platform’s shared number to every organization’s contact with that phone, and nothing else, storing nothing', async () => {
    const phone = `+55119${Math.floor(1e7 + Math.random() * 8e7)}`;
    const [mine, theirs] = [await contact(store, phone), await contact(other, phone)];
    expect((await inboundWhatsApp(platform, phone, 'SAIR')).body).toEqual({ received: 1, applied: 1 });
    expect(await consentOf(mine.id, 'WHATSAPP')).toBe('OPTED_OUT');
    expect(await consentOf(theirs.id, 'WHATSAPP')).toBe('OPTED_OUT');
    expect(await t.prisma.message.count({ where: { contactId: { in: [mine.id, theirs.id] } } })).toBe(0);
    // Any other text on the shared number cannot be attributed to a store: nothing is stored.
    expect((await inboundWhatsApp(platform, phone, 'olá')).body).toEqual({ received: 1, applied: 0 });
    expect(await t.prisma.message.count({ where: { contactId: { in: [mine.id, theirs.id] } } })).toBe(0);
    // Nor an opt-in: it could not say which store the person meant, so no organization's contact is opted back in.
    const before = await t.prisma.consentEvent.count({ where: { contactId: { in: [mine.id, theirs.id] } } });
    for (const word of ['VOLTAR', ' start ']) expect((await inboundWhatsApp(platform, phone, word)).body).toEqual({ received: 1, applied: 0 });
    expect(await consentOf(mine.id, 'WHATSAPP')).toBe('OPTED_OUT');
    expect(await consentOf(theirs.id, 'WHATSAPP')).toBe('OPTED_OUT');
    expect(await t.prisma.consentEvent.count({ where: { contactId: { in: [mine.id, theirs.id] } } })).toBe(before);
    expect(await t.prisma.message.count({ where: { contactId: { in: [mine.id, theirs.id] } } })).toBe(0);
  });
});
