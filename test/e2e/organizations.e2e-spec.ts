import { bearer, Fixtures } from '../utils/factories';
import { createTestApp, TestApp } from '../utils/test-app';

describe('organizations, roles and tenancy (e2e)', () => {
  let t: TestApp;
  let fx: Fixtures;

  beforeAll(async () => {
    t = await createTestApp();
    fx = new Fixtures(t);
  });

  afterAll(async () => {
    await fx.cleanup();
    await t.close();
  });

  it("GET /api/organization answers the caller's own organization only", async () => {
    const a = await fx.registerUser({ organizationName: 'Alpha' });
    const b = await fx.registerUser({ organizationName: 'Beta' });
    const resA = await t.http.get('/api/organization').set(bearer(a.token));
    const resB = await t.http.get('/api/organization').set(bearer(b.token));
    expect(resA.status).toBe(200);
    expect(resA.body).toEqual({
      id: a.organizationId,
      name: 'Alpha',
      plan: 'FREE',
      maxContacts: 100,
      currentContacts: 0,
      maxMessagesPerMonth: 300,
      messagesThisMonth: 0,
    });
    expect(resB.body.id).toBe(b.organizationId);
    expect(resB.body.name).toBe('Beta');
  });

  it('refuses ADMIN-only routes to a LOJA user with 403, and to no one with 401', async () => {
    const u = await fx.registerUser();
    for (const [method, path] of [
      ['get', '/api/admin/organizations'],
      ['get', `/api/admin/organizations/${u.organizationId}`],
      ['patch', `/api/admin/organizations/${u.organizationId}`],
    ] as const) {
      const forbidden = await t.http[method](path).set(bearer(u.token)).send({ plan: 'ENTERPRISE' });
      expect(forbidden.status).toBe(403);
      expect(forbidden.body).toEqual({ statusCode: 403, error: 'Forbidden', message: expect.any(String) });
      expect((await t.http[method](path).send({})).status).toBe(401);
    }
    const org = await t.prisma.organization.findUniqueOrThrow({ where: { id: u.organizationId } });
    expect(org.plan).toBe('FREE');
  });

  it('lets an ADMIN list, read and change organizations; a plan change applies at once', async () => {
    const admin = await fx.createAdmin();
    const u = await fx.registerUser({ organizationName: 'Gamma' });

    const before = await t.http.get('/api/organization').set(bearer(u.token));
    expect(before.body.plan).toBe('FREE');

    const list = await t.http.get('/api/admin/organizations?page=1&limit=100').set(bearer(admin.token));
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject({ page: 1, limit: 100, total: expect.any(Number) });
    expect(list.body.total).toBeGreaterThanOrEqual(1);

    const one = await t.http.get(`/api/admin/organizations/${u.organizationId}`).set(bearer(admin.token));
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: u.organizationId, name: 'Gamma', plan: 'FREE' });

    const patch = await t.http
      .patch(`/api/admin/organizations/${u.organizationId}`)
      .set(bearer(admin.token))
      .send({ plan: 'PRO' });
    expect(patch.status).toBe(200);
    expect(patch.body).toMatchObject({ plan: 'PRO', maxContacts: 2000, maxMessagesPerMonth: 10000 });
    const row = await t.prisma.organization.findUniqueOrThrow({ where: { id: u.organizationId } });
    expect(row).toMatchObject({ plan: 'PRO', maxContacts: 2000, maxMessagesPerMonth: 10000 });

    const after = await t.http.get('/api/organization').set(bearer(u.token));
    expect(after.body).toMatchObject({ plan: 'PRO', maxContacts: 2000 });
    const me = await t.http.get('/api/auth/me').set(bearer(u.token));
    expect(me.body.plan).toBe('PRO');

    const override = await t.http
      .patch(`/api/admin/organizations/${u.organizationId}`)
      .set(bearer(admin.token))
      .send({ maxContacts: 5 });
    expect(override.body).toMatchObject({ plan: 'PRO', maxContacts: 5, maxMessagesPerMonth: 10000 });
  });

  it('validates admin changes and answers 404 for unknown organizations', async () => {
    const admin = await fx.createAdmin();
    const u = await fx.registerUser();
    const bad = await t.http
      .patch(`/api/admin/organizations/${u.organizationId}`)
      .set(bearer(admin.token))
      .send({ plan: 'GOLD', maxContacts: '10', extra: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toEqual(
      expect.arrayContaining([
        expect.stringContaining('plan'),
        expect.stringContaining('maxContacts'),
        'property extra should not exist',
      ]),
    );
    const row = await t.prisma.organization.findUniqueOrThrow({ where: { id: u.organizationId } });
    expect(row.plan).toBe('FREE');

    const missing = await t.http.get('/api/admin/organizations/does-not-exist').set(bearer(admin.token));
    expect(missing.status).toBe(404);
    const missingPatch = await t.http
      .patch('/api/admin/organizations/does-not-exist')
      .set(bearer(admin.token))
      .send({ plan: 'PRO' });
    expect(missingPatch.status).toBe(404);
  });

  it('refuses tenant routes to an ADMIN without an organization (403)', async () => {
    const admin = await fx.createAdmin();
    const res = await t.http.get('/api/organization').set(bearer(admin.token));
    expect(res.status).toBe(403);
    const me = await t.http.get('/api/auth/me').set(bearer(admin.token));
    expect(me.body).toMatchObject({ role: 'ADMIN', organizationId: null, plan: null });
  });
});
