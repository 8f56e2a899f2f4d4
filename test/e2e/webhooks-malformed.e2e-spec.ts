import { randomBytes } from 'node:crypto';
import { twilioSignature } from '../../src/modules/channels/webhooks/signatures';
import { bearer, Fixtures, RegisteredUser } from '../utils/factories';
import { hubSignature, ResendStandIn, StandIn, startResendStandIn, startTwilioStandIn, startWhatsAppStandIn, svixHeaders } from '../utils/provider-stand-ins';
import { createTestApp, TestApp } from '../utils/test-app';

const APP_SECRET = `app-secret-${randomBytes(6).toString('hex')}`;

/**
 * Correctly signed provider webhooks whose bodies do not have the shapes the
 * providers document (nulls in lists, numbers for ids and texts, timestamps
 * past any date, prototype names as statuses): each is answered 200, so the
 * provider does not retry it forever, and stores nothing it cannot make sense of.
 */
describe('signed webhooks with malformed bodies (e2e)', () => {
  let t: TestApp;
  let fx: Fixtures;
  let a: RegisteredUser;
  let wa: StandIn;
  let resend: ResendStandIn;
  let twilio: StandIn;
  const number = { phoneNumberId: String(600000000000000 + Math.floor(Math.random() * 1e12)), businessAccountId: '9004', accessToken: `EAAtok${randomBytes(6).toString('hex')}` };
  const resendKey = `re_${randomBytes(8).toString('hex')}`;
  const webhookSecret = `whsec_${randomBytes(24).toString('base64')}`;
  const sid = `AC${randomBytes(16).toString('hex')}`;
  const authToken = randomBytes(16).toString('hex');
  let emailWebhook: string;
  let smsWebhook: string;

  beforeAll(async () => {
    [wa, resend, twilio] = await Promise.all([
      startWhatsAppStandIn({ numbers: [number], templates: {} }),
      startResendStandIn({ teams: [{ apiKey: resendKey, domains: [{ name: 'lojaa.com.br', status: 'verified' }] }] }),
      startTwilioStandIn({ accounts: [{ accountSid: sid, authToken, from: '+5511900000001', friendlyName: 'Loja A' }] }),
    ]);
    t = await createTestApp({ WHATSAPP_API_URL: wa.url, RESEND_API_URL: resend.url, TWILIO_API_URL: twilio.url, APP_URL: 'https://api.zyva.test', WHATSAPP_APP_SECRET: APP_SECRET });
    fx = new Fixtures(t);
    a = await fx.registerUser();
    await fx.setPlan(a.organizationId, 'ENTERPRISE');
    const connect = (kind: string, body: object) => t.http.put(`/api/channels/${kind}`).set(bearer(a.token)).send(body);
    expect((await connect('whatsapp', number)).status).toBe(200);
    emailWebhook = new URL((await connect('email', { apiKey: resendKey, from: 'Loja A <ofertas@lojaa.com.br>', webhookSecret })).body.webhookUrl).pathname;
    smsWebhook = (await connect('sms', { accountSid: sid, authToken, from: '+5511900000001' })).body.webhookUrl;
  });

  afterAll(async () => {
    await fx.cleanup();
    await t.close();
    await Promise.all([wa.close(), resend.close(), twilio.close()]);
  });

  const stored = async () => ({
    messages: await t.prisma.message.count({ where: { organizationId: a.organizationId } }),
    contacts: await t.prisma.contact.count({ where: { organizationId: a.organizationId } }),
  });
  const postWhatsApp = (body: unknown) => {
    const raw = JSON.stringify(body);
    return t.http.post('/api/webhooks/whatsapp').set('Content-Type', 'application/json').set('X-Hub-Signature-256', hubSignature(raw, APP_SECRET)).send(raw);
  };
  const value = (v: object) => ({ object: 'whatsapp_business_account', entry: [{ id: '1', changes: [{ field: 'messages', value: { messaging_product: 'whatsapp', metadata: { phone_number_id: number.phoneNumberId }, ...v } }] }] });
  const now = () => String(Math.floor(Date.now() / 1000));
  const text = (over: object) => ({ id: `wamid.${randomBytes(8).toString('hex')}`, from: '5511999990100', type: 'text', text: { body: 'oi' }, timestamp: now(), ...over });

  it('WhatsApp: answers 200 and stores nothing for entries it cannot read', async () => {
    const before = await stored();
    for (const body of [
      { entry: 5 },
      { entry: {} },
      { entry: [null] },
      { entry: [{ changes: 7 }] },
      { entry: [{ changes: [null] }] },
      value({ messages: [null] }),
      value({ messages: 'abc' }),
      value({ messages: [text({ id: 12345 })] }),
      value({ messages: [text({ from: { n: 1 } })] }),
      value({ statuses: [null] }),
      value({ statuses: [{ id: 12345, status: 'delivered', timestamp: now() }] }),
      value({ statuses: [{ id: 'wamid.none', status: 'constructor', timestamp: now() }] }),
      { entry: [{ changes: [{ value: { metadata: { phone_number_id: 42 }, messages: [text({})] } }] }] },
    ]) {
      const res = await postWhatsApp(body);
      expect({ body: JSON.stringify(body).slice(0, 120), status: res.status }).toEqual({ body: JSON.stringify(body).slice(0, 120), status: 200 });
    }
    expect(await stored()).toEqual(before);
  });

  it('WhatsApp: keeps what it can of an odd message (a non-text body, a timestamp past any date, a name that is not text or too long)', async () => {
    const odd = [
      text({ from: '5511999990101', text: { body: 5 } }),
      text({ from: '5511999990102', timestamp: '99999999999999' }),
    ];
    expect((await postWhatsApp(value({ messages: odd }))).status).toBe(200);
    const named = text({ from: '5511999990103' });
    expect((await postWhatsApp(value({ contacts: [{ wa_id: '5511999990103', profile: { name: 7 } }], messages: [named] }))).status).toBe(200);
    const long = text({ from: '5511999990104' });
    expect((await postWhatsApp(value({ contacts: [{ wa_id: '5511999990104', profile: { name: 'n'.repeat(5000) } }], messages: [long] }))).status).toBe(200);

    const rows = await t.prisma.message.findMany({ where: { organizationId: a.organizationId, externalId: { in: [...odd, named, long].map((m) => m.id) } } });
    expect(rows).toHaveLength(4);
    expect(rows.find((m) => m.externalId === odd[0].id)?.content).toBe('text');
    const contacts = await t.prisma.contact.findMany({ where: { organizationId: a.organizationId, phone: { in: ['+5511999990103', '+5511999990104'] } }, orderBy: { phone: 'asc' } });
    expect(contacts.map((c) => c.name.length)).toEqual([14, 200]);
    expect(contacts[0].name).toBe('+5511999990103');
  });

  it('WhatsApp: stores a media message as its caption, or its type when the caption is missing or empty (an empty text body likewise)', async () => {
    const media = (from: string, type: string, over: object) => ({ id: `wamid.${randomBytes(8).toString('hex')}`, from, type, timestamp: now(), ...over });
    const sent = [
      media('5511999990111', 'image', { image: { id: 'img-1', mime_type: 'image/jpeg', caption: 'Olha essa' } }),
      media('5511999990112', 'image', { image: { id: 'img-2', mime_type: 'image/jpeg', caption: '' } }),
      media('5511999990113', 'video', { video: { id: 'vid-1', mime_type: 'video/mp4', caption: '   ' } }),
      media('5511999990114', 'audio', { audio: { id: 'aud-1', mime_type: 'audio/ogg' } }),
      text({ from: '5511999990115', text: { body: '' } }),
    ];
    expect((await postWhatsApp(value({ messages: sent }))).status).toBe(200);
    const rows = await t.prisma.message.findMany({ where: { organizationId: a.organizationId, externalId: { in: sent.map((m) => m.id) } } });
    expect(sent.map((m) => rows.find((r) => r.externalId === m.id)?.content)).toEqual(['Olha essa', 'image', 'video', 'audio', 'text']);
  });

  it('Twilio: a signed JSON body whose values are not text is read as without them (200, nothing stored)', async () => {
    const before = await stored();
    const path = new URL(smsWebhook).pathname;
    for (const params of <Record<string, unknown>[]>[
      { MessageSid: 1, From: '+5511999990131', Body: 'oi' },
      { MessageSid: `SM${randomBytes(16).toString('hex')}`, From: '+5511999990132', Body: { text: 'oi' } },
      { MessageSid: 7, MessageStatus: 'delivered' },
      { MessageSid: [true], From: ['+5511999990133'], Body: [5] },
    ]) {
      const signed = twilioSignature(authToken, smsWebhook, params as Record<string, string>);
      const res = await t.http.post(path).set('Content-Type', 'application/json').set('X-Twilio-Signature', signed).send(JSON.stringify(params));
      expect({ params, status: res.status, text: res.text }).toEqual({ params, status: 200, text: '<Response/>' });
    }
    expect(await stored()).toEqual(before);
  });

  it('Twilio: stores a picture message without text as its media type', async () => {
    const sid = () => `MM${randomBytes(16).toString('hex')}`;
    const sent = <Record<string, string>[]>[
      { From: '+5511999990121', Body: '', NumMedia: '1', MediaContentType0: 'image/jpeg', MessageSid: sid(), SmsStatus: 'received' },
      { From: '+5511999990122', Body: 'Olha o vídeo', NumMedia: '1', MediaContentType0: 'video/mp4', MessageSid: sid(), SmsStatus: 'received' },
      { From: '+5511999990123', Body: '', NumMedia: '1', MediaContentType0: 'text/vcard', MessageSid: sid(), SmsStatus: 'received' },
      { From: '+5511999990124', Body: '', NumMedia: '0', MessageSid: sid(), SmsStatus: 'received' },
    ];
    for (const params of sent) {
      const path = new URL(smsWebhook).pathname;
      const res = await t.http.post(path).type('form').set('X-Twilio-Signature', twilioSignature(authToken, smsWebhook, params)).send(new URLSearchParams(params).toString());
      expect(res.status).toBe(200);
    }
    const rows = await t.prisma.message.findMany({ where: { organizationId: a.organizationId, externalId: { in: sent.map((p) => p.MessageSid) } } });
    expect(sent.map((p) => rows.find((r) => r.externalId === p.MessageSid)?.content)).toEqual(['image', 'Olha o vídeo', 'media', '']);
  });

  it('Resend: answers 200 to events whose fields have the wrong types, changing nothing', async () => {
    const before = await stored();
    for (const event of [
      { type: 'email.delivered', data: { email_id: 12345 } },
      { type: 'constructor', data: { email_id: 'x' } },
      { type: 'email.bounced', data: { email_id: 'x', bounce: { type: 5, message: 7 } } },
      { type: ['email.complained'], data: { email_id: ['x'] } },
    ]) {
      const raw = JSON.stringify(event);
      const res = await t.http.post(emailWebhook).set('Content-Type', 'application/json').set(svixHeaders(raw, webhookSecret)).send(raw);
      expect({ event: raw, status: res.status }).toEqual({ event: raw, status: 200 });
    }
    expect(await stored()).toEqual(before);
  });

  it('Twilio: answers TwiML and stores nothing for a sender that is not a phone number or a status no one knows', async () => {
    const before = await stored();
    for (const params of <Record<string, string>[]>[
      { From: 'abc', Body: 'oi', MessageSid: `SM${randomBytes(16).toString('hex')}` },
      { MessageSid: `SM${randomBytes(16).toString('hex')}`, MessageStatus: 'constructor' },
      { MessageSid: `SM${randomBytes(16).toString('hex')}`, MessageStatus: 'toString' },
    ]) {
      const path = new URL(smsWebhook).pathname;
      const res = await t.http.post(path).type('form').set('X-Twilio-Signature', twilioSignature(authToken, smsWebhook, params)).send(new URLSearchParams(params).toString());
      expect({ params, status: res.status, type: res.headers['content-type'], text: res.text }).toEqual({ params, status: 200, type: 'text/xml', text: '<Response/>' });
    }
    expect(await stored()).toEqual(before);
  });
});
