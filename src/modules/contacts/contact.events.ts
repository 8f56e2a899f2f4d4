/** In-process events of the contacts module (EventEmitter2). */
export const CONTACT_TAG_ADDED = 'contact.tag-added';

/** Emitted after commit, once per tag a contact did not have before (API, create, import or a flow step). */
export interface ContactTagAddedEvent {
  organizationId: string;
  contactId: string;
  tag: string;
}
