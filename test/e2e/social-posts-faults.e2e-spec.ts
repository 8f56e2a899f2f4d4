import { Client } from 'pg';
import { randomBytes } from 'node:crypto';
import { QueueName } from '../../src/core/queues/queue.catalogue';
import { bearer, Fixtures, RegisteredUser, waitFor } from '../utils/factories';
import { GraphStandIn, SocialStandIn, startGraphStandIn, startXStandIn } from '../utils/provider-stand-ins';
import { TcpProxy } from '../utils/tcp-proxy';
import { createTestApp, TestApp } from '../utils/test-app';

const IG = { instagramAccountId: '17841400000000002', instagramToken: 'ig-token-faults' };
const FB = { facebookPageId: '104000000000002', facebookPageToken: 'fb-page-token-faults' };
const X_TOKEN = 'x-bearer-faults';
const TIMEOUT_MS = 3000;

const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();

/**
 * Social posts under faults, on one in-process API + worker whose Postgres is
 * reached through a TCP proxy the tests cut. Stand-ins hold a platform's
 * answer after the platform did the work, so the fault lands exactly between
 * "the platform accepted the post" and "Zyva recorded it".
 */
describe('social posts exactly once under faults (e2e)', () => {
  const proxy = new TcpProxy(new URL(process.env.DATABASE_URL!));
  /** Straight to Postgres, past the proxy: what the database holds while the app cannot reach it. */
  const direct = new Client({ connectionString: process.env.DATABASE_URL });
  let graph: GraphStandIn;
  let x: SocialStandIn;
  let t: TestApp;
  let fx: Fixtures;
  let user: RegisteredUser;
  let databaseCut = false;

  beforeAll(async () => {
    await proxy.start();
    await direct.connect();
    graph = await startGraphStandIn({ ...IG, ...FB });
    x = await startXStandIn({ bearerToken: X_TOKEN });
    t = await createTestApp({
      DATABASE_URL: proxy.url,
      PROVIDER_TIMEOUT_MS: String(TIMEOUT_MS),
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
    if (databaseCut) await proxy.start(); // up again if a failed test left it cut
    await fx?.cleanup();
    await t?.close();
    await proxy.cut().catch(() => undefined);
    await direct.end();
    await graph?.close();
    await x?.close();
  });

  beforeEach(() => {
    graph.reset();
    x.reset();
  });

  const schedule = async (body: object) => {
    const res = await t.http.post('/api/social-posts').set(bearer(user.token)).send({ scheduledFor: inMs(300), ...body });
    expect(res.status).toBe(201);
    return res.body.id as string;
  };
  const row = (id: string) => t.prisma.socialPost.findUniqueOrThrow({ where: { id } });
  const settled = (id: string) =>
    waitFor(async () => {
      const p = await row(id);
      return p.status === 'PUBLISHED' || p.status === 'FAILED' ? p : undefined;
    }, 30_000);
  const job = (id: string) => t.queue(QueueName.SocialPosts).getJob(id);

  it('publish accepted, then Postgres down: the acceptance waits in the job and is recorded once the database is back, published once', async () => {
    const held = graph.holdNext('page-feed');
    const id = await schedule({ platform: 'FACEBOOK', content: `Liquidação ${randomBytes(3).toString('hex')}` });
    await held.arrived; // the page post exists on Facebook now; Zyva has not heard back
    await proxy.cut();
    databaseCut = true;
    held.release();

    // The answer could not be written: the job keeps it and waits out the outage without using an attempt.
    const waiting = await waitFor(async () => {
      const j = await job(id);
      return j?.data.answer && (await j.getState()) === 'delayed' ? j : undefined;
    }, 15_000);
    const [feed] = graph.requestsTo('page-feed');
    const acceptedId = (feed.response!.body as { id: string }).id;
    expect(waiting.data.answer).toMatchObject({ accepted: true, externalId: acceptedId });
    expect(waiting.attemptsMade).toBe(0);
    const { rows } = await direct.query('SELECT status, "externalId" FROM social_posts WHERE id = $1', [id]);
    expect(rows[0]).toEqual({ status: 'PUBLISHING', externalId: null });

    await proxy.start();
    databaseCut = false;
    const post = await settled(id);
    expect(post).toMatchObject({ status: 'PUBLISHED', externalId: acceptedId, attempts: 1, errorMessage: null });
    expect(graph.requestsTo('page-feed')).toHaveLength(1);
    expect(await (await job(id))!.getState()).toBe('completed');
  });

  it('a timeout after Instagram accepted: the next run reads the container status (PUBLISHED) and records the media, no second media_publish', async () => {
    const held = graph.holdNext('ig-media-publish');
    const caption = `Coleção ${randomBytes(3).toString('hex')}`;
    const id = await schedule({ platform: 'INSTAGRAM', content: caption, imageUrl: 'https://cdn.example.com/c.jpg' });
    await held.arrived;
    const post = await settled(id); // the held answer never comes in time
    held.release();

    const [created] = graph.requestsTo('ig-media');
    const containerId = (created.response!.body as { id: string }).id;
    const container = graph.instagram.containers.get(containerId)!;
    expect(container.status_code).toBe('PUBLISHED');
    expect(post).toMatchObject({ status: 'PUBLISHED', containerId, externalId: container.mediaId, attempts: 2 });
    expect(graph.requestsTo('ig-media-publish')).toHaveLength(1);
    expect(graph.requestsTo('ig-media')).toHaveLength(1);
    const check = graph.requestsTo('ig-container');
    expect(check).toHaveLength(1);
    expect(check[0]).toMatchObject({ path: `/${containerId}`, query: { fields: 'status_code' } });
    expect(graph.requestsTo('ig-user-media')[0].query.fields).toBe('id,caption,timestamp');
  });

  it('a timeout after Facebook or X accepted: the post ends FAILED "outcome unknown", visible in the API, and is never posted again', async () => {
    const page = graph.holdNext('page-feed');
    const tweet = x.holdNext('tweets');
    const fbId = await schedule({ platform: 'FACEBOOK', content: `Frete grátis ${randomBytes(3).toString('hex')}` });
    const xId = await schedule({ platform: 'TWITTER', content: `Cupom ${randomBytes(3).toString('hex')}` });
    await Promise.all([page.arrived, tweet.arrived]);
    const [fb, tw] = await Promise.all([settled(fbId), settled(xId)]);
    page.release();
    tweet.release();

    for (const post of [fb, tw]) {
      expect(post).toMatchObject({ status: 'FAILED', attempts: 1, externalId: null });
      expect(post.errorMessage).toContain('outcome unknown');
      expect(post.errorMessage).toContain(`no answer within ${TIMEOUT_MS} ms`);
      const res = await t.http.get(`/api/social-posts/${post.id}`).set(bearer(user.token));
      expect(res.body).toMatchObject({ status: 'FAILED', errorMessage: expect.stringContaining('outcome unknown') });
    }
    await new Promise((r) => setTimeout(r, 1000));
    expect(graph.requestsTo('page-feed')).toHaveLength(1);
    expect(x.requestsTo('tweets')).toHaveLength(1);
    expect(await (await job(fbId))!.getState()).toBe('failed');
  });
});
