import { Injectable } from '@nestjs/common';
import { ContactsService } from '../../contacts/contacts.service';
import type { FlowStep, FlowStepContext, FlowStepHandler } from './flow-step-handler';
import { TAG_MAX } from '../../contacts/contact-fields';
import { checkText } from './step-fields';

export interface TagStep extends FlowStep {
  type: 'ADD_TAG' | 'REMOVE_TAG';
  tag: string;
}

const validateTag = (step: Record<string, unknown>) => checkText(step, 'tag', TAG_MAX);

/**
 * Tags the contact through the contacts module, so its events fire (a tag
 * added here starts TAG_ADDED flows like one added through the API). Adding a
 * tag the contact already has changes nothing, so a retry is harmless.
 */
@Injectable()
export class AddTagStepHandler implements FlowStepHandler<TagStep> {
  readonly type = 'ADD_TAG';
  readonly fields = ['tag'];

  constructor(private readonly contacts: ContactsService) {}

  validate(step: Record<string, unknown>): string[] {
    return validateTag(step);
  }

  async run(step: TagStep, context: FlowStepContext): Promise<void> {
    await this.contacts.addTag(context.scope, context.contactId, step.tag);
  }
}

/** Removes a tag from the contact; removing one it does not have is a no-op. */
@Injectable()
export class RemoveTagStepHandler implements FlowStepHandler<TagStep> {
  readonly type = 'REMOVE_TAG';
  readonly fields = ['tag'];

  constructor(private readonly contacts: ContactsService) {}

  validate(step: Record<string, unknown>): string[] {
    return validateTag(step);
  }

  async run(step: TagStep, context: FlowStepContext): Promise<void> {
    await this.contacts.removeTag(context.scope, context.contactId, step.tag);
  }
}
