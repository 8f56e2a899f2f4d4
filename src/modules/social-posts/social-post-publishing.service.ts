import { Injectable, Logger } from '@nestjs/common';
import { UnrecoverableError } from 'bullmq';
import { randomBytes } from 'node:crypto';
import { AppConfig } from '../../core/config/app-config';
import { ProviderError } from '../../core/http/provider-error';
import { PrismaService } from '../../core/prisma/prisma.service';
import { isInfrastructureOutage } from '../../core/queues/job-outage';
import type { PublishAnswer } from '../../core/queues/queue.catalogue';
import type { SocialPost } from '../../generated/prisma/client';
import { SendRoute, SocialPostStatus } from '../../generated/prisma/enums';
import { ChannelRegistry } from '../channels/channel-registry';
import { PublishOutcomeUnknownError, PublishResult, SocialPublisher } from '../channels/publishers/social-publisher';
import { ChannelRouter, RouteUnavailableError } from '../channels/routing/channel-router';

/** A job may run this early (clock skew between API and workers) and still publish. */
const EARLY_TOLERANCE_MS = 1000;
/** After an unknown outcome on a platform that can tell, how long to give it before asking what happened. */
export const RECHECK_DELAY_MS = 2000;
/** Unknown outcomes a job looks at again before it gives up (FAILED, "outcome unknown"). */
export const MAX_RECHECKS = 5;

export interface PublishAttempt {
  postId: string;
  organizationId: string;
  /** True when no retry follows if this attempt fails. */
  lastAttempt: boolean;
  /** The platform's answer to a claim, kept with the job while the database could not record it. */
  answer?: PublishAnswer;
  /** How often this job already looked again at an unknown outcome. */
  rechecks: number;
  /** Keeps the platform's answer with the job (its data), for when the database cannot take it. */
  keepAnswer(answer: PublishAnswer): Promise<void>;
}

export type PublishOutcome =
  | { kind: 'published'; externalId: string | null }
  | { kind: 'skipped'; reason: string }
  /** The post was rescheduled after its job was queued: run the job again at this time. */
  | { kind: 'later'; at: Date }
  /** Nothing may be decided yet (a claim is held, or an outcome is unknown): look again at this time, without using an attempt. */
  | { kind: 'recheck'; at: Date; reason: string };

/**
 * The `publish-post` job, a small state machine on the post's row:
 *
 * - claim: SCHEDULED (due) → PUBLISHING with `attempts + 1`, `claimedAt` and a
 *   `leaseUntil`, committed before the platform is called;
 * - accepted: PUBLISHED with the platform's id. If the database cannot take
 *   that write, the answer stays with the job (`keepAnswer`) and the next run
 *   only writes it: the platform is never called again for it;
 * - refused for certain (an HTTP error, a connection never made): the claim
 *   is released (`claimedAt` null) so a retry may publish, or FAILED when no
 *   retry is left or none can help;
 * - unknown (no answer in time, a dropped connection, a 2xx without an id, a
 *   crash or stalled job mid-call): the claim stays. A run that finds a
 *   claim whose lease is over asks the platform when it can tell (Instagram's
 *   container status) and otherwise ends FAILED "outcome unknown": a visible
 *   failure beats a second public post.
 */
@Injectable()
export class SocialPostPublishingService {
  private readonly logger = new Logger(SocialPostPublishingService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly publishers: ChannelRegistry,
    private readonly router: ChannelRouter,
    private readonly config: AppConfig,
  ) {}

  /** Longest time an attempt holds its claim: up to three platform calls (Instagram) and the writes between them. */
  get leaseMs(): number {
    return this.config.PROVIDER_TIMEOUT_MS * 3 + 2000;
  }

  async publish(attempt: PublishAttempt): Promise<PublishOutcome> {
    if (attempt.answer) {
      const outcome = await this.applyKeptAnswer(attempt, attempt.answer);
      if (outcome) return outcome;
    }
    const now = new Date();
    // Claimed only while due: a reschedule or cancel that won the race leaves nothing to claim. A PUBLISHING
    // post without a claim was released by an attempt that knew nothing went out, so it may be published.
    const [claimed] = await this.prisma.socialPost.updateManyAndReturn({
      where: {
        id: attempt.postId,
        organizationId: attempt.organizationId,
        OR: [
          { status: SocialPostStatus.SCHEDULED, scheduledFor: { lte: new Date(now.getTime() + EARLY_TOLERANCE_MS) } },
          { status: SocialPostStatus.PUBLISHING, claimedAt: null },
        ],
      },
      data: { status: SocialPostStatus.PUBLISHING, attempts: { increment: 1 }, claimedAt: now, leaseUntil: this.leaseFrom(now) },
    });
    if (claimed) return this.attemptClaimed(claimed, attempt);
    return this.unclaimed(attempt, now);
  }

  private async unclaimed(attempt: PublishAttempt, now: Date): Promise<PublishOutcome> {
    const post = await this.prisma.socialPost.findFirst({ where: { id: attempt.postId, organizationId: attempt.organizationId } });
    if (!post) return { kind: 'skipped', reason: 'post deleted' };
    if (post.status === SocialPostStatus.SCHEDULED) return { kind: 'later', at: post.scheduledFor };
    if (post.status !== SocialPostStatus.PUBLISHING || !post.claimedAt) return { kind: 'skipped', reason: `post is ${post.status}` };
    if (post.leaseUntil && post.leaseUntil > now) {
      return { kind: 'recheck', at: post.leaseUntil, reason: 'another attempt is publishing this post' };
    }
    return this.resolveUnknown(post, attempt, now);
  }

  /**
   * A claim whose holder is gone (a crash, a stalled job) or ended without knowing what the platform did.
   * Taken over only where asking first is possible; otherwise settled as FAILED.
   */
  private async resolveUnknown(post: SocialPost, attempt: PublishAttempt, now: Date): Promise<PublishOutcome> {
    const publisher = this.publishers.publisher(post.platform);
    const reason = post.errorMessage?.includes('outcome unknown')
      ? post.errorMessage
      : 'outcome unknown: the attempt publishing it stopped before the platform answered (worker crash or stalled job)';
    // A sandbox post sends nothing, so taking it over is safe.
    const canAsk = publisher && (publisher.checksBeforePublishing || post.route === SendRoute.SANDBOX);
    if (!canAsk || attempt.rechecks >= MAX_RECHECKS) {
      await this.settleFailed(post, `${reason}. Check the platform before scheduling it again.`);
      throw new UnrecoverableError(reason);
    }
    const [taken] = await this.prisma.socialPost.updateManyAndReturn({
      where: { id: post.id, status: SocialPostStatus.PUBLISHING, claimedAt: post.claimedAt },
      data: { attempts: { increment: 1 }, claimedAt: now, leaseUntil: this.leaseFrom(now) },
    });
    if (!taken) return { kind: 'recheck', at: this.leaseFrom(now), reason: 'another attempt took the post over' };
    return this.attemptClaimed(taken, attempt);
  }

  private async attemptClaimed(post: SocialPost, attempt: PublishAttempt): Promise<PublishOutcome> {
    let result: PublishResult;
    try {
      result = await this.callPlatform(post);
    } catch (error) {
      return this.afterFailedCall(post, attempt, error);
    }
    const answer: PublishAnswer = {
      claimedAt: post.claimedAt!.toISOString(),
      accepted: true,
      externalId: result.externalId,
      publishedAt: new Date().toISOString(),
      ...(result.note ? { note: result.note } : {}),
    };
    try {
      await this.recordAccepted(post.id, answer);
    } catch (error) {
      await this.keep(attempt, answer, post.id);
      throw error;
    }
    return { kind: 'published', externalId: result.externalId };
  }

  private async afterFailedCall(post: SocialPost, attempt: PublishAttempt, error: unknown): Promise<PublishOutcome> {
    const reason = (error as Error).message.slice(0, 1000);
    if (error instanceof PublishOutcomeUnknownError) {
      const publisher = this.publishers.publisher(post.platform);
      if (!publisher?.checksBeforePublishing || attempt.rechecks >= MAX_RECHECKS) {
        await this.settleFailed(post, `${reason}. Check the platform before scheduling it again.`);
        throw new UnrecoverableError(reason);
      }
      // The call is over: end the lease now so the next run asks the platform what it did.
      const now = new Date();
      await this.prisma.socialPost.updateMany({
        where: { id: post.id, status: SocialPostStatus.PUBLISHING, claimedAt: post.claimedAt },
        data: { leaseUntil: now, errorMessage: reason },
      });
      return { kind: 'recheck', at: new Date(now.getTime() + RECHECK_DELAY_MS), reason };
    }
    // Our own database failed between two calls (storing the container): the claim stays and its lease settles it.
    if (isInfrastructureOutage(error)) throw error;
    const permanent = error instanceof UnrecoverableError || (error instanceof ProviderError && !error.retryable);
    const refusal: PublishAnswer = { claimedAt: post.claimedAt!.toISOString(), accepted: false, reason, final: permanent || attempt.lastAttempt };
    try {
      await this.recordRefusal(post.id, refusal);
    } catch (writeError) {
      await this.keep(attempt, refusal, post.id);
      throw writeError;
    }
    throw permanent && !(error instanceof UnrecoverableError) ? new UnrecoverableError(reason) : error;
  }

  /** A run after the database could not record an answer: write it (never call the platform for it again). */
  private async applyKeptAnswer(attempt: PublishAttempt, answer: PublishAnswer): Promise<PublishOutcome | undefined> {
    if (answer.accepted) {
      await this.recordAccepted(attempt.postId, answer);
      return { kind: 'published', externalId: answer.externalId };
    }
    const applied = await this.recordRefusal(attempt.postId, answer);
    if (!applied) return undefined; // an older claim's answer, already applied: carry on with the post as it is
    throw answer.final ? new UnrecoverableError(answer.reason) : new Error(answer.reason);
  }

  /** Accepted wins over everything but another acceptance: a FAILED "outcome unknown" was a guess, this is the answer. */
  private async recordAccepted(postId: string, answer: Extract<PublishAnswer, { accepted: true }>): Promise<void> {
    await this.prisma.socialPost.updateMany({
      where: { id: postId, status: { in: [SocialPostStatus.PUBLISHING, SocialPostStatus.FAILED] } },
      data: {
        status: SocialPostStatus.PUBLISHED,
        externalId: answer.externalId,
        publishedAt: new Date(answer.publishedAt),
        leaseUntil: null,
        errorMessage: answer.note ?? null,
        failedAt: null,
      },
    });
  }

  /** Releases the claim for a retry, or fails the post; only the claim that was refused (`claimedAt`) is touched. */
  private async recordRefusal(postId: string, answer: Extract<PublishAnswer, { accepted: false }>): Promise<boolean> {
    const { count } = await this.prisma.socialPost.updateMany({
      where: { id: postId, status: SocialPostStatus.PUBLISHING, claimedAt: new Date(answer.claimedAt) },
      data: answer.final
        ? { status: SocialPostStatus.FAILED, errorMessage: answer.reason, failedAt: new Date(), leaseUntil: null }
        : { claimedAt: null, leaseUntil: null, errorMessage: answer.reason },
    });
    return count > 0;
  }

  private async settleFailed(post: SocialPost, reason: string): Promise<void> {
    await this.prisma.socialPost.updateMany({
      where: { id: post.id, status: SocialPostStatus.PUBLISHING, claimedAt: post.claimedAt },
      data: { status: SocialPostStatus.FAILED, errorMessage: reason.slice(0, 1000), failedAt: new Date(), leaseUntil: null },
    });
  }

  /** Keeps an answer with the job; if even that fails, the claim's lease and the platform check are what is left. */
  private async keep(attempt: PublishAttempt, answer: PublishAnswer, postId: string): Promise<void> {
    await attempt.keepAnswer(answer).catch((error: Error) =>
      this.logger.error(`Post ${postId}: the platform's answer could be neither recorded nor kept with the job: ${error.message}`),
    );
  }

  /**
   * Through the route chosen when the post was accepted: its connection (a
   * deleted or INVALID one fails the post, never falling back), the platform's
   * account, or sandbox (an id starting `sandbox_`, nothing sent).
   */
  private async callPlatform(post: SocialPost): Promise<PublishResult> {
    const publisher: SocialPublisher | undefined = this.publishers.publisher(post.platform);
    if (!publisher) throw new UnrecoverableError(`No publisher for ${post.platform}`);
    const connection = post.connectionId ? await this.prisma.channelConnection.findUnique({ where: { id: post.connectionId } }) : null;
    let route;
    try {
      route = this.router.credentialsFor(publisher.kind, post.route, connection, post.platform);
    } catch (error) {
      if (error instanceof RouteUnavailableError) throw new UnrecoverableError(error.message);
      throw error;
    }
    if (route.sandbox) {
      this.logger.log(`Sandbox: ${post.platform} post ${post.id} recorded as published, nothing sent`);
      return { externalId: `sandbox_${randomBytes(8).toString('hex')}` };
    }
    return publisher.publish(post, {
      credentials: route.credentials,
      containerId: post.containerId,
      saveContainer: async (containerId) => {
        const { count } = await this.prisma.socialPost.updateMany({
          where: { id: post.id, status: SocialPostStatus.PUBLISHING, claimedAt: post.claimedAt },
          data: { containerId },
        });
        if (count === 0) throw new UnrecoverableError(`Post ${post.id} is no longer held by this attempt; nothing published`);
      },
    });
  }

  private leaseFrom(now: Date): Date {
    return new Date(now.getTime() + this.leaseMs);
  }
}
