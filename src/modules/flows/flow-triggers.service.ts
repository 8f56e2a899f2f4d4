import { ConflictException, Injectable, Logger, NotFoundException, OnModuleInit } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { type NothingToDo, skipWhenNothingToDo } from '../../core/outbox/outbox.service';
import { PrismaService } from '../../core/prisma/prisma.service';
import { type Flow, Prisma } from '../../generated/prisma/client';
import { TriggerType } from '../../generated/prisma/enums';
import type { TenantScope } from '../../core/auth/tenant-scope';
import { CONTACT_TAG_ADDED, type ContactTagAddedEvent } from '../contacts/contact.events';
import { InboundEvents, type InboundReceived } from '../messages/inbound/inbound-events';
import { normalizeKeyword } from '../messages/inbound/keywords';
import { StartExecutionDto } from './dto/execution.dto';
import { FlowExecutionsService, StartedRun } from './flow-executions.service';

/** Runs one flow may start for one contact from tags within an hour; past it the flow is looping through tags. */
export const MAX_TAG_RUNS_PER_CONTACT_HOUR = 10;
const HOUR_MS = 3_600_000;

/**
 * A `contact.tag-added` event whose tag starts no flow: its organization has no active TAG_ADDED flow of that tag
 * (what `tagAdded` looks up). Most tags start none (a CSV import tags thousands of contacts): such an event is not
 * written (the outbox's `skipWhenNothingToDo`), and one whose flow went away since is marked handled by the drain's
 * claim, in the statement that takes it.
 */
export const TAG_STARTS_NO_FLOW: NothingToDo = {
  statement: 'zyva_outbox_claim_tag_added',
  when: Prisma.sql`NOT EXISTS (
    SELECT 1 FROM flows f
    WHERE f."organizationId" = e."organizationId" AND f."triggerType" = ${TriggerType.TAG_ADDED}::"TriggerType" AND f.active
      AND f."triggerTag" = e.payload->>'tag')`,
};
skipWhenNothingToDo(CONTACT_TAG_ADDED, TAG_STARTS_NO_FLOW);

/**
 * Where runs begin: one method per trigger, each deciding the key that
 * identifies its event (the same event never starts a flow twice for a contact).
 */
@Injectable()
export class FlowTriggersService implements OnModuleInit {
  private readonly logger = new Logger(FlowTriggersService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly executions: FlowExecutionsService,
    private readonly inbound: InboundEvents,
  ) {}

  onModuleInit(): void {
    this.inbound.onReceived(async (event) => void (await this.inboundMessage(event)));
  }

  /**
   * A contact wrote to the store (any channel): its active INBOUND_MESSAGE
   * flows start, those with a keyword only when the text equals it (trimmed,
   * without case or accents; a media message matches only keyword-less flows).
   * Keyed by the inbound message, so a repeated delivery starts nothing twice.
   */
  async inboundMessage(event: InboundReceived): Promise<number> {
    const flows = await this.prisma.flow.findMany({
      where: { organizationId: event.organizationId, triggerType: TriggerType.INBOUND_MESSAGE, active: true },
    });
    const text = normalizeKeyword(event.text);
    let started = 0;
    for (const flow of flows) {
      if (flow.triggerKeyword !== null && (!event.isText || normalizeKeyword(flow.triggerKeyword) !== text)) continue;
      const run = await this.executions.start({
        flow,
        contactId: event.contactId,
        triggerType: TriggerType.INBOUND_MESSAGE,
        triggerData: { messageId: event.messageId, channel: event.channel, text: event.text.slice(0, 1000) },
        dedupeKey: `inbound:${flow.id}:${event.messageId}`,
      });
      if (run.started) started++;
    }
    return started;
  }

  /** `POST /api/flows/:id/executions`: a MANUAL run; a repeated `Idempotency-Key` answers the first run. */
  async manual(scope: TenantScope, flowId: string, dto: StartExecutionDto, idempotencyKey?: string): Promise<StartedRun> {
    const flow = await this.prisma.flow.findFirst({ where: scope.where({ id: flowId }) });
    if (!flow) throw new NotFoundException('Flow not found.');
    await this.checkStartable(flow, dto.contactId);
    return this.executions.start({
      flow,
      contactId: dto.contactId,
      triggerType: TriggerType.MANUAL,
      triggerData: dto.data as Prisma.InputJsonObject | undefined,
      dedupeKey: `manual:${flow.id}:${dto.contactId}:${idempotencyKey ?? randomUUID()}`,
    });
  }

  /**
   * A signed webhook delivery. `eventKey` identifies the delivery (the
   * sender's Idempotency-Key, else a hash of the raw body), so a redelivered
   * event starts nothing new.
   */
  async webhook(flow: Flow, dto: StartExecutionDto, eventKey: string): Promise<StartedRun> {
    await this.checkStartable(flow, dto.contactId);
    return this.executions.start({
      flow,
      contactId: dto.contactId,
      triggerType: TriggerType.WEBHOOK,
      triggerData: dto.data as Prisma.InputJsonObject | undefined,
      dedupeKey: `webhook:${flow.id}:${dto.contactId}:${eventKey}`,
    });
  }

  /**
   * A tag was added to a contact: start the organization's active TAG_ADDED
   * flows for it. The event is identified by when that tag was attached, so a
   * repeated event is one run, while removing and re-adding the tag later is a
   * new event. A flow never re-triggers itself for a contact with a run of it
   * still in progress (a flow that removes and re-adds its own tag would loop),
   * and flows that feed each other (A adds `b`, B adds `a`) stop once one has
   * run MAX_TAG_RUNS_PER_CONTACT_HOUR times for the contact in the last hour:
   * the refused run is recorded FAILED with the reason. Called by the outbox
   * drain, possibly twice for one event: every start is idempotent.
   */
  async tagAdded(event: ContactTagAddedEvent): Promise<void> {
    const flows = await this.prisma.flow.findMany({
      where: { organizationId: event.organizationId, triggerType: TriggerType.TAG_ADDED, active: true, triggerTag: event.tag },
    });
    if (flows.length === 0) return;
    const link = await this.prisma.contactTag.findFirst({
      where: {
        contactId: event.contactId,
        contact: { organizationId: event.organizationId },
        tag: { organizationId: event.organizationId, name: event.tag },
      },
      select: { createdAt: true },
    });
    if (!link) return; // the tag was removed again before the event got here
    for (const flow of flows) {
      if (await this.executions.hasRunInProgress(flow.id, event.contactId)) {
        this.logger.log(`Flow ${flow.id} not re-triggered: contact ${event.contactId} has a run of it in progress`);
        continue;
      }
      const run = {
        flow,
        contactId: event.contactId,
        triggerType: TriggerType.TAG_ADDED,
        triggerData: { tag: event.tag },
        dedupeKey: `tag:${flow.id}:${event.contactId}:${event.tag}:${link.createdAt.getTime()}`,
      };
      if ((await this.executions.runsSince(flow.id, event.contactId, new Date(Date.now() - HOUR_MS))) >= MAX_TAG_RUNS_PER_CONTACT_HOUR) {
        const reason =
          `Not started: tag "${event.tag}" already started this flow ${MAX_TAG_RUNS_PER_CONTACT_HOUR} times for this contact ` +
          `in the last hour. Flows that add each other's trigger tags loop; change their steps or triggers.`;
        this.logger.warn(`Flow ${flow.id} stopped for contact ${event.contactId}: ${MAX_TAG_RUNS_PER_CONTACT_HOUR} tag-triggered runs in an hour`);
        await this.executions.refuse(run, reason);
        continue;
      }
      await this.executions.start(run);
    }
  }

  /** The daily check's runs: one per flow and contact for that date, whatever number of times it runs. */
  birthdays(flows: Flow[], contactIds: string[], date: string): Promise<number> {
    return this.executions.startMany(
      flows.flatMap((flow) =>
        contactIds.map((contactId) => ({
          flow,
          contactId,
          triggerType: TriggerType.BIRTHDAY,
          triggerData: { date },
          dedupeKey: `birthday:${flow.id}:${contactId}:${date}`,
        })),
      ),
    );
  }

  private async checkStartable(flow: Flow, contactId: string): Promise<void> {
    if (!flow.active) throw new ConflictException('This flow is inactive; activate it to start runs.');
    const contact = await this.prisma.contact.findFirst({
      where: { id: contactId, organizationId: flow.organizationId },
      select: { id: true },
    });
    if (!contact) throw new NotFoundException('Contact not found.');
  }
}
