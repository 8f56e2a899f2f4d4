import { Injectable } from '@nestjs/common';
import { PrismaService } from '../../../core/prisma/prisma.service';
import { Prisma } from '../../../generated/prisma/client';
import type { Channel, ConsentStatus } from '../../../generated/prisma/enums';
import type { Db } from '../contacts.repository';
import { type ConsentChangeContext, type ConsentChangeRef, EVIDENCE_MAX } from './consent-state';

/** A history entry as the routes show it. */
export interface ConsentEventRow {
  channel: Channel;
  status: ConsentStatus;
  source: ConsentChangeContext['source'];
  evidence: string | null;
  actorId: string | null;
  at: Date;
}

/** An opt-in the CSV import asks for: its contact (created or updated by the batch) and the file's line. */
export interface ImportedOptIn {
  contactId: string;
  channel: Channel;
  line: number;
}

/**
 * The consent queries. A change is one statement: the projection row is
 * upserted only when its status differs, and the history gets an entry for
 * exactly the rows that changed, so setting the status a channel already has
 * records nothing, also under concurrent requests (the upsert locks the row).
 */
@Injectable()
export class ConsentRepository {
  constructor(private readonly prisma: PrismaService) {}

  /** Applies a status to the contacts `targets` selects (`id`, `"organizationId"`); answers how many matched and which changed. */
  private async apply(
    targets: Prisma.Sql,
    channel: Channel,
    status: ConsentStatus,
    context: ConsentChangeContext,
  ): Promise<{ found: number; changed: ConsentChangeRef[] }> {
    const evidence = context.evidence ? context.evidence.slice(0, EVIDENCE_MAX) : null;
    const rows = await this.prisma.$queryRaw<{ found: number; organizationId: string | null; contactId: string | null }[]>`
      WITH target AS (${targets}),
      changed AS (
        INSERT INTO contact_consents ("contactId", channel, "organizationId", status, "updatedAt")
        SELECT id, ${channel}::"Channel", "organizationId", ${status}::"ConsentStatus", now() FROM target
        ON CONFLICT ("contactId", channel) DO UPDATE SET status = EXCLUDED.status, "updatedAt" = EXCLUDED."updatedAt"
          WHERE contact_consents.status <> EXCLUDED.status
        RETURNING "contactId", "organizationId"
      ),
      logged AS (
        INSERT INTO consent_events ("organizationId", "contactId", channel, status, source, evidence, "actorId", at)
        SELECT "organizationId", "contactId", ${channel}::"Channel", ${status}::"ConsentStatus", ${context.source}::"ConsentSource",
               ${evidence}, ${context.actor ?? null}, now()
        FROM changed
      )
      SELECT (SELECT count(*) FROM target)::int AS found, changed."organizationId", changed."contactId"
      FROM (SELECT 1) AS one LEFT JOIN changed ON true`;
    return {
      found: rows[0]?.found ?? 0,
      changed: rows.filter((r) => r.contactId !== null).map((r) => ({ organizationId: r.organizationId!, contactId: r.contactId! })),
    };
  }

  /** One contact of one organization. */
  recordForContact(organizationId: string, contactId: string, channel: Channel, status: ConsentStatus, context: ConsentChangeContext) {
    return this.apply(
      Prisma.sql`SELECT id, "organizationId" FROM contacts WHERE id = ${contactId} AND "organizationId" = ${organizationId}`,
      channel,
      status,
      context,
    );
  }

  /** Every organization's contact with this phone (the platform's shared number serves them all). */
  recordForPhone(phone: string, channel: Channel, status: ConsentStatus, context: ConsentChangeContext) {
    return this.apply(Prisma.sql`SELECT id, "organizationId" FROM contacts WHERE phone = ${phone}`, channel, status, context);
  }

  /**
   * The CSV import's opt-ins, inside its batch transaction. A channel a contact already has a status for is
   * left as it is: an old list must not undo a person's opt-out (only the person, or a deliberate API change
   * with its evidence, can opt them back in). The actor stays null (the contract keeps it for API changes);
   * the evidence names the importing user and the line instead.
   */
  async recordImportedOptIns(tx: Db, organizationId: string, optIns: ImportedOptIn[], importedBy: string): Promise<number> {
    if (optIns.length === 0) return 0;
    return tx.$executeRaw`
      WITH changed AS (
        INSERT INTO contact_consents ("contactId", channel, "organizationId", status, "updatedAt")
        SELECT v."contactId", v.channel::"Channel", ${organizationId}, 'OPTED_IN', now()
        FROM unnest(${optIns.map((o) => o.contactId)}::text[], ${optIns.map((o) => o.channel)}::text[]) AS v("contactId", channel)
        ON CONFLICT ("contactId", channel) DO NOTHING
        RETURNING "contactId", channel
      )
      INSERT INTO consent_events ("organizationId", "contactId", channel, status, source, evidence, "actorId", at)
      SELECT ${organizationId}, changed."contactId", changed.channel, 'OPTED_IN', 'IMPORT',
             'CSV import by user ' || ${importedBy}::text || ', line ' || v.line, NULL, now()
      FROM changed
      JOIN unnest(${optIns.map((o) => o.contactId)}::text[], ${optIns.map((o) => o.channel)}::text[], ${optIns.map((o) => o.line)}::int[])
        AS v("contactId", channel, line)
        ON v."contactId" = changed."contactId" AND v.channel::"Channel" = changed.channel`;
  }

  async statusOf(organizationId: string, contactIds: string[], channel: Channel): Promise<{ contactId: string; status: ConsentStatus }[]> {
    if (contactIds.length === 0) return [];
    return this.prisma.contactConsent.findMany({
      where: { organizationId, channel, contactId: { in: contactIds } },
      select: { contactId: true, status: true },
    });
  }

  async contactExists(organizationId: string, contactId: string): Promise<boolean> {
    return (await this.prisma.contact.count({ where: { id: contactId, organizationId } })) === 1;
  }

  /** The name of the store a contact belongs to; null when the organization has no such contact. */
  async storeNameOf(organizationId: string, contactId: string): Promise<string | null> {
    const contact = await this.prisma.contact.findFirst({
      where: { id: contactId, organizationId },
      select: { organization: { select: { name: true } } },
    });
    return contact?.organization.name ?? null;
  }

  /** The history of one contact of the organization, newest first. */
  history(organizationId: string, contactId: string): Promise<ConsentEventRow[]> {
    return this.prisma.consentEvent.findMany({
      where: { organizationId, contactId },
      select: { channel: true, status: true, source: true, evidence: true, actorId: true, at: true },
      orderBy: [{ at: 'desc' }, { id: 'desc' }],
    });
  }
}
