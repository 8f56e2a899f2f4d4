import type { Prisma } from '../../generated/prisma/client';
import type { ContactAddress } from '../channels/channel-extension';

/** The contacts a campaign sends to: the organization's, with the tag if given, that the channel can reach. */
export function campaignAudience(organizationId: string, recipientField: keyof ContactAddress, tag: string | null): Prisma.ContactWhereInput {
  return {
    organizationId,
    [recipientField]: { not: null },
    ...(tag ? { tags: { some: { tag: { name: tag } } } } : {}),
  };
}
