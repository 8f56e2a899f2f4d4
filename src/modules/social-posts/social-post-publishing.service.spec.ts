import { UnrecoverableError } from 'bullmq';
import type { AppConfig } from '../../core/config/app-config';
import { ProviderError } from '../../core/http/provider-error';
import type { ProviderHttp } from '../../core/http/provider-http';
import type { PrismaService } from '../../core/prisma/prisma.service';
import { isInfrastructureOutage } from '../../core/queues/job-outage';
import type { PublishAnswer } from '../../core/queues/queue.catalogue';
import { Prisma, type SocialPost } from '../../generated/prisma/client';
import { PublishContext, PublishOutcomeUnknownError, PublishResult, PublishablePost, SocialPublisher } from '../channels/publishers/social-publisher';
import type { ChannelRegistry } from '../channels/channel-registry';
import { TwitterPublisher } from '../channels/publishers/twitter.publisher';
import type { ChannelRouter } from '../channels/routing/channel-router';
import { MAX_RECHECKS, PublishAttempt, SocialPostPublishingService } from './social-post-publishing.service';

/** The one row the service works on, and the few Prisma calls it makes, with the same `where` semantics. */
class FakePosts {
  row: SocialPost;
  /** The next writes fail with these errors (a database that went away). */
  failures: Error[] = [];

  constructor(row: Partial<SocialPost>) {
    const now = new Date();
    this.row = {
      id: 'post-1',
      organizationId: 'org-1',
      campaignId: null,
      platform: 'FACEBOOK',
      content: 'Promoção',
      imageUrl: null,
      scheduledFor: new Date(now.getTime() - 1000),
      status: 'SCHEDULED',
      externalId: null,
      attempts: 0,
      errorMessage: null,
      publishedAt: null,
      failedAt: null,
      claimedAt: null,
      leaseUntil: null,
      containerId: null,
      createdAt: now,
      updatedAt: now,
      ...row,
    } as SocialPost;
  }

  client = {
    socialPost: {
      updateManyAndReturn: async ({ where, data }: { where: object; data: object }) => (this.write(where, data) ? [{ ...this.row }] : []),
      updateMany: async ({ where, data }: { where: object; data: object }) => ({ count: this.write(where, data) ? 1 : 0 }),
      findFirst: async ({ where }: { where: object }) => (matches(this.row, where) ? { ...this.row } : null),
    },
  };

  private write(where: object, data: object): boolean {
    const failure = this.failures.shift();
    if (failure) throw failure;
    if (!matches(this.row, where)) return false;
    const next = { ...this.row } as Record<string, unknown>;
    for (const [key, value] of Object.entries(data)) {
      next[key] = value && typeof value === 'object' && 'increment' in value ? (next[key] as number) + (value as { increment: number }).increment : value;
    }
    this.row = next as unknown as SocialPost;
    return true;
  }
}

function matches(row: object, where: object): boolean {
  return Object.entries(where).every(([key, expected]) => {
    if (key === 'OR') return (expected as object[]).some((w) => matches(row, w));
    const actual = (row as Record<string, unknown>)[key];
    if (expected === null) return actual === null;
    if (expected instanceof Date) return actual instanceof Date && actual.getTime() === expected.getTime();
    if (typeof expected === 'object') {
      const { in: among, lte } = expected as { in?: unknown[]; lte?: Date };
      return (among === undefined || among.includes(actual)) && (lte === undefined || (actual as Date) <= lte);
    }
    return actual === expected;
  });
}

const dbDown = () => new Prisma.PrismaClientKnownRequestError("Can't reach database server", { code: 'P1001', clientVersion: '7' });

/** A publisher whose answers the test scripts; records every call with the context it got. */
class ScriptedPublisher implements SocialPublisher {
  readonly kind = 'stand-in';
  readonly name = 'Stand-in';
  readonly maxContentLength = 1000;
  readonly image = 'optional' as const;
  readonly calls: { post: PublishablePost; containerId: string | null }[] = [];
  answers: ((context: PublishContext) => Promise<PublishResult>)[] = [];

  constructor(
    readonly platform: SocialPost['platform'],
    readonly checksBeforePublishing: boolean,
  ) {}

  async publish(post: PublishablePost, context: PublishContext): Promise<PublishResult> {
    this.calls.push({ post, containerId: context.containerId });
    const next = this.answers.shift();
    if (!next) throw new Error('unexpected platform call');
    return next(context);
  }
}

const config = { PROVIDER_TIMEOUT_MS: 1000, NODE_ENV: 'test' } as AppConfig;

function setup(row: Partial<SocialPost> = {}, publisher = new ScriptedPublisher('FACEBOOK', false)) {
  const db = new FakePosts({ platform: publisher.platform, route: 'PLATFORM', ...row });
  const registry = { publisher: (platform: string) => (platform === publisher.platform ? publisher : undefined) };
  // The platform's account: the route under test is the state machine, not the choice of credentials.
  const router = { credentialsFor: () => ({ sandbox: false, credentials: { accessToken: 't', accountId: '1784', pageId: '1' }, connectionId: null }) };
  const service = new SocialPostPublishingService(
    db.client as unknown as PrismaService,
    registry as unknown as ChannelRegistry,
    router as unknown as ChannelRouter,
    config,
  );
  const kept: PublishAnswer[] = [];
  const attempt = (over: Partial<PublishAttempt> = {}): PublishAttempt => ({
    postId: 'post-1',
    organizationId: 'org-1',
    lastAttempt: false,
    rechecks: 0,
    keepAnswer: async (answer) => {
      kept.push(answer);
    },
    ...over,
  });
  return { db, service, publisher, kept, attempt };
}

describe('SocialPostPublishingService: the send state machine', () => {
  it('claims the post in the database (attempt, claim time, lease) before it calls the platform, and records the id after', async () => {
    const { db, service, publisher, attempt } = setup();
    publisher.answers.push(async () => {
      expect(db.row).toMatchObject({ status: 'PUBLISHING', attempts: 1, claimedAt: expect.any(Date) });
      expect(db.row.leaseUntil!.getTime() - db.row.claimedAt!.getTime()).toBe(service.leaseMs);
      return { externalId: 'fb_1' };
    });
    await expect(service.publish(attempt())).resolves.toEqual({ kind: 'published', externalId: 'fb_1' });
    expect(db.row).toMatchObject({ status: 'PUBLISHED', externalId: 'fb_1', attempts: 1, leaseUntil: null, errorMessage: null });
  });

  it('platform OK, then the database write fails: the answer stays with the job and the next run only writes it', async () => {
    const { db, service, publisher, kept, attempt } = setup();
    publisher.answers.push(async () => {
      db.failures.push(dbDown());
      return { externalId: 'fb_2' };
    });
    const error = await service.publish(attempt()).catch((e: unknown) => e);
    expect(isInfrastructureOutage(error)).toBe(true); // the processor postpones the job: no attempt used
    expect(kept).toEqual([expect.objectContaining({ accepted: true, externalId: 'fb_2', claimedAt: db.row.claimedAt!.toISOString() })]);
    expect(db.row.status).toBe('PUBLISHING');

    await expect(service.publish(attempt({ answer: kept[0] }))).resolves.toEqual({ kind: 'published', externalId: 'fb_2' });
    expect(publisher.calls).toHaveLength(1);
    expect(db.row).toMatchObject({ status: 'PUBLISHED', externalId: 'fb_2' });
  });

  it('a 2xx without an id on Facebook or X ends FAILED "outcome unknown", never published again', async () => {
    const { db, service, publisher, attempt } = setup();
    publisher.answers.push(async () => {
      throw new PublishOutcomeUnknownError('Facebook Graph API', 'feed answered HTTP 200 without an id');
    });
    await expect(service.publish(attempt())).rejects.toBeInstanceOf(UnrecoverableError);
    expect(db.row).toMatchObject({ status: 'FAILED', failedAt: expect.any(Date) });
    expect(db.row.errorMessage).toContain('outcome unknown');
    await expect(service.publish(attempt())).resolves.toEqual({ kind: 'skipped', reason: 'post is FAILED' });
    expect(publisher.calls).toHaveLength(1);
  });

  it('a timeout on X is an unknown outcome (FAILED), a connection never made is a plain retryable failure', async () => {
    const http = { request: jest.fn() };
    const x = new TwitterPublisher({ TWITTER_API_URL: 'http://x.test', TWITTER_BEARER_TOKEN: 't' } as AppConfig, http as unknown as ProviderHttp);
    const { db, service, attempt } = setup({ platform: 'TWITTER' }, x as unknown as ScriptedPublisher);

    http.request.mockRejectedValueOnce(new ProviderError('X API', 'request failed (ECONNREFUSED)', true, undefined, 'ECONNREFUSED'));
    await expect(service.publish(attempt())).rejects.toThrow('ECONNREFUSED');
    expect(db.row).toMatchObject({ status: 'PUBLISHING', claimedAt: null, attempts: 1 }); // released: a retry may publish

    http.request.mockRejectedValueOnce(new ProviderError('X API', 'no answer within 1000 ms', true));
    await expect(service.publish(attempt())).rejects.toBeInstanceOf(UnrecoverableError);
    expect(db.row).toMatchObject({ status: 'FAILED', attempts: 2 });
    expect(db.row.errorMessage).toMatch(/^X API: outcome unknown \(no answer within 1000 ms\)/);
  });

  it('an unknown outcome on Instagram is looked at again: the next run asks the platform with the stored container', async () => {
    const { db, service, publisher, attempt } = setup({ platform: 'INSTAGRAM', containerId: 'c-1' }, new ScriptedPublisher('INSTAGRAM', true));
    publisher.answers.push(async () => {
      throw new PublishOutcomeUnknownError('Instagram Graph API', 'no answer within 1000 ms');
    });
    const outcome = await service.publish(attempt());
    expect(outcome).toMatchObject({ kind: 'recheck' });
    expect(db.row).toMatchObject({ status: 'PUBLISHING', claimedAt: expect.any(Date) });
    expect(db.row.leaseUntil!.getTime()).toBeLessThanOrEqual(Date.now()); // the call is over: nothing waits for the lease

    publisher.answers.push(async () => ({ externalId: 'ig_1' }));
    await expect(service.publish(attempt({ rechecks: 1 }))).resolves.toEqual({ kind: 'published', externalId: 'ig_1' });
    expect(publisher.calls.map((c) => c.containerId)).toEqual(['c-1', 'c-1']);
    expect(db.row).toMatchObject({ status: 'PUBLISHED', externalId: 'ig_1', attempts: 2 });
  });

  it('Postgres down while storing the Instagram container: nothing is published, the claim stays for its lease to settle', async () => {
    const { db, service, publisher, attempt } = setup({ platform: 'INSTAGRAM' }, new ScriptedPublisher('INSTAGRAM', true));
    let published = false;
    publisher.answers.push(async (context) => {
      db.failures.push(dbDown());
      await context.saveContainer('c-2');
      published = true; // media_publish would come here
      return { externalId: 'never' };
    });
    const error = await service.publish(attempt()).catch((e: unknown) => e);
    expect(isInfrastructureOutage(error)).toBe(true);
    expect(published).toBe(false);
    expect(db.row).toMatchObject({ status: 'PUBLISHING', containerId: null, claimedAt: expect.any(Date) });
  });

  it('gives up on an Instagram outcome that stays unknown after the bounded re-checks, as FAILED', async () => {
    const { db, service, publisher, attempt } = setup({ platform: 'INSTAGRAM' }, new ScriptedPublisher('INSTAGRAM', true));
    publisher.answers.push(async () => {
      throw new PublishOutcomeUnknownError('Instagram Graph API', 'no answer within 1000 ms');
    });
    await expect(service.publish(attempt({ rechecks: MAX_RECHECKS }))).rejects.toBeInstanceOf(UnrecoverableError);
    expect(db.row.status).toBe('FAILED');
    expect(db.row.errorMessage).toContain('outcome unknown');
  });

  describe('a stalled job or a crash mid-call (the claim is still set)', () => {
    const claimed = (leaseEndsInMs: number): Partial<SocialPost> => ({
      status: 'PUBLISHING',
      attempts: 1,
      claimedAt: new Date(Date.now() - 60_000),
      leaseUntil: new Date(Date.now() + leaseEndsInMs),
    });

    it('waits while the claim is leased: its holder may still be talking to the platform', async () => {
      const { db, service, publisher, attempt } = setup(claimed(5000));
      const outcome = await service.publish(attempt());
      expect(outcome).toMatchObject({ kind: 'recheck', at: db.row.leaseUntil });
      expect(publisher.calls).toHaveLength(0);
    });

    it('Facebook / X: once the lease is over, FAILED "outcome unknown" without calling the platform', async () => {
      const { db, service, publisher, attempt } = setup(claimed(-1));
      await expect(service.publish(attempt())).rejects.toBeInstanceOf(UnrecoverableError);
      expect(publisher.calls).toHaveLength(0);
      expect(db.row).toMatchObject({ status: 'FAILED', attempts: 1 });
      expect(db.row.errorMessage).toContain('outcome unknown');
    });

    it('Instagram: once the lease is over, the run takes the claim over and asks the platform first', async () => {
      const { db, service, publisher, attempt } = setup({ ...claimed(-1), platform: 'INSTAGRAM', containerId: 'c-9' }, new ScriptedPublisher('INSTAGRAM', true));
      publisher.answers.push(async () => ({ externalId: 'ig_9' }));
      await expect(service.publish(attempt())).resolves.toEqual({ kind: 'published', externalId: 'ig_9' });
      expect(publisher.calls).toEqual([expect.objectContaining({ containerId: 'c-9' })]);
      expect(db.row).toMatchObject({ status: 'PUBLISHED', attempts: 2 });
    });

    it('an acceptance recorded late (a slow holder) wins over a FAILED "outcome unknown"', async () => {
      const { db, service, attempt } = setup({ ...claimed(-1), status: 'FAILED', errorMessage: 'X: outcome unknown' });
      const answer: PublishAnswer = { claimedAt: db.row.claimedAt!.toISOString(), accepted: true, externalId: 'x_1', publishedAt: new Date().toISOString() };
      await expect(service.publish(attempt({ answer }))).resolves.toEqual({ kind: 'published', externalId: 'x_1' });
      expect(db.row).toMatchObject({ status: 'PUBLISHED', externalId: 'x_1', errorMessage: null, failedAt: null });
    });
  });

  it('a refusal the database could not record stays with the job: released on the next run, then retried normally', async () => {
    const { db, service, publisher, kept, attempt } = setup();
    publisher.answers.push(async () => {
      db.failures.push(dbDown());
      throw new ProviderError('Facebook Graph API', 'Service temporarily unavailable [code 2]', true, 503, 2);
    });
    const error = await service.publish(attempt()).catch((e: unknown) => e);
    expect(isInfrastructureOutage(error)).toBe(true);
    expect(kept).toEqual([expect.objectContaining({ accepted: false, final: false })]);
    expect(db.row.claimedAt).not.toBeNull();

    // Applied without calling the platform; the refusal then takes its attempt, as it would have at once.
    await expect(service.publish(attempt({ answer: kept[0] }))).rejects.toThrow('Service temporarily unavailable');
    expect(db.row).toMatchObject({ status: 'PUBLISHING', claimedAt: null });
    expect(publisher.calls).toHaveLength(1);

    publisher.answers.push(async () => ({ externalId: 'fb_3' }));
    await expect(service.publish(attempt({ answer: kept[0] }))).resolves.toEqual({ kind: 'published', externalId: 'fb_3' });
    expect(db.row).toMatchObject({ status: 'PUBLISHED', attempts: 2 });
  });

  it('a refusal no retry can change fails at once; a retryable one fails on the last attempt', async () => {
    const permanent = setup();
    permanent.publisher.answers.push(async () => {
      throw new ProviderError('X API', 'duplicate content [HTTP 403]', false, 403);
    });
    await expect(permanent.service.publish(permanent.attempt())).rejects.toBeInstanceOf(UnrecoverableError);
    expect(permanent.db.row).toMatchObject({ status: 'FAILED', errorMessage: 'X API: duplicate content [HTTP 403]' });

    const last = setup();
    last.publisher.answers.push(async () => {
      throw new ProviderError('X API', 'Service Unavailable [HTTP 503]', true, 503);
    });
    await expect(last.service.publish(last.attempt({ lastAttempt: true }))).rejects.toThrow('Service Unavailable');
    expect(last.db.row).toMatchObject({ status: 'FAILED', failedAt: expect.any(Date) });
  });

  it('a post rescheduled or cancelled meanwhile is not claimed', async () => {
    const later = setup({ scheduledFor: new Date(Date.now() + 60_000) });
    await expect(later.service.publish(later.attempt())).resolves.toEqual({ kind: 'later', at: later.db.row.scheduledFor });
    const canceled = setup({ status: 'CANCELED' });
    await expect(canceled.service.publish(canceled.attempt())).resolves.toEqual({ kind: 'skipped', reason: 'post is CANCELED' });
    expect(later.publisher.calls.length + canceled.publisher.calls.length).toBe(0);
  });
});
