import { BadRequestException, ConflictException, HttpException, HttpStatus, Injectable, NotFoundException } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { CacheService } from '../../core/cache/cache.service';
import { Paginated } from '../../core/http/pagination.dto';
import { isNotFound, isUniqueViolation } from '../../core/prisma/prisma-errors';
import { PrismaService } from '../../core/prisma/prisma.service';
import type { TenantScope } from '../../core/auth/tenant-scope';
import { birthdayColumns, normalizeTags, parseBirthday, tagProblem } from './contact-fields';
import { CONTACT_TAG_ADDED, ContactTagAddedEvent } from './contact.events';
import { ContactRow, ContactsRepository, Db, contactInclude } from './contacts.repository';
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
 * exact in the same transaction, runs through `cache.writing` (the
 * organization's cached lists, organization and dashboard are gone before it
 * answers, or it is refused before anything changes), and emits
 * `contact.tag-added` (after commit) for each tag a contact did not have.
 */
@Injectable()
export class ContactsService {
  constructor(
    private readonly prisma: PrismaService,
    private readonly repository: ContactsRepository,
    private readonly cache: CacheService,
    private readonly events: EventEmitter2,
  ) {}

  async list(scope: TenantScope, query: ListContactsQueryDto): Promise<Paginated<ContactDto>> {
    const [rows, total] = await this.repository.page(scope, { search: query.search, tag: query.tag }, query.skip, query.limit);
    return { data: rows.map(toContactDto), total, page: query.page, limit: query.limit };
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
    let added: ContactTagAddedEvent[] = [];
    let row: ContactRow;
    try {
      row = await this.cache.writing(orgId, () => this.prisma.$transaction(async (tx) => {
        if (!(await this.repository.reserveSlot(tx, orgId))) throw new ContactCapExceededException(await this.maxContactsOf(tx, orgId));
        const created = await tx.contact.create({
          data: {
            organizationId: orgId,
            name: dto.name,
            email: dto.email ?? null,
            phone: dto.phone ?? null,
            instagramId: dto.instagramId ?? null,
            ...birthdayColumns(dto.birthday ? parseBirthday(dto.birthday) : null),
          },
        });
        added = (await this.repository.attachTags(tx, orgId, tags.map((tag) => ({ contactId: created.id, tag })))).map((link) => ({
          organizationId: orgId,
          ...link,
        }));
        return (await this.repository.find(scope, created.id, tx))!;
      }));
    } catch (error) {
      throw conflictOf(error) ?? error;
    }
    this.afterWrite(added);
    return toContactDto(row);
  }

  async update(scope: TenantScope, id: string, dto: UpdateContactDto): Promise<ContactDto> {
    let row: ContactRow;
    try {
      row = await this.cache.writing(scope.organizationId, () => this.prisma.contact.update({
        where: { id, organizationId: scope.organizationId },
        data: {
          name: dto.name,
          email: dto.email,
          phone: dto.phone,
          instagramId: dto.instagramId,
          ...(dto.birthday !== undefined ? birthdayColumns(dto.birthday === null ? null : parseBirthday(dto.birthday)) : {}),
        },
        include: contactInclude,
      }));
    } catch (error) {
      if (isNotFound(error)) throw new NotFoundException('Contact not found.');
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

  /** Adds a tag; `contact.tag-added` fires only if the contact did not have it. */
  async addTag(scope: TenantScope, id: string, tag: string): Promise<ContactDto> {
    const orgId = scope.organizationId;
    const name = tag.trim();
    const problem = tagProblem(name);
    if (problem) throw new BadRequestException([problem]);
    const { row, added } = await this.cache.writing(orgId, () => this.prisma.$transaction(async (tx) => {
      if (!(await this.repository.find(scope, id, tx))) throw new NotFoundException('Contact not found.');
      const links = await this.repository.attachTags(tx, orgId, [{ contactId: id, tag: name }]);
      return { row: (await this.repository.find(scope, id, tx))!, added: links.map((l) => ({ organizationId: orgId, ...l })) };
    }));
    this.afterWrite(added);
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

  /** Tells listeners about new tags, once the write (through `cache.writing`, which dropped what it made stale) is done. */
  afterWrite(added: ContactTagAddedEvent[]): void {
    for (const event of added) this.events.emit(CONTACT_TAG_ADDED, event);
  }

  private async maxContactsOf(db: Db, orgId: string): Promise<number | undefined> {
    const org = await db.organization.findUnique({ where: { id: orgId }, select: { maxContacts: true } });
    return org?.maxContacts;
  }
}
