import type { Provider, Type } from '@nestjs/common';
import { AddTagStepHandler, RemoveTagStepHandler } from './tag.steps';
import { FLOW_STEP_HANDLERS, FlowStepHandler } from './flow-step-handler';
import { SendMessageStepHandler } from './send-message.step';
import { WaitStepHandler } from './wait.step';

/** Every step type. A new one is a FlowStepHandler class added here. */
export const FLOW_STEP_HANDLER_CLASSES: Type<FlowStepHandler>[] = [
  SendMessageStepHandler,
  WaitStepHandler,
  AddTagStepHandler,
  RemoveTagStepHandler,
];

export const flowStepProviders: Provider[] = [
  ...FLOW_STEP_HANDLER_CLASSES,
  {
    provide: FLOW_STEP_HANDLERS,
    inject: FLOW_STEP_HANDLER_CLASSES,
    useFactory: (...handlers: FlowStepHandler[]) => handlers,
  },
];
