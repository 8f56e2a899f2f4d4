import { Injectable, Logger } from '@nestjs/common';
import { Job, UnrecoverableError } from 'bullmq';
import { PrismaService } from '../../core/prisma/prisma.service';
import { JobProducer } from '../../core/queues/job-producer.service';
import { JobName, JobPayloads } from '../../core/queues/queue.catalogue';
import { currentPeriod } from '../../core/plans/plans';
import type { Campaign } from '../../generated/prisma/client';
import { SENDABLE } from '../messages/message-send.repository';
import { MessageQuota } from '../organizations/message-quota';
import { ChannelRegistry } from '../channels/channel-registry';
import { campaignAudience } from './campaign-audience';

/** Contacts read, messages created and jobs added per round trip. */
const BATCH = 1000;
/** Messages sent by one `send-campaign-batch` job. */
export const SEND_BATCH = 50;
/** BullMQ's lowest priority: batches past it share it. */
const MAX_PRIORITY = 2_097_152;

/**
 * Fairness between stores, without BullMQ Pro's groups: a campaign's messages
 * are queued with a BullMQ priority (lower runs first) that grows with each
 * batch of 1,000, while single messages and flow steps carry none and so run
 * before any campaign message. Two stores' campaigns running at once therefore
 * alternate batch by batch (A's batch k and B's batch k share priority k+1),
 * and a store's one message never waits behind another's 20,000.
 */
export function campaignPriority(position: number): number {
  return Math.min(MAX_PRIORITY, 1 + Math.floor(position / BATCH));
}

export type FanOutJob = Job<JobPayloads[JobName.FanOutCampaign]>;

/**
 * The `fan-out-campaign` job: one message per audience contact, created in
 * pages of 1,000 (one INSERT each) and queued as `send-campaign-batch` jobs
 * of SEND_BATCH messages (one addBulk per page). Safe to run again after a
 * crash: contacts that already have their message are skipped, and messages
 * not yet sent are queued again in batch jobs (BullMQ ignores a duplicate job
 * id; a message in two batches is claimed by one of them only).
 */
@Injectable()
export class CampaignFanOutService {
  private readonly logger = new Logger(CampaignFanOutService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly jobs: JobProducer,
    private readonly registry: ChannelRegistry,
    private readonly quota: MessageQuota,
  ) {}

  async run(job: FanOutJob): Promise<{ created: number; total: number }> {
    const campaign = await this.prisma.campaign.findUnique({ where: { id: job.data.campaignId } });
    if (!campaign || (campaign.status !== 'PENDING' && campaign.status !== 'FANNING_OUT')) {
      return { created: 0, total: campaign?.total ?? 0 };
    }
    const sender = this.registry.sender(campaign.channel);
    if (!sender) throw new UnrecoverableError(`No provider sends channel ${campaign.channel}`);
    await this.prisma.campaign.update({ where: { id: campaign.id }, data: { status: 'FANNING_OUT' } });

    const alreadyCreated = await this.prisma.message.count({ where: { campaignId: campaign.id } });
    if (alreadyCreated > 0) await this.requeueExisting(campaign);

    let created = alreadyCreated;
    let cursor: string | undefined;
    const where = campaignAudience(campaign.organizationId, campaign.channel, sender.recipientField, campaign.tag);
    while (created < campaign.total) {
      const page = await this.prisma.contact.findMany({
        where: cursor ? { ...where, id: { gt: cursor } } : where,
        select: { id: true },
        orderBy: { id: 'asc' },
        take: BATCH,
      });
      if (page.length === 0) break;
      cursor = page[page.length - 1].id;
      let contactIds = page.map((c) => c.id);
      if (alreadyCreated > 0) contactIds = await this.withoutMessage(campaign.id, contactIds);
      contactIds = contactIds.slice(0, campaign.total - created);
      created += await this.createAndQueue(campaign, contactIds, created);
      await job.updateProgress(Math.round((created / campaign.total) * 100));
    }

    // Fewer contacts than reserved (some were deleted meanwhile): give the difference back.
    if (created < campaign.total) await this.quota.release(campaign.organizationId, campaign.total - created, campaign.createdAt);
    await this.prisma.campaign.update({
      where: { id: campaign.id },
      data: { status: created > 0 ? 'QUEUED' : 'COMPLETED', total: created },
    });
    this.logger.log(`Campaign ${campaign.id}: ${created} messages queued`);
    return { created, total: created };
  }

  /**
   * One INSERT for the whole batch (ids made by Postgres), rather than the
   * ORM building a thousand rows: the fan-out is on the hot path of a campaign.
   * The same statement adds the batch to the organization's messagesThisMonth
   * (the cached organization and dashboard that show it are dropped after it).
   * Every message keeps the route the campaign was accepted with.
   */
  private async createAndQueue(campaign: Campaign, contactIds: string[], created: number): Promise<number> {
    if (contactIds.length === 0) return 0;
    const scheduled = campaign.scheduledFor !== null && campaign.scheduledFor.getTime() > Date.now();
    const now = new Date().toISOString();
    const period = currentPeriod();
    const rows = await this.prisma.$queryRaw<{ id: string }[]>`
      WITH inserted AS (
        INSERT INTO messages (id, "organizationId", "contactId", "campaignId", channel, content, template, status, route, "connectionId",
                              "scheduledFor", "createdAt", "updatedAt")
        SELECT 'c' || replace(gen_random_uuid()::text, '-', ''), ${campaign.organizationId}, contact.id, ${campaign.id},
               ${campaign.channel}, ${campaign.content}, ${campaign.template === null ? null : JSON.stringify(campaign.template)}::jsonb,
               ${scheduled ? 'SCHEDULED' : 'QUEUED'}::"MessageStatus",
               ${campaign.route}::"SendRoute", ${campaign.connectionId},
               ${campaign.scheduledFor?.toISOString() ?? null}::timestamp(3), ${now}::timestamp(3), ${now}::timestamp(3)
        FROM unnest(${contactIds}::text[]) AS contact(id)
        RETURNING id
      ), counted AS (
        UPDATE organizations
        SET "messagesThisMonth" = CASE WHEN "messagesPeriod" = ${period} THEN "messagesThisMonth" ELSE 0 END + (SELECT count(*) FROM inserted)::int,
            "messagesPeriod" = ${period}
        WHERE id = ${campaign.organizationId}
      )
      SELECT id FROM inserted`;
    if (rows.length > 0) await this.quota.counted(campaign.organizationId);
    await this.queue(campaign, rows.map((r) => r.id), campaignPriority(created));
    return rows.length;
  }

  private async requeueExisting(campaign: Campaign): Promise<void> {
    let cursor: string | undefined;
    for (let position = 0; ; position += BATCH) {
      const rows = await this.prisma.message.findMany({
        where: { campaignId: campaign.id, status: { in: [...SENDABLE] }, ...(cursor ? { id: { gt: cursor } } : {}) },
        select: { id: true },
        orderBy: { id: 'asc' },
        take: BATCH,
      });
      if (rows.length === 0) return;
      cursor = rows[rows.length - 1].id;
      await this.queue(campaign, rows.map((r) => r.id), campaignPriority(position));
    }
  }

  private async withoutMessage(campaignId: string, contactIds: string[]): Promise<string[]> {
    const existing = await this.prisma.message.findMany({
      where: { campaignId, contactId: { in: contactIds } },
      select: { contactId: true },
    });
    const have = new Set(existing.map((m) => m.contactId));
    return contactIds.filter((id) => !have.has(id));
  }

  private async queue(campaign: Campaign, messageIds: string[], priority: number): Promise<void> {
    if (messageIds.length === 0) return;
    const delay = campaign.scheduledFor ? Math.max(0, campaign.scheduledFor.getTime() - Date.now()) : 0;
    const batches: string[][] = [];
    for (let i = 0; i < messageIds.length; i += SEND_BATCH) batches.push(messageIds.slice(i, i + SEND_BATCH));
    await this.jobs.addBulk(
      JobName.SendCampaignBatch,
      batches.map((ids) => ({
        data: { campaignId: campaign.id, organizationId: campaign.organizationId, messageIds: ids },
        opts: { jobId: `batch-${ids[0]}`, delay: delay || undefined, priority },
      })),
    );
  }
}
