import { Injectable, Logger } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { CONTACT_TAG_ADDED, ContactTagAddedEvent } from '../contacts/contact.events';
import { FlowTriggersService } from './flow-triggers.service';

/** Starts TAG_ADDED flows when the contacts module reports a new tag on a contact. */
@Injectable()
export class FlowTagTriggerListener {
  private readonly logger = new Logger(FlowTagTriggerListener.name);

  constructor(private readonly triggers: FlowTriggersService) {}

  @OnEvent(CONTACT_TAG_ADDED, { async: true, promisify: true })
  async onTagAdded(event: ContactTagAddedEvent): Promise<void> {
    try {
      await this.triggers.tagAdded(event);
    } catch (error) {
      // The tag itself is saved; only the flow start failed, and the caller cannot act on that.
      this.logger.error(`TAG_ADDED flows for contact ${event.contactId} not started: ${(error as Error).message}`);
    }
  }
}
