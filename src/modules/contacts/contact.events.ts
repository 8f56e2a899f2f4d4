/** Events of the contacts module, written to the outbox (`outbox_events.type`) in the transaction of the change. */
export const CONTACT_TAG_ADDED = 'contact.tag-added';

/** One per tag a contact did not have before (API, create, import or a flow step); starts TAG_ADDED flows. */
export interface ContactTagAddedEvent {
  organizationId: string;
  contactId: string;
  tag: string;
}
