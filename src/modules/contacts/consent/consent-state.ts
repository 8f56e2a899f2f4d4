import type { Prisma } from '../../../generated/prisma/client';
import { Channel, ConsentSource, ConsentStatus } from '../../../generated/prisma/enums';

/** What the API shows per channel: a recorded status, or UNKNOWN when nothing was ever recorded. */
export type ConsentState = ConsentStatus | 'UNKNOWN';
export const UNKNOWN = 'UNKNOWN' as const;

export const CHANNELS = Object.values(Channel);
export const CONSENT_STATES: ConsentState[] = [...Object.values(ConsentStatus), UNKNOWN];

/** `{ WHATSAPP, EMAIL, SMS, INSTAGRAM_DM }` of one contact. */
export type ConsentMap = Record<Channel, ConsentState>;

/** Who or what changed a consent, as the history keeps it. */
export interface ConsentChangeContext {
  source: ConsentSource;
  /** What proves it (a form, a message id, a provider event); kept as given, at most EVIDENCE_MAX characters. */
  evidence?: string | null;
  /** The user who made an API change. */
  actor?: string | null;
}

export const EVIDENCE_MAX = 1000;

/** `recorded`: the status changed and the history has a new entry; `unchanged`: it already was that status. */
export type RecordResult = 'recorded' | 'unchanged' | 'no-contact';

/** A contact whose consent a change reached. */
export interface ConsentChangeRef {
  organizationId: string;
  contactId: string;
}

/** The consent map of a contact from its projection rows (channels without a row are UNKNOWN). */
export function consentMapOf(rows: readonly { channel: Channel; status: ConsentStatus }[]): ConsentMap {
  const map = Object.fromEntries(CHANNELS.map((channel) => [channel, UNKNOWN])) as ConsentMap;
  for (const row of rows) map[row.channel] = row.status;
  return map;
}

/**
 * Contacts whose consent on `channel` is `state`, as a Prisma filter. The list's `?consent=` uses it;
 * a send path keeps only reachable contacts with `{ NOT: consentWhere(channel, 'OPTED_OUT') }`.
 */
export function consentWhere(channel: Channel, state: ConsentState): Prisma.ContactWhereInput {
  return state === UNKNOWN ? { consents: { none: { channel } } } : { consents: { some: { channel, status: state } } };
}

/** `EMAIL:OPTED_OUT` → its parts; the DTO has validated the text already. */
export function parseConsentFilter(text: string): { channel: Channel; state: ConsentState } {
  const [channel, state] = text.split(':');
  return { channel: channel as Channel, state: state as ConsentState };
}

export const CONSENT_FILTER = new RegExp(`^(${CHANNELS.join('|')}):(${CONSENT_STATES.join('|')})$`);
