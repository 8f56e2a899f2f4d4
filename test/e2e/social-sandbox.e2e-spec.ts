import { QueueName } from '../../src/core/queues/queue.catalogue';
import { bearer, Fixtures, waitFor } from '../utils/factories';
import { createTestApp, TestApp } from '../utils/test-app';

/**
 * No platform credentials in this environment (NODE_ENV=test): posts publish
 * in sandbox mode, so a fresh checkout works end to end. Kept apart from
 * social-posts.e2e-spec.ts, whose app points every platform at stand-ins.
 */
describe('social posts in sandbox mode (e2e)', () => {
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

  it('records each platform as published with a sandbox_ id, nothing sent', async () => {
    const user = await fx.registerUser();
    await fx.setPlan(user.organizationId, 'PRO');
    const scheduledFor = new Date(Date.now() + 1500).toISOString();
    const ids: string[] = [];
    for (const body of [
      { platform: 'INSTAGRAM', content: 'sandbox', imageUrl: 'https://cdn.example.com/s.jpg', scheduledFor },
      { platform: 'FACEBOOK', content: 'sandbox', scheduledFor },
      { platform: 'TWITTER', content: 'sandbox', scheduledFor },
    ]) {
      const res = await t.http.post('/api/social-posts').set(bearer(user.token)).send(body);
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    const posts = await waitFor(async () => {
      const rows = await t.prisma.socialPost.findMany({ where: { id: { in: ids } } });
      return rows.every((p) => p.status === 'PUBLISHED') ? rows : undefined;
    }, 10_000);
    for (const post of posts) {
      expect(post.externalId).toMatch(/^sandbox_[0-9a-f]{16}$/);
      expect(post.attempts).toBe(1);
    }
    const job = await t.queue(QueueName.SocialPosts).getJob(ids[0]);
    expect(await job?.getState()).toBe('completed');
  });
});
