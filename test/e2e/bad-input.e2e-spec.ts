import type { ArgumentsHost } from '@nestjs/common';
import { HttpExceptionFilter } from '../../src/core/http/http-exception.filter';
import { Fixtures, RegisteredUser, bearer, randomIp, uniqueEmail } from '../utils/factories';
import { TestApp, createTestApp } from '../utils/test-app';

/** `{"a":{"a":…}}` nested `depth` deep: about 6 KB at 3,000. */
const nested = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);

describe('Bad input answers 400, never 500, and stores nothing (e2e)', () => {
  let t: TestApp;
  let fixtures: Fixtures;
  let user: RegisteredUser;
  let contactId: string;

  beforeAll(async () => {
    t = await createTestApp();
    fixtures = new Fixtures(t);
    user = await fixtures.registerUser();
    await fixtures.setPlan(user.organizationId, 'ENTERPRISE');
    const created = await t.http.post('/api/contacts').set(bearer(user.token)).send({ name: 'Ana', email: 'ana@example.com' });
    contactId = created.body.id;
  });

  afterAll(async () => {
    await fixtures.cleanup();
    await t.close();
  });

  const contacts = () => t.prisma.contact.count({ where: { organizationId: user.organizationId } });
  const expect400 = (res: { status: number; body: { message: unknown } }, field: string) => {
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    expect(JSON.stringify(res.body.message)).toContain(field);
  };

  describe('on the public POST /api/auth/register', () => {
    const body = (overrides: Record<string, unknown>) => ({
      email: uniqueEmail('nul'),
      password: 'correct horse battery',
      name: 'Nul',
      organizationName: 'Loja Nul',
      ...overrides,
    });

    it('refuses a NUL in a field, naming it, and creates no account', async () => {
      const sent = body({ name: 'Ana\u0000Souza' });
      const res = await t.http.post('/api/auth/register').set('X-Forwarded-For', randomIp()).send(sent);
      expect400(res, 'name must not contain the NUL character');
      expect(await t.prisma.user.count({ where: { email: sent.email } })).toBe(0);
    });

    it('refuses a NUL in a property name', async () => {
      const sent = body({ ['x\u0000']: 'y' });
      const res = await t.http.post('/api/auth/register').set('X-Forwarded-For', randomIp()).send(sent);
      expect400(res, 'property name containing the NUL character');
      expect(await t.prisma.user.count({ where: { email: sent.email } })).toBe(0);
    });

    it('refuses a body nested 3,000 deep before anything walks it', async () => {
      const email = uniqueEmail('deep');
      const raw = JSON.stringify(body({ email })).replace(/}$/, `,"extra":${nested(3000)}}`);
      expect(raw.length).toBeGreaterThan(6000);
      const res = await t.http.post('/api/auth/register').set('X-Forwarded-For', randomIp()).set('Content-Type', 'application/json').send(raw);
      expect400(res, 'nested deeper than 32 levels');
      expect(await t.prisma.user.count({ where: { email } })).toBe(0);
    });
  });

  it('refuses a NUL in a JSON body at any depth on authenticated routes', async () => {
    const before = await contacts();
    const create = await t.http.post('/api/contacts').set(bearer(user.token)).send({ name: 'Bia', tags: ['ok', 'v\u0000ip'] });
    expect400(create, 'tags[1] must not contain the NUL character');
    const patch = await t.http.patch(`/api/contacts/${contactId}`).set(bearer(user.token)).send({ name: 'An\u0000a' });
    expect400(patch, 'name must not contain');
    const flow = await t.http
      .post('/api/flows/any/executions')
      .set(bearer(user.token))
      .send({ contactId, data: { order: { note: 'x\u0000' } } });
    expect400(flow, 'data.order.note must not contain');
    expect(await contacts()).toBe(before);
    expect((await t.prisma.contact.findUniqueOrThrow({ where: { id: contactId } })).name).toBe('Ana');
  });

  it('refuses %00 in a path parameter and in a query string, naming them', async () => {
    expect400(await t.http.get('/api/contacts/abc%00def').set(bearer(user.token)), 'id must not contain the NUL character');
    expect400(await t.http.delete(`/api/contacts/${contactId}/tags/vip%00`).set(bearer(user.token)), 'tag must not contain');
    expect400(await t.http.get('/api/contacts?search=an%00a').set(bearer(user.token)), 'search must not contain');
    expect400(await t.http.get('/api/messages?contactId=%00').set(bearer(user.token)), 'contactId must not contain');
    // Public routes too.
    expect400(await t.http.get('/api/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=%00'), 'hub.challenge must not contain');
    expect(await t.prisma.contact.count({ where: { id: contactId } })).toBe(1);
  });

  it('refuses deep bodies and oversized arrays on every JSON route, before validation', async () => {
    const deep = await t.http.post('/api/contacts').set(bearer(user.token)).set('Content-Type', 'application/json').send(`{"name":"X","data":${nested(3000)}}`);
    expect400(deep, 'nested deeper than 32 levels');
    const wide = await t.http
      .post('/api/contacts')
      .set(bearer(user.token))
      .send({ name: 'X', tags: Array.from({ length: 10_001 }, () => 'a') });
    expect400(wide, 'more than 10000 items');
    const flowStart = await t.http
      .post('/api/flows/any/executions')
      .set(bearer(user.token))
      .set('Content-Type', 'application/json')
      .send(`{"contactId":"c","data":${nested(40)}}`);
    expect400(flowStart, 'nested deeper');
    expect(await contacts()).toBe(1);
  });

  it('refuses list pages past the first 10,000 rows, naming page', async () => {
    const last = await t.http.get('/api/contacts?page=500&limit=20').set(bearer(user.token));
    expect(last.status).toBe(200);
    const past = await t.http.get('/api/contacts?page=501&limit=20').set(bearer(user.token));
    expect400(past, 'page must be at most 500 with this limit');
    expect400(await t.http.get('/api/messages?page=101&limit=100').set(bearer(user.token)), 'page must be at most 100');
  });

  it('rejects the CSV rows holding a NUL, imports the others', async () => {
    const csv = ['name,email,phone,birthday,tags', 'Caio,caio@example.com,,,', 'Du\u0000da,duda@example.com,,,', 'Enzo,enzo@example.com,,,vip\u0000'].join('\n');
    const res = await t.http
      .post('/api/contacts/import')
      .set(bearer(user.token))
      .attach('file', Buffer.from(csv), { filename: 'c.csv', contentType: 'text/csv' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      created: 1,
      rejected: 2,
      errors: [
        { line: 3, reason: 'name contains the NUL character (\\u0000)' },
        { line: 4, reason: 'tags contains the NUL character (\\u0000)' },
      ],
      omittedErrors: 0,
    });
    const names = (await t.prisma.contact.findMany({ where: { organizationId: user.organizationId } })).map((c) => c.name).sort();
    expect(names).toEqual(['Ana', 'Caio']);
  });

  it('lists the first 1,000 rejected lines of a CSV and counts the rest', async () => {
    const lines = ['name,email', ...Array.from({ length: 1005 }, (_, i) => `,bad${i}@example.com`), 'Fim,fim@example.com'];
    const res = await t.http
      .post('/api/contacts/import')
      .set(bearer(user.token))
      .attach('file', Buffer.from(lines.join('\n')), { filename: 'c.csv', contentType: 'text/csv' });
    expect(res.status).toBe(200);
    expect(res.body.created).toBe(1);
    expect(res.body.rejected).toBe(1005);
    expect(res.body.errors).toHaveLength(1000);
    expect(res.body.errors[0]).toEqual({ line: 2, reason: 'name is required' });
    expect(res.body.errors[999].line).toBe(1001);
    expect(res.body.omittedErrors).toBe(5);
    await t.prisma.contact.deleteMany({ where: { organizationId: user.organizationId, name: { in: ['Caio', 'Fim'] } } });
  });

  it('answers a Postgres data error (class 22) that got past the checks with a 400 that tells no internals', async () => {
    const error = await t.prisma.$executeRaw`SELECT ${'a\u0000b'}::text`.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    let sent: { status?: number; body?: unknown } = {};
    const reply = {
      header: () => reply,
      status: (status: number) => ({ send: (body: unknown) => (sent = { status, body }) }),
    };
    const host = { switchToHttp: () => ({ getResponse: () => reply }) } as unknown as ArgumentsHost;
    new HttpExceptionFilter().catch(error, host);
    expect(sent.status).toBe(400);
    expect(JSON.stringify(sent.body)).not.toMatch(/0x00|UTF8|byte sequence/);
  });
});
