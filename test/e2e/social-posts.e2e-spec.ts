import { randomBytes } from 'node:crypto';
import { QueueName } from '../../src/core/queues/queue.catalogue';
import { bearer, Fixtures, RegisteredUser, waitFor } from '../utils/factories';
import { StandIn, graphError, startGraphStandIn, startXStandIn, xErrors } from '../utils/provider-stand-ins';
import { createTestApp, TestApp } from '../utils/test-app';

const IG = { instagramAccountId: '17841400000000001', instagramToken: 'ig-token-test' };
const FB = { facebookPageId: '104000000000001', facebookPageToken: 'fb-page-token-test' };
const X_TOKEN = 'x-bearer-test';

const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();

describe('social posts (e2e)', () => {
  let graph: StandIn;
  let x: StandIn;
  let t: TestApp;
  let fx: Fixtures;
  let user: RegisteredUser;

  beforeAll(async () => {
    graph = await startGraphStandIn({ ...IG, ...FB });
    x = await startXStandIn({ bearerToken: X_TOKEN });
    t = await createTestApp({
      GRAPH_API_URL: graph.url,
      INSTAGRAM_ACCOUNT_ID: IG.instagramAccountId,
      INSTAGRAM_TOKEN: IG.instagramToken,
      FACEBOOK_PAGE_ID: FB.facebookPageId,
      FACEBOOK_PAGE_TOKEN: FB.facebookPageToken,
      TWITTER_API_URL: x.url,
      TWITTER_BEARER_TOKEN: X_TOKEN,
    });
    fx = new Fixtures(t);
    user = await fx.registerUser();
    await fx.setPlan(user.organizationId, 'ENTERPRISE');
  });

  afterAll(async () => {
    await fx.cleanup();
    await t.close();
    await graph.close();
    await x.close();
  });

  const api = () => ({
    post: (body: object) => t.http.post('/api/social-posts').set(bearer(user.token)).send(body),
    get: (id: string) => t.http.get(`/api/social-posts/${id}`).set(bearer(user.token)),
  });
  const row = (id: string) => t.prisma.socialPost.findUniqueOrThrow({ where: { id } });
  const publishJob = (id: string) => t.queue(QueueName.SocialPosts).getJob(id);

  it('refuses what the platform would refuse, and stores nothing', async () => {
    const cases: [object, string][] = [
      [{ platform: 'INSTAGRAM', content: 'sem foto', scheduledFor: inMs(60_000) }, 'imageUrl is required for INSTAGRAM'],
      [{ platform: 'TWITTER', content: 'x'.repeat(281), scheduledFor: inMs(60_000) }, 'content must be at most 280 characters for TWITTER'],
      [{ platform: 'TWITTER', content: 'ok', imageUrl: 'https://cdn.example.com/a.jpg', scheduledFor: inMs(60_000) }, 'imageUrl is not supported for TWITTER (text posts only)'],
      [{ platform: 'FACEBOOK', content: 'ontem', scheduledFor: inMs(-60_000) }, 'scheduledFor must be in the future'],
      [{ platform: 'FACEBOOK', content: 'só data', scheduledFor: '2031-01-01' }, 'scheduledFor must be a date-time (YYYY-MM-DDTHH:mm…)'],
      [{ platform: 'MYSPACE', content: 'oi', scheduledFor: inMs(60_000) }, 'platform must be one of the following values: INSTAGRAM, FACEBOOK, TWITTER'],
      [{ platform: 'FACEBOOK', content: 'oi', scheduledFor: inMs(60_000), extra: 1 }, 'property extra should not exist'],
    ];
    for (const [body, message] of cases) {
      const res = await api().post(body);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(res.body.message).toContain(message);
    }
    // 280 characters of emoji are 280 characters, not 560 UTF-16 units.
    const emoji = await api().post({ platform: 'TWITTER', content: '🔥'.repeat(280), scheduledFor: inMs(60_000) });
    expect(emoji.status).toBe(201);
    await t.http.delete(`/api/social-posts/${emoji.body.id}`).set(bearer(user.token)).expect(200);
    expect(await t.prisma.socialPost.count({ where: { organizationId: user.organizationId, status: { not: 'CANCELED' } } })).toBe(0);
  });

  it('publishes an Instagram post 2 s ahead: media container, then media_publish', async () => {
    graph.reset();
    const imageUrl = `https://cdn.example.com/${randomBytes(4).toString('hex')}.jpg`;
    const created = await api().post({ platform: 'INSTAGRAM', content: 'Nova coleção chegou! 🔥', imageUrl, scheduledFor: inMs(2000) });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ id: expect.any(String), status: 'SCHEDULED', platform: 'INSTAGRAM', externalId: null });

    const job = await publishJob(created.body.id);
    expect(job).toBeDefined();
    expect(await job!.getState()).toBe('delayed');
    expect(job!.data).toEqual({ postId: created.body.id, organizationId: user.organizationId });
    expect(job!.opts.delay).toBeGreaterThan(1000);

    const published = await waitFor(async () => {
      const p = await row(created.body.id);
      return p.status === 'PUBLISHED' ? p : undefined;
    }, 10_000);
    expect(published.publishedAt!.getTime()).toBeGreaterThanOrEqual(new Date(created.body.scheduledFor).getTime() - 1000);

    const [container] = graph.requestsTo('ig-media');
    const [publish] = graph.requestsTo('ig-media-publish');
    expect(graph.requests.map((r) => r.route)).toEqual(['ig-media', 'ig-media-publish']);
    expect(container.params.igId).toBe(IG.instagramAccountId);
    expect(container.headers.authorization).toBe(`Bearer ${IG.instagramToken}`);
    expect(container.body).toEqual({ image_url: imageUrl, caption: 'Nova coleção chegou! 🔥' });
    expect(publish.body).toEqual({ creation_id: (container.response!.body as { id: string }).id });
    expect(published.externalId).toBe((publish.response!.body as { id: string }).id);
    expect(published.attempts).toBe(1);

    const res = await api().get(created.body.id);
    expect(res.body).toMatchObject({ status: 'PUBLISHED', externalId: published.externalId, attempts: 1, errorMessage: null });
  });

  it('retries an Instagram container that is not ready yet (Graph 9007): the next attempt checks the same container and publishes it', async () => {
    graph.reset();
    graph.script('ig-media-publish', graphError(9007, 'Media ID is not available', 400, { subcode: 2207027 }));
    const created = await api().post({ platform: 'INSTAGRAM', content: 'quase pronto', imageUrl: 'https://cdn.example.com/q.jpg', scheduledFor: inMs(200) });
    const published = await waitFor(async () => {
      const p = await row(created.body.id);
      return p.status === 'PUBLISHED' ? p : undefined;
    }, 15_000);
    expect(published.attempts).toBe(2);
    expect(graph.requests.map((r) => r.route)).toEqual(['ig-media', 'ig-media-publish', 'ig-container', 'ig-media-publish']);
    const containerId = (graph.requests[0].response!.body as { id: string }).id;
    expect(published.containerId).toBe(containerId);
    expect(graph.requests[2].path).toBe(`/${containerId}`);
    expect(graph.requests[2].query.fields).toBe('status_code');
    expect(graph.requests[3].body).toEqual({ creation_id: containerId });
    expect(published.externalId).toBe((graph.requests[3].response!.body as { id: string }).id);
  });

  it('never publishes a cancelled post, and removes its job', async () => {
    graph.reset();
    const created = await api().post({ platform: 'FACEBOOK', content: 'cancelado', scheduledFor: inMs(2000) });
    expect(created.status).toBe(201);
    const cancel = await t.http.delete(`/api/social-posts/${created.body.id}`).set(bearer(user.token));
    expect(cancel.status).toBe(200);
    expect(cancel.body.status).toBe('CANCELED');
    expect(await publishJob(created.body.id)).toBeUndefined();

    await new Promise((r) => setTimeout(r, 3000));
    expect(graph.requests).toHaveLength(0);
    expect((await row(created.body.id)).status).toBe('CANCELED');
    const again = await t.http.delete(`/api/social-posts/${created.body.id}`).set(bearer(user.token));
    expect(again.status).toBe(409);
    const patch = await t.http.patch(`/api/social-posts/${created.body.id}`).set(bearer(user.token)).send({ scheduledFor: inMs(5000) });
    expect(patch.status).toBe(409);
  });

  it('reschedules: the delayed job moves, and the page post goes out at the new time', async () => {
    graph.reset();
    const created = await api().post({ platform: 'FACEBOOK', content: 'Promoção de verão', scheduledFor: inMs(1500) });
    const later = inMs(4000);
    const patch = await t.http.patch(`/api/social-posts/${created.body.id}`).set(bearer(user.token)).send({ scheduledFor: later });
    expect(patch.status).toBe(200);
    expect(patch.body.scheduledFor).toBe(later);
    const job = await publishJob(created.body.id);
    expect(await job!.getState()).toBe('delayed');

    await new Promise((r) => setTimeout(r, 2500));
    expect(graph.requests).toHaveLength(0);
    expect((await row(created.body.id)).status).toBe('SCHEDULED');

    const published = await waitFor(async () => {
      const p = await row(created.body.id);
      return p.status === 'PUBLISHED' ? p : undefined;
    }, 10_000);
    expect(published.publishedAt!.getTime()).toBeGreaterThanOrEqual(new Date(later).getTime() - 1000);
    const [feed] = graph.requestsTo('page-feed');
    expect(graph.requests).toHaveLength(1);
    expect(feed.params.pageId).toBe(FB.facebookPageId);
    expect(feed.headers.authorization).toBe(`Bearer ${FB.facebookPageToken}`);
    expect(feed.body).toEqual({ message: 'Promoção de verão' });
    expect(published.externalId).toBe((feed.response!.body as { id: string }).id);
  });

  it('a job that comes due for a post moved later waits again instead of publishing early', async () => {
    graph.reset();
    const created = await api().post({ platform: 'FACEBOOK', content: 'adiado', scheduledFor: inMs(500) });
    // Moved behind the queue's back (as if the API's job move had failed): the worker must notice.
    const later = new Date(Date.now() + 3000);
    await t.prisma.socialPost.update({ where: { id: created.body.id }, data: { scheduledFor: later } });
    await new Promise((r) => setTimeout(r, 1500));
    expect(graph.requests).toHaveLength(0);
    expect((await row(created.body.id)).status).toBe('SCHEDULED');
    const job = await publishJob(created.body.id);
    expect(await job!.getState()).toBe('delayed');

    const published = await waitFor(async () => {
      const p = await row(created.body.id);
      return p.status === 'PUBLISHED' ? p : undefined;
    }, 10_000);
    expect(published.publishedAt!.getTime()).toBeGreaterThanOrEqual(later.getTime() - 1000);
    expect(published.attempts).toBe(1);
    expect(graph.requestsTo('page-feed')).toHaveLength(1);
  });

  it('posts a Facebook photo with its caption and records the post id', async () => {
    graph.reset();
    const created = await api().post({
      platform: 'FACEBOOK',
      content: 'Vitrine nova',
      imageUrl: 'https://cdn.example.com/vitrine.jpg',
      scheduledFor: inMs(300),
    });
    const published = await waitFor(async () => {
      const p = await row(created.body.id);
      return p.status === 'PUBLISHED' ? p : undefined;
    }, 10_000);
    const [photo] = graph.requestsTo('page-photos');
    expect(photo.body).toEqual({ url: 'https://cdn.example.com/vitrine.jpg', caption: 'Vitrine nova' });
    expect(published.externalId).toBe((photo.response!.body as { post_id: string }).post_id);
  });

  it('retries a 5xx from X and records the tweet id; a 403 fails at once with the reason', async () => {
    x.reset();
    x.script('tweets', { status: 503, body: { title: 'Service Unavailable', detail: 'Service Unavailable', type: 'about:blank', status: 503 } });
    const text = `Frete grátis hoje ${randomBytes(3).toString('hex')}`;
    const ok = await api().post({ platform: 'TWITTER', content: text, scheduledFor: inMs(200) });
    const published = await waitFor(async () => {
      const p = await row(ok.body.id);
      return p.status === 'PUBLISHED' ? p : undefined;
    }, 15_000);
    expect(published.attempts).toBe(2);
    const tweets = x.requestsTo('tweets');
    expect(tweets).toHaveLength(2);
    expect(tweets[1].body).toEqual({ text });
    expect(tweets[1].headers.authorization).toBe(`Bearer ${X_TOKEN}`);
    expect(published.externalId).toBe((tweets[1].response!.body as { data: { id: string } }).data.id);

    x.reset();
    x.script('tweets', xErrors.duplicate());
    const dup = await api().post({ platform: 'TWITTER', content: text, scheduledFor: inMs(200) });
    const failed = await waitFor(async () => {
      const p = await row(dup.body.id);
      return p.status === 'FAILED' ? p : undefined;
    }, 10_000);
    expect(failed.attempts).toBe(1);
    expect(failed.failedAt).not.toBeNull();
    expect(failed.errorMessage).toContain('You are not allowed to create a Tweet with duplicate content.');
    await new Promise((r) => setTimeout(r, 500));
    expect(x.requestsTo('tweets')).toHaveLength(1);
  });

  it('marks FAILED only after the third attempt when the platform keeps failing', async () => {
    graph.reset();
    const unavailable = graphError(2, 'Service temporarily unavailable', 503);
    graph.script('page-feed', unavailable, unavailable, unavailable);
    const created = await api().post({ platform: 'FACEBOOK', content: 'sempre 503', scheduledFor: inMs(200) });
    await waitFor(async () => ((await row(created.body.id)).attempts === 2 ? true : undefined), 10_000);
    const between = await row(created.body.id);
    expect(between.status).toBe('PUBLISHING');
    expect(between.errorMessage).toContain('Service temporarily unavailable');
    const failed = await waitFor(async () => {
      const p = await row(created.body.id);
      return p.status === 'FAILED' ? p : undefined;
    }, 20_000);
    expect(failed.attempts).toBe(3);
    expect(graph.requestsTo('page-feed')).toHaveLength(3);
    expect(failed.errorMessage).toContain('Service temporarily unavailable');
  });

  it('the reconciler queues a stored post whose job never reached Redis, and settles one stuck PUBLISHING', async () => {
    graph.reset();
    const old = new Date(Date.now() - 10 * 60_000);
    const stranded = await t.prisma.socialPost.create({
      data: { organizationId: user.organizationId, platform: 'FACEBOOK', content: 'resgatado', scheduledFor: new Date(Date.now() + 1000), updatedAt: old },
    });
    // Claimed by a worker that died mid-call long ago, and its job is gone too (Redis lost it).
    const stuck = await t.prisma.socialPost.create({
      data: { organizationId: user.organizationId, platform: 'FACEBOOK', content: 'travado', scheduledFor: old, status: 'PUBLISHING', attempts: 1, claimedAt: old, leaseUntil: old, updatedAt: old },
    });
    const reconciler = t.get<{ run(): Promise<{ requeued: number; failed: number }> }>(
      'modules/social-posts/social-post-reconciler.service',
      'SocialPostReconcilerService',
    );
    const report = await reconciler.run();
    expect(report.requeued).toBeGreaterThanOrEqual(2);
    expect(await (await publishJob(stranded.id))!.getState()).toBe('delayed');
    const published = await waitFor(async () => {
      const p = await row(stranded.id);
      return p.status === 'PUBLISHED' ? p : undefined;
    }, 10_000);
    expect(published.publishedAt!.getTime()).toBeGreaterThanOrEqual(stranded.scheduledFor.getTime() - 1000);
    // The stuck post's outcome is unknown: it fails visibly rather than being posted a second time.
    const settled = await waitFor(async () => {
      const p = await row(stuck.id);
      return p.status === 'FAILED' ? p : undefined;
    }, 10_000);
    expect(settled.errorMessage).toContain('outcome unknown');
    expect(graph.requestsTo('page-feed').map((r) => r.body.message)).toEqual(['resgatado']);
  });

  it("lists and filters the organization's posts; another organization sees none of them", async () => {
    const list = await t.http.get('/api/social-posts?platform=FACEBOOK&page=1&limit=100').set(bearer(user.token));
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject({ page: 1, limit: 100, total: expect.any(Number) });
    expect(list.body.data.length).toBeGreaterThanOrEqual(4);
    expect(list.body.data.every((p: { platform: string }) => p.platform === 'FACEBOOK')).toBe(true);
    const canceled = await t.http.get('/api/social-posts?status=CANCELED').set(bearer(user.token));
    expect(canceled.body.data.every((p: { status: string }) => p.status === 'CANCELED')).toBe(true);

    const other = await fx.registerUser();
    const id = list.body.data[0].id;
    for (const res of [
      await t.http.get(`/api/social-posts/${id}`).set(bearer(other.token)),
      await t.http.patch(`/api/social-posts/${id}`).set(bearer(other.token)).send({ content: 'hack' }),
      await t.http.delete(`/api/social-posts/${id}`).set(bearer(other.token)),
    ]) {
      expect(res.status).toBe(404);
    }
    expect((await t.http.get('/api/social-posts').set(bearer(other.token))).body.total).toBe(0);
  });
});
