import { BadRequestException, Injectable } from '@nestjs/common';
import { CsvError, parse } from 'csv-parse';
import { pipeline, type Readable } from 'node:stream';
import { CacheService } from '../../core/cache/cache.service';
import { isDataError, isUniqueViolation } from '../../core/prisma/prisma-errors';
import { PrismaService } from '../../core/prisma/prisma.service';
import { Prisma } from '../../generated/prisma/client';
import type { TenantScope } from '../../core/auth/tenant-scope';
import { newRowId } from '../../core/prisma/raw-sql';
import { ContactFields, birthdayColumns, validateRow } from './contact-fields';
import { ConsentRepository } from './consent/consent.repository';
import { ContactsRepository, Db } from './contacts.repository';
import { ContactsService } from './contacts.service';
import { ImportErrorDto, ImportResultDto } from './dto/contact.dto';

const BATCH_SIZE = 500;
/** Rejected lines listed in the answer; the rest are only counted, so a huge bad file cannot exhaust memory. */
export const MAX_LISTED_ERRORS = 1000;
const COLUMNS: Record<string, string> = {
  name: 'name',
  email: 'email',
  phone: 'phone',
  birthday: 'birthday',
  tags: 'tags',
  instagramid: 'instagramId',
  optin: 'optIn',
};

interface Row {
  line: number;
  fields: ContactFields;
}

interface BatchOutcome {
  created: number;
  updated: number;
  errors: ImportErrorDto[];
  /** Tag events written to the outbox. */
  events: number;
  /** Rows that target a contact another row of the batch already updates: written in a next batch, in file order. */
  deferred: Row[];
}

const TOO_LARGE = 'the file is larger than 20 MB; the rest of the file was not read';

/**
 * CSV import, streamed: rows are parsed and validated one by one and written
 * in batches of 500 (one lookup, one transaction each). A row whose email or
 * phone matches a contact (existing, or created earlier in the file) updates
 * it; rows past the plan's contact cap are rejected; every rejected line is
 * reported with its reason. Each batch is written through `cache.writing`, so
 * no batch leaves the organization's caches stale.
 */
/** The rows as one `unnest(...) AS v(id, name, email, phone, instagram, birthday, month, day)` relation. */
function contactRows(rows: { id: string; fields: ContactFields }[]): Prisma.Sql {
  const col = <T>(pick: (f: ContactFields) => T) => rows.map((r) => pick(r.fields));
  const birthdays = col((f) => birthdayColumns(f.birthday));
  return Prisma.sql`unnest(
        ${rows.map((r) => r.id)}::text[],
        ${col((f) => f.name)}::text[],
        ${col((f) => f.email)}::text[],
        ${col((f) => f.phone)}::text[],
        ${col((f) => f.instagramId)}::text[],
        ${birthdays.map((b) => (b.birthday ? b.birthday.toISOString().slice(0, 10) : null))}::text[]::date[],
        ${birthdays.map((b) => b.birthMonth)}::int[],
        ${birthdays.map((b) => b.birthDay)}::int[]
      ) AS v(id, name, email, phone, instagram, birthday, month, day)`;
}

/**
 * The rejected lines of an import: the first MAX_LISTED_ERRORS by line number
 * are listed, later ones only counted. Lines come mostly in file order, so
 * the last listed line is tracked and the list is rescanned only when an
 * earlier line arrives late (a batch written after later lines were read).
 */
export class FirstLines {
  readonly listed: ImportErrorDto[] = [];
  omitted = 0;
  private last = -1;

  add(error: ImportErrorDto): void {
    if (this.listed.length < MAX_LISTED_ERRORS) {
      this.listed.push(error);
      if (this.last < 0 || error.line >= this.listed[this.last].line) this.last = this.listed.length - 1;
      return;
    }
    this.omitted += 1;
    if (error.line >= this.listed[this.last].line) return;
    this.listed[this.last] = error;
    this.last = 0;
    for (let i = 1; i < this.listed.length; i++) if (this.listed[i].line > this.listed[this.last].line) this.last = i;
  }
}

@Injectable()
export class ContactsImportService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly repository: ContactsRepository,
    private readonly contacts: ContactsService,
    private readonly consent: ConsentRepository,
    private readonly cache: CacheService,
  ) {}

  async import(scope: TenantScope, file: Readable): Promise<ImportResultDto> {
    const errors = new FirstLines();
    const result: ImportResultDto = { created: 0, updated: 0, rejected: 0, errors: errors.listed, omittedErrors: 0 };
    let events = 0;
    const reject = (line: number, reason: string) => {
      result.rejected += 1;
      errors.add({ line, reason });
    };
    let batch: Row[] = [];
    const seen = new Set<string>();
    const flush = async () => {
      let pending = batch;
      batch = [];
      seen.clear();
      while (pending.length > 0) {
        const outcome = await this.writeBatch(scope, pending);
        result.created += outcome.created;
        result.updated += outcome.updated;
        for (const error of outcome.errors) reject(error.line, error.reason);
        events += outcome.events;
        pending = outcome.deferred;
      }
    };

    // pipeline, not pipe: an upload that fails (a multipart body cut short) ends the parser with its error,
    // even when it failed before this ran; with pipe the parser would wait for the rest forever.
    const parser = pipeline(file, parse({ bom: true, info: true, skip_empty_lines: true, relax_column_count: true, skip_records_with_error: true }), () => undefined);
    // A record the parser cannot read (a quote never closed…) is reported and skipped; the rest goes on.
    parser.on('skip', (error: CsvError & { lines?: number }) => reject(error.lines ?? 0, `malformed CSV: ${error.message}`));
    let header: string[] | undefined;
    try {
      try {
        for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
          if (!header) {
            header = this.headerOf(record);
            continue;
          }
          if (record.length !== header.length) {
            reject(info.lines, `expected ${header.length} fields, found ${record.length}`);
            continue;
          }
          const checked = validateRow(Object.fromEntries(header.map((key, i) => [key, record[i]])));
          if ('problems' in checked) {
            reject(info.lines, checked.problems.join('; '));
            continue;
          }
          const keys = [checked.fields.email && `e:${checked.fields.email}`, checked.fields.phone && `p:${checked.fields.phone}`].filter(Boolean) as string[];
          // Two rows for one contact in a batch would race in one statement: write the first before taking the second.
          if (keys.some((k) => seen.has(k))) await flush();
          keys.forEach((k) => seen.add(k));
          batch.push({ line: info.lines, fields: checked.fields });
          if (batch.length >= BATCH_SIZE) await flush();
        }
      } catch (error) {
        file.resume();
        if (error instanceof BadRequestException) throw error;
        const stopped = this.stopReason(error, file.destroyed);
        if (!stopped) throw error;
        reject(stopped.line, stopped.reason);
      }
      // Past 20 MB the upload is cut there (multipart's limit): what was read is imported, and that is said.
      if ((file as Readable & { truncated?: boolean }).truncated) reject(0, TOO_LARGE);
      await flush();
    } finally {
      // Each batch went through `cache.writing` (no stale cache); the tag events of what was written, even when
      // something stopped the import, wake the drain.
      await this.contacts.afterWrite(events);
    }
    if (!header && file.errored) throw new BadRequestException(`The upload ended before the file did (${file.errored.message}): nothing was imported.`);
    if (!header) throw new BadRequestException('The file is empty: expected a header line with at least a "name" column.');
    result.omittedErrors = errors.omitted;
    result.errors.sort((x, y) => x.line - y.line);
    return result;
  }

  private headerOf(record: string[]): string[] {
    const header = record.map((cell) => COLUMNS[cell.trim().toLowerCase().replace(/[\s_-]/g, '')] ?? `?${cell.trim()}`);
    const unknown = header.filter((key) => key.startsWith('?')).map((key) => key.slice(1));
    if (unknown.length > 0) {
      throw new BadRequestException(`Unknown column(s): ${unknown.join(', ')}. Columns are: name, email, phone, birthday, tags, instagramId, optIn.`);
    }
    if (!header.includes('name')) throw new BadRequestException('The header must have a "name" column.');
    if (new Set(header).size !== header.length) throw new BadRequestException('A column appears twice in the header.');
    return header;
  }

  /** A malformed file or an oversized upload ends the import where it happened; what was read before stays imported. */
  private stopReason(error: unknown, fromUpload: boolean): ImportErrorDto | undefined {
    if (error instanceof CsvError) {
      const line = (error as CsvError & { lines?: number }).lines ?? 0;
      return { line, reason: `malformed CSV (${error.message}); the rest of the file was not read` };
    }
    if ((error as { code?: string })?.code === 'FST_REQ_FILE_TOO_LARGE') return { line: 0, reason: TOO_LARGE };
    if (fromUpload) return { line: 0, reason: `the upload ended before the file did (${(error as Error).message}); the rest of the file was not read` };
    return undefined;
  }

  /**
   * One batch in one transaction. A row the database refuses (a duplicate
   * created meanwhile by someone else, a value it cannot store) rolls the
   * batch back and makes it retry row by row, so only that row is rejected.
   */
  private async writeBatch(scope: TenantScope, rows: Row[]): Promise<BatchOutcome> {
    try {
      return await this.tryBatch(scope, rows);
    } catch (error) {
      const reason = isUniqueViolation(error)
        ? 'another contact got this email or phone during the import'
        : isDataError(error)
          ? 'a value of this row cannot be stored'
          : undefined;
      if (!reason) throw error;
      if (rows.length === 1) return { created: 0, updated: 0, errors: [{ line: rows[0].line, reason }], events: 0, deferred: [] };
      const total: BatchOutcome = { created: 0, updated: 0, errors: [], events: 0, deferred: [] };
      for (const row of rows) {
        const one = await this.writeBatch(scope, [row]);
        total.created += one.created;
        total.updated += one.updated;
        total.errors.push(...one.errors);
        total.events += one.events;
        total.deferred.push(...one.deferred);
      }
      return total;
    }
  }

  private async tryBatch(scope: TenantScope, rows: Row[]): Promise<BatchOutcome> {
    const orgId = scope.organizationId;
    const outcome: BatchOutcome = { created: 0, updated: 0, errors: [], events: 0, deferred: [] };
    const emails = rows.map((r) => r.fields.email).filter((e): e is string => !!e);
    const phones = rows.map((r) => r.fields.phone).filter((p): p is string => !!p);
    const existing =
      emails.length + phones.length === 0
        ? []
        : await this.prisma.$queryRaw<{ id: string; email: string | null; phone: string | null }[]>`
            SELECT id, email, phone FROM contacts
            WHERE "organizationId" = ${orgId} AND (email = ANY(${emails}::text[]) OR phone = ANY(${phones}::text[]))`;
    const byEmail = new Map(existing.filter((c) => c.email).map((c) => [c.email!, c.id]));
    const byPhone = new Map(existing.filter((c) => c.phone).map((c) => [c.phone!, c.id]));

    const creates: (Row & { id: string })[] = [];
    const updates: (Row & { id: string })[] = [];
    const targeted = new Set<string>();
    for (const row of rows) {
      const a = row.fields.email ? byEmail.get(row.fields.email) : undefined;
      const b = row.fields.phone ? byPhone.get(row.fields.phone) : undefined;
      if (a && b && a !== b) {
        outcome.errors.push({ line: row.line, reason: 'its email belongs to one contact and its phone to another' });
      } else if (a ?? b) {
        const id = (a ?? b)!;
        if (targeted.has(id)) outcome.deferred.push(row);
        else updates.push({ ...row, id });
        targeted.add(id);
      } else {
        creates.push({ ...row, id: newRowId() });
      }
    }

    await this.cache.writing(orgId, () => this.prisma.$transaction(async (tx) => {
      const granted = await this.repository.reserveSlots(tx, orgId, creates.length);
      for (const row of creates.slice(granted)) {
        outcome.errors.push({ line: row.line, reason: "your plan's contact limit is reached" });
      }
      const admitted = creates.slice(0, granted);
      await this.bulkInsert(tx, orgId, admitted);
      await this.bulkUpdate(tx, orgId, updates);
      const links = [...admitted, ...updates].flatMap((row) => row.fields.tags.map((tag) => ({ contactId: row.id, tag })));
      outcome.events = await this.repository.attachTags(tx, orgId, links);
      const optIns = [...admitted, ...updates].flatMap((row) => row.fields.optIn.map((channel) => ({ contactId: row.id, channel, line: row.line })));
      await this.consent.recordImportedOptIns(tx, orgId, optIns, scope.userId);
      outcome.created = admitted.length;
      outcome.updated = updates.length;
    }, { timeout: 30_000 }));
    return outcome;
  }

  /** Inserts a batch in one statement (arrays, not one parameter per cell). */
  private async bulkInsert(tx: Db, orgId: string, rows: (Row & { id: string })[]): Promise<void> {
    if (rows.length === 0) return;
    await tx.$executeRaw`
      INSERT INTO contacts (id, "organizationId", name, email, phone, "instagramId", birthday, "birthMonth", "birthDay", "createdAt", "updatedAt")
      SELECT v.id, ${orgId}, v.name, v.email, v.phone, v.instagram, v.birthday, v.month::smallint, v.day::smallint,
             now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
      FROM ${contactRows(rows)}`;
  }

  /** Updates many contacts in one statement; cells left empty keep the contact's value. */
  private async bulkUpdate(tx: Db, orgId: string, rows: (Row & { id: string })[]): Promise<void> {
    if (rows.length === 0) return;
    await tx.$executeRaw`
      UPDATE contacts AS c SET
        name = v.name,
        email = COALESCE(v.email, c.email),
        phone = COALESCE(v.phone, c.phone),
        "instagramId" = COALESCE(v.instagram, c."instagramId"),
        birthday = COALESCE(v.birthday, c.birthday),
        "birthMonth" = COALESCE(v.month::smallint, c."birthMonth"),
        "birthDay" = COALESCE(v.day::smallint, c."birthDay"),
        "updatedAt" = now() AT TIME ZONE 'UTC'
      FROM ${contactRows(rows)}
      WHERE c.id = v.id AND c."organizationId" = ${orgId}`;
  }
}
