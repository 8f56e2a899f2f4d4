import { BadRequestException, ConflictException, HttpException, HttpStatus, Injectable, Logger, NotFoundException } from '@nestjs/common';
import { CacheService } from '../../core/cache/cache.service';
import { OutboxService } from '../../core/outbox/outbox.service';
import { Paginated } from '../../core/http/pagination.dto';
import { isUniqueViolation } from '../../core/prisma/prisma-errors';
import { PrismaService } from '../../core/prisma/prisma.service';
import type { TenantScope } from '../../core/auth/tenant-scope';
import { normalizeTags, parseBirthday, tagProblem } from './contact-fields';
import { consentMapOf, parseConsentFilter } from './consent/consent-state';
import { ContactRow, ContactsRepository, Db } from './contacts.repository';
import { ContactDto, CreateContactDto, ListContactsQueryDto, UpdateContactDto } from './dto/contact.dto';

export class ContactCapExceededException extends HttpException {
  constructor(maxContacts?: number) {
    super(
      {
        statusCode: HttpStatus.PAYMENT_REQUIRED,
        error: 'Plan Quota Exceeded',
        message: `Your plan's contact limit${maxContacts === undefined ? '' : ` (${maxContacts})`} is reached; delete contacts or upgrade your plan.`,
      },
      HttpStatus.PAYMENT_REQUIRED,
    );
  }
}

export function toContactDto(row: ContactRow): ContactDto {
  return {
    id: row.id,
    name: row.name,
    email: row.email,
    phone: row.phone,
    birthday: row.birthday ? row.birthday.toISOString().slice(0, 10) : null,
    instagramId: row.instagramId,
    tags: row.tags.map((t) => t.tag.name).sort(),
    consent: consentMapOf(row.consents),
    whatsappWindowExpiresAt: row.whatsappWindowExpiresAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export function conflictOf(error: unknown): ConflictException | undefined {
  if (!isUniqueViolation(error)) return undefined;
  const field = isUniqueViolation(error, ['phone']) ? 'phone' : 'email';
  return new ConflictException(`Another contact of your organization already has this ${field}.`);
}

/**
 * Contacts of one organization. Every write keeps `Organization.contactCount`
 * exact in the same transaction (or statement), runs through `cache.writing`
 * (the organization's cached lists, organization and dashboard are gone before
 * it answers, or it is refused before anything changes), and records a
 * `contact.tag-added` outbox event with it for each tag a contact did not have
 * and that starts a flow (ContactsRepository.insert and attachTags), kicking
 * the drain after commit when it wrote one.
 */
@Injectable()
export class ContactsService {
  private readonly logger = new Logger(ContactsService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly repository: ContactsRepository,
    private readonly cache: CacheService,
    private readonly outbox: OutboxService,
  ) {}

  async list(scope: TenantScope, query: ListContactsQueryDto): Promise<Paginated<ContactDto>> {
    const filter = { search: query.search, tag: query.tag, consent: query.consent ? parseConsentFilter(query.consent) : undefined };
    const [rows, total] = await this.repository.page(scope, filter, query.skip, query.limit);
    return { data: rows.map(toContactDto), total, page: query.page, limit: query.limit };
  }

  /**
   * The organization's contact with this phone, or a new one named `name` when
   * the contact cap allows (null when it does not). For inbound messages from
   * people the store has not added yet.
   */
  async findOrCreateByPhone(orgId: string, phone: string, name: string): Promise<{ id: string; created: boolean } | null> {
    const existing = await this.prisma.contact.findUnique({ where: { organizationId_phone: { organizationId: orgId, phone } }, select: { id: true } });
    if (existing) return { id: existing.id, created: false };
    let created: { id: string } | null;
    try {
      created = await this.cache.writing(orgId, () =>
        this.prisma.$transaction(async (tx) => {
          if (!(await this.repository.reserveSlot(tx, orgId))) return null;
          return tx.contact.create({ data: { organizationId: orgId, name: name.slice(0, 200), phone }, select: { id: true } });
        }),
      );
    } catch (error) {
      // Another delivery created it at the same moment: that one is ours too.
      if (!conflictOf(error)) throw error;
      const raced = await this.prisma.contact.findUniqueOrThrow({ where: { organizationId_phone: { organizationId: orgId, phone } }, select: { id: true } });
      return { id: raced.id, created: false };
    }
    if (!created) return null;
    return { id: created.id, created: true };
  }

  /** The contact, or null when the organization has no such contact. For other modules (messages, flows). */
  async findForTenant(scope: TenantScope, id: string): Promise<ContactDto | null> {
    const row = await this.repository.find(scope, id);
    return row ? toContactDto(row) : null;
  }

  async get(scope: TenantScope, id: string): Promise<ContactDto> {
    const contact = await this.findForTenant(scope, id);
    if (!contact) throw new NotFoundException('Contact not found.');
    return contact;
  }

  async create(scope: TenantScope, dto: CreateContactDto): Promise<ContactDto> {
    const orgId = scope.organizationId;
    const tags = normalizeTags(dto.tags);
    let events = 0;
    let row: ContactRow;
    try {
      ({ row, events } = await this.cache.writing(orgId, async () => {
        const fields = {
          name: dto.name,
          email: dto.email ?? null,
          phone: dto.phone ?? null,
          instagramId: dto.instagramId ?? null,
          birthday: dto.birthday ? parseBirthday(dto.birthday) : null,
        };
        const created = await this.repository.insert(orgId, fields, tags);
        if (!created) throw new ContactCapExceededException(await this.maxContactsOf(this.prisma, orgId));
        return { row: created.row, events: created.events };
      }));
    } catch (error) {
      throw conflictOf(error) ?? error;
    }
    await this.afterWrite(events);
    return toContactDto(row);
  }

  async update(scope: TenantScope, id: string, dto: UpdateContactDto): Promise<ContactDto> {
    let row: ContactRow;
    try {
      row = await this.cache.writing(scope.organizationId, async () => {
        // Changed and read back with its tags and consents in one statement.
        const updated = await this.repository.update(scope, id, {
          name: dto.name,
          email: dto.email,
          phone: dto.phone,
          instagramId: dto.instagramId,
          birthday: dto.birthday === undefined ? undefined : dto.birthday === null ? null : parseBirthday(dto.birthday),
        });
        if (!updated) throw new NotFoundException('Contact not found.');
        return updated;
      });
    } catch (error) {
      throw conflictOf(error) ?? error;
    }
    return toContactDto(row);
  }

  async remove(scope: TenantScope, id: string): Promise<void> {
    const orgId = scope.organizationId;
    const deleted = await this.cache.writing(orgId, () => this.prisma.$transaction(async (tx) => {
      const { count } = await tx.contact.deleteMany({ where: scope.where({ id }) });
      await this.repository.releaseSlots(tx, orgId, count);
      return count;
    }));
    if (deleted === 0) throw new NotFoundException('Contact not found.');
  }

  /** Adds a tag; a `contact.tag-added` event is recorded only if the contact did not have it. */
  async addTag(scope: TenantScope, id: string, tag: string): Promise<ContactDto> {
    const orgId = scope.organizationId;
    const name = tag.trim();
    const problem = tagProblem(name);
    if (problem) throw new BadRequestException([problem]);
    const { row, events } = await this.cache.writing(orgId, () => this.prisma.$transaction(async (tx) => {
      if (!(await this.repository.find(scope, id, tx))) throw new NotFoundException('Contact not found.');
      const events = await this.repository.attachTags(tx, orgId, [{ contactId: id, tag: name }]);
      return { row: (await this.repository.find(scope, id, tx))!, events };
    }));
    await this.afterWrite(events);
    return toContactDto(row);
  }

  /** Removes a tag; removing one the contact does not have changes nothing. */
  async removeTag(scope: TenantScope, id: string, tag: string): Promise<ContactDto> {
    const orgId = scope.organizationId;
    const row = await this.cache.writing(orgId, () => this.prisma.$transaction(async (tx) => {
      if (!(await this.repository.find(scope, id, tx))) throw new NotFoundException('Contact not found.');
      await this.repository.detachTag(tx, orgId, id, tag.trim());
      return (await this.repository.find(scope, id, tx))!;
    }));
    return toContactDto(row);
  }

  /**
   * After a write (through `cache.writing`, which dropped what it made stale): wakes the outbox drain when it wrote
   * tag events. They were committed with the write, so a lost kick only delays them.
   */
  async afterWrite(events: number): Promise<void> {
    if (events > 0) await this.outbox.kick();
  }

  /**
   * For a write whose organizations are known only once it committed (an inbound message, a keyword on the
   * platform's shared number): drops their cached lists, organization and dashboard, best effort (the fence
   * keeps out values loaded before). Every other write goes through `cache.writing`.
   */
  async changedOutsideWrite(orgId: string): Promise<void> {
    await this.cache
      .invalidateOrganization(orgId)
      .catch((error: Error) => this.logger.warn(`Caches of organization ${orgId} not invalidated: ${error.message}`));
  }

  private async maxContactsOf(db: Db, orgId: string): Promise<number | undefined> {
    const org = await db.organization.findUnique({ where: { id: orgId }, select: { maxContacts: true } });
    return org?.maxContacts;
  }
}
