import type { AppConfig } from '../../core/config/app-config';
import type { PrismaService } from '../../core/prisma/prisma.service';
import type { JobProducer } from '../../core/queues/job-producer.service';
import { JobName } from '../../core/queues/queue.catalogue';
import { SocialPostReconcilerService } from './social-post-reconciler.service';

describe('SocialPostReconcilerService', () => {
  it('re-queues a PUBLISHING post whose job ended, carrying the platform answer that job kept', async () => {
    const claimedAt = new Date(Date.now() - 600_000);
    const answer = { claimedAt: claimedAt.toISOString(), accepted: true as const, externalId: 'fb_7', publishedAt: claimedAt.toISOString() };
    const post = { id: 'post-7', organizationId: 'org-7', status: 'PUBLISHING', scheduledFor: claimedAt };
    const pages = [[post]];
    const prisma = { socialPost: { findMany: async () => pages.shift() ?? [] } };
    const queue = {
      getJobState: async () => 'failed',
      getJob: async () => ({ data: { postId: post.id, organizationId: post.organizationId, answer, rechecks: 3 } }),
      remove: jest.fn(async () => 1),
    };
    const added: unknown[][] = [];
    const jobs = { queue: () => queue, add: async (...args: unknown[]) => void added.push(args) };
    const reconciler = new SocialPostReconcilerService(
      prisma as unknown as PrismaService,
      jobs as unknown as JobProducer,
      { RECONCILE_GRACE_MS: 120_000, RECONCILE_INTERVAL_MS: 60_000 } as AppConfig,
    );

    await expect(reconciler.run()).resolves.toEqual({ checked: 1, requeued: 1 });
    expect(queue.remove).toHaveBeenCalledWith(post.id);
    expect(added).toEqual([[JobName.PublishPost, { postId: post.id, organizationId: post.organizationId, answer }, { jobId: post.id, delay: 0 }]]);
  });
});
