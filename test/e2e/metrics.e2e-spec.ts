import { spawnSync } from 'node:child_process';
import { Worker } from 'bullmq';
import { JobName, QueueName } from '../../src/core/queues/queue.catalogue';
import { Fixtures, RegisteredUser, bearer, randomIp, waitFor } from '../utils/factories';
import { TestApp, createTestApp, scanKeys, unlinkKeys } from '../utils/test-app';

const METRICS_TOKEN = 'metrics-e2e-token-0123456789';

/** The value of one sample in Prometheus text format, 0 when the series does not exist yet. */
function sampleOf(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const found = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (found) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

describe('GET /metrics (e2e)', () => {
  let t: TestApp;
  let fixtures: Fixtures;
  let loja: RegisteredUser;
  let admin: RegisteredUser;
  const workers: Worker[] = [];

  const scrape = async () => {
    const res = await t.http.get('/metrics').set(bearer(METRICS_TOKEN));
    expect(res.status).toBe(200);
    return res.text;
  };

  beforeAll(async () => {
    // API role: this app runs no processors, so only the test's own worker (another "process") finishes jobs.
    t = await createTestApp({ APP_ROLE: 'api', METRICS_TOKEN, AUTH_RATE_LIMIT: '2' });
    fixtures = new Fixtures(t);
    loja = await fixtures.registerUser();
    await fixtures.setPlan(loja.organizationId, 'ENTERPRISE');
    admin = await fixtures.createAdmin();
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close()));
    await fixtures.cleanup();
    await t.close();
  });

  it('needs the METRICS_TOKEN bearer when one is set', async () => {
    expect((await t.http.get('/metrics')).status).toBe(401);
    expect((await t.http.get('/metrics').set(bearer('wrong'))).status).toBe(401);
    expect((await t.http.get('/metrics').set(bearer(loja.token))).status).toBe(401);
    expect((await t.http.get('/metrics').set('Authorization', `bearer ${METRICS_TOKEN}`)).status).toBe(200);
    const res = await t.http.get('/metrics').set(bearer(METRICS_TOKEN));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.text).toContain('# TYPE zyva_http_requests_total counter');
    expect(res.text).toContain('# TYPE zyva_http_request_duration_seconds histogram');
    expect(res.text).not.toContain(METRICS_TOKEN);
  });

  it('counts requests and their latency by route pattern and status', async () => {
    const me = { method: 'GET', route: '/api/auth/me', status_code: '200' };
    const denied = { method: 'GET', route: '/api/auth/me', status_code: '401' };
    const orgById = { method: 'GET', route: '/api/admin/organizations/:id', status_code: '200' };
    const before = await scrape();

    expect((await t.http.get('/api/auth/me').set(bearer(loja.token))).status).toBe(200);
    expect((await t.http.get('/api/auth/me')).status).toBe(401);
    expect((await t.http.get(`/api/admin/organizations/${loja.organizationId}`).set(bearer(admin.token))).status).toBe(200);
    expect((await t.http.get('/no/such/route/abc123')).status).toBe(404);

    const after = await scrape();
    expect(sampleOf(after, 'zyva_http_requests_total', me) - sampleOf(before, 'zyva_http_requests_total', me)).toBe(1);
    expect(sampleOf(after, 'zyva_http_requests_total', denied) - sampleOf(before, 'zyva_http_requests_total', denied)).toBe(1);
    expect(sampleOf(after, 'zyva_http_request_duration_seconds_count', me) - sampleOf(before, 'zyva_http_request_duration_seconds_count', me)).toBe(1);
    expect(sampleOf(after, 'zyva_http_requests_total', orgById) - sampleOf(before, 'zyva_http_requests_total', orgById)).toBe(1);
    expect(sampleOf(after, 'zyva_http_requests_total', { route: 'unmatched', status_code: '404' })).toBeGreaterThanOrEqual(1);
    // Raw URLs never become labels: bounded cardinality.
    expect(after).not.toContain(loja.organizationId);
    expect(after).not.toContain('abc123');
  });

  it('counts cache hits and misses of cached routes', async () => {
    const hit = { route: '/api/dashboard/stats', result: 'hit' };
    const miss = { route: '/api/dashboard/stats', result: 'miss' };
    const cache = t.get<{ invalidateOrganization(id: string): Promise<void> }>('core/cache/cache.service', 'CacheService');
    await cache.invalidateOrganization(loja.organizationId);
    const before = await scrape();
    const first = await t.http.get('/api/dashboard/stats').set(bearer(loja.token));
    const second = await t.http.get('/api/dashboard/stats').set(bearer(loja.token));
    expect([first.headers['x-cache'], second.headers['x-cache']]).toEqual(['MISS', 'HIT']);

    const after = await scrape();
    expect(sampleOf(after, 'zyva_cache_responses_total', miss) - sampleOf(before, 'zyva_cache_responses_total', miss)).toBe(1);
    expect(sampleOf(after, 'zyva_cache_responses_total', hit) - sampleOf(before, 'zyva_cache_responses_total', hit)).toBe(1);
  });

  it('counts throttled requests', async () => {
    const throttled = { route: '/api/auth/login' };
    const before = await scrape();
    const ip = randomIp();
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await t.http.post('/api/auth/login').set('X-Forwarded-For', ip).send({ email: 'nobody@test.zyva.dev', password: 'wrong password' });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([401, 401, 429]);
    for await (const limiterKeys of scanKeys(t.redis, `zyva:ratelimit:*${ip}*`)) await unlinkKeys(t.redis, limiterKeys);
    const after = await scrape();
    expect(sampleOf(after, 'zyva_http_throttled_total', throttled) - sampleOf(before, 'zyva_http_throttled_total', throttled)).toBe(1);
  });

  it('counts jobs completed and failed by a worker in another process, and samples queue depths', async () => {
    const emails = t.queue(QueueName.Emails);
    // Registering the test users queued verification emails: only this test's jobs may reach the worker.
    await emails.drain();
    workers.push(
      new Worker(
        QueueName.Emails,
        async (job) => {
          if (job.data.userId === 'u-fail') throw new Error('mailbox unavailable');
          return 'sent';
        },
        { connection: emails.opts.connection, prefix: emails.opts.prefix },
      ),
    );
    const before = await scrape();
    const ok = await emails.add(JobName.SendEmail, { template: 'verify-email', userId: 'u-ok', ref: 'metrics-ok' });
    const bad = await emails.add(JobName.SendEmail, { template: 'verify-email', userId: 'u-fail', ref: 'metrics-fail' }, { attempts: 1 });
    await waitFor(async () => (await ok.getState()) === 'completed' && (await bad.getState()) === 'failed');

    const completed = { queue: 'emails' };
    const after = await waitFor(async () => {
      const text = await scrape();
      return sampleOf(text, 'zyva_queue_jobs_completed_total', completed) > sampleOf(before, 'zyva_queue_jobs_completed_total', completed) &&
        sampleOf(text, 'zyva_queue_jobs_failed_total', completed) > sampleOf(before, 'zyva_queue_jobs_failed_total', completed)
        ? text
        : null;
    });
    expect(sampleOf(after, 'zyva_queue_jobs_completed_total', completed) - sampleOf(before, 'zyva_queue_jobs_completed_total', completed)).toBe(1);
    expect(sampleOf(after, 'zyva_queue_jobs_failed_total', completed) - sampleOf(before, 'zyva_queue_jobs_failed_total', completed)).toBe(1);

    // Depths: a delayed job, a waiting job (no worker on that queue) and the failed email above.
    await t.queue(QueueName.Flows).add(JobName.ExecuteFlowStep, { executionId: 'metrics-test', stepIndex: 0 }, { delay: 3_600_000 });
    await t.queue(QueueName.SocialPosts).add(JobName.PublishPost, { postId: 'metrics-test', organizationId: 'none' });
    const sampled = await waitFor(async () => {
      const text = await scrape();
      return sampleOf(text, 'zyva_queue_jobs', { queue: 'flows', state: 'delayed' }) === 1 &&
        sampleOf(text, 'zyva_queue_jobs', { queue: 'social-posts', state: 'waiting' }) === 1
        ? text
        : null;
    });
    expect(sampleOf(sampled, 'zyva_queue_jobs', { queue: 'emails', state: 'failed' })).toBe(1);
    expect(sampleOf(sampled, 'zyva_queue_jobs', { queue: 'emails', state: 'waiting' })).toBe(0);
    for (const queue of ['messages', 'flows', 'birthdays', 'social-posts', 'emails']) {
      for (const state of ['waiting', 'active', 'delayed', 'failed']) {
        expect(sampled).toMatch(new RegExp(`zyva_queue_jobs\\{queue="${queue}",state="${state}"\\} \\d+`));
      }
    }
    expect(sampleOf(sampled, 'zyva_queue_sampled_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 30);
  });
});

describe('GET /metrics without METRICS_TOKEN (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp({ APP_ROLE: 'api', METRICS_TOKEN: '' });
  });

  afterAll(() => t.close());

  it('is open, for scrapers inside a private network', async () => {
    const res = await t.http.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toContain('zyva_http_requests_total');
  });

  it("shows every queue's waiting, active, delayed, failed and completed series from startup, at 0 before any job", async () => {
    const text = (await t.http.get('/metrics')).text;
    for (const queue of ['messages', 'flows', 'birthdays', 'social-posts', 'emails']) {
      for (const state of ['waiting', 'active', 'delayed', 'failed']) {
        expect(text).toMatch(new RegExp(`^zyva_queue_jobs\\{queue="${queue}",state="${state}"\\} 0$`, 'm'));
      }
      expect(text).toMatch(new RegExp(`^zyva_queue_jobs_completed_total\\{queue="${queue}"\\} 0$`, 'm'));
      expect(text).toMatch(new RegExp(`^zyva_queue_jobs_failed_total\\{queue="${queue}"\\} 0$`, 'm'));
    }
  });

  it('passes promtool check metrics (Prometheus naming and format rules)', async () => {
    const text = (await t.http.get('/metrics')).text;
    const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    if (promtool.error) throw new Error(`promtool is not installed (Debian package "prometheus"; .ci/run installs it): ${promtool.error.message}`);
    expect({ status: promtool.status, problems: `${promtool.stdout}${promtool.stderr}`.trim() }).toEqual({ status: 0, problems: '' });
  });
});
