import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { QueueName } from '../../src/core/queues/queue.catalogue';
import { bearer, Fixtures, RegisteredUser, waitFor } from '../utils/factories';
import { GraphStandIn, startGraphStandIn } from '../utils/provider-stand-ins';
import { spawnZyva, type ZyvaProcess } from '../utils/processes';
import { createTestApp, TestApp } from '../utils/test-app';

const IG = { instagramAccountId: '17841400000000003', instagramToken: 'ig-token-crash' };
const FB = { facebookPageId: '104000000000003', facebookPageToken: 'fb-page-token-crash' };

/**
 * A worker killed with SIGKILL after the platform accepted a post and before
 * Zyva recorded it: its jobs stall, the next worker takes them over once the
 * lock is gone, finds the posts claimed and does not publish them a second
 * time (Instagram: settled from the container's status; Facebook: FAILED
 * "outcome unknown"). Real worker processes on this file's queue prefix.
 */
describe('social posts: a worker crash after the platform accepted (e2e)', () => {
  let graph: GraphStandIn;
  let api: TestApp;
  let fx: Fixtures;
  let user: RegisteredUser;
  const children: ChildProcess[] = [];

  const platformEnv = () => ({
    GRAPH_API_URL: graph.url,
    INSTAGRAM_ACCOUNT_ID: IG.instagramAccountId,
    INSTAGRAM_TOKEN: IG.instagramToken,
    FACEBOOK_PAGE_ID: FB.facebookPageId,
    FACEBOOK_PAGE_TOKEN: FB.facebookPageToken,
  });

  beforeAll(async () => {
    graph = await startGraphStandIn({ ...IG, ...FB });
    api = await createTestApp({ ...platformEnv(), APP_ROLE: 'api' });
    fx = new Fixtures(api);
    user = await fx.registerUser();
    await fx.setPlan(user.organizationId, 'ENTERPRISE');
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await fx?.cleanup();
    await api?.close();
    await graph?.close();
  });

  function startWorker(): ZyvaProcess {
    const worker = spawnZyva({ ...platformEnv(), APP_ROLE: 'worker', WORKER_LOCK_DURATION_MS: '2000', PROVIDER_TIMEOUT_MS: '1000', LOG_LEVEL: 'silent' });
    children.push(worker.child);
    return worker;
  }

  const row = (id: string) => api.prisma.socialPost.findUniqueOrThrow({ where: { id } });

  it('neither an Instagram nor a Facebook post is published twice', async () => {
    const igPublish = graph.holdNext('ig-media-publish');
    const pageFeed = graph.holdNext('page-feed');
    const scheduledFor = new Date(Date.now() + 500).toISOString();
    const caption = `Coleção ${randomBytes(3).toString('hex')}`;
    const ig = await api.http
      .post('/api/social-posts')
      .set(bearer(user.token))
      .send({ platform: 'INSTAGRAM', content: caption, imageUrl: 'https://cdn.example.com/crash.jpg', scheduledFor });
    const fb = await api.http.post('/api/social-posts').set(bearer(user.token)).send({ platform: 'FACEBOOK', content: `Queima ${caption}`, scheduledFor });
    expect([ig.status, fb.status]).toEqual([201, 201]);

    const first = startWorker();
    await Promise.all([igPublish.arrived, pageFeed.arrived]); // both posts are public now
    first.child.kill('SIGKILL');
    await first.exited;
    igPublish.release();
    pageFeed.release();
    expect(await row(ig.body.id)).toMatchObject({ status: 'PUBLISHING', attempts: 1, claimedAt: expect.any(Date) });
    expect(await api.queue(QueueName.SocialPosts).getActiveCount()).toBe(2); // held by a dead worker until the lock expires

    const next = startWorker();
    const [igPost, fbPost] = await Promise.all(
      [ig.body.id as string, fb.body.id as string].map((id) =>
        waitFor(async () => {
          const p = await row(id);
          return p.status === 'PUBLISHED' || p.status === 'FAILED' ? p : undefined;
        }, 60_000, 200),
      ),
    );

    const container = graph.instagram.containers.get(igPost.containerId!)!;
    expect(igPost).toMatchObject({ status: 'PUBLISHED', externalId: container.mediaId, attempts: 2 });
    expect(graph.requestsTo('ig-media-publish')).toHaveLength(1);
    expect(graph.requestsTo('ig-container')).toHaveLength(1);
    expect(fbPost).toMatchObject({ status: 'FAILED', attempts: 1, externalId: null });
    expect(fbPost.errorMessage).toContain('outcome unknown');
    expect(graph.requestsTo('page-feed')).toHaveLength(1);

    next.child.kill('SIGTERM');
    await next.exited;
  }, 120_000);
});
