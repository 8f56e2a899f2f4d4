import { bearer, Fixtures, randomIp, RegisteredUser, SETTLED_STATUSES, waitFor } from '../utils/factories';
import {
  busiestSecond,
  graphError,
  ResendStandIn,
  resendErrors,
  StandIn,
  startGraphStandIn,
  startResendStandIn,
  startTwilioStandIn,
  startWhatsAppStandIn,
  twilioErrors,
} from '../utils/provider-stand-ins';
import { createTestApp, TestApp, unlinkKeys } from '../utils/test-app';

const RESEND_KEY = 're_test_key';
const TWILIO = { accountSid: 'AC0123456789abcdef0123456789abcdef', authToken: 'twilio-secret', from: '+15005550006' };
const IG = { instagramAccountId: '17841400000000000', instagramToken: 'ig-token' };
const WA = { phoneNumberId: '1001', accessToken: 'wa-token' };

describe('outbound providers: Resend, Twilio, Instagram DM, timeouts, sandbox (e2e)', () => {
  let t: TestApp;
  let fx: Fixtures;
  let resend: ResendStandIn;
  let twilio: StandIn;
  let graph: StandIn;
  let wa: StandIn;
  let user: RegisteredUser;

  beforeAll(async () => {
    [resend, twilio, graph, wa] = await Promise.all([
      startResendStandIn({ apiKey: RESEND_KEY }),
      startTwilioStandIn(TWILIO),
      startGraphStandIn(IG),
      startWhatsAppStandIn(WA),
    ]);
    t = await createTestApp({
      RESEND_API_URL: resend.url,
      RESEND_API_KEY: RESEND_KEY,
      EMAIL_FROM: 'Loja Zyva <loja@zyva.dev>',
      TWILIO_API_URL: twilio.url,
      TWILIO_ACCOUNT_SID: TWILIO.accountSid,
      TWILIO_AUTH_TOKEN: TWILIO.authToken,
      TWILIO_FROM: TWILIO.from,
      GRAPH_API_URL: graph.url,
      INSTAGRAM_ACCOUNT_ID: IG.instagramAccountId,
      INSTAGRAM_TOKEN: IG.instagramToken,
      // Low enough that an image and its text sent as one slot would show as 3 or 4 requests in a second.
      INSTAGRAM_MAX_PER_SECOND: '2',
      WHATSAPP_API_URL: wa.url,
      WHATSAPP_PHONE_ID: WA.phoneNumberId,
      WHATSAPP_TOKEN: WA.accessToken,
      PROVIDER_TIMEOUT_MS: '400',
    });
    fx = new Fixtures(t);
    user = await fx.registerUser();
    await fx.setPlan(user.organizationId, 'ENTERPRISE', { maxMessagesPerMonth: 1_000_000 });
  });

  afterAll(async () => {
    await dropQuotaKeys(t, fx);
    await fx.cleanup();
    await t.close();
    await Promise.all([resend.close(), twilio.close(), graph.close(), wa.close()]);
  });

  beforeEach(() => [resend, twilio, graph, wa].forEach((s) => s.reset()));

  const contact = () =>
    t.prisma.contact.create({
      data: {
        organizationId: user.organizationId,
        name: 'Bia Lima',
        email: `bia-${Math.random().toString(36).slice(2)}@cliente.dev`,
        phone: `+55219${Math.floor(10000000 + Math.random() * 89999999)}`,
        instagramId: `${Math.floor(1e15 + Math.random() * 9e15)}`,
      },
    });
  const send = async (body: Record<string, unknown>) => {
    const res = await t.http.post('/api/messages').set(bearer(user.token)).set('X-Forwarded-For', randomIp()).send(body);
    expect(res.status).toBe(202);
    return res.body.id as string;
  };
  const settled = (id: string) =>
    waitFor(async () => {
      const m = await t.prisma.message.findUniqueOrThrow({ where: { id } });
      return SETTLED_STATUSES.includes(m.status) ? m : undefined;
    }, 20000);

  it('sends EMAIL through Resend with the message id as Idempotency-Key and the first line as subject', async () => {
    const c = await contact();
    const orgName = (await t.prisma.organization.findUniqueOrThrow({ where: { id: user.organizationId } })).name;
    const id = await send({ contactId: c.id, channel: 'EMAIL', content: 'Oi {{nome}}, chegou!\nSeu pedido <b>#12</b> está pronto.' });
    const m = await settled(id);
    expect(m.status).toBe('SENT');
    // Account emails (the registration's verification) share the stand-in: pick this message's call.
    const calls = resend.requestsTo('emails').filter((r) => r.headers['idempotency-key'] === `message-${id}`);
    expect(calls).toHaveLength(1);
    const [call] = calls;
    expect(call.headers.authorization).toBe(`Bearer ${RESEND_KEY}`);
    // A store's email: one-click unsubscribe in the headers and the footer (consent-enforcement.e2e-spec.ts checks the link).
    const unsubscribe = (call.body.headers['List-Unsubscribe'] as string).slice(1, -1);
    expect(call.body).toEqual({
      from: 'Loja Zyva <loja@zyva.dev>',
      to: [c.email],
      subject: 'Oi Bia Lima, chegou!',
      text: `Oi Bia Lima, chegou!\nSeu pedido <b>#12</b> está pronto.\n\n--\nPara não receber mais e-mails de ${orgName}: ${unsubscribe}`,
      html:
        '<p>Oi Bia Lima, chegou!<br>Seu pedido &lt;b&gt;#12&lt;/b&gt; está pronto.</p>' +
        `<hr><p style="font-size:12px;color:#666">Para não receber mais e-mails de ${orgName}, <a href="${unsubscribe}">cancele a inscrição</a>.</p>`,
      headers: { 'List-Unsubscribe': `<${unsubscribe}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
    });
    expect(m.externalId).toBe(resend.deliveries.find((d) => d.idempotencyKey === `message-${id}`)!.id);
  });

  it('waits out a Resend 429 without using an attempt, and fails a 422 at once', async () => {
    const c = await contact();
    resend.script('emails', resendErrors.rateLimited());
    const retried = await settled(await send({ contactId: c.id, channel: 'EMAIL', content: 'rate limited' }));
    expect(retried).toMatchObject({ status: 'SENT', attempts: 1 });

    resend.script('emails', resendErrors.validation());
    const failed = await settled(await send({ contactId: c.id, channel: 'EMAIL', content: 'invalid' }));
    expect(failed).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(failed.errorMessage).toContain('[validation_error]');
  });

  it('sends SMS through Twilio: form body, basic auth, the Twilio sid as externalId', async () => {
    const c = await contact();
    const id = await send({ contactId: c.id, channel: 'SMS', content: 'Seu código: {{nome}}' });
    const m = await settled(id);
    expect(m.status).toBe('SENT');
    const [call] = twilio.requestsTo('messages');
    expect(call.path).toBe(`/2010-04-01/Accounts/${TWILIO.accountSid}/Messages.json`);
    expect(call.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(call.headers.authorization).toBe(`Basic ${Buffer.from(`${TWILIO.accountSid}:${TWILIO.authToken}`).toString('base64')}`);
    expect(call.body).toEqual({ To: c.phone, From: TWILIO.from, Body: 'Seu código: Bia Lima' });
    expect(m.externalId).toBe((call.response!.body as { sid: string }).sid);
    expect(m.externalId).toMatch(/^SM[0-9a-f]{32}$/);
  });

  it('fails an SMS at once on Twilio 21211 (invalid number) and waits out 20429', async () => {
    const c = await contact();
    twilio.script('messages', twilioErrors.invalidTo(c.phone!));
    const failed = await settled(await send({ contactId: c.id, channel: 'SMS', content: 'x' }));
    expect(failed).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(failed.errorMessage).toContain('[code 21211]');

    twilio.script('messages', twilioErrors.tooManyRequests());
    expect(await settled(await send({ contactId: c.id, channel: 'SMS', content: 'y' }))).toMatchObject({ status: 'SENT', attempts: 1 });
  });

  it("sends INSTAGRAM_DM through the Graph API to the contact's instagramId, media first", async () => {
    const c = await contact();
    const id = await send({ contactId: c.id, channel: 'INSTAGRAM_DM', content: 'Oi {{nome}}!', mediaUrl: 'https://cdn.loja.dev/a.png' });
    const m = await settled(id);
    expect(m.status).toBe('SENT');
    const calls = graph.requestsTo('ig-messages');
    expect(calls).toHaveLength(2);
    expect(calls[0].body).toEqual({ recipient: { id: c.instagramId }, message: { attachment: { type: 'image', payload: { url: 'https://cdn.loja.dev/a.png' } } } });
    expect(calls[1].body).toEqual({ recipient: { id: c.instagramId }, message: { text: 'Oi Bia Lima!' } });
    expect(calls[1].headers.authorization).toBe(`Bearer ${IG.instagramToken}`);
    expect(m.externalId).toBe((calls[1].response!.body as { message_id: string }).message_id);
  });

  it('paces each request of an Instagram DM with media: at most maxPerSecond (2) in any second, image before text', async () => {
    const contacts = await Promise.all(Array.from({ length: 4 }, () => contact()));
    const ids = await Promise.all(contacts.map((c) => send({ contactId: c.id, channel: 'INSTAGRAM_DM', content: 'Chegou', mediaUrl: 'https://cdn.loja.dev/b.png' })));
    for (const id of ids) expect(await settled(id)).toMatchObject({ status: 'SENT', attempts: 1 });
    const calls = graph.requestsTo('ig-messages');
    expect(calls).toHaveLength(8);
    for (const c of contacts) {
      const own = calls.filter((r) => (r.body.recipient as { id: string }).id === c.instagramId).map((r) => Object.keys(r.body.message as object)[0]);
      expect(own).toEqual(['attachment', 'text']);
    }
    const times = calls.map((r) => r.receivedAt).sort((x, y) => x - y);
    expect(busiestSecond(calls)).toBeLessThanOrEqual(2);
    expect(times[times.length - 1] - times[0]).toBeGreaterThanOrEqual(3000);
  }, 40000);

  it('fails an Instagram DM at once on an invalid token (190) and waits out a rate limit (613)', async () => {
    const c = await contact();
    graph.script('ig-messages', graphError(190, 'Error validating access token', 401));
    expect(await settled(await send({ contactId: c.id, channel: 'INSTAGRAM_DM', content: 'x' }))).toMatchObject({ status: 'FAILED', attempts: 1 });
    graph.script('ig-messages', graphError(613, 'Calls to this api have exceeded the rate limit.', 400));
    expect(await settled(await send({ contactId: c.id, channel: 'INSTAGRAM_DM', content: 'y' }))).toMatchObject({ status: 'SENT', attempts: 1 });
  });

  it('sends again, under the same Idempotency-Key, an email whose call timed out or whose connection dropped', async () => {
    const c = await contact();
    resend.script('emails', { status: 200, body: { id: 'late-answer' }, delayMs: 1500 });
    const id = await send({ contactId: c.id, channel: 'EMAIL', content: 'slow' });
    expect(await settled(id)).toMatchObject({ status: 'SENT', attempts: 2 });
    const keys = resend.requestsTo('emails').map((r) => r.headers['idempotency-key']);
    expect(keys.filter((k) => k === `message-${id}`)).toHaveLength(2);

    resend.script('emails', { drop: true });
    const dropped = await settled(await send({ contactId: c.id, channel: 'EMAIL', content: 'dropped' }));
    expect(dropped).toMatchObject({ status: 'SENT', attempts: 2 });
  });
});

describe('sandbox mode: channels without credentials outside production (e2e)', () => {
  let t: TestApp;
  let fx: Fixtures;
  let resend: ResendStandIn;

  beforeAll(async () => {
    // A stand-in at the configured URL proves sandbox mode never calls out.
    resend = await startResendStandIn({ apiKey: 'unused' });
    t = await createTestApp({ NODE_ENV: 'development', RESEND_API_URL: resend.url, RESEND_API_KEY: '', WHATSAPP_TOKEN: '', WHATSAPP_PHONE_ID: '' });
    fx = new Fixtures(t);
  });

  afterAll(async () => {
    await dropQuotaKeys(t, fx);
    await fx.cleanup();
    await t.close();
    await resend.close();
  });

  it('records the message SENT with a sandbox_ external id, calling no provider', async () => {
    const u = await fx.registerUser();
    await fx.setPlan(u.organizationId, 'PRO');
    const c = await t.prisma.contact.create({ data: { organizationId: u.organizationId, name: 'Caio', phone: '+5511988887777', email: 'caio@x.dev' } });
    for (const channel of ['WHATSAPP', 'EMAIL']) {
      const res = await t.http.post('/api/messages').set(bearer(u.token)).set('X-Forwarded-For', randomIp()).send({ contactId: c.id, channel, content: 'hi' });
      expect(res.status).toBe(202);
      const m = await waitFor(async () => {
        const row = await t.prisma.message.findUniqueOrThrow({ where: { id: res.body.id } });
        return row.status === 'SENT' ? row : undefined;
      });
      expect(m.externalId).toMatch(/^sandbox_/);
    }
    expect(resend.requests).toHaveLength(0);
    expect((await t.prisma.organization.findUniqueOrThrow({ where: { id: u.organizationId } })).messagesThisMonth).toBe(2);
  });
});

describe('production without credentials (e2e)', () => {
  let t: TestApp;
  let fx: Fixtures;

  beforeAll(async () => {
    t = await createTestApp({
      NODE_ENV: 'production',
      UNSUBSCRIBE_SECRET: 'a-production-unsubscribe-secret-for-tests',
      WHATSAPP_TOKEN: '',
      WHATSAPP_PHONE_ID: '',
      SWAGGER_ENABLED: 'false',
      APP_URL: 'https://api.zyva.test',
      CHANNEL_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}`,
    });
    fx = new Fixtures(t);
  });

  afterAll(async () => {
    await dropQuotaKeys(t, fx);
    await fx.cleanup();
    await t.close();
  });

  it('refuses the message at the API (422 "WHATSAPP is not connected"), storing and consuming nothing', async () => {
    const u = await fx.registerUser();
    await fx.setPlan(u.organizationId, 'PRO');
    const c = await t.prisma.contact.create({ data: { organizationId: u.organizationId, name: 'Duda', phone: '+5511977776666' } });
    const res = await t.http.post('/api/messages').set(bearer(u.token)).set('X-Forwarded-For', randomIp()).send({ contactId: c.id, channel: 'WHATSAPP', content: 'hi' });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ statusCode: 422, message: 'WHATSAPP is not connected' });
    expect(await t.prisma.message.count({ where: { organizationId: u.organizationId } })).toBe(0);
    expect(await t.redis.get(`zyva:limits:{${u.organizationId}}:messages`)).toBeNull();
  });
});

/** The monthly quota counters of the organizations this file made (Redis keys outlive the rows). */
async function dropQuotaKeys(app: TestApp, fixtures: Fixtures): Promise<void> {
  const ids = [...(fixtures['orgIds'] as Set<string>)];
  await unlinkKeys(app.redis, ids.map((id) => `zyva:limits:{${id}}:messages`));
}
