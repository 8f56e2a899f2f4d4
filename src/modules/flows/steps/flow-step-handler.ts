import type { TenantScope } from '../../../core/auth/tenant-scope';

/** One step of a flow as stored (validated by its handler before it is saved). */
export interface FlowStep {
  type: string;
  [field: string]: unknown;
}

/** What a step knows about the run it belongs to. */
export interface FlowStepContext {
  scope: TenantScope;
  flowId: string;
  executionId: string;
  contactId: string;
  stepIndex: number;
  triggerData: unknown;
}

export interface FlowStepResult {
  /** Run the next step only after this many milliseconds: a delayed job, never a sleeping worker. */
  delayNextMs?: number;
}

/**
 * A step type. Adding one (say `SEND_WEBHOOK`) is a new class implementing
 * this interface, listed in FLOW_STEP_HANDLER_CLASSES; nothing else changes.
 *
 * `run` may be called more than once for the same step (a retry after an
 * error or a crashed worker), so its effects must be idempotent: key them on
 * `executionId` + `stepIndex`.
 */
export interface FlowStepHandler<S extends FlowStep = FlowStep> {
  /** The `type` value of the steps this handler runs, e.g. `WAIT`. */
  readonly type: string;
  /** The step's properties besides `type`; any other property is refused. */
  readonly fields: readonly string[];
  /** Problems with a step's fields, each as `<field> <problem>` (the caller prefixes `steps[i].`). */
  validate(step: Record<string, unknown>): string[];
  /**
   * Problems that depend on the organization (a template it cannot send, say),
   * checked when the flow is saved (`422`); same format as `validate`.
   */
  check?(step: S, scope: TenantScope): Promise<string[]>;
  /**
   * Performs the step. Throw bullmq's UnrecoverableError for a failure a retry
   * cannot fix; any other error is retried with the `flows` queue's backoff.
   */
  run(step: S, context: FlowStepContext): Promise<FlowStepResult | void>;
}

/** Injection token of every registered FlowStepHandler. */
export const FLOW_STEP_HANDLERS = Symbol('FLOW_STEP_HANDLERS');
