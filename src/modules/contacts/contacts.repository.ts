import { Injectable } from '@nestjs/common';
import { OutboxService } from '../../core/outbox/outbox.service';
import { PrismaService } from '../../core/prisma/prisma.service';
import { Prisma } from '../../generated/prisma/client';
import type { TenantScope } from '../../core/auth/tenant-scope';
import type { Channel } from '../../generated/prisma/enums';
import { type ConsentState, UNKNOWN } from './consent/consent-state';
import { CONTACT_TAG_ADDED } from './contact.events';
import { Batcher } from '../../core/batching/batcher';
import { newRowId, sqlTimestamp } from '../../core/prisma/raw-sql';
import { type ContactFields, birthdayColumns } from './contact-fields';

/** A Prisma client or an interactive transaction's client. */
export type Db = Prisma.TransactionClient;

const contactInclude = {
  tags: { select: { tag: { select: { name: true } } } },
  consents: { select: { channel: true, status: true } },
} as const;
export type ContactRow = Prisma.ContactGetPayload<{ include: typeof contactInclude }>;

/** The columns a PATCH changes: undefined keeps a column, null clears an optional one. */
export interface ContactChange {
  name?: string;
  email?: string | null;
  phone?: string | null;
  instagramId?: string | null;
  birthday?: Date | null;
}

/** The columns a new contact is given. */
export type NewContact = Pick<ContactFields, 'name' | 'email' | 'phone' | 'birthday' | 'instagramId'>;

/** A tag on a contact. */
export interface TagLink {
  contactId: string;
  tag: string;
}

/** A contact row as the page query returns it: tag names and consents aggregated beside the columns. */
type RawContactRow = Omit<ContactRow, 'tags'> & { tags: string[] };

/** Each row's tag names and consents, for a query over `page` (see ContactsRepository.page). */
const RELATIONS = Prisma.sql`
  ARRAY(SELECT t.name FROM contact_tags ct JOIN tags t ON t.id = ct."tagId" WHERE ct."contactId" = page.id) AS tags,
  COALESCE((SELECT json_agg(json_build_object('channel', cc.channel, 'status', cc.status))
            FROM contact_consents cc WHERE cc."contactId" = page.id), '[]'::json) AS consents`;

function toContactRow(raw: RawContactRow): ContactRow {
  return {
    id: raw.id,
    organizationId: raw.organizationId,
    name: raw.name,
    email: raw.email,
    phone: raw.phone,
    birthday: raw.birthday,
    birthMonth: raw.birthMonth,
    birthDay: raw.birthDay,
    instagramId: raw.instagramId,
    whatsappWindowExpiresAt: raw.whatsappWindowExpiresAt,
    createdAt: raw.createdAt,
    updatedAt: raw.updatedAt,
    tags: raw.tags.map((name) => ({ tag: { name } })),
    consents: raw.consents,
  };
}

/** `text` matched literally by LIKE: its wildcards (and the escape character) escaped. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

interface PageRequest {
  orgId: string;
  skip: number;
  take: number;
}
/** Pages read by one statement at most. */
const PAGES_PER_STATEMENT = 50;
/** Statements of unfiltered pages running at once per process (of the pool's 20 connections); more pages wait and go together. */
const PAGE_STATEMENTS_IN_FLIGHT = 4;

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

  /**
   * One page, newest first, and the number of matching contacts, in one statement (one round trip, one snapshot:
   * the total and the rows always agree), with each row's tags and consents. Unfiltered, the total is the
   * organization's `contactCount`, which every write keeps exact in its own transaction, so a page reads only its
   * rows (a backward scan of the index on organization, creation time and id), not every contact, and the pages
   * asked for at the same moment go together in one statement (`unfilteredPages`). A filtered page counts its
   * matches; only one past the end needs a second statement, for the total.
   */
  async page(scope: TenantScope, filter: ContactFilter, skip: number, take: number): Promise<[ContactRow[], number]> {
    if (!(filter.search || filter.tag || filter.consent)) return this.unfilteredPages.add({ orgId: scope.organizationId, skip, take });
    const order = Prisma.sql`ORDER BY "createdAt" DESC, id DESC`;
    const where = this.sqlWhereOf(scope, filter);
    const rows = await this.prisma.$queryRaw<(RawContactRow & { total: number })[]>`
      WITH page AS (SELECT c.*, count(*) OVER ()::int AS total FROM contacts c WHERE ${where} ${order} OFFSET ${skip} LIMIT ${take})
      SELECT page.*, ${RELATIONS} FROM page ${order}`;
    if (rows.length > 0 || skip === 0) return [rows.map(toContactRow), rows[0]?.total ?? 0];
    const [{ total }] = await this.prisma.$queryRaw<{ total: number }[]>`SELECT count(*)::int AS total FROM contacts c WHERE ${where}`;
    return [[], total ?? 0];
  }

  /**
   * Unfiltered pages, of any organizations, in one prepared statement: each asked page is a row of the input arrays
   * joined to its rows (or to one empty row past the end, which still carries the total), in input order. Each page
   * is read in the statement's snapshot, taken after every one of them was asked for, so a page asked for after a
   * write answered sees it. The most read path of the API: under load, the pages asked for while
   * PAGE_STATEMENTS_IN_FLIGHT statements run wait for one to end and go together (fewer, bigger statements).
   */
  private readonly unfilteredPages = new Batcher<PageRequest, [ContactRow[], number]>(
    async (requests) => {
      const rows = await this.prisma.queryPrepared<RawContactRow & { n: string; total: number | null }>(
        'zyva_contacts_pages',
        Prisma.sql`
        SELECT asked.n, page.*, ${RELATIONS}, (SELECT "contactCount" FROM organizations WHERE id = asked.org) AS total
        FROM unnest(${requests.map((r) => r.orgId)}::text[], ${requests.map((r) => r.skip)}::int[], ${requests.map((r) => r.take)}::int[])
             WITH ORDINALITY AS asked(org, skip, take, n)
        LEFT JOIN LATERAL (
          SELECT c.* FROM contacts c WHERE c."organizationId" = asked.org ORDER BY "createdAt" DESC, id DESC OFFSET asked.skip LIMIT asked.take
        ) page ON true
        ORDER BY asked.n, page."createdAt" DESC, page.id DESC`,
      );
      const pages = requests.map((): [ContactRow[], number] => [[], 0]);
      for (const row of rows) {
        const page = pages[Number(row.n) - 1];
        page[1] = row.total ?? 0;
        if (row.id !== null) page[0].push(toContactRow(row));
      }
      return pages;
    },
    PAGES_PER_STATEMENT,
    PAGE_STATEMENTS_IN_FLIGHT,
  );

  /** The filter of `page` in SQL (table alias `c`): the same contacts as `consentWhere` and Prisma's filters would match. */
  private sqlWhereOf(scope: TenantScope, filter: ContactFilter): Prisma.Sql {
    const parts = [Prisma.sql`c."organizationId" = ${scope.organizationId}`];
    if (filter.search) {
      const like = `%${escapeLike(filter.search)}%`;
      parts.push(Prisma.sql`(c.name ILIKE ${like} OR c.email ILIKE ${like} OR c.phone LIKE ${like})`);
    }
    if (filter.tag) {
      parts.push(Prisma.sql`EXISTS (SELECT 1 FROM contact_tags ct JOIN tags t ON t.id = ct."tagId"
        WHERE ct."contactId" = c.id AND t."organizationId" = ${scope.organizationId} AND t.name = ${filter.tag})`);
    }
    if (filter.consent) {
      const { channel, state } = filter.consent;
      parts.push(
        state === UNKNOWN
          ? Prisma.sql`NOT EXISTS (SELECT 1 FROM contact_consents cc WHERE cc."contactId" = c.id AND cc.channel = ${channel}::"Channel")`
          : Prisma.sql`EXISTS (SELECT 1 FROM contact_consents cc WHERE cc."contactId" = c.id AND cc.channel = ${channel}::"Channel"
              AND cc.status = ${state}::"ConsentStatus")`,
      );
    }
    return Prisma.join(parts, ' AND ');
  }

  /** One contact of the organization with its tags and consents (one statement), or null. */
  async find(scope: TenantScope, id: string, db: Db = this.prisma): Promise<ContactRow | null> {
    const [row] = await db.$queryRaw<RawContactRow[]>`
      WITH page AS (SELECT c.* FROM contacts c WHERE c.id = ${id} AND c."organizationId" = ${scope.organizationId})
      SELECT page.*, ${RELATIONS} FROM page`;
    return row ? toContactRow(row) : null;
  }

  /**
   * Changes the given columns of one contact of the organization (a field left undefined keeps its value) and reads
   * it back with its tags and consents, in one prepared statement; null when the organization has no such contact.
   * A unique violation (email, phone) fails it as pg's error.
   */
  async update(scope: TenantScope, id: string, change: ContactChange): Promise<ContactRow | null> {
    const set = (column: string, value: unknown, type: string) =>
      Prisma.sql`${Prisma.raw(`"${column}"`)} = CASE WHEN ${value !== undefined}::boolean THEN ${value ?? null}::${Prisma.raw(type)} ELSE c.${Prisma.raw(`"${column}"`)} END`;
    const birthday = change.birthday === undefined ? undefined : birthdayColumns(change.birthday);
    const [row] = await this.prisma.queryPrepared<RawContactRow>(
      'zyva_contact_update',
      Prisma.sql`
        WITH page AS (
          UPDATE contacts c SET
            ${set('name', change.name, 'text')}, ${set('email', change.email, 'text')}, ${set('phone', change.phone, 'text')},
            ${set('instagramId', change.instagramId, 'text')},
            ${set('birthday', birthday && (birthday.birthday?.toISOString().slice(0, 10) ?? null), 'date')},
            ${set('birthMonth', birthday && birthday.birthMonth, 'smallint')}, ${set('birthDay', birthday && birthday.birthDay, 'smallint')},
            "updatedAt" = ${sqlTimestamp()}::timestamp(3)
          WHERE c.id = ${id}::text AND c."organizationId" = ${scope.organizationId}::text
          RETURNING c.*
        )
        SELECT page.*, ${RELATIONS} FROM page`,
    );
    return row ? toContactRow(row) : null;
  }

  /**
   * Inserts a new contact with its tags and one `contact.tag-added` event per tag, taking one contact slot of the
   * organization, in one prepared statement that commits by itself (the organization's row is locked only until it
   * commits): the slot (taken only if one is free and every tag exists), the contact, its tag links and their events.
   * When a tag does not exist yet, nothing is written; the tags are then created in a statement of their own (a tag
   * row with no contact is a normal state: removing a tag leaves it too) and the insert runs once more, its snapshot
   * beginning after that one, so it sees every tag row, this call's and any a concurrent write committed.
   * Answers null, having written no contact, when no slot is free. A unique violation (email, phone) fails the
   * statement as a whole.
   */
  async insert(orgId: string, fields: NewContact, tags: string[]): Promise<{ row: ContactRow; events: number } | null> {
    let inserted = await this.insertIfTagsExist(orgId, fields, tags);
    if (!inserted && tags.length > 0) {
      await this.prisma.tag.createMany({ data: tags.map((name) => ({ organizationId: orgId, name })), skipDuplicates: true });
      inserted = await this.insertIfTagsExist(orgId, fields, tags);
    }
    if (!inserted) return null;
    const { added, events, ...columns } = inserted;
    // A new contact has exactly these tags and no consent recorded yet: nothing to read back.
    const row = toContactRow({ ...columns, tags: added, consents: [] });
    return { row, events };
  }

  /**
   * The statement of `insert`: no row when no slot is free or a tag of `tags` (distinct names) does not exist.
   * `events`: how many of the tags' events were written (the outbox leaves out those that start nothing).
   */
  private async insertIfTagsExist(orgId: string, fields: NewContact, tags: string[]) {
    const now = sqlTimestamp();
    const birthday = birthdayColumns(fields.birthday);
    const [inserted] = await this.prisma.queryPrepared<Omit<RawContactRow, 'tags' | 'consents'> & { added: string[]; events: number }>(
      'zyva_contact_insert',
      Prisma.sql`
      WITH tag AS (
        SELECT t.id, t.name FROM tags t WHERE t."organizationId" = ${orgId}::text AND t.name = ANY(${tags}::text[])
      ), slot AS (
        UPDATE organizations SET "contactCount" = "contactCount" + 1
        WHERE id = ${orgId}::text AND "contactCount" < "maxContacts" AND (SELECT count(*) FROM tag) = cardinality(${tags}::text[])
        RETURNING id
      ), contact AS (
        INSERT INTO contacts (id, "organizationId", name, email, phone, birthday, "birthMonth", "birthDay", "instagramId", "createdAt", "updatedAt")
        SELECT ${newRowId()}::text, slot.id, ${fields.name}::text, ${fields.email}::text, ${fields.phone}::text,
               ${birthday.birthday?.toISOString().slice(0, 10) ?? null}::date, ${birthday.birthMonth}::smallint, ${birthday.birthDay}::smallint,
               ${fields.instagramId}::text, ${now}::timestamp(3), ${now}::timestamp(3)
        FROM slot
        RETURNING *
      ), link AS (
        INSERT INTO contact_tags ("contactId", "tagId") SELECT contact.id, tag.id FROM contact, tag RETURNING "contactId", "tagId"
      ), event AS (
        ${this.outbox.appendFrom(Prisma.sql`
          SELECT ${orgId}::text AS "organizationId", ${CONTACT_TAG_ADDED}::text AS type,
                 jsonb_build_object('contactId', link."contactId", 'tag', tag.name) AS payload
          FROM link JOIN tag ON tag.id = link."tagId"`)}
      )
      SELECT contact.*, ARRAY(SELECT tag.name FROM link JOIN tag ON tag.id = link."tagId") AS added, (SELECT count(*)::int FROM event) AS events
      FROM contact`,
    );
    return inserted;
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
   * Links tags (created as needed) to contacts. Each link that did not exist
   * is a `contact.tag-added` event, appended to the outbox in the same
   * transaction: a tag is never added without its event (unless the event
   * would start nothing). Answers how many events were written.
   */
  async attachTags(db: Db, orgId: string, links: TagLink[]): Promise<number> {
    if (links.length === 0) return 0;
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
    return this.outbox.append(
      db,
      added.map((link) => ({ organizationId: orgId, type: CONTACT_TAG_ADDED, payload: link })),
    );
  }

  async detachTag(db: Db, orgId: string, contactId: string, tag: string): Promise<void> {
    await db.contactTag.deleteMany({ where: { contactId, tag: { organizationId: orgId, name: tag } } });
  }
}
