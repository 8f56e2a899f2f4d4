import {
  BadRequestException,
  ConflictException,
  Injectable,
  Logger,
  NotFoundException,
} from '@nestjs/common';
import { Paginated } from '../../core/http/pagination.dto';
import { PrismaService } from '../../core/prisma/prisma.service';
import { JobProducer } from '../../core/queues/job-producer.service';
import { JobName } from '../../core/queues/queue.catalogue';
import type { Prisma, SocialPost } from '../../generated/prisma/client';
import { SocialPostStatus } from '../../generated/prisma/enums';
import type { TenantScope } from '../../core/auth/tenant-scope';
import { CreateSocialPostDto, SocialPostDto, SocialPostsQueryDto, UpdateSocialPostDto } from './dto/social-post.dto';
import { ChannelRegistry } from '../channels/channel-registry';
import { ChannelRouter } from '../channels/routing/channel-router';

/**
 * Scheduled posts. Each SCHEDULED post has one delayed `publish-post` job
 * whose id is the post id, so a post can never be queued twice; rescheduling
 * moves that job, cancelling removes it.
 */
@Injectable()
export class SocialPostsService {
  private readonly logger = new Logger(SocialPostsService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly producer: JobProducer,
    private readonly publishers: ChannelRegistry,
    private readonly router: ChannelRouter,
  ) {}

  async create(scope: TenantScope, dto: CreateSocialPostDto): Promise<SocialPostDto> {
    const scheduledFor = new Date(dto.scheduledFor);
    this.check({ platform: dto.platform, content: dto.content, imageUrl: dto.imageUrl ?? null }, scheduledFor);
    if (dto.campaignId) {
      const campaign = await this.prisma.campaign.findFirst({ where: scope.where({ id: dto.campaignId }), select: { id: true } });
      if (!campaign) throw new NotFoundException('Campaign not found.');
    }
    // The account a post goes out through is chosen now and kept (the organization's connection, the platform's, sandbox).
    const route = await this.router.choose(scope.organizationId, this.publishers.publisher(dto.platform)!.kind, dto.platform);
    const post = await this.prisma.socialPost.create({
      data: {
        organizationId: scope.organizationId,
        platform: dto.platform,
        content: dto.content,
        imageUrl: dto.imageUrl,
        scheduledFor,
        campaignId: dto.campaignId,
        route: route.route,
        connectionId: route.connectionId,
      },
    });
    await this.queue(post).catch((error: Error) =>
      // Stored, so not lost: the reconciler queues it before it is due once Redis answers again.
      this.logger.warn(`Post ${post.id} not queued yet: ${error.message}`),
    );
    return toDto(post);
  }

  async list(scope: TenantScope, query: SocialPostsQueryDto): Promise<Paginated<SocialPostDto>> {
    const where = scope.where<Prisma.SocialPostWhereInput>({
      ...(query.status ? { status: query.status } : {}),
      ...(query.platform ? { platform: query.platform } : {}),
    });
    const [rows, total] = await this.prisma.$transaction([
      this.prisma.socialPost.findMany({
        where,
        orderBy: [{ scheduledFor: 'desc' }, { id: 'desc' }],
        skip: query.skip,
        take: query.limit,
      }),
      this.prisma.socialPost.count({ where }),
    ]);
    return { data: rows.map(toDto), total, page: query.page, limit: query.limit };
  }

  async get(scope: TenantScope, id: string): Promise<SocialPostDto> {
    return toDto(await this.find(scope, id));
  }

  /** Edit or reschedule while SCHEDULED; the delayed job moves with `scheduledFor`. */
  async update(scope: TenantScope, id: string, dto: UpdateSocialPostDto): Promise<SocialPostDto> {
    const current = await this.find(scope, id);
    this.checkScheduled(current);
    const next = {
      platform: current.platform,
      content: dto.content ?? current.content,
      imageUrl: dto.imageUrl === undefined ? current.imageUrl : dto.imageUrl,
    };
    const scheduledFor = dto.scheduledFor ? new Date(dto.scheduledFor) : current.scheduledFor;
    this.check(next, dto.scheduledFor ? scheduledFor : undefined);

    const [updated] = await this.prisma.socialPost.updateManyAndReturn({
      where: scope.where({ id, status: SocialPostStatus.SCHEDULED }),
      data: { content: next.content, imageUrl: next.imageUrl, scheduledFor },
    });
    if (!updated) throw new ConflictException('Only a SCHEDULED post can be changed; this one is already being published.');
    if (scheduledFor.getTime() !== current.scheduledFor.getTime()) await this.reschedule(updated);
    return toDto(updated);
  }

  /** Cancels a SCHEDULED post: it stays listed as CANCELED and is never published. */
  async cancel(scope: TenantScope, id: string): Promise<SocialPostDto> {
    const current = await this.find(scope, id);
    this.checkScheduled(current);
    const [canceled] = await this.prisma.socialPost.updateManyAndReturn({
      where: scope.where({ id, status: SocialPostStatus.SCHEDULED }),
      data: { status: SocialPostStatus.CANCELED },
    });
    if (!canceled) throw new ConflictException('Only a SCHEDULED post can be cancelled; this one is already being published.');
    // A job already taken by a worker finds the post CANCELED and publishes nothing.
    await this.producer
      .queueOf(JobName.PublishPost)
      .remove(id)
      .catch((error: Error) => this.logger.warn(`Job of cancelled post ${id} not removed: ${error.message}`));
    return toDto(canceled);
  }

  private async find(scope: TenantScope, id: string): Promise<SocialPost> {
    const post = await this.prisma.socialPost.findFirst({ where: scope.where({ id }) });
    if (!post) throw new NotFoundException('Social post not found.');
    return post;
  }

  private checkScheduled(post: SocialPost): void {
    if (post.status !== SocialPostStatus.SCHEDULED) {
      throw new ConflictException(`The post is ${post.status}; only a SCHEDULED post can be changed or cancelled.`);
    }
  }

  private check(post: Parameters<ChannelRegistry['postProblems']>[0], scheduledFor?: Date): void {
    const problems = this.publishers.postProblems(post);
    if (scheduledFor && scheduledFor.getTime() <= Date.now()) problems.push('scheduledFor must be in the future');
    if (problems.length > 0) throw new BadRequestException(problems);
  }

  private queue(post: SocialPost) {
    return this.producer.add(
      JobName.PublishPost,
      { postId: post.id, organizationId: post.organizationId },
      { jobId: post.id, delay: Math.max(0, post.scheduledFor.getTime() - Date.now()) },
    );
  }

  /**
   * Moves the post's job to the new time: a delayed job changes its delay; a
   * job already due but not taken is replaced. A job a worker holds right now
   * cannot move, and if Redis fails here the old job stays: either way the
   * worker re-reads `scheduledFor` when the job runs and delays itself.
   */
  private async reschedule(post: SocialPost): Promise<void> {
    const queue = this.producer.queueOf(JobName.PublishPost);
    try {
      const job = await queue.getJob(post.id);
      if (job && (await job.getState()) === 'delayed') {
        await job.changeDelay(Math.max(0, post.scheduledFor.getTime() - Date.now()));
        return;
      }
      if (job && (await queue.remove(post.id)) === 0) return; // held by a worker
      await this.queue(post);
    } catch (error) {
      this.logger.warn(`Job of post ${post.id} not moved now (the worker will): ${(error as Error).message}`);
    }
  }
}

export function toDto(post: SocialPost): SocialPostDto {
  return {
    id: post.id,
    platform: post.platform,
    content: post.content,
    imageUrl: post.imageUrl,
    scheduledFor: post.scheduledFor.toISOString(),
    status: post.status,
    externalId: post.externalId,
    attempts: post.attempts,
    errorMessage: post.errorMessage,
    publishedAt: post.publishedAt?.toISOString() ?? null,
    failedAt: post.failedAt?.toISOString() ?? null,
    campaignId: post.campaignId,
    createdAt: post.createdAt.toISOString(),
  };
}
