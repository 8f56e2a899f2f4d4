import { JobName, QueueName } from '../../src/core/queues/queue.catalogue';
import { SESSION_COOKIE } from '../../src/core/auth/auth.types';
import { Fixtures, RegisteredUser, bearer, randomIp } from '../utils/factories';
import { TestApp, createTestApp } from '../utils/test-app';

const cookie = (token: string) => ({ Cookie: `${SESSION_COOKIE}=${token}` });

/** Every spelling and method that could reach a board route, each of which must pass the ADMIN check. */
const BOARD_REQUESTS: Array<[method: 'get' | 'head' | 'put' | 'post' | 'delete', path: string]> = [
  ['get', '/admin/queues'],
  ['get', '/admin/queues/'],
  ['head', '/admin/queues'],
  ['get', '/admin/queues?x=1'],
  ['get', '/admin/queues/queue/messages'],
  ['get', '/admin/queues/api/queues'],
  ['get', '/admin/queues/api/queues/'],
  ['head', '/admin/queues/api/queues'],
  ['get', '/admin/queues/api/queues?activeQueue=messages&status=latest'],
  ['get', '/admin/queues/api/redis/stats'],
  ['get', '/admin/queues/static/favicon-32x32.png'],
  ['put', '/admin/queues/api/queues/messages/pause'],
  ['put', '/admin/queues/api/queues/pause'],
  ['delete', '/admin/queues/api/queues/emails/obliterate'],
  ['post', '/admin/queues/api/queues/emails/add'],
  ['get', '/admin/%71ueues/api/queues'],
  ['get', '/%61dmin/queues'],
  ['get', '/admin/queues/%61pi/queues'],
  ['get', '/admin/queues/api/queues%2F'],
  ['get', '/admin//queues/api/queues'],
  ['get', '/admin/queues/static/../api/queues'],
  ['get', '/admin/queues/static/..%2fapi/queues'],
  ['get', '/ADMIN/queues'],
  ['get', '/Admin/Queues/api/queues'],
  ['get', '/admin/QUEUES/api/queues'],
  ['get', '/api/admin/queues'],
];

describe('Bull Board at /admin/queues (e2e)', () => {
  let t: TestApp;
  let fixtures: Fixtures;
  let admin: RegisteredUser;
  let loja: RegisteredUser;

  beforeAll(async () => {
    // API role: no processor of this app consumes the jobs the board is expected to show.
    t = await createTestApp({ APP_ROLE: 'api' });
    fixtures = new Fixtures(t);
    admin = await fixtures.createAdmin();
    loja = await fixtures.registerUser();
  });

  afterAll(async () => {
    await fixtures.cleanup();
    await t.close();
  });

  const send = (method: (typeof BOARD_REQUESTS)[number][0], path: string, headers: Record<string, string> = {}) =>
    t.http[method](path).set('X-Forwarded-For', randomIp()).set(headers);

  it('answers 401 without a session, on every path and method that reaches the board', async () => {
    for (const [method, path] of BOARD_REQUESTS) {
      const res = await send(method, path);
      expect([401, 404]).toContain(res.status);
      if (res.status === 401 && method !== 'head') {
        expect(res.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
      }
    }
    // The canonical spellings are board routes, so they must be refused, not merely missing.
    for (const path of ['/admin/queues', '/admin/queues/', '/admin/queues/api/queues', '/admin/%71ueues/api/queues']) {
      expect((await send('get', path)).status).toBe(401);
    }
    expect((await send('head', '/admin/queues')).status).toBe(401);
  });

  it('answers 401 for an unknown or ended session', async () => {
    expect((await send('get', '/admin/queues', cookie('not-a-session'))).status).toBe(401);
    expect((await send('get', '/admin/queues/api/queues', bearer('not-a-session'))).status).toBe(401);
  });

  it('answers 403 to a LOJA user, by cookie or bearer, and changes nothing', async () => {
    for (const [method, path] of BOARD_REQUESTS) {
      for (const headers of [cookie(loja.token), bearer(loja.token)]) {
        const res = await send(method, path, headers);
        expect([403, 404]).toContain(res.status);
      }
    }
    expect((await send('get', '/admin/queues', cookie(loja.token))).body).toMatchObject({ statusCode: 403, error: 'Forbidden' });
    expect(await t.queue(QueueName.Messages).isPaused()).toBe(false);
  });

  it('serves the board and its API to an ADMIN session cookie, with the five queues and their counts', async () => {
    await t.queue(QueueName.Flows).add(JobName.ExecuteFlowStep, { executionId: 'bull-board-test', stepIndex: 0 }, { delay: 3_600_000 });
    await t.queue(QueueName.SocialPosts).add(JobName.PublishPost, { postId: 'bull-board-test', organizationId: 'none' });

    const page = await send('get', '/admin/queues', cookie(admin.token));
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.text).toContain('<base href="/admin/queues/"');
    expect(page.text).toContain('<title>Zyva queues</title>');

    const api = await send('get', '/admin/queues/api/queues', cookie(admin.token));
    expect(api.status).toBe(200);
    const queues = api.body.queues as Array<{ name: string; counts: Record<string, number> }>;
    expect(queues.map((q) => q.name).sort()).toEqual(['birthdays', 'emails', 'flows', 'messages', 'social-posts']);
    expect(queues.find((q) => q.name === 'flows')!.counts.delayed).toBe(1);
    expect(queues.find((q) => q.name === 'social-posts')!.counts.waiting).toBe(1);

    expect((await send('get', '/admin/queues/api/queues', bearer(admin.token))).status).toBe(200);
    expect((await send('head', '/admin/queues', cookie(admin.token))).status).toBe(200);
  });

  it("answers the API's input guard as a 400 on the board's routes too (a NUL in its path or query)", async () => {
    for (const path of ['/admin/queues/api/queues/messages/%00', '/admin/queues/api/queues?activeQueue=%00']) {
      const res = await send('get', path, cookie(admin.token));
      expect({ path, status: res.status }).toEqual({ path, status: 400 });
    }
  });

  it('refuses cross-origin writes made with the ADMIN cookie, and allows the board page to pause and resume', async () => {
    const messages = t.queue(QueueName.Messages);
    const foreign = await send('put', '/admin/queues/api/queues/messages/pause', {
      ...cookie(admin.token),
      Origin: 'https://evil.example',
    });
    expect(foreign.status).toBe(403);
    const crossSite = await send('put', '/admin/queues/api/queues/messages/pause', {
      ...cookie(admin.token),
      'Sec-Fetch-Site': 'cross-site',
    });
    expect(crossSite.status).toBe(403);
    expect(await messages.isPaused()).toBe(false);

    const own = await send('put', '/admin/queues/api/queues/messages/pause', {
      ...cookie(admin.token),
      Host: 'zyva.test',
      Origin: 'http://zyva.test',
      'Sec-Fetch-Site': 'same-origin',
    });
    expect(own.status).toBe(200);
    expect(await messages.isPaused()).toBe(true);
    expect((await send('put', '/admin/queues/api/queues/messages/resume', cookie(admin.token))).status).toBe(200);
    expect(await messages.isPaused()).toBe(false);
  });

  it('closes the board once the ADMIN logs out', async () => {
    const session = await fixtures.createAdmin();
    expect((await send('get', '/admin/queues', cookie(session.token))).status).toBe(200);
    expect((await t.http.post('/api/auth/logout').set(bearer(session.token))).status).toBe(204);
    expect((await send('get', '/admin/queues', cookie(session.token))).status).toBe(401);
  });
});
