import { randomBytes } from 'node:crypto';
import { KeyRing } from '../../src/core/crypto/key-ring';
import { ConnectionSecrets, secretHint } from '../../src/modules/channels/connections/connection-secrets';
import { bearer, Fixtures, randomIp, RegisteredUser, SETTLED_STATUSES, waitFor } from '../utils/factories';
import { StandIn, startWhatsAppStandIn } from '../utils/provider-stand-ins';
import { fromSource, runNode } from '../utils/processes';
import { createTestApp, TestApp } from '../utils/test-app';

const key = () => randomBytes(32).toString('base64');

/**
 * Secrets at rest under a key ring: rotated by putting a new key first
 * (old values still decrypt), rewritten by `channels:reencrypt`, after which
 * the old key can go; production refuses to start without a valid ring.
 */
describe('channel secrets: key rotation and the key ring (e2e)', () => {
  const oldKey = `old:${key()}`;
  const newKey = `new:${key()}`;
  const number = { phoneNumberId: String(600000000000000 + Math.floor(Math.random() * 1e9)), accessToken: `EAAG-${randomBytes(8).toString('hex')}` };
  let wa: StandIn;
  let t: TestApp | undefined;
  let fx: Fixtures;
  let user: RegisteredUser;

  const app = async (keys: string) => {
    await t?.close();
    t = await createTestApp({ WHATSAPP_API_URL: wa.url, CHANNEL_ENCRYPTION_KEYS: keys });
    fx = fx ? Object.assign(fx, { t }) : new Fixtures(t);
    return t;
  };
  const sendOne = async (app: TestApp, text: string) => {
    const contact = await app.prisma.contact.create({
      data: { organizationId: user.organizationId, name: 'Cliente', phone: `+55119${Math.floor(1e7 + Math.random() * 8e7)}`, whatsappWindowExpiresAt: new Date(Date.now() + 3600_000) },
    });
    const res = await app.http.post('/api/messages').set(bearer(user.token)).set('X-Forwarded-For', randomIp()).send({ contactId: contact.id, channel: 'WHATSAPP', content: text });
    expect(res.status).toBe(202);
    return waitFor(async () => {
      const m = await app.prisma.message.findUniqueOrThrow({ where: { id: res.body.id } });
      return SETTLED_STATUSES.includes(m.status) ? m : undefined;
    });
  };

  /** Runs the CLI under `keys`; other suites' connections (sealed with their keys) may be listed as unreadable. */
  const reencrypt = async (keys: string) => {
    const run = await runNode(fromSource('src/cli.ts', 'channels:reencrypt'), { DATABASE_URL: process.env.DATABASE_URL, REDIS_URL: process.env.REDIS_URL, CHANNEL_ENCRYPTION_KEYS: keys });
    const unreadable = [...run.stdout.matchAll(/connection (\S+) \(\w+\) left as it is/g)].map((m) => m[1]);
    return { ...run, unreadable };
  };

  beforeAll(async () => {
    wa = await startWhatsAppStandIn(number);
  });

  afterAll(async () => {
    await fx?.cleanup();
    await t?.close();
    await wa.close();
  });

  it('keeps sending through a rotation: old key, both keys, channels:reencrypt, then only the new key', async () => {
    const first = await app(oldKey);
    user = await fx.registerUser();
    await fx.setPlan(user.organizationId, 'ENTERPRISE');
    const put = await first.http.put('/api/channels/whatsapp').set(bearer(user.token)).send({ phoneNumberId: number.phoneNumberId, businessAccountId: '1', accessToken: number.accessToken });
    expect(put.status).toBe(200);
    const sealed = () => first.prisma.channelConnection.findFirstOrThrow({ where: { organizationId: user.organizationId } }).then((c) => c.secrets);
    expect(await sealed()).toMatch(/^v1:old:/);
    expect((await sendOne(first, 'chave antiga')).status).toBe('SENT');

    const both = await app(`${newKey},${oldKey}`);
    expect((await sendOne(both, 'duas chaves')).status).toBe('SENT');

    const run = await reencrypt(`${newKey},${oldKey}`);
    expect(run.stdout).toMatch(/channels:reencrypt: [1-9]\d* of \d+ connections rewritten/);
    const rewritten = await both.prisma.channelConnection.findFirstOrThrow({ where: { organizationId: user.organizationId } });
    expect(run.unreadable).not.toContain(rewritten.id);
    expect(run.code).toBe(run.unreadable.length > 0 ? 1 : 0);
    expect(rewritten.secrets).toMatch(/^v1:new:/);
    expect(rewritten.secrets).not.toContain(number.accessToken);
    const again = await reencrypt(`${newKey},${oldKey}`);
    expect(again.stdout).toMatch(/channels:reencrypt: 0 of \d+ connections rewritten/);
    expect((await both.prisma.channelConnection.findUniqueOrThrow({ where: { id: rewritten.id } })).secrets).toBe(rewritten.secrets);

    const onlyNew = await app(newKey);
    expect((await sendOne(onlyNew, 'só a nova')).status).toBe('SENT');
    const tokens = wa.requestsTo('messages').map((r) => r.headers.authorization);
    expect(tokens).toEqual([`Bearer ${number.accessToken}`, `Bearer ${number.accessToken}`, `Bearer ${number.accessToken}`]);
  });

  it('fails a send with a clear reason when the key that sealed the connection was removed too early', async () => {
    const stranger = await app(`other:${key()}`);
    const m = await sendOne(stranger, 'sem chave');
    expect(m.status).toBe('FAILED');
    expect(m.errorMessage).toMatch(/cannot be decrypted.*"new".*no longer in CHANNEL_ENCRYPTION_KEYS/);
  });

  it('channels:reencrypt leaves a connection the ring cannot open as it is, names it and exits 1', async () => {
    const stranger = `other:${key()}`;
    const own = await t!.prisma.channelConnection.findFirstOrThrow({ where: { organizationId: user.organizationId } });
    const run = await reencrypt(stranger);
    expect(run.code).toBe(1);
    expect(run.unreadable).toContain(own.id);
    expect(run.stdout).toContain(`connection ${own.id} (whatsapp) left as it is: the key "new" that encrypted this value is no longer in CHANNEL_ENCRYPTION_KEYS`);
    expect(run.stderr).toMatch(/channels:reencrypt stopped: [1-9]\d* connection\(s\) cannot be decrypted with CHANNEL_ENCRYPTION_KEYS/);
    expect(`${run.stdout}${run.stderr}`).not.toContain(number.accessToken);
    expect((await t!.prisma.channelConnection.findUniqueOrThrow({ where: { id: own.id } })).secrets).toBe(own.secrets);
  });

  it('channels:reencrypt still rewrites, under the first key, a connection the ring opens beside one it cannot', async () => {
    const stranger = `other:${key()}`;
    const own = await t!.prisma.channelConnection.findFirstOrThrow({ where: { organizationId: user.organizationId } });
    const second = await fx.registerUser();
    const apiKey = `re_${randomBytes(8).toString('hex')}`;
    const readable = await t!.prisma.channelConnection.create({
      data: {
        organizationId: second.organizationId,
        kind: 'email',
        config: { from: 'loja@example.com' },
        account: {},
        secrets: new ConnectionSecrets(KeyRing.parse(oldKey)).seal(second.organizationId, 'email', { apiKey }),
        secretHint: secretHint(apiKey),
      },
    });
    const run = await reencrypt(`${stranger},${oldKey}`);
    expect(run.code).toBe(1);
    expect(run.unreadable).toContain(own.id);
    expect(run.unreadable).not.toContain(readable.id);
    const after = await t!.prisma.channelConnection.findUniqueOrThrow({ where: { id: readable.id } });
    expect(after.secrets).toMatch(/^v1:other:/);
    expect(new ConnectionSecrets(KeyRing.parse(stranger)).open(second.organizationId, 'email', after.secrets)).toEqual({ apiKey });
    expect(`${run.stdout}${run.stderr}`).not.toContain(apiKey);
  });

  it('refuses to start in production without a valid CHANNEL_ENCRYPTION_KEYS, naming it', async () => {
    const production = {
      NODE_ENV: 'production',
      APP_ROLE: 'api',
      DATABASE_URL: process.env.DATABASE_URL,
      REDIS_URL: process.env.REDIS_URL,
      APP_URL: 'https://api.zyva.test',
      CHANNEL_ENCRYPTION_KEYS: undefined,
      UNSUBSCRIBE_SECRET: 'a-production-unsubscribe-secret-for-tests',
    };
    const missing = await runNode(fromSource('src/main.ts'), production);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('CHANNEL_ENCRYPTION_KEYS: required in production');
    const malformed = await runNode(fromSource('src/main.ts'), { ...production, CHANNEL_ENCRYPTION_KEYS: 'k1:c2hvcnQ=' });
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toContain('CHANNEL_ENCRYPTION_KEYS: key "k1" must be 32 bytes');
    expect(malformed.stderr).not.toContain('c2hvcnQ=');
  });
});
