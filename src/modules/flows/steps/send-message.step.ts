import { Injectable, Logger } from '@nestjs/common';
import { ChannelRegistry } from '../../channels/channel-registry';
import { MessagesService } from '../../messages/messages.service';
import { ContactOptedOutException } from '../../messages/send-rules';
import type { TenantScope } from '../../../core/auth/tenant-scope';
import type { FlowStep, FlowStepContext, FlowStepHandler } from './flow-step-handler';
import { checkOneOf, checkText } from './step-fields';

export interface SendMessageStep extends FlowStep {
  type: 'SEND_MESSAGE';
  channel: string;
  content?: string;
  template?: { name: string; language: string; variables: string[] };
}

const CONTENT_MAX_LENGTH = 4096;

/**
 * Sends through the messages module (quota, consent, WhatsApp's rules,
 * statuses), linked to the run by `flowExecutionId`. The idempotency key makes
 * a retried step return the message it already created instead of sending a
 * second one. A contact who opted out of the channel is skipped and the run
 * goes on; a refusal no retry can change (not connected, outside the 24-hour
 * window) fails the run with its reason.
 */
@Injectable()
export class SendMessageStepHandler implements FlowStepHandler<SendMessageStep> {
  private readonly logger = new Logger(SendMessageStepHandler.name);
  readonly type = 'SEND_MESSAGE';
  readonly fields = ['channel', 'content', 'template'];

  constructor(
    private readonly messages: MessagesService,
    private readonly registry: ChannelRegistry,
  ) {}

  validate(step: Record<string, unknown>): string[] {
    const problems = checkOneOf(step, 'channel', this.registry.channels());
    if (step.template === undefined) return [...problems, ...checkText(step, 'content', CONTENT_MAX_LENGTH)];
    if (step.content !== undefined) problems.push('content and template cannot both be given');
    if (step.channel !== 'WHATSAPP') problems.push('template is only for the WHATSAPP channel');
    return [...problems, ...templateProblems(step.template)];
  }

  async check(step: SendMessageStep, scope: TenantScope): Promise<string[]> {
    if (!step.template) return [];
    const problem = await this.messages.templateProblem(scope, step.channel, step.template);
    return problem ? [`template ${problem}`] : [];
  }

  async run(step: SendMessageStep, context: FlowStepContext): Promise<void> {
    try {
      await this.messages.create(
        context.scope,
        { contactId: context.contactId, channel: step.channel, content: step.content, template: step.template },
        { idempotencyKey: `flow-${context.executionId}-${context.stepIndex}`, flowExecutionId: context.executionId },
      );
    } catch (error) {
      if (!(error instanceof ContactOptedOutException)) throw error;
      this.logger.log(`Execution ${context.executionId}, step ${context.stepIndex}: skipped, the contact opted out of ${step.channel}`);
    }
  }
}

function templateProblems(template: unknown): string[] {
  const t = template as Record<string, unknown> | null;
  if (typeof t !== 'object' || t === null || Array.isArray(t)) return ['template must be an object { name, language, variables }'];
  const problems: string[] = [];
  if (typeof t.name !== 'string' || !t.name.trim()) problems.push('template.name must be a non-empty string');
  if (typeof t.language !== 'string' || !/^[a-z]{2,3}(_[A-Z]{2})?$/.test(t.language)) problems.push('template.language must be a language code such as pt_BR');
  if (!Array.isArray(t.variables) || t.variables.some((v) => typeof v !== 'string' || v.length > 1024) || t.variables.length > 100) {
    problems.push('template.variables must be an array of strings');
  }
  const unknown = Object.keys(t).filter((k) => !['name', 'language', 'variables'].includes(k));
  return [...problems, ...unknown.map((k) => `template.${k} should not exist`)];
}
