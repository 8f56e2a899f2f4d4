import { Injectable, NotFoundException } from '@nestjs/common';
import { CacheService, CacheWriteUnavailableError } from '../../../core/cache/cache.service';
import { AppConfig } from '../../../core/config/app-config';
import type { TenantScope } from '../../../core/auth/tenant-scope';
import type { Channel, ConsentStatus } from '../../../generated/prisma/enums';
import { ContactsService } from '../contacts.service';
import type { ContactDto } from '../dto/contact.dto';
import { type ConsentChangeContext, type ConsentChangeRef, type ConsentState, type RecordResult, UNKNOWN } from './consent-state';
import { ConsentRepository } from './consent.repository';
import type { ConsentEventDto, SetConsentDto } from './dto/consent.dto';
import { UnsubscribeTokens } from './unsubscribe-token';

/**
 * Who may be reached on which channel. The routes use it, and so do the send
 * paths and the automatic opt-out sources (inbound keywords, provider events,
 * the unsubscribe link): every change goes through `record` or `recordByPhone`,
 * which write the history and the current state together, record nothing when
 * the status does not change, and drop the organization's caches before they
 * return.
 */
@Injectable()
export class ConsentService {
  private readonly appUrl: string;

  constructor(
    private readonly repository: ConsentRepository,
    private readonly contacts: ContactsService,
    private readonly tokens: UnsubscribeTokens,
    private readonly cache: CacheService,
    config: AppConfig,
  ) {
    this.appUrl = config.APP_URL.replace(/\/+$/, '');
  }

  /** The public one-click link for this contact and channel (the `List-Unsubscribe` header and the footer link). */
  unsubscribeUrl(organizationId: string, contactId: string, channel: Channel): string {
    return `${this.appUrl}/api/unsubscribe/${this.tokens.sign({ organizationId, contactId, channel })}`;
  }

  /** Consent on one channel of each contact asked for, in one query; contacts with nothing recorded (or not the organization's) are UNKNOWN. */
  async statusOf(organizationId: string, contactIds: readonly string[], channel: Channel): Promise<Map<string, ConsentState>> {
    const ids = [...new Set(contactIds)];
    const result = new Map<string, ConsentState>(ids.map((id) => [id, UNKNOWN]));
    for (const row of await this.repository.statusOf(organizationId, ids, channel)) result.set(row.contactId, row.status);
    return result;
  }

  /** Sets one contact's consent on a channel; `no-contact` when the organization has no such contact. */
  async record(organizationId: string, contactId: string, channel: Channel, status: ConsentStatus, context: ConsentChangeContext): Promise<RecordResult> {
    // Already so: nothing to record, and no cache to drop (an unknown contact is UNKNOWN here, so it goes on to 404).
    if ((await this.statusOf(organizationId, [contactId], channel)).get(contactId) === status) return 'unchanged';
    const write = () => this.repository.recordForContact(organizationId, contactId, channel, status, context);
    const { found, changed } = await this.cache.writing(organizationId, write).catch(async (error: unknown) => {
      // A person's choice is recorded even when the cache cannot be fenced (Redis away): sends read consent from
      // Postgres, so only a cached list may show the old status until it expires.
      if (!(error instanceof CacheWriteUnavailableError)) throw error;
      const result = await write();
      await this.contacts.changedOutsideWrite(organizationId);
      return result;
    });
    if (found === 0) return 'no-contact';
    return changed.length === 0 ? 'unchanged' : 'recorded';
  }

  /**
   * Sets the consent of every organization's contact with this phone (E.164; a missing leading `+` is added,
   * as WhatsApp sends numbers without it): the platform's shared number speaks for all of them.
   * Answers the contacts whose status changed.
   */
  async recordByPhone(phone: string, channel: Channel, status: ConsentStatus, context: Omit<ConsentChangeContext, 'actor'>): Promise<ConsentChangeRef[]> {
    const e164 = phone.startsWith('+') ? phone : `+${phone}`;
    const { changed } = await this.repository.recordForPhone(e164, channel, status, context);
    for (const organizationId of new Set(changed.map((c) => c.organizationId))) await this.contacts.changedOutsideWrite(organizationId);
    return changed;
  }

  /** `PUT /api/contacts/:id/consent`. */
  async set(scope: TenantScope, contactId: string, dto: SetConsentDto): Promise<ContactDto> {
    const result = await this.record(scope.organizationId, contactId, dto.channel, dto.status, {
      source: 'API',
      evidence: dto.evidence ?? null,
      actor: scope.userId,
    });
    if (result === 'no-contact') throw new NotFoundException('Contact not found.');
    return this.contacts.get(scope, contactId);
  }

  /** `GET /api/contacts/:id/consent`: the history, newest first. */
  async history(scope: TenantScope, contactId: string): Promise<ConsentEventDto[]> {
    if (!(await this.repository.contactExists(scope.organizationId, contactId))) throw new NotFoundException('Contact not found.');
    const events = await this.repository.history(scope.organizationId, contactId);
    return events.map((e) => ({ channel: e.channel, status: e.status, source: e.source, evidence: e.evidence, actor: e.actorId, at: e.at.toISOString() }));
  }
}
