import { BadRequestException, Injectable, NotFoundException, UnprocessableEntityException } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { CacheService } from '../../core/cache/cache.service';
import { AppConfig } from '../../core/config/app-config';
import { Paginated } from '../../core/http/pagination.dto';
import { PrismaService } from '../../core/prisma/prisma.service';
import type { Flow, Prisma } from '../../generated/prisma/client';
import { TriggerType } from '../../generated/prisma/enums';
import type { TenantScope } from '../../core/auth/tenant-scope';
import { CreateFlowDto, FlowDto, FlowTriggerDto, UpdateFlowDto } from './dto/flow.dto';
import { FlowStepRegistry } from './steps/flow-step.registry';

@Injectable()
export class FlowsService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly cache: CacheService,
    private readonly steps: FlowStepRegistry,
    private readonly config: AppConfig,
  ) {}

  async create(scope: TenantScope, dto: CreateFlowDto): Promise<FlowDto> {
    const steps = await this.validated(scope, dto.steps, dto.trigger);
    const webhookSecret = dto.trigger.type === TriggerType.WEBHOOK ? newWebhookSecret() : null;
    const flow = await this.flowsChanging(scope, () => this.prisma.flow.create({
      data: {
        organizationId: scope.organizationId,
        name: dto.name,
        active: dto.active ?? true,
        triggerType: dto.trigger.type,
        triggerTag: triggerTagOf(dto.trigger),
        triggerKeyword: triggerKeywordOf(dto.trigger),
        steps,
        webhookSecret,
      },
    }));
    return this.toDto(flow, webhookSecret ?? undefined);
  }

  async list(scope: TenantScope, page: number, limit: number): Promise<Paginated<FlowDto>> {
    const where = scope.where({});
    const [rows, total] = await this.prisma.$transaction([
      this.prisma.flow.findMany({ where, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], skip: (page - 1) * limit, take: limit }),
      this.prisma.flow.count({ where }),
    ]);
    return { data: rows.map((f) => this.toDto(f)), total, page, limit };
  }

  async get(scope: TenantScope, id: string): Promise<FlowDto> {
    return this.toDto(await this.find(scope, id));
  }

  /** The flow of this organization, or 404 (also for another organization's flow). */
  async find(scope: TenantScope, id: string): Promise<Flow> {
    const flow = await this.prisma.flow.findFirst({ where: scope.where({ id }) });
    if (!flow) throw new NotFoundException('Flow not found.');
    return flow;
  }

  /**
   * Every edit bumps `version`; runs in progress keep the steps they started
   * with (their own snapshot). Turning a flow into a WEBHOOK flow answers its
   * new secret in this response, once.
   */
  async update(scope: TenantScope, id: string, dto: UpdateFlowDto): Promise<FlowDto> {
    const current = await this.find(scope, id);
    if (Object.values(dto).every((v) => v === undefined)) return this.toDto(current);
    const trigger: FlowTriggerDto = dto.trigger ?? { type: current.triggerType, tag: current.triggerTag ?? undefined, keyword: current.triggerKeyword ?? undefined };
    const steps = dto.steps !== undefined ? await this.validated(scope, dto.steps, trigger) : undefined;
    if (dto.trigger && !dto.steps) this.checkTrigger(trigger, []);

    const becomesWebhook = trigger.type === TriggerType.WEBHOOK && !current.webhookSecret;
    const webhookSecret = becomesWebhook ? newWebhookSecret() : undefined;
    const data: Prisma.FlowUpdateManyMutationInput = {
      name: dto.name,
      active: dto.active,
      steps,
      version: { increment: 1 },
    };
    if (dto.trigger) {
      data.triggerType = trigger.type;
      data.triggerTag = triggerTagOf(trigger);
      data.triggerKeyword = triggerKeywordOf(trigger);
      data.webhookSecret = trigger.type === TriggerType.WEBHOOK ? (webhookSecret ?? current.webhookSecret) : null;
    }
    const updated = await this.flowsChanging(scope, () => this.prisma.flow.updateManyAndReturn({ where: scope.where({ id }), data }));
    if (updated.length === 0) throw new NotFoundException('Flow not found.');
    return this.toDto(updated[0], webhookSecret);
  }

  /** Deleting a flow deletes its runs; their pending jobs find nothing to do and end. */
  async remove(scope: TenantScope, id: string): Promise<void> {
    const { count } = await this.flowsChanging(scope, () => this.prisma.flow.deleteMany({ where: scope.where({ id }) }));
    if (count === 0) throw new NotFoundException('Flow not found.');
  }

  toDto(flow: Flow, webhookSecret?: string): FlowDto {
    const dto: FlowDto = {
      id: flow.id,
      name: flow.name,
      active: flow.active,
      trigger: { type: flow.triggerType, tag: flow.triggerTag, keyword: flow.triggerKeyword },
      steps: flow.steps as Record<string, unknown>[],
      version: flow.version,
      createdAt: flow.createdAt.toISOString(),
      updatedAt: flow.updatedAt.toISOString(),
    };
    if (flow.triggerType === TriggerType.WEBHOOK) {
      dto.webhookUrl = `${this.config.APP_URL.replace(/\/$/, '')}/api/webhooks/flows/${flow.id}`;
    }
    if (webhookSecret) dto.webhookSecret = webhookSecret;
    return dto;
  }

  /**
   * Steps checked in two passes: their shape (400 naming each bad step), then
   * what depends on the organization (a WhatsApp template it cannot send: 422),
   * so a flow never saves a step that could only fail when it runs.
   */
  private async validated(scope: TenantScope, steps: Record<string, unknown>[], trigger: FlowTriggerDto): Promise<Prisma.InputJsonValue> {
    const problems = this.steps.validate(steps);
    this.checkTrigger(trigger, problems);
    const normalized = this.steps.normalize(steps);
    const refused = await this.steps.check(normalized, scope);
    if (refused.length > 0) throw new UnprocessableEntityException(refused);
    return normalized as unknown as Prisma.InputJsonValue;
  }

  private checkTrigger(trigger: FlowTriggerDto, problems: string[]): void {
    if (trigger.type === TriggerType.TAG_ADDED && !trigger.tag) {
      problems.push('trigger.tag is required when trigger.type is TAG_ADDED');
    }
    if (trigger.type !== TriggerType.TAG_ADDED && trigger.tag !== undefined) {
      problems.push('trigger.tag is only allowed when trigger.type is TAG_ADDED');
    }
    if (trigger.type !== TriggerType.INBOUND_MESSAGE && trigger.keyword !== undefined) {
      problems.push('trigger.keyword is only allowed when trigger.type is INBOUND_MESSAGE');
    }
    if (problems.length > 0) throw new BadRequestException(problems);
  }

  /** The dashboard counts flows: a flow write goes through `cache.writing`, so the dashboard is fresh when it answers. */
  private flowsChanging<T>(scope: TenantScope, write: () => Promise<T>): Promise<T> {
    return this.cache.writing(scope.organizationId, write);
  }
}

function triggerTagOf(trigger: FlowTriggerDto): string | null {
  return trigger.type === TriggerType.TAG_ADDED ? trigger.tag! : null;
}

function triggerKeywordOf(trigger: FlowTriggerDto): string | null {
  return trigger.type === TriggerType.INBOUND_MESSAGE ? (trigger.keyword ?? null) : null;
}

function newWebhookSecret(): string {
  return randomBytes(32).toString('hex');
}
