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
    expect400(await t.http.get('/api/contacts?%00=1').set(bearer(user.token)), 'the query string has a property name containing the NUL character');
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

  it('refuses null for a field a PATCH may leave out (null is not "leave it as it is"), and changes nothing', async () => {
    const created = await t.http.post('/api/flows').set(bearer(user.token)).send({ name: 'Nulo', trigger: { type: 'MANUAL' }, steps: [{ type: 'ADD_TAG', tag: 'x' }] });
    expect(created.status).toBe(201);
    for (const field of ['name', 'active', 'trigger', 'steps']) {
      expect400(await t.http.patch(`/api/flows/${created.body.id}`).set(bearer(user.token)).send({ [field]: null }), field);
    }
    const row = await t.prisma.flow.findUniqueOrThrow({ where: { id: created.body.id } });
    expect(row).toMatchObject({ name: 'Nulo', active: true, triggerType: 'MANUAL', version: 1 });
    await t.prisma.flow.delete({ where: { id: row.id } });
  });

  it('refuses a message list filtered by a channel no sender serves, as POST /api/messages does', async () => {
    expect400(await t.http.get('/api/messages?channel=FAX').set(bearer(user.token)), 'channel must be one of the following values: WHATSAPP, EMAIL, SMS, INSTAGRAM_DM');
    const ok = await t.http.get('/api/messages?channel=EMAIL&direction=INBOUND').set(bearer(user.token));
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ data: [], total: 0, page: 1, limit: 20 });
  });

  it('refuses a template that is not an object, and a send more than a year ahead, as field errors (400, message an array)', async () => {
    const messages = () => t.prisma.message.count({ where: { organizationId: user.organizationId } });
    const before = await messages();
    for (const template of [[], [{ name: 'promo', language: 'pt_BR', variables: [] }]]) {
      expect400(await t.http.post('/api/messages').set(bearer(user.token)).send({ contactId, channel: 'WHATSAPP', template }), 'template must be an object');
      expect400(await t.http.post('/api/campaigns').set(bearer(user.token)).send({ name: 'C', channel: 'WHATSAPP', template }), 'template must be an object');
    }
    const farOff = new Date(Date.now() + 2 * 365 * 86400_000).toISOString();
    const late = await t.http.post('/api/messages').set(bearer(user.token)).send({ contactId, channel: 'EMAIL', content: 'x', scheduledFor: farOff });
    expect400(late, 'scheduledFor must be within a year from now');
    expect(late.body.message).toEqual(['scheduledFor must be within a year from now.']);
    const lateCampaign = await t.http.post('/api/campaigns').set(bearer(user.token)).send({ name: 'C', channel: 'EMAIL', content: 'x', scheduledFor: farOff });
    expect(lateCampaign.body.message).toEqual(['scheduledFor must be within a year from now.']);
    expect(await messages()).toBe(before);
    expect(await t.prisma.campaign.count({ where: { organizationId: user.organizationId } })).toBe(0);
  });

  it('answers the router’s own refusals (a path parameter over 100 characters, a broken %-escape) in the error shape, without echoing the URL', async () => {
    const long = await t.http.get(`/api/contacts/${'x'.repeat(150)}`).set(bearer(user.token));
    expect(long.status).toBe(414);
    expect(long.body).toEqual({ statusCode: 414, error: 'URI Too Long', message: expect.any(String) });
    expect(long.body.message).not.toContain('xxxxxxxxxx');
    const broken = await t.http.get('/api/contacts/%E0%A4%A').set(bearer(user.token));
    expect(broken.status).toBe(400);
    expect(broken.body).toEqual({ statusCode: 400, error: 'Bad Request', message: expect.any(String) });
  });

  it('takes an empty body sent as application/json as no body: bodiless routes work, routes that need one list its fields', async () => {
    // Clients that set Content-Type: application/json on every request send it on DELETE and bodiless POSTs too.
    const json = { 'Content-Type': 'application/json' };
    const scheduled = await t.http
      .post('/api/messages')
      .set(bearer(user.token))
      .send({ contactId, channel: 'EMAIL', content: 'x', scheduledFor: new Date(Date.now() + 3600_000).toISOString() });
    expect(scheduled.status).toBe(202);
    const canceled = await t.http.delete(`/api/messages/${scheduled.body.id}`).set(bearer(user.token)).set(json);
    expect(canceled.status).toBe(200);
    expect((await t.prisma.message.findUniqueOrThrow({ where: { id: scheduled.body.id } })).status).toBe('CANCELED');
    const notConnected = await t.http.delete('/api/channels/whatsapp').set(bearer(user.token)).set(json);
    expect(notConnected.body).toMatchObject({ statusCode: 404, message: 'No whatsapp connection.' });
    const before = await contacts();
    expect400(await t.http.post('/api/contacts').set(bearer(user.token)).set(json), 'name');
    expect400(await t.http.post('/api/contacts').set(bearer(user.token)).set(json).send('  '), 'name');
    expect(await contacts()).toBe(before);
    await t.prisma.message.delete({ where: { id: scheduled.body.id } });
  });

  it('refuses text with an unpaired surrogate (not Unicode, stored as U+FFFD otherwise), naming the field', async () => {
    const before = await contacts();
    const raw = '{"name":"Ana \\ud800","tags":["ok","\\udc00x"]}';
    const res = await t.http.post('/api/contacts').set(bearer(user.token)).set('Content-Type', 'application/json').send(raw);
    expect400(res, 'name must be valid Unicode text');
    expect(res.body.message).toEqual(expect.arrayContaining([expect.stringContaining('tags[1] must be valid Unicode text')]));
    expect(await contacts()).toBe(before);
    const paired = await t.http.post('/api/contacts').set(bearer(user.token)).set('Content-Type', 'application/json').send('{"name":"Ana \\ud83d\\ude00"}');
    expect(paired.status).toBe(201);
    expect(paired.body.name).toBe('Ana 😀');
    await t.prisma.contact.delete({ where: { id: paired.body.id } });
  });

  it('refuses a body that is not UTF-8 (stored as U+FFFD otherwise), whatever charset it claims', async () => {
    const before = await contacts();
    // Sent as the bytes themselves: supertest would otherwise serialize a Buffer as JSON.
    const raw = (type: string, bytes: Buffer) =>
      t.http.post('/api/contacts').set(bearer(user.token)).set('Content-Type', type).serialize(() => bytes as unknown as string).send({});
    const latin1 = Buffer.concat([Buffer.from('{"name":"Jos'), Buffer.from([0xe9]), Buffer.from('"}')]);
    for (const type of ['application/json', 'application/json; charset=utf-8', 'application/json; charset=iso-8859-1']) {
      expect400(await raw(type, latin1), 'the body must be UTF-8 text');
    }
    expect400(await raw('application/x-www-form-urlencoded', Buffer.from([0x6e, 0x61, 0x6d, 0x65, 0x3d, 0xff])), 'the body must be UTF-8 text');
    expect(await contacts()).toBe(before);
  });

  it('refuses names of only spaces (a 400 naming them, nothing created), and stores names without their surrounding spaces', async () => {
    const email = uniqueEmail('spaces');
    const register = await t.http
      .post('/api/auth/register')
      .set('X-Forwarded-For', randomIp())
      .send({ email, password: 'correct horse battery', name: '   ', organizationName: ' \t ' });
    expect400(register, 'name should not be empty');
    expect(register.body.message).toEqual(expect.arrayContaining(['organizationName should not be empty']));
    expect(await t.prisma.user.count({ where: { email } })).toBe(0);
    const campaigns = () => t.prisma.campaign.count({ where: { organizationId: user.organizationId } });
    const before = await campaigns();
    expect400(await t.http.post('/api/campaigns').set(bearer(user.token)).send({ name: '   ', channel: 'EMAIL', content: 'Oi' }), 'name should not be empty');
    expect400(await t.http.post('/api/campaigns').set(bearer(user.token)).send({ name: 'Promo', channel: 'EMAIL', content: 'Oi', tag: '  ' }), 'tag should not be empty');
    expect(await campaigns()).toBe(before);
    // A text of only spaces says nothing (a flow's SEND_MESSAGE step already refused one); its own spacing is kept.
    expect400(await t.http.post('/api/campaigns').set(bearer(user.token)).send({ name: 'Promo', channel: 'EMAIL', content: ' \n ' }), 'content must not be only spaces');
    expect400(await t.http.post('/api/messages').set(bearer(user.token)).send({ contactId, channel: 'EMAIL', content: '   ' }), 'content must not be only spaces');
    const post = { platform: 'FACEBOOK', content: '  ', scheduledFor: new Date(Date.now() + 3600_000).toISOString() };
    expect400(await t.http.post('/api/social-posts').set(bearer(user.token)).send(post), 'content must not be only spaces');
    expect(await t.prisma.message.count({ where: { organizationId: user.organizationId, content: '   ' } })).toBe(0);
    const trimmed = await t.http.post('/api/campaigns').set(bearer(user.token)).send({ name: '  Promo  ', channel: 'EMAIL', content: 'Oi', tag: ' nobody ' });
    expect(trimmed.status).toBe(202);
    expect(trimmed.body).toMatchObject({ name: 'Promo', tag: 'nobody' });
  });

  it('lists every offending field in one 400, the checks of the channel and step registries included', async () => {
    const message = await t.http.post('/api/messages').set(bearer(user.token)).send({ contactId: '', channel: 'FAX', content: 7 });
    expect(message.status).toBe(400);
    expect(message.body.message).toEqual(
      expect.arrayContaining([
        'contactId should not be empty',
        'content must be a string',
        'channel must be one of the following values: WHATSAPP, EMAIL, SMS, INSTAGRAM_DM',
      ]),
    );
    const campaign = await t.http.post('/api/campaigns').set(bearer(user.token)).send({ name: '', channel: 'FAX', content: 'Oi' });
    expect(campaign.body.message).toEqual(['name should not be empty', 'channel must be one of the following values: WHATSAPP, EMAIL, SMS, INSTAGRAM_DM']);
    const template = { name: 'promo', language: 'pt_BR', variables: [] };
    const both = await t.http.post('/api/campaigns').set(bearer(user.token)).send({ name: '', channel: 'EMAIL', content: 'Oi', template });
    expect(both.body.message).toEqual(['name should not be empty', 'template is only for the WHATSAPP channel', 'give either content or template, not both']);
    const onEmail = await t.http.post('/api/messages').set(bearer(user.token)).send({ contactId, channel: 'EMAIL', template, mediaUrl: 'x' });
    expect(onEmail.body.message).toEqual(['mediaUrl must be a URL address', 'template is only for the WHATSAPP channel']);
    const flows = () => t.prisma.flow.count({ where: { organizationId: user.organizationId } });
    const before = await flows();
    const flow = await t.http
      .post('/api/flows')
      .set(bearer(user.token))
      .send({ name: '', active: 'yes', trigger: { type: 'MANUAL' }, steps: [{ type: 'WAIT', seconds: 0 }, { type: 'TELEPORT' }] });
    expect(flow.status).toBe(400);
    expect(flow.body.message).toEqual(
      expect.arrayContaining(['name should not be empty', 'active must be a boolean value', 'steps[0].seconds must be a positive integer', expect.stringMatching(/^steps\[1\]\.type must be one of /)]),
    );
    expect(await flows()).toBe(before);
    const created = await t.http.post('/api/flows').set(bearer(user.token)).send({ name: 'F', trigger: { type: 'MANUAL' }, steps: [{ type: 'ADD_TAG', tag: 'x' }] });
    expect(created.status).toBe(201);
    const patch = await t.http.patch(`/api/flows/${created.body.id}`).set(bearer(user.token)).send({ name: '', steps: [] });
    expect(patch.body.message).toEqual(['name should not be empty', 'steps must contain at least 1 step']);
    expect((await t.http.post('/api/campaigns').set(bearer(user.token)).send({ name: 'ok', channel: 'EMAIL', content: 'Oi', tag: 'nobody' })).status).toBe(202);
  });

  it('answers a form or plain-text body on a JSON route 415 in the error shape, storing nothing', async () => {
    const before = await contacts();
    for (const [type, body] of [['form', 'name=Ana'], ['text/plain', '{"name":"Ana"}'], ['text/plain; charset=utf-8', '{"name":"Ana"}']]) {
      const res = await t.http.post('/api/contacts').set(bearer(user.token)).type(type).send(body);
      expect(res.status).toBe(415);
      expect(res.body).toEqual({ statusCode: 415, error: 'Unsupported Media Type', message: 'Send the body as JSON, with Content-Type: application/json.' });
    }
    const connect = await t.http.put('/api/channels/facebook').set(bearer(user.token)).type('form').send('pageId=1&accessToken=x');
    expect(connect.status).toBe(415);
    expect(await contacts()).toBe(before);
    // A route that reads no body does not mind one.
    const scheduled = await t.http
      .post('/api/messages')
      .set(bearer(user.token))
      .send({ contactId, channel: 'EMAIL', content: 'x', scheduledFor: new Date(Date.now() + 3600_000).toISOString() });
    const canceled = await t.http.delete(`/api/messages/${scheduled.body.id}`).set(bearer(user.token)).type('text/plain').send('cancel');
    expect(canceled.status).toBe(200);
    await t.prisma.message.delete({ where: { id: scheduled.body.id } });
  });

  it('refuses list pages past the first 10,000 rows, naming page', async () => {
    const last = await t.http.get('/api/contacts?page=500&limit=20').set(bearer(user.token));
    expect(last.status).toBe(200);
    const past = await t.http.get('/api/contacts?page=501&limit=20').set(bearer(user.token));
    expect400(past, 'page must be at most 500 with this limit');
    expect400(await t.http.get('/api/messages?page=101&limit=100').set(bearer(user.token)), 'page must be at most 100');
    // Not a number at all: said once, without a window that has nothing to do with it.
    const text = await t.http.get('/api/contacts?page=abc').set(bearer(user.token));
    expect400(text, 'page must be an integer number');
    expect(JSON.stringify(text.body.message)).not.toContain('at most');
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

  it('refuses null where a property may only be left out, naming it, and changes nothing', async () => {
    const admin = await fixtures.createAdmin();
    const before = await t.prisma.organization.findUniqueOrThrow({ where: { id: user.organizationId } });
    for (const field of ['plan', 'maxContacts', 'maxMessagesPerMonth']) {
      const res = await t.http.patch(`/api/admin/organizations/${user.organizationId}`).set(bearer(admin.token)).send({ [field]: null });
      expect400(res, field);
    }
    const after = await t.prisma.organization.findUniqueOrThrow({ where: { id: user.organizationId } });
    expect({ plan: after.plan, maxContacts: after.maxContacts, maxMessagesPerMonth: after.maxMessagesPerMonth }).toEqual({
      plan: before.plan,
      maxContacts: before.maxContacts,
      maxMessagesPerMonth: before.maxMessagesPerMonth,
    });

    const scheduledFor = new Date(Date.now() + 3_600_000).toISOString();
    const post = await t.http.post('/api/social-posts').set(bearer(user.token)).send({ platform: 'FACEBOOK', content: 'Promoção', scheduledFor });
    expect(post.status).toBe(201);
    for (const field of ['content', 'scheduledFor']) {
      expect400(await t.http.patch(`/api/social-posts/${post.body.id}`).set(bearer(user.token)).send({ [field]: null }), field);
    }
    const row = await t.prisma.socialPost.findUniqueOrThrow({ where: { id: post.body.id } });
    expect({ content: row.content, scheduledFor: row.scheduledFor.toISOString() }).toEqual({ content: 'Promoção', scheduledFor });
    // Where null means something it is still taken: the image removed.
    expect((await t.http.patch(`/api/social-posts/${post.body.id}`).set(bearer(user.token)).send({ imageUrl: null })).status).toBe(200);
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
