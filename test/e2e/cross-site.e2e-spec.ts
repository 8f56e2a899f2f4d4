import { Fixtures, RegisteredUser, bearer } from '../utils/factories';
import { TestApp, createTestApp } from '../utils/test-app';

/** The contract's Conventions: a cookie-authenticated change from another site is refused. */
describe('cross-site requests with the session cookie (e2e)', () => {
  let t: TestApp;
  let fixtures: Fixtures;
  let user: RegisteredUser;

  beforeAll(async () => {
    t = await createTestApp();
    fixtures = new Fixtures(t);
    user = await fixtures.registerUser();
  });

  afterAll(async () => {
    await fixtures.cleanup();
    await t.close();
  });

  const cookie = () => ({ Cookie: `zyva_session=${user.token}` });
  const contacts = () => t.prisma.contact.count({ where: { organizationId: user.organizationId } });

  it('refuses a cookie-authenticated write whose Origin or Sec-Fetch-Site names another site, storing nothing', async () => {
    const before = await contacts();
    const fromOrigin = await t.http.post('/api/contacts').set(cookie()).set('Origin', 'https://evil.example').send({ name: 'Eve' });
    expect(fromOrigin.status).toBe(403);
    expect(fromOrigin.body).toMatchObject({ statusCode: 403, error: 'Forbidden' });
    const fromSite = await t.http.post('/api/contacts').set(cookie()).set('Sec-Fetch-Site', 'cross-site').send({ name: 'Eve' });
    expect(fromSite.status).toBe(403);
    const sibling = await t.http.post('/api/contacts').set(cookie()).set('Sec-Fetch-Site', 'same-site').send({ name: 'Eve' });
    expect(sibling.status).toBe(403);
    // What an HTML form can send without a preflight: still the 403, not the 415 such a body gets otherwise.
    for (const [type, body] of [['form', 'name=Eve'], ['text/plain', '{"name":"Eve"}']]) {
      const form = await t.http.post('/api/contacts').set(cookie()).set('Origin', 'https://evil.example').type(type).send(body);
      expect(form.status).toBe(403);
    }
    expect(await contacts()).toBe(before);
  });

  it('lets through cookie writes without those headers or from the same origin, bearer writes, and reads', async () => {
    const plain = await t.http.post('/api/contacts').set(cookie()).send({ name: 'Sem cabeçalho' });
    expect(plain.status).toBe(201);
    const sameOrigin = await t.http.post('/api/contacts').set(cookie()).set('Sec-Fetch-Site', 'same-origin').send({ name: 'Mesma origem' });
    expect(sameOrigin.status).toBe(201);
    const ownOrigin = await t.http.post('/api/contacts').set(cookie()).set('Host', 'api.zyva.test').set('Origin', 'https://api.zyva.test').send({ name: 'Origem' });
    expect(ownOrigin.status).toBe(201);
    const viaBearer = await t.http.post('/api/contacts').set(bearer(user.token)).set('Origin', 'https://evil.example').set('Sec-Fetch-Site', 'cross-site').send({ name: 'Bearer' });
    expect(viaBearer.status).toBe(201);
    const read = await t.http.get('/api/contacts').set(cookie()).set('Sec-Fetch-Site', 'cross-site');
    expect(read.status).toBe(200);
    expect(await contacts()).toBe(4);
  });
});
