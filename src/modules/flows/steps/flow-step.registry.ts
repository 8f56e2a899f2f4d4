import { Inject, Injectable } from '@nestjs/common';
import type { TenantScope } from '../../../core/auth/tenant-scope';
import { FLOW_STEP_HANDLERS, FlowStep, FlowStepHandler } from './flow-step-handler';

export const MAX_FLOW_STEPS = 50;

/** The registered step types, by `type`: validates step lists and finds the handler of a step. */
@Injectable()
export class FlowStepRegistry {
  private readonly byType: Map<string, FlowStepHandler>;

  constructor(@Inject(FLOW_STEP_HANDLERS) handlers: FlowStepHandler[]) {
    this.byType = new Map(handlers.map((h) => [h.type, h]));
  }

  get types(): string[] {
    return [...this.byType.keys()];
  }

  handlerOf(type: string): FlowStepHandler | undefined {
    return this.byType.get(type);
  }

  /** Every problem of a step list, each naming its step: `steps[2].seconds must be a positive integer`. */
  validate(steps: unknown): string[] {
    if (!Array.isArray(steps)) return ['steps must be an array'];
    if (steps.length === 0) return ['steps must contain at least 1 step'];
    if (steps.length > MAX_FLOW_STEPS) return [`steps must contain at most ${MAX_FLOW_STEPS} steps`];
    return steps.flatMap((step, i) => this.validateStep(step, `steps[${i}]`));
  }

  private validateStep(step: unknown, path: string): string[] {
    if (typeof step !== 'object' || step === null || Array.isArray(step)) return [`${path} must be an object`];
    const record = step as Record<string, unknown>;
    const handler = typeof record.type === 'string' ? this.byType.get(record.type) : undefined;
    if (!handler) return [`${path}.type must be one of ${this.types.join(', ')}`];
    const unknown = Object.keys(record)
      .filter((key) => key !== 'type' && !handler.fields.includes(key))
      .map((key) => `${path}.${key} should not exist`);
    return [...handler.validate(record).map((problem) => `${path}.${problem}`), ...unknown];
  }

  /** The organization-dependent checks of a validated list (FlowStepHandler.check), each naming its step. */
  async check(steps: FlowStep[], scope: TenantScope): Promise<string[]> {
    const problems: string[] = [];
    for (const [i, step] of steps.entries()) {
      const handler = this.byType.get(step.type);
      if (handler?.check) problems.push(...(await handler.check(step, scope)).map((p) => `steps[${i}].${p}`));
    }
    return problems;
  }

  /** The stored form of a validated list: only the known properties, in a stable order. */
  normalize(steps: Record<string, unknown>[]): FlowStep[] {
    return steps.map((step) => {
      const handler = this.byType.get(step.type as string)!;
      return Object.fromEntries([['type', step.type], ...handler.fields.filter((f) => f in step).map((f) => [f, step[f]])]) as FlowStep;
    });
  }
}
