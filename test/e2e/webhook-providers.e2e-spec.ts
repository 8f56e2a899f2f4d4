import { randomBytes } from 'node:crypto';
import { Fixtures, randomIp, RegisteredUser } from '../utils/factories';
import { hubSignature, svixHeaders, whatsAppStatusNotification } from '../utils/provider-stand-ins';
import { createTestApp, TestApp } from '../utils/test-app';

const APP_SECRET = 'meta-app-secret';
const VERIFY_TOKEN = 'zyva-verify-token';
const RESEND_SECRET = `whsec_${randomBytes(24).toString('base64')}`;

describe('provider delivery webhooks: WhatsApp and Resend (e2e)', () => {
  let t: TestApp;
  let fx: Fixtures;
  let user: RegisteredUser;

  beforeAll(async () => {
    // The reports below are for the platform's own number (WHATSAPP_PHONE_ID), as the stand-in's notifications name it.
    t = await createTestApp({
      WHATSAPP_APP_SECRET: APP_SECRET,
      WHATSAPP_VERIFY_TOKEN: VERIFY_TOKEN,
      WHATSAPP_PHONE_ID: '106540352242922',
      RESEND_WEBHOOK_SECRET: RESEND_SECRET,
    });
    fx = new Fixtures(t);
    user = await fx.registerUser();
  });

  afterAll(async () => {
    await fx.cleanup();
    await t.close();
  });

  /** A message as the worker leaves it after a send: SENT with the provider's id. */
  const sentMessage = async (channel: 'WHATSAPP' | 'EMAIL') => {
    const externalId = channel === 'WHATSAPP' ? `wamid.${randomBytes(16).toString('base64url')}` : crypto.randomUUID();
    return t.prisma.message.create({
      data: { organizationId: user.organizationId, contactId: 'c-webhook', channel, content: 'x', status: 'SENT', externalId, sentAt: new Date(), attempts: 1 },
    });
  };
  const reload = (id: string) => t.prisma.message.findUniqueOrThrow({ where: { id } });

  const postWhatsApp = (payload: unknown, signature?: string) => {
    const raw = JSON.stringify(payload);
    const req = t.http.post('/api/webhooks/whatsapp').set('Content-Type', 'application/json').set('X-Forwarded-For', randomIp());
    if (signature !== undefined) req.set('X-Hub-Signature-256', signature);
    return req.send(raw);
  };
  const signedWhatsApp = (payload: unknown) => postWhatsApp(payload, hubSignature(JSON.stringify(payload), APP_SECRET));
  const postResend = (payload: unknown, headers: Record<string, string>) =>
    t.http.post('/api/webhooks/resend').set('Content-Type', 'application/json').set('X-Forwarded-For', randomIp()).set(headers).send(JSON.stringify(payload));

  describe('WhatsApp', () => {
    it('answers the subscription challenge only to the right verify token', async () => {
      const ok = await t.http.get('/api/webhooks/whatsapp').query({ 'hub.mode': 'subscribe', 'hub.verify_token': VERIFY_TOKEN, 'hub.challenge': '1158201444' });
      expect(ok.status).toBe(200);
      expect(ok.headers['content-type']).toMatch(/^text\/plain/);
      expect(ok.text).toBe('1158201444');
      const wrong = await t.http.get('/api/webhooks/whatsapp').query({ 'hub.mode': 'subscribe', 'hub.verify_token': 'nope', 'hub.challenge': '1' });
      expect(wrong.status).toBe(403);
      const mode = await t.http.get('/api/webhooks/whatsapp').query({ 'hub.mode': 'unsubscribe', 'hub.verify_token': VERIFY_TOKEN, 'hub.challenge': '1' });
      expect(mode.status).toBe(403);
    });

    it('refuses unsigned, wrongly signed or tampered notifications with 401 and changes nothing', async () => {
      const m = await sentMessage('WHATSAPP');
      const payload = whatsAppStatusNotification([{ id: m.externalId!, status: 'delivered' }]);
      expect((await postWhatsApp(payload)).status).toBe(401);
      expect((await postWhatsApp(payload, hubSignature(JSON.stringify(payload), 'another-secret'))).status).toBe(401);
      expect((await postWhatsApp(payload, 'sha256=zz')).status).toBe(401);
      const tampered = whatsAppStatusNotification([{ id: m.externalId!, status: 'read' }]);
      expect((await postWhatsApp(tampered, hubSignature(JSON.stringify(payload), APP_SECRET))).status).toBe(401);
      expect((await reload(m.id)).status).toBe('SENT');
    });

    it('moves SENT -> DELIVERED -> READ and never backwards, whatever order statuses arrive in', async () => {
      const m = await sentMessage('WHATSAPP');
      const ts = Math.floor(Date.now() / 1000) - 60;
      const delivered = await signedWhatsApp(whatsAppStatusNotification([{ id: m.externalId!, status: 'delivered', timestamp: ts }]));
      expect(delivered.status).toBe(200);
      expect(delivered.body).toEqual({ received: 1, applied: 1 });
      const afterDelivered = await reload(m.id);
      expect(afterDelivered.status).toBe('DELIVERED');
      expect(afterDelivered.deliveredAt!.getTime()).toBe(ts * 1000);

      await signedWhatsApp(whatsAppStatusNotification([{ id: m.externalId!, status: 'read', timestamp: ts + 5 }]));
      expect((await reload(m.id)).status).toBe('READ');

      const late = await signedWhatsApp(
        whatsAppStatusNotification([
          { id: m.externalId!, status: 'delivered', timestamp: ts + 1 },
          { id: m.externalId!, status: 'sent', timestamp: ts },
          { id: m.externalId!, status: 'failed', timestamp: ts + 9, error: { code: 131026, title: 'Message undeliverable' } },
        ]),
      );
      expect(late.body).toEqual({ received: 3, applied: 0 });
      const final = await reload(m.id);
      expect(final).toMatchObject({ status: 'READ', errorMessage: null });
      expect(final.readAt!.getTime()).toBe((ts + 5) * 1000);
    });

    it('takes READ before DELIVERED (out of order) and records both times', async () => {
      const m = await sentMessage('WHATSAPP');
      const ts = Math.floor(Date.now() / 1000);
      await signedWhatsApp(whatsAppStatusNotification([{ id: m.externalId!, status: 'read', timestamp: ts }]));
      await signedWhatsApp(whatsAppStatusNotification([{ id: m.externalId!, status: 'delivered', timestamp: ts - 2 }]));
      const r = await reload(m.id);
      expect(r.status).toBe('READ');
      expect(r.deliveredAt).not.toBeNull();
    });

    it('marks a message FAILED when WhatsApp reports it failed, with the provider error', async () => {
      const m = await sentMessage('WHATSAPP');
      const res = await signedWhatsApp(whatsAppStatusNotification([{ id: m.externalId!, status: 'failed', error: { code: 131026, title: 'Message undeliverable' } }]));
      expect(res.body).toEqual({ received: 1, applied: 1 });
      const r = await reload(m.id);
      expect(r.status).toBe('FAILED');
      expect(r.failedAt).not.toBeNull();
      expect(r.errorMessage).toBe('WhatsApp 131026: Message undeliverable');
    });

    it('takes a timestamp no date can be (milliseconds sent as seconds, before 2000, days ahead) as missing: 200, the status applied at the time it arrives', async () => {
      for (const timestamp of [1764590400000, 946684799, Math.floor(Date.now() / 1000) + 3 * 86400]) {
        const m = await sentMessage('WHATSAPP');
        const before = Date.now();
        const res = await signedWhatsApp(whatsAppStatusNotification([{ id: m.externalId!, status: 'delivered', timestamp }]));
        expect({ timestamp, status: res.status, body: res.body }).toEqual({ timestamp, status: 200, body: { received: 1, applied: 1 } });
        const r = await reload(m.id);
        expect(r.status).toBe('DELIVERED');
        expect(r.deliveredAt!.getTime()).toBeGreaterThanOrEqual(before - 1000);
        expect(r.deliveredAt!.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
      }
    });

    it('accepts reports about unknown messages without changing anything', async () => {
      const res = await signedWhatsApp(whatsAppStatusNotification([{ id: 'wamid.unknown', status: 'delivered' }]));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ received: 1, applied: 0 });
    });
  });

  describe('Resend (Svix signatures)', () => {
    const event = (type: string, emailId: string, extra: Record<string, unknown> = {}) => ({
      type,
      created_at: new Date().toISOString(),
      data: { created_at: new Date().toISOString(), email_id: emailId, from: 'Zyva <no-reply@zyva.dev>', to: ['a@b.dev'], subject: 'x', ...extra },
    });

    it('applies delivered then opened (READ), and a bounce as FAILED', async () => {
      const m = await sentMessage('EMAIL');
      const delivered = event('email.delivered', m.externalId!);
      const res = await postResend(delivered, svixHeaders(JSON.stringify(delivered), RESEND_SECRET));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ received: 1, applied: 1 });
      expect((await reload(m.id)).status).toBe('DELIVERED');
      const opened = event('email.opened', m.externalId!);
      await postResend(opened, svixHeaders(JSON.stringify(opened), RESEND_SECRET));
      expect((await reload(m.id)).status).toBe('READ');

      const b = await sentMessage('EMAIL');
      const bounced = event('email.bounced', b.externalId!, { bounce: { message: 'Mailbox does not exist', type: 'Permanent' } });
      await postResend(bounced, svixHeaders(JSON.stringify(bounced), RESEND_SECRET));
      expect(await reload(b.id)).toMatchObject({ status: 'FAILED', errorMessage: 'Resend: bounced (Mailbox does not exist)' });
    });

    it('takes a created_at past year 9999 as missing: 200, the status applied at the time it arrives', async () => {
      const m = await sentMessage('EMAIL');
      const delivered = { ...event('email.delivered', m.externalId!), created_at: '+057900-01-01T00:00:00.000Z' };
      const before = Date.now();
      const res = await postResend(delivered, svixHeaders(JSON.stringify(delivered), RESEND_SECRET));
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ received: 1, applied: 1 });
      const r = await reload(m.id);
      expect(r.status).toBe('DELIVERED');
      expect(r.deliveredAt!.getTime()).toBeGreaterThanOrEqual(before - 1000);
      expect(r.deliveredAt!.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
    });

    it('refuses a missing, wrong or stale Svix signature with 401', async () => {
      const m = await sentMessage('EMAIL');
      const delivered = event('email.delivered', m.externalId!);
      const raw = JSON.stringify(delivered);
      expect((await postResend(delivered, {})).status).toBe(401);
      expect((await postResend(delivered, svixHeaders(raw, `whsec_${randomBytes(24).toString('base64')}`))).status).toBe(401);
      expect((await postResend(delivered, svixHeaders(raw, RESEND_SECRET, { timestamp: Math.floor(Date.now() / 1000) - 600 }))).status).toBe(401);
      const headers = svixHeaders(raw, RESEND_SECRET);
      expect((await postResend({ ...delivered, type: 'email.opened' }, headers)).status).toBe(401);
      // Svix may list several signatures (secret rotation): any valid v1 one passes.
      const rotated = { ...headers, 'svix-signature': `v1,${randomBytes(32).toString('base64')} ${headers['svix-signature']}` };
      expect((await postResend(delivered, rotated)).status).toBe(200);
      expect((await reload(m.id)).status).toBe('DELIVERED');
    });
  });
});
