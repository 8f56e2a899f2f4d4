import { Injectable } from '@nestjs/common';
import { Channel } from '../../../generated/prisma/enums';
import { MessagesService } from '../../messages/messages.service';
import type { FlowStep, FlowStepContext, FlowStepHandler } from './flow-step-handler';
import { checkOneOf, checkText } from './step-fields';

export interface SendMessageStep extends FlowStep {
  type: 'SEND_MESSAGE';
  channel: Channel;
  content: string;
}

const CONTENT_MAX_LENGTH = 4096;

/**
 * Sends through the messages module (quota, templates, statuses), linked to the
 * run by `flowExecutionId`. The idempotency key makes a retried step return the
 * message it already created instead of sending a second one.
 */
@Injectable()
export class SendMessageStepHandler implements FlowStepHandler<SendMessageStep> {
  readonly type = 'SEND_MESSAGE';
  readonly fields = ['channel', 'content'];

  constructor(private readonly messages: MessagesService) {}

  validate(step: Record<string, unknown>): string[] {
    return [...checkOneOf(step, 'channel', Object.values(Channel)), ...checkText(step, 'content', CONTENT_MAX_LENGTH)];
  }

  async run(step: SendMessageStep, context: FlowStepContext): Promise<void> {
    await this.messages.create(
      context.scope,
      { contactId: context.contactId, channel: step.channel, content: step.content },
      {
        idempotencyKey: `flow-${context.executionId}-${context.stepIndex}`,
        flowExecutionId: context.executionId,
      },
    );
  }
}
