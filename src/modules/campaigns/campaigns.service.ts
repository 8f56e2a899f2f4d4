import { BadRequestException, Injectable, Logger, NotFoundException } from '@nestjs/common';
import { PaginationQueryDto, Paginated } from '../../core/http/pagination.dto';
import { PrismaService } from '../../core/prisma/prisma.service';
import { JobProducer } from '../../core/queues/job-producer.service';
import { JobName } from '../../core/queues/queue.catalogue';
import type { Campaign } from '../../generated/prisma/client';
import type { MessageStatus } from '../../generated/prisma/enums';
import { TenantScope } from '../../core/auth/tenant-scope';
import { ENQUEUE_TIMEOUT_MS, enqueueWithin } from '../messages/enqueue';
import { MessageQuota } from '../organizations/message-quota';
import { ChannelRegistry } from '../channels/channel-registry';
import { ChannelRouter } from '../channels/routing/channel-router';
import { WhatsAppTemplatesService } from '../channels/templates/whatsapp-templates.service';
import { type TemplateRef, templateRefOf } from '../messages/dto/message.dto';
import { OutsideWindowException, outsideWindow, senderOf } from '../messages/send-rules';
import { campaignAudience, campaignOptedOut } from './campaign-audience';
import { CampaignDto, CreateCampaignDto } from './dto/campaign.dto';

const MAX_SCHEDULE_MS = 366 * 24 * 3600 * 1000;

type Counts = Pick<CampaignDto, 'queued' | 'sent' | 'failed' | 'canceled'>;

/** BullMQ job ids cannot contain ':'; one fan-out job per campaign. */
export const fanOutJobId = (campaignId: string) => `campaign-${campaignId}`;

@Injectable()
export class CampaignsService {
  private readonly logger = new Logger(CampaignsService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly jobs: JobProducer,
    private readonly quota: MessageQuota,
    private readonly registry: ChannelRegistry,
    private readonly router: ChannelRouter,
    private readonly templates: WhatsAppTemplatesService,
  ) {}

  /**
   * Accepts a campaign without creating its messages: the whole audience is
   * counted (contacts who opted out of the channel are left out, counted in
   * `skipped`) and its quota consumed up front (a campaign larger than what
   * is left is refused whole, 402), its route chosen (kept by every message
   * of it), WhatsApp's rules checked (free-form text through a store's own
   * number: 422, send a template; a template must be approved and get its
   * variables), then a `fan-out-campaign` job creates and queues the messages in batches.
   */
  async create(scope: TenantScope, dto: CreateCampaignDto): Promise<CampaignDto> {
    const sender = senderOf(this.registry, dto);
    const scheduledFor = dto.scheduledFor ? new Date(dto.scheduledFor) : undefined;
    if (scheduledFor && scheduledFor.getTime() > Date.now() + MAX_SCHEDULE_MS) {
      throw new BadRequestException(['scheduledFor must be within a year from now.']);
    }
    const route = await this.router.choose(scope.organizationId, sender.kind, dto.channel);
    // The window is each contact's, and almost every contact of a campaign is outside it: free-form text is refused whole.
    if (outsideWindow(dto.channel, route.route, Boolean(dto.template), null)) throw new OutsideWindowException();
    let template: (TemplateRef & { body: string }) | undefined;
    if (dto.template) {
      const found = await this.templates.resolve(await this.templates.accountOfRoute(route.route, route.connectionId), dto.template);
      template = { name: dto.template.name, language: dto.template.language, variables: dto.template.variables, body: found.body };
    }
    const optedOut = campaignOptedOut(scope.organizationId, dto.channel, sender.recipientField, dto.tag ?? null);
    const [total, skipped] = await Promise.all([
      this.prisma.contact.count({ where: campaignAudience(scope.organizationId, dto.channel, sender.recipientField, dto.tag ?? null) }),
      optedOut ? this.prisma.contact.count({ where: optedOut }) : Promise.resolve(0),
    ]);
    if (total > 0) await this.quota.consume(scope.organizationId, total);

    let campaign: Campaign;
    try {
      campaign = await this.prisma.campaign.create({
        data: {
          organizationId: scope.organizationId,
          name: dto.name,
          channel: dto.channel,
          // A template campaign's messages carry the body, filled in for each contact when sent.
          content: template ? template.body : dto.content!,
          template: template as object | undefined,
          tag: dto.tag,
          scheduledFor,
          total,
          skipped,
          route: route.route,
          connectionId: route.connectionId,
          status: total > 0 ? 'PENDING' : 'COMPLETED',
        },
      });
    } catch (error) {
      if (total > 0) await this.quota.release(scope.organizationId, total);
      throw error;
    }
    if (total > 0) await this.enqueueFanOut(campaign);
    return this.toDto(campaign, { queued: 0, sent: 0, failed: 0, canceled: 0 });
  }

  async get(scope: TenantScope, id: string): Promise<CampaignDto> {
    const campaign = await this.prisma.campaign.findFirst({ where: scope.where({ id }) });
    if (!campaign) throw new NotFoundException('Campaign not found.');
    const counts = (await this.counts([campaign.id])).get(campaign.id) ?? emptyCounts();
    return this.toDto(await this.completeIfDone(campaign, counts), counts);
  }

  async list(scope: TenantScope, query: PaginationQueryDto): Promise<Paginated<CampaignDto>> {
    const where = scope.where({});
    const [rows, total] = await this.prisma.$transaction([
      this.prisma.campaign.findMany({ where, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], skip: query.skip, take: query.limit }),
      this.prisma.campaign.count({ where }),
    ]);
    const counts = await this.counts(rows.map((r) => r.id));
    const data = await Promise.all(
      rows.map(async (c) => {
        const cs = counts.get(c.id) ?? emptyCounts();
        return this.toDto(await this.completeIfDone(c, cs), cs);
      }),
    );
    return { data, total, page: query.page, limit: query.limit };
  }

  async enqueueFanOut(campaign: Pick<Campaign, 'id' | 'organizationId'>): Promise<void> {
    try {
      await enqueueWithin(ENQUEUE_TIMEOUT_MS, () =>
        this.jobs.add(
          JobName.FanOutCampaign,
          { campaignId: campaign.id, organizationId: campaign.organizationId },
          { jobId: fanOutJobId(campaign.id) },
        ),
      );
    } catch (error) {
      this.logger.warn(`Campaign ${campaign.id} is stored but its fan-out is not queued (${(error as Error).message}); the reconciler will queue it`);
    }
  }

  private async counts(campaignIds: string[]): Promise<Map<string, Counts>> {
    const result = new Map<string, Counts>();
    if (campaignIds.length === 0) return result;
    const groups = await this.prisma.message.groupBy({
      by: ['campaignId', 'status'],
      where: { campaignId: { in: campaignIds } },
      _count: { _all: true },
    });
    for (const g of groups) {
      const counts = result.get(g.campaignId!) ?? emptyCounts();
      counts[bucket(g.status)] += g._count._all;
      result.set(g.campaignId!, counts);
    }
    return result;
  }

  /** A fully queued campaign with nothing left to send is COMPLETED. */
  private async completeIfDone(campaign: Campaign, counts: Counts): Promise<Campaign> {
    if (campaign.status !== 'QUEUED' || counts.queued > 0) return campaign;
    await this.prisma.campaign.updateMany({ where: { id: campaign.id, status: 'QUEUED' }, data: { status: 'COMPLETED' } });
    return { ...campaign, status: 'COMPLETED' };
  }

  private toDto(c: Campaign, counts: Counts): CampaignDto {
    return {
      id: c.id,
      name: c.name,
      channel: c.channel,
      content: c.content,
      template: templateRefOf(c.template),
      skipped: c.skipped,
      tag: c.tag,
      scheduledFor: c.scheduledFor ? c.scheduledFor.toISOString() : null,
      status: c.status,
      total: c.total,
      ...counts,
      createdAt: c.createdAt.toISOString(),
    };
  }
}

function emptyCounts(): Counts {
  return { queued: 0, sent: 0, failed: 0, canceled: 0 };
}

function bucket(status: MessageStatus): keyof Counts {
  switch (status) {
    case 'QUEUED':
    case 'SCHEDULED':
    case 'SENDING':
      return 'queued';
    case 'FAILED':
      return 'failed';
    case 'CANCELED':
      return 'canceled';
    default:
      return 'sent';
  }
}
