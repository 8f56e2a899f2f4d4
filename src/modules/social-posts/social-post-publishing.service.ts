import { Injectable, Logger } from '@nestjs/common';
import { UnrecoverableError } from 'bullmq';
import { randomBytes } from 'node:crypto';
import { AppConfig } from '../../core/config/app-config';
import { PrismaService } from '../../core/prisma/prisma.service';
import type { SocialPost } from '../../generated/prisma/client';
import { SocialPostStatus } from '../../generated/prisma/enums';
import { ProviderError } from '../../core/http/provider-error';
import { ChannelRegistry } from '../channels/channel-registry';
import { ChannelRouter, RouteUnavailableError } from '../channels/routing/channel-router';

/** A job may run this early (clock skew between API and workers) and still publish. */
const EARLY_TOLERANCE_MS = 1000;

export interface PublishAttempt {
  postId: string;
  organizationId: string;
  /** True when no retry follows if this attempt fails. */
  lastAttempt: boolean;
}

export type PublishOutcome =
  | { kind: 'published'; externalId: string }
  | { kind: 'skipped'; reason: string }
  /** The post was rescheduled after its job was queued: run the job again at this time. */
  | { kind: 'later'; at: Date };

/**
 * The `publish-post` job. The post goes PUBLISHING while a platform call is
 * in flight, PUBLISHED with the platform's id, or FAILED with the reason once
 * no retry is left (at once for an answer a retry cannot change).
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

  async publish({ postId, organizationId, lastAttempt }: PublishAttempt): Promise<PublishOutcome> {
    // Claimed only while due: a reschedule or cancel that won the race leaves nothing to claim.
    const claimed = await this.prisma.socialPost.updateManyAndReturn({
      where: {
        id: postId,
        organizationId,
        status: { in: [SocialPostStatus.SCHEDULED, SocialPostStatus.PUBLISHING] },
        scheduledFor: { lte: new Date(Date.now() + EARLY_TOLERANCE_MS) },
      },
      data: { status: SocialPostStatus.PUBLISHING, attempts: { increment: 1 } },
    });
    if (claimed.length === 0) return this.unclaimed(postId, organizationId);
    const post = claimed[0];

    try {
      const externalId = await this.callPlatform(post);
      await this.prisma.socialPost.update({
        where: { id: post.id },
        data: { status: SocialPostStatus.PUBLISHED, externalId, publishedAt: new Date(), errorMessage: null },
      });
      return { kind: 'published', externalId };
    } catch (error) {
      const permanent = error instanceof UnrecoverableError || (error instanceof ProviderError && !error.retryable);
      const reason = (error as Error).message.slice(0, 1000);
      await this.prisma.socialPost.update({
        where: { id: post.id },
        data:
          permanent || lastAttempt
            ? { status: SocialPostStatus.FAILED, errorMessage: reason, failedAt: new Date() }
            : { errorMessage: reason },
      });
      throw permanent && !(error instanceof UnrecoverableError) ? new UnrecoverableError(reason) : error;
    }
  }

  /**
   * Through the route chosen when the post was accepted: its connection (a
   * deleted or INVALID one fails the post, never falling back), the platform's
   * account, or sandbox (an id starting `sandbox_`, nothing sent).
   */
  private async callPlatform(post: SocialPost): Promise<string> {
    const publisher = this.publishers.publisher(post.platform);
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
      return `sandbox_${randomBytes(8).toString('hex')}`;
    }
    return (await publisher.publish(post, route.credentials)).externalId;
  }

  private async unclaimed(postId: string, organizationId: string): Promise<PublishOutcome> {
    const post = await this.prisma.socialPost.findFirst({ where: { id: postId, organizationId } });
    if (!post) return { kind: 'skipped', reason: 'post deleted' };
    if (post.status === SocialPostStatus.SCHEDULED) return { kind: 'later', at: post.scheduledFor };
    return { kind: 'skipped', reason: `post is ${post.status}` };
  }
}
