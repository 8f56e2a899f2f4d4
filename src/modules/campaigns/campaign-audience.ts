import type { Prisma } from '../../generated/prisma/client';
import type { Channel } from '../../generated/prisma/enums';
import type { ContactAddress } from '../channels/channel-extension';
import { consentWhere } from '../contacts/consent/consent-state';
import { CONSENT_CHANNELS } from '../messages/send-rules';

/** The organization's contacts with the tag if given, that the channel can reach (before consent). */
function reachable(organizationId: string, recipientField: keyof ContactAddress, tag: string | null): Prisma.ContactWhereInput {
  return {
    organizationId,
    [recipientField]: { not: null },
    ...(tag ? { tags: { some: { tag: { name: tag } } } } : {}),
  };
}

/** The contacts a campaign sends to: reachable on the channel, and not opted out of it. */
export function campaignAudience(organizationId: string, channel: string, recipientField: keyof ContactAddress, tag: string | null): Prisma.ContactWhereInput {
  const where = reachable(organizationId, recipientField, tag);
  return CONSENT_CHANNELS.has(channel) ? { ...where, NOT: consentWhere(channel as Channel, 'OPTED_OUT') } : where;
}

/** The contacts a campaign leaves out because they opted out of its channel (its `skipped`). */
export function campaignOptedOut(organizationId: string, channel: string, recipientField: keyof ContactAddress, tag: string | null): Prisma.ContactWhereInput | undefined {
  return CONSENT_CHANNELS.has(channel) ? { ...reachable(organizationId, recipientField, tag), ...consentWhere(channel as Channel, 'OPTED_OUT') } : undefined;
}
