import { randomBytes } from 'node:crypto';
import { bearer, Fixtures, randomIp, RegisteredUser, SETTLED_STATUSES, waitFor } from '../utils/factories';
import {
  graphError,
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
import { twilioSignature } from '../../src/modules/channels/webhooks/signatures';
import { createTestApp, TestApp } from '../utils/test-app';

const APP_URL = 'https://api.zyva.test';
const APP_SECRET = 'meta-app-secret-sending';
const PLATFORM: WhatsAppNumber = { phoneNumberId: '300000000000001', accessToken: 'platform-token' };

/**
 * Sending through each store's own accounts: every message goes out through
 * the connection chosen when it was accepted (or the platform's account),
 * with that connection's current credentials; a refused token invalidates the
 * connection; a deleted one fails the message rather than fall back; inbound
 * reports only ever touch messages of the account they came from. The API and
 * the worker are separate processes here, as in production.
 */
describe('sending through channel connections (e2e)', () => {
  let api: TestApp;
  let worker: TestApp;
  let fx: Fixtures;
  let wa: StandIn;
  let resend: ResendStandIn;
  let twilio: StandIn;
  let a: RegisteredUser;
  let b: RegisteredUser;
  let c: RegisteredUser;
  const numberA: WhatsAppNumber = { phoneNumberId: String(400000000000000 + Math.floor(Math.random() * 1e9)), accessToken: `EAAG-a-${randomBytes(6).toString('hex')}` };
  const numberB: WhatsAppNumber = { phoneNumberId: String(500000000000000 + Math.floor(Math.random() * 1e9)), accessToken: `EAAG-b-${randomBytes(6).toString('hex')}` };
  const sms = { accountSid: `AC${randomBytes(16).toString('hex')}`, authToken: randomBytes(16).toString('hex'), from: '+5511900000777' };
  const resendKey = `re_${randomBytes(8).toString('hex')}`;
  const webhookSecret = `whsec_${randomBytes(24).toString('base64')}`;

  beforeAll(async () => {
    [wa, resend, twilio] = await Promise.all([
      startWhatsAppStandIn({ numbers: [numberA, numberB, PLATFORM] }),
      startResendStandIn({ teams: [{ apiKey: resendKey, domains: [{ name: 'lojaa.com.br', status: 'verified' }] }] }),
      startTwilioStandIn({ accounts: [sms] }),
    ]);
    const env = {
      APP_URL,
      WHATSAPP_API_URL: wa.url,
      WHATSAPP_PHONE_ID: PLATFORM.phoneNumberId,
      WHATSAPP_TOKEN: PLATFORM.accessToken,
      WHATSAPP_APP_SECRET: APP_SECRET,
      RESEND_API_URL: resend.url,
      TWILIO_API_URL: twilio.url,
    };
    api = await createTestApp({ ...env, APP_ROLE: 'api' });
    worker = await createTestApp({ ...env, APP_ROLE: 'worker' });
    fx = new Fixtures(api);
    [a, b, c] = [await fx.registerUser(), await fx.registerUser(), await fx.registerUser()];
    for (const u of [a, b, c]) await fx.setPlan(u.organizationId, 'ENTERPRISE', { maxMessagesPerMonth: 1_000_000 });
    expect((await put(a, 'whatsapp', { phoneNumberId: numberA.phoneNumberId, businessAccountId: '1', accessToken: numberA.accessToken })).status).toBe(200);
    expect((await put(b, 'whatsapp', { phoneNumberId: numberB.phoneNumberId, businessAccountId: '2', accessToken: numberB.accessToken })).status).toBe(200);
  });

  afterAll(async () => {
    await fx.cleanup();
    await worker.close();
    await api.close();
    await Promise.all([wa.close(), resend.close(), twilio.close()]);
  });

  beforeEach(() => [wa, resend, twilio].forEach((s) => s.reset()));

  function put(user: RegisteredUser, kind: string, body: unknown) {
    return api.http.put(`/api/channels/${kind}`).set(bearer(user.token)).set('X-Forwarded-For', randomIp()).send(body as object);
  }
  const contact = (user: RegisteredUser) =>
    api.prisma.contact.create({
      data: {
        organizationId: user.organizationId,
        name: 'Cliente',
        phone: `+55119${Math.floor(10000000 + Math.random() * 89999999)}`,
        email: `c-${randomBytes(4).toString('hex')}@cliente.dev`,
        // They wrote to the store recently: free-form WhatsApp text is inside the 24-hour window.
        whatsappWindowExpiresAt: new Date(Date.now() + 3600_000),
      },
    });
  const send = async (user: RegisteredUser, body: Record<string, unknown>) => {
    const res = await api.http.post('/api/messages').set(bearer(user.token)).set('X-Forwarded-For', randomIp()).send(body);
    expect(res.status).toBe(202);
    return res.body.id as string;
  };
  const settled = (id: string) =>
    waitFor(async () => {
      const m = await api.prisma.message.findUniqueOrThrow({ where: { id } });
      return SETTLED_STATUSES.includes(m.status) ? m : undefined;
    }, 20000);

  it('sends each store through its own number and token, and a store without a connection through the platform’s', async () => {
    const [ca, cb, cc] = [await contact(a), await contact(b), await contact(c)];
    const ids = [await send(a, { contactId: ca.id, channel: 'WHATSAPP', content: 'de A' }), await send(b, { contactId: cb.id, channel: 'WHATSAPP', content: 'de B' }), await send(c, { contactId: cc.id, channel: 'WHATSAPP', content: 'de C' })];
    const messages = await Promise.all(ids.map(settled));
    expect(messages.map((m) => m.status)).toEqual(['SENT', 'SENT', 'SENT']);
    expect(messages.map((m) => m.route)).toEqual(['CONNECTION', 'CONNECTION', 'PLATFORM']);

    const byText = (text: string) => wa.requestsTo('messages').find((r) => r.body.text?.body === text)!;
    expect(byText('de A')).toMatchObject({ path: `/${numberA.phoneNumberId}/messages`, headers: expect.objectContaining({ authorization: `Bearer ${numberA.accessToken}` }) });
    expect(byText('de B')).toMatchObject({ path: `/${numberB.phoneNumberId}/messages`, headers: expect.objectContaining({ authorization: `Bearer ${numberB.accessToken}` }) });
    expect(byText('de C')).toMatchObject({ path: `/${PLATFORM.phoneNumberId}/messages`, headers: expect.objectContaining({ authorization: `Bearer ${PLATFORM.accessToken}` }) });
    expect(wa.requestsTo('messages')).toHaveLength(3);
  });

  it('uses a replaced connection’s new token in the worker from the next send on (same connection id)', async () => {
    const ca = await contact(a);
    expect((await settled(await send(a, { contactId: ca.id, channel: 'WHATSAPP', content: 'antes' }))).status).toBe('SENT');
    const before = await api.prisma.channelConnection.findFirstOrThrow({ where: { organizationId: a.organizationId, kind: 'whatsapp' } });

    numberA.accessToken = `EAAG-a-rotated-${randomBytes(6).toString('hex')}`; // Meta now accepts only the new token
    const replaced = await put(a, 'whatsapp', { phoneNumberId: numberA.phoneNumberId, businessAccountId: '1', accessToken: numberA.accessToken });
    expect(replaced.status).toBe(200);
    expect(replaced.body.id).toBe(before.id);

    const m = await settled(await send(a, { contactId: ca.id, channel: 'WHATSAPP', content: 'depois' }));
    expect(m.status).toBe('SENT');
    const after = wa.requestsTo('messages').find((r) => r.body.text?.body === 'depois')!;
    expect(after.headers.authorization).toBe(`Bearer ${numberA.accessToken}`);
  });

  it('fails a message at once on an authentication error and marks the connection INVALID, visible in GET /api/channels', async () => {
    const cb = await contact(b);
    wa.script('messages', graphError(190, 'Error validating access token: Session has expired', 401));
    const m = await settled(await send(b, { contactId: cb.id, channel: 'WHATSAPP', content: 'token velho' }));
    expect(m).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(m.errorMessage).toContain('Session has expired');

    const listed = await api.http.get('/api/channels').set(bearer(b.token));
    const connection = listed.body.data.find((x: { kind: string }) => x.kind === 'whatsapp');
    expect(connection).toMatchObject({ status: 'INVALID', error: expect.stringContaining('Session has expired') });

    // The next message through it fails with the reason, and never reaches Meta or the platform's number.
    wa.reset();
    const next = await settled(await send(b, { contactId: cb.id, channel: 'WHATSAPP', content: 'de novo' }));
    expect(next.status).toBe('FAILED');
    expect(next.errorMessage).toMatch(/connection is INVALID/);
    expect(wa.requestsTo('messages')).toHaveLength(0);

    // Reconnecting makes it CONNECTED again.
    expect((await put(b, 'whatsapp', { phoneNumberId: numberB.phoneNumberId, businessAccountId: '2', accessToken: numberB.accessToken })).body.status).toBe('CONNECTED');
  });

  it('fails a message whose connection was deleted before it was sent, never falling back to the platform’s account', async () => {
    const ca = await contact(a);
    const id = await send(a, { contactId: ca.id, channel: 'WHATSAPP', content: 'agendada', scheduledFor: new Date(Date.now() + 1500).toISOString() });
    expect((await api.http.delete('/api/channels/whatsapp').set(bearer(a.token))).status).toBe(204);
    const m = await settled(id);
    expect(m.status).toBe('FAILED');
    expect(m.errorMessage).toMatch(/connection it was accepted with was deleted/);
    expect(wa.requestsTo('messages')).toHaveLength(0);
    expect((await put(a, 'whatsapp', { phoneNumberId: numberA.phoneNumberId, businessAccountId: '1', accessToken: numberA.accessToken })).status).toBe(200);
  });

  it('applies a WhatsApp report only to messages of the number it came from', async () => {
    const [ca, cb] = [await contact(a), await contact(b)];
    const [ma, mb] = await Promise.all([settled(await send(a, { contactId: ca.id, channel: 'WHATSAPP', content: 'A' })), settled(await send(b, { contactId: cb.id, channel: 'WHATSAPP', content: 'B' }))]);
    const post = (payload: unknown) => {
      const raw = JSON.stringify(payload);
      return api.http.post('/api/webhooks/whatsapp').set('Content-Type', 'application/json').set('X-Hub-Signature-256', hubSignature(raw, APP_SECRET)).send(raw);
    };
    // A report arriving on A's number naming B's message changes nothing.
    const crossed = await post(whatsAppStatusNotification([{ id: mb.externalId!, status: 'read' }], numberA.phoneNumberId));
    expect(crossed.body).toEqual({ received: 1, applied: 0 });
    expect((await api.prisma.message.findUniqueOrThrow({ where: { id: mb.id } })).status).toBe('SENT');
    // The platform's number cannot touch a store's messages either, and an unknown number is ignored.
    expect((await post(whatsAppStatusNotification([{ id: ma.externalId!, status: 'read' }], PLATFORM.phoneNumberId))).body.applied).toBe(0);
    expect((await post(whatsAppStatusNotification([{ id: ma.externalId!, status: 'read' }], '999999999'))).body).toEqual({ received: 0, applied: 0 });
    // On its own number it applies.
    expect((await post(whatsAppStatusNotification([{ id: ma.externalId!, status: 'read' }], numberA.phoneNumberId))).body).toEqual({ received: 1, applied: 1 });
    expect((await api.prisma.message.findUniqueOrThrow({ where: { id: ma.id } })).status).toBe('READ');
  });

  it('verifies Resend and Twilio webhooks with the connection’s own secret, and answers Twilio with TwiML', async () => {
    const email = await put(a, 'email', { apiKey: resendKey, from: 'Loja A <ofertas@lojaa.com.br>', webhookSecret });
    const sms1 = await put(a, 'sms', sms);
    expect([email.status, sms1.status]).toEqual([200, 200]);
    const ca = await contact(a);
    const [me, ms] = await Promise.all([
      settled(await send(a, { contactId: ca.id, channel: 'EMAIL', content: 'Oferta\nSó hoje' })),
      settled(await send(a, { contactId: ca.id, channel: 'SMS', content: 'Oferta SMS' })),
    ]);
    expect([me.status, ms.status]).toEqual(['SENT', 'SENT']);
    expect(resend.requestsTo('emails').find((r) => r.headers['idempotency-key'] === `message-${me.id}`)!.body.from).toBe('Loja A <ofertas@lojaa.com.br>');

    const event = JSON.stringify({ type: 'email.delivered', created_at: new Date().toISOString(), data: { email_id: me.externalId } });
    const resendUrl = `/api/webhooks/resend/${email.body.id}`;
    const forged = await api.http.post(resendUrl).set('Content-Type', 'application/json').set(svixHeaders(event, `whsec_${randomBytes(24).toString('base64')}`)).send(event);
    expect(forged.status).toBe(401);
    expect((await api.prisma.message.findUniqueOrThrow({ where: { id: me.id } })).status).toBe('SENT');
    const signed = await api.http.post(resendUrl).set('Content-Type', 'application/json').set(svixHeaders(event, webhookSecret)).send(event);
    expect(signed.body).toEqual({ received: 1, applied: 1 });
    expect((await api.prisma.message.findUniqueOrThrow({ where: { id: me.id } })).status).toBe('DELIVERED');

    const form = { MessageSid: ms.externalId!, MessageStatus: 'delivered', AccountSid: sms.accountSid, To: ca.phone!, From: sms.from };
    const twilioUrl = `/api/webhooks/twilio/${sms1.body.id}`;
    // Signed over the connection's published webhookUrl, not whatever host the request came through.
    const wrongUrl = twilioSignature(sms.authToken, `http://127.0.0.1${twilioUrl}`, form);
    expect((await api.http.post(twilioUrl).type('form').set('X-Twilio-Signature', wrongUrl).send(form)).status).toBe(401);
    expect((await api.http.post(twilioUrl).type('form').send(form)).status).toBe(401);
    const ok = await api.http.post(twilioUrl).type('form').set('X-Twilio-Signature', twilioSignature(sms.authToken, sms1.body.webhookUrl, form)).send(form);
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toBe('text/xml');
    expect(ok.text).toBe('<Response/>');
    expect((await api.prisma.message.findUniqueOrThrow({ where: { id: ms.id } })).status).toBe('DELIVERED');
  });
});
