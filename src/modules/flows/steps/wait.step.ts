import { Injectable } from '@nestjs/common';
import type { FlowStep, FlowStepHandler, FlowStepResult } from './flow-step-handler';
import { checkPositiveInteger } from './step-fields';

export interface WaitStep extends FlowStep {
  type: 'WAIT';
  seconds: number;
}

const MAX_WAIT_SECONDS = 365 * 24 * 3600;

/** Pauses the run: the next step becomes a delayed job, so a worker restart during the wait loses nothing. */
@Injectable()
export class WaitStepHandler implements FlowStepHandler<WaitStep> {
  readonly type = 'WAIT';
  readonly fields = ['seconds'];

  validate(step: Record<string, unknown>): string[] {
    return checkPositiveInteger(step, 'seconds', MAX_WAIT_SECONDS);
  }

  async run(step: WaitStep): Promise<FlowStepResult> {
    return { delayNextMs: step.seconds * 1000 };
  }
}
