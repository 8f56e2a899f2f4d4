import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { bearer, Fixtures, randomIp, RegisteredUser } from '../utils/factories';
import { graphError, ResendStandIn, StandIn, startGraphStandIn, startResendStandIn, startTwilioStandIn, startWhatsAppStandIn, startXStandIn } from '../utils/provider-stand-ins';
import { createTestApp, TestApp } from '../utils/test-app';

const APP_URL = 'https://api.zyva.test';
const secret = (label: string) => `${label}-${randomBytes(12).toString('hex')}`;

/**
 * Channel connections: every kind connects with good credentials and is
 * refused with bad ones, verified live against stand-ins that check
 * credentials per account; nothing is stored when the provider refuses or
 * fails; secrets are write-only and sealed (searched for in a dump of the
 * database and in every Redis key); tenants never see each other's connections.
 */
describe('channel connections (e2e)', () => {
  let t: TestApp;
  let fx: Fixtures;
  let wa: StandIn;
  let resend: ResendStandIn;
  let twilio: StandIn;
  let graph: StandIn;
  let x: StandIn;
  let a: RegisteredUser;
  let b: RegisteredUser;

  const creds = {
    waToken: secret('EAAG'),
    waOther: secret('EAAH'),
    resendKey: `re_${randomBytes(12).toString('hex')}`,
    webhookSecret: `whsec_${randomBytes(24).toString('base64')}`,
    twilioSid: `AC${randomBytes(16).toString('hex')}`,
    twilioToken: randomBytes(16).toString('hex'),
    igToken: secret('IGQV'),
    pageToken: secret('EAAB'),
    xToken: secret('xtok'),
  };
  const phoneId = String(100000000000000 + Math.floor(Math.random() * 1e12));
  const otherPhoneId = String(200000000000000 + Math.floor(Math.random() * 1e12));
  const igId = String(17841400000000000 + Math.floor(Math.random() * 1e6));
  const pageId = String(104000000000000 + Math.floor(Math.random() * 1e9));

  beforeAll(async () => {
    [wa, resend, twilio, graph, x] = await Promise.all([
      startWhatsAppStandIn({
        numbers: [
          { phoneNumberId: phoneId, accessToken: creds.waToken, displayPhoneNumber: '+55 11 98888-0001', verifiedName: 'Loja A' },
          { phoneNumberId: otherPhoneId, accessToken: creds.waOther },
        ],
      }),
      startResendStandIn({
        teams: [{ apiKey: creds.resendKey, domains: [{ name: 'lojaa.com.br', status: 'verified' }, { name: 'pendente.com.br', status: 'pending' }] }],
      }),
      startTwilioStandIn({ accounts: [{ accountSid: creds.twilioSid, authToken: creds.twilioToken, from: '+5511900000001', friendlyName: 'Loja A SMS' }] }),
      startGraphStandIn({ instagramAccounts: [{ accountId: igId, token: creds.igToken, username: 'loja.a' }], pages: [{ pageId, token: creds.pageToken, name: 'Loja A' }] }),
      startXStandIn({ users: [{ token: creds.xToken, id: '1600000000000000042', username: 'lojaa' }] }),
    ]);
    t = await createTestApp({
      APP_URL,
      WHATSAPP_API_URL: wa.url,
      RESEND_API_URL: resend.url,
      TWILIO_API_URL: twilio.url,
      GRAPH_API_URL: graph.url,
      TWITTER_API_URL: x.url,
      PROVIDER_TIMEOUT_MS: '500',
    });
    fx = new Fixtures(t);
    a = await fx.registerUser();
    b = await fx.registerUser();
    await fx.setPlan(a.organizationId, 'ENTERPRISE');
    await fx.setPlan(b.organizationId, 'ENTERPRISE');
  });

  afterAll(async () => {
    await fx.cleanup();
    await t.close();
    await Promise.all([wa, resend, twilio, graph, x].map((s) => s.close()));
  });

  beforeEach(() => [wa, resend, twilio, graph, x].forEach((s) => s.reset()));

  const put = (user: RegisteredUser, kind: string, body: unknown) =>
    t.http.put(`/api/channels/${kind}`).set(bearer(user.token)).set('X-Forwarded-For', randomIp()).send(body as object);
  const rows = (user: RegisteredUser) => t.prisma.channelConnection.findMany({ where: { organizationId: user.organizationId } });

  const good: Record<string, Record<string, unknown>> = {
    whatsapp: { phoneNumberId: phoneId, businessAccountId: '102290129340398', accessToken: creds.waToken },
    email: { apiKey: creds.resendKey, from: 'Loja A <ofertas@lojaa.com.br>', webhookSecret: creds.webhookSecret },
    sms: { accountSid: creds.twilioSid, authToken: creds.twilioToken, from: '+5511900000001' },
    instagram: { accountId: igId, accessToken: creds.igToken },
    facebook: { pageId, accessToken: creds.pageToken },
    twitter: { accessToken: creds.xToken },
  };
  const expectedAccount: Record<string, Record<string, unknown>> = {
    whatsapp: { phoneNumberId: phoneId, businessAccountId: '102290129340398', displayPhoneNumber: '+55 11 98888-0001', verifiedName: 'Loja A' },
    email: { from: 'Loja A <ofertas@lojaa.com.br>', domain: 'lojaa.com.br' },
    sms: { accountSid: creds.twilioSid, from: '+5511900000001', friendlyName: 'Loja A SMS' },
    instagram: { accountId: igId, username: 'loja.a' },
    facebook: { pageId, name: 'Loja A' },
    twitter: { userId: '1600000000000000042', username: 'lojaa' },
  };
  const hints: Record<string, string> = {
    whatsapp: creds.waToken,
    email: creds.resendKey,
    sms: creds.twilioToken,
    instagram: creds.igToken,
    facebook: creds.pageToken,
    twitter: creds.xToken,
  };

  it.each(Object.keys(good))('connects %s with good credentials, checked live, secrets write-only', async (kind) => {
    const res = await put(a, kind, good[kind]);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      id: expect.any(String),
      kind,
      status: 'CONNECTED',
      account: expectedAccount[kind],
      secretHint: `…${hints[kind].slice(-4)}`,
      maxPerSecond: { whatsapp: 80, email: 2, sms: 1, instagram: 10, facebook: null, twitter: null }[kind],
      error: null,
    });
    expect(new Date(res.body.connectedAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
    if (kind === 'email' || kind === 'sms') {
      expect(res.body.webhookUrl).toBe(`${APP_URL}/api/webhooks/${kind === 'email' ? 'resend' : 'twilio'}/${res.body.id}`);
    } else {
      expect(res.body.webhookUrl).toBeUndefined();
    }
    expect(JSON.stringify(res.body)).not.toContain(hints[kind]);
    const [row] = (await rows(a)).filter((r) => r.kind === kind);
    expect(row.secrets).toMatch(/^v1:dev:/);
    expect(row.secrets).not.toContain(hints[kind]);
    expect(JSON.stringify(row.config)).not.toContain(hints[kind]);
  });

  it('answers the live check with the credentials at the provider', async () => {
    await put(a, 'whatsapp', good.whatsapp);
    const [check] = wa.requestsTo('phone');
    expect(check.path).toBe(`/${phoneId}`);
    expect(check.query.fields).toBe('display_phone_number,verified_name');
    expect(check.headers.authorization).toBe(`Bearer ${creds.waToken}`);
    await put(a, 'sms', good.sms);
    expect(twilio.requestsTo('account')[0].headers.authorization).toBe(`Basic ${Buffer.from(`${creds.twilioSid}:${creds.twilioToken}`).toString('base64')}`);
  });

  it.each([
    ['whatsapp', { ...good.whatsapp, accessToken: 'EAAG-wrong' }, 'Invalid OAuth access token'],
    ['whatsapp', { ...good.whatsapp, accessToken: creds.waOther }, 'does not exist'],
    ['email', { ...good.email, apiKey: 're_wrong' }, 'API key is invalid'],
    ['email', { ...good.email, from: 'Loja <x@pendente.com.br>' }, 'not verified'],
    ['email', { ...good.email, from: 'Loja <x@outra.com.br>' }, 'not in this Resend account'],
    ['sms', { ...good.sms, authToken: 'f'.repeat(32) }, 'Authenticate'],
    ['instagram', { ...good.instagram, accessToken: 'IGQV-wrong' }, 'Invalid OAuth'],
    ['facebook', { ...good.facebook, accessToken: 'EAAB-wrong' }, 'Invalid OAuth'],
    ['twitter', { accessToken: 'x-wrong' }, 'Unauthorized'],
  ])('refuses %s credentials the provider refuses (422, its reason), storing nothing', async (kind, body, reason) => {
    const res = await put(b, kind, body);
    expect(res.status).toBe(422);
    expect(res.body.message).toContain(reason);
    expect(JSON.stringify(res.body)).not.toContain(String((body as Record<string, unknown>).accessToken ?? 'none'));
    expect((await rows(b)).filter((r) => r.kind === kind)).toHaveLength(0);
  });

  it('keeps a secret the provider echoes in its refusal out of the answer and the stored error', async () => {
    // The Graph API names a malformed token in its message ("Malformed access token EAAG…").
    const echoing = secret('EAAG');
    wa.script('phone', graphError(190, `Malformed access token ${echoing}`, 400));
    const refused = await put(b, 'whatsapp', { ...good.whatsapp, phoneNumberId: otherPhoneId, accessToken: echoing });
    expect(refused.status).toBe(422);
    expect(refused.body.message).toContain('Malformed access token');
    expect(JSON.stringify(refused.body)).not.toContain(echoing);

    expect((await put(b, 'whatsapp', { ...good.whatsapp, phoneNumberId: otherPhoneId, accessToken: creds.waOther })).status).toBe(200);
    wa.script('phone', graphError(190, `Malformed access token ${creds.waOther}`, 400));
    const checked = await t.http.post('/api/channels/whatsapp/check').set(bearer(b.token));
    expect(checked.body).toMatchObject({ status: 'INVALID', error: expect.stringContaining('Malformed access token') });
    expect(JSON.stringify(checked.body)).not.toContain(creds.waOther);
    const [row] = (await rows(b)).filter((r) => r.kind === 'whatsapp');
    expect(row.error).not.toContain(creds.waOther);
    expect((await t.http.delete('/api/channels/whatsapp').set(bearer(b.token))).status).toBe(204);
  });

  it('answers 502 when the provider fails or does not answer, and keeps an existing connection as it was', async () => {
    const first = await put(a, 'instagram', good.instagram);
    const before = (await rows(a)).find((r) => r.kind === 'instagram')!;
    graph.script('object', graphError(2, 'Service temporarily unavailable', 503));
    const failed = await put(a, 'instagram', { ...good.instagram, maxPerSecond: 3 });
    expect(failed.status).toBe(502);
    graph.script('object', { status: 200, body: {}, delayMs: 1500 });
    expect((await put(a, 'instagram', good.instagram)).status).toBe(502);
    const after = (await rows(a)).find((r) => r.kind === 'instagram')!;
    expect(after).toEqual(before);
    expect(first.body.maxPerSecond).toBe(10);
  });

  it('keeps the id and webhookUrl across PUTs, replacing the credentials', async () => {
    const first = await put(a, 'email', good.email);
    const second = await put(a, 'email', { ...good.email, maxPerSecond: 5 });
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    expect(second.body.webhookUrl).toBe(first.body.webhookUrl);
    expect(second.body.maxPerSecond).toBe(5);
    const row = (await rows(a)).find((r) => r.kind === 'email')!;
    expect(row.version).toBeGreaterThan(1);
  });

  it('refuses an account another organization connected (409), and an unknown kind (404), and bad bodies (400)', async () => {
    expect((await put(a, 'whatsapp', good.whatsapp)).status).toBe(200);
    const taken = await put(b, 'whatsapp', good.whatsapp);
    expect(taken.status).toBe(409);
    expect((await rows(b)).filter((r) => r.kind === 'whatsapp')).toHaveLength(0);

    expect((await put(a, 'telegram', { token: 'x' })).status).toBe(404);
    const bad = await put(a, 'sms', { accountSid: 'nope', authToken: '', from: '11999', extra: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toEqual(
      expect.arrayContaining([expect.stringContaining('accountSid'), expect.stringContaining('authToken'), expect.stringContaining('from'), 'property extra should not exist']),
    );
    expect((await put(a, 'whatsapp', { ...good.whatsapp, maxPerSecond: '80' })).status).toBe(400);
  });

  it('refuses a from address with an unbalanced angle bracket (400), storing nothing and calling no provider', async () => {
    for (const from of ['Loja A <ofertas@lojaa.com.br', 'ofertas@lojaa.com.br>']) {
      const res = await put(b, 'email', { ...good.email, from });
      expect(res.status).toBe(400);
      expect(res.body.message).toEqual([expect.stringContaining('from must be an address like')]);
    }
    expect(resend.requests).toHaveLength(0);
    expect((await rows(b)).filter((r) => r.kind === 'email')).toHaveLength(0);
    expect((await put(b, 'email', { ...good.email, from: 'ofertas@lojaa.com.br' })).status).toBe(200);
    expect((await put(b, 'email', { ...good.email, from: 'Loja B <ofertas@lojaa.com.br>' })).status).toBe(200);
    expect((await t.http.delete('/api/channels/email').set(bearer(b.token))).status).toBe(204);
  });

  it('lists, checks and deletes only the caller organization’s connections', async () => {
    await put(a, 'facebook', good.facebook);
    const listA = await t.http.get('/api/channels').set(bearer(a.token));
    const listB = await t.http.get('/api/channels').set(bearer(b.token));
    expect(listA.status).toBe(200);
    expect(listA.body.data.map((c: { kind: string }) => c.kind)).toContain('facebook');
    expect(listB.body.data.map((c: { kind: string }) => c.kind)).not.toContain('facebook');

    expect((await t.http.post('/api/channels/facebook/check').set(bearer(b.token))).status).toBe(404);
    expect((await t.http.delete('/api/channels/facebook').set(bearer(b.token))).status).toBe(404);
    expect((await rows(a)).some((r) => r.kind === 'facebook')).toBe(true);

    const check = await t.http.post('/api/channels/facebook/check').set(bearer(a.token));
    expect(check.status).toBe(200);
    expect(check.body.status).toBe('CONNECTED');
    graph.script('object', graphError(190, 'Error validating access token: The session has been invalidated', 401));
    const invalid = await t.http.post('/api/channels/facebook/check').set(bearer(a.token));
    expect(invalid.body).toMatchObject({ status: 'INVALID', error: expect.stringContaining('session has been invalidated') });
    graph.script('object', graphError(2, 'down', 503));
    expect((await t.http.post('/api/channels/facebook/check').set(bearer(a.token))).status).toBe(502);

    expect((await t.http.delete('/api/channels/facebook').set(bearer(a.token))).status).toBe(204);
    expect((await t.http.delete('/api/channels/facebook').set(bearer(a.token))).status).toBe(404);
    expect((await rows(a)).some((r) => r.kind === 'facebook')).toBe(false);
  });

  it('keeps every secret out of the database dump, every Redis key, and the API', async () => {
    for (const kind of Object.keys(good)) expect((await put(a, kind, good[kind])).status).toBe(200);
    // The account SID is an identifier the connection shows; everything else in creds is a secret.
    const everySecret = Object.entries(creds).filter(([name]) => name !== 'twilioSid').map(([, value]) => value);

    const url = new URL(process.env.DATABASE_URL!);
    const dump = execFileSync('pg_dump', ['--data-only', '--no-owner', '-h', url.hostname, '-p', url.port || '5432', '-U', url.username || 'postgres', url.pathname.slice(1)], {
      encoding: 'utf8',
      maxBuffer: 512 * 1024 * 1024,
    });
    expect(dump).toContain(phoneId); // the dump is real: public fields are there
    for (const s of everySecret) expect(dump).not.toContain(s);

    const redisText = await dumpRedis(t);
    for (const s of everySecret) expect(redisText).not.toContain(s);

    const listed = await t.http.get('/api/channels').set(bearer(a.token));
    for (const s of everySecret) expect(JSON.stringify(listed.body)).not.toContain(s);
    const docs = await t.http.get('/docs-json');
    for (const s of everySecret) expect(docs.text).not.toContain(s);
  });

  it('documents the six PUT bodies and the connection answer in Swagger', async () => {
    const doc = (await t.http.get('/docs-json')).body;
    const put = doc.paths['/api/channels/{kind}'].put;
    const refs = put.requestBody.content['application/json'].schema.oneOf.map((o: { $ref: string }) => o.$ref.split('/').pop());
    expect(refs).toEqual(['WhatsAppConnectDto', 'EmailConnectDto', 'SmsConnectDto', 'InstagramConnectDto', 'FacebookConnectDto', 'TwitterConnectDto']);
    expect(doc.components.schemas.WhatsAppConnectDto.required).toEqual(expect.arrayContaining(['phoneNumberId', 'businessAccountId', 'accessToken']));
    expect(doc.components.schemas.ConnectionDto.properties).toHaveProperty('secretHint');
    expect(Object.keys(put.responses)).toEqual(expect.arrayContaining(['200', '400', '404', '409', '422', '502']));
  });
});

/** Every value under this Redis database's Zyva and BullMQ keys, as text. */
async function dumpRedis(t: TestApp): Promise<string> {
  const parts: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await t.redis.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await t.redis.type(key);
      parts.push(key);
      if (type === 'string') parts.push((await t.redis.get(key)) ?? '');
      else if (type === 'hash') parts.push(JSON.stringify(await t.redis.hgetall(key)));
      else if (type === 'list') parts.push(JSON.stringify(await t.redis.lrange(key, 0, -1)));
      else if (type === 'set') parts.push(JSON.stringify(await t.redis.smembers(key)));
      else if (type === 'zset') parts.push(JSON.stringify(await t.redis.zrange(key, 0, -1)));
      else if (type === 'stream') parts.push(JSON.stringify(await t.redis.xrange(key, '-', '+')));
    }
  } while (cursor !== '0');
  return parts.join('\n');
}
