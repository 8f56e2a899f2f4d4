import { Injectable } from '@nestjs/common';
import { OutboxService } from '../../core/outbox/outbox.service';
import { PrismaService } from '../../core/prisma/prisma.service';
import type { Prisma } from '../../generated/prisma/client';
import type { TenantScope } from '../../core/auth/tenant-scope';
import type { Channel } from '../../generated/prisma/enums';
import { type ConsentState, consentWhere } from './consent/consent-state';
import { CONTACT_TAG_ADDED } from './contact.events';

/** A Prisma client or an interactive transaction's client. */
export type Db = Prisma.TransactionClient;

export const contactInclude = {
  tags: { select: { tag: { select: { name: true } } } },
  consents: { select: { channel: true, status: true } },
} as const;
export type ContactRow = Prisma.ContactGetPayload<{ include: typeof contactInclude }>;

export interface ContactFilter {
  search?: string;
  tag?: string;
  /** Only contacts with this consent on this channel. */
  consent?: { channel: Channel; state: ConsentState };
}

/** The queries of the contacts module; every one is scoped to one organization. */
@Injectable()
export class ContactsRepository {
  constructor(
    private readonly prisma: PrismaService,
    private readonly outbox: OutboxService,
  ) {}

  private whereOf(scope: TenantScope, filter: ContactFilter): Prisma.ContactWhereInput {
    const where: Prisma.ContactWhereInput = scope.where({});
    if (filter.search) {
      const s = filter.search;
      where.OR = [
        { name: { contains: s, mode: 'insensitive' } },
        { email: { contains: s, mode: 'insensitive' } },
        { phone: { contains: s } },
      ];
    }
    if (filter.tag) where.tags = { some: { tag: { organizationId: scope.organizationId, name: filter.tag } } };
    if (filter.consent) Object.assign(where, consentWhere(filter.consent.channel, filter.consent.state));
    return where;
  }

  async page(scope: TenantScope, filter: ContactFilter, skip: number, take: number): Promise<[ContactRow[], number]> {
    const where = this.whereOf(scope, filter);
    return this.prisma.$transaction([
      this.prisma.contact.findMany({ where, include: contactInclude, orderBy: [{ createdAt: 'desc' }, { id: 'desc' }], skip, take }),
      this.prisma.contact.count({ where }),
    ]);
  }

  find(scope: TenantScope, id: string, db: Db = this.prisma): Promise<ContactRow | null> {
    return db.contact.findFirst({ where: scope.where({ id }), include: contactInclude });
  }

  /**
   * Takes one contact slot of the organization if one is free: a single
   * conditional UPDATE, so concurrent creates for the last slot cannot both win.
   */
  async reserveSlot(db: Db, orgId: string): Promise<boolean> {
    const updated = await db.$executeRaw`
      UPDATE organizations SET "contactCount" = "contactCount" + 1
      WHERE id = ${orgId} AND "contactCount" < "maxContacts"`;
    return updated === 1;
  }

  /** Takes up to `wanted` slots (row-locked, inside the caller's transaction); answers how many were granted. */
  async reserveSlots(db: Db, orgId: string, wanted: number): Promise<number> {
    if (wanted === 0) return 0;
    const rows = await db.$queryRaw<{ granted: number }[]>`
      WITH o AS (SELECT id, LEAST(${wanted}::int, GREATEST(0, "maxContacts" - "contactCount")) AS granted
                 FROM organizations WHERE id = ${orgId} FOR UPDATE)
      UPDATE organizations SET "contactCount" = "contactCount" + o.granted FROM o
      WHERE organizations.id = o.id
      RETURNING o.granted::int AS granted`;
    return rows[0]?.granted ?? 0;
  }

  async releaseSlots(db: Db, orgId: string, count: number): Promise<void> {
    if (count === 0) return;
    await db.$executeRaw`UPDATE organizations SET "contactCount" = GREATEST(0, "contactCount" - ${count}::int) WHERE id = ${orgId}`;
  }

  /**
   * Links tags (created as needed) to contacts; answers only the links that did
   * not exist. Each of those is a `contact.tag-added` event, appended to the
   * outbox in the same transaction: a tag is never added without its event.
   */
  async attachTags(db: Db, orgId: string, links: { contactId: string; tag: string }[]): Promise<{ contactId: string; tag: string }[]> {
    if (links.length === 0) return [];
    const names = [...new Set(links.map((l) => l.tag))];
    await db.tag.createMany({ data: names.map((name) => ({ organizationId: orgId, name })), skipDuplicates: true });
    const tags = await db.tag.findMany({ where: { organizationId: orgId, name: { in: names } }, select: { id: true, name: true } });
    const idOf = new Map(tags.map((t) => [t.name, t.id]));
    const nameOf = new Map(tags.map((t) => [t.id, t.name]));
    const inserted = await db.$queryRaw<{ contactId: string; tagId: string }[]>`
      INSERT INTO contact_tags ("contactId", "tagId")
      SELECT * FROM unnest(${links.map((l) => l.contactId)}::text[], ${links.map((l) => idOf.get(l.tag)!)}::text[])
      ON CONFLICT DO NOTHING
      RETURNING "contactId", "tagId"`;
    const added = inserted.map((row) => ({ contactId: row.contactId, tag: nameOf.get(row.tagId)! }));
    await this.outbox.append(
      db,
      added.map((link) => ({ organizationId: orgId, type: CONTACT_TAG_ADDED, payload: link })),
    );
    return added;
  }

  async detachTag(db: Db, orgId: string, contactId: string, tag: string): Promise<void> {
    await db.contactTag.deleteMany({ where: { contactId, tag: { organizationId: orgId, name: tag } } });
  }
}
