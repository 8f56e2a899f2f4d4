import { BadGatewayException, Injectable, Logger, NotFoundException, OnModuleInit, UnprocessableEntityException } from '@nestjs/common';
import { AppConfig } from '../../../core/config/app-config';
import { ProviderError } from '../../../core/http/provider-error';
import { ProviderHttp } from '../../../core/http/provider-http';
import { PrismaService } from '../../../core/prisma/prisma.service';
import type { WhatsAppTemplate } from '../../../generated/prisma/client';
import type { SendRoute } from '../../../generated/prisma/enums';
import { ConnectionSecrets } from '../connections/connection-secrets';
import { graphApiError } from '../providers/graph-api-error';
import { ChannelEvents } from '../webhooks/channel-events';

/**
 * A business account whose stored templates can be listed and checked; syncing them from Meta also needs
 * its token (the platform's account may have an id and no WHATSAPP_TOKEN).
 */
export interface TemplateAccount {
  businessAccountId: string;
  accessToken?: string;
}

type SyncableAccount = Required<TemplateAccount>;

interface MetaTemplate {
  name?: string;
  language?: string;
  status?: string;
  category?: string;
  components?: { type?: string; text?: string }[];
}

export interface TemplateView {
  name: string;
  language: string;
  category: string;
  status: string;
  body: string;
  variables: number;
}

/** How often templates are synced again by the schedule (they change when Meta reviews them). */
export const TEMPLATE_SYNC_EVERY_MS = 6 * 3600 * 1000;
/**
 * Pages read at most in one sync: Meta allows a business up to 6,000 templates (60 pages of 100), so an
 * answer still going past this is broken, and the sync fails rather than store part of the list.
 */
const MAX_PAGES = 250;
const PROVIDER = 'WhatsApp Cloud API';

const PLACEHOLDER = /\{\{\s*(\d+)\s*\}\}/g;

/** Distinct `{{1}}…{{n}}` placeholders of a body. */
export function placeholderCount(body: string): number {
  return new Set([...body.matchAll(PLACEHOLDER)].map((m) => m[1])).size;
}

/** The body with `{{n}}` replaced by the n-th value (values are never evaluated). */
export function fillTemplate(body: string, values: readonly string[]): string {
  return body.replace(PLACEHOLDER, (match, n: string) => values[Number(n) - 1] ?? match);
}

/**
 * WhatsApp message templates of each business account: synced from
 * `GET {WHATSAPP_API_URL}/{businessAccountId}/message_templates?limit=100`,
 * following `paging.next` to the end, and kept in Postgres so that sends are
 * validated without calling Meta. As in Chatwoot, the attempt is marked
 * before fetching: an account whose token broke is tried again by the next
 * schedule, not in a loop. A failed sync keeps the stored list.
 */
@Injectable()
export class WhatsAppTemplatesService implements OnModuleInit {
  private readonly logger = new Logger(WhatsAppTemplatesService.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly http: ProviderHttp,
    private readonly secrets: ConnectionSecrets,
    private readonly events: ChannelEvents,
    private readonly config: AppConfig,
  ) {}

  /** A store that connects its number gets its templates at once (a failure is logged; the schedule tries again). */
  onModuleInit(): void {
    this.events.onConnected(async ({ kind, connectionId }) => {
      if (kind !== 'whatsapp') return;
      const connection = await this.prisma.channelConnection.findUnique({ where: { id: connectionId } });
      const account = connection && this.connectionAccount(connection);
      if (account) await this.sync(account);
    });
  }

  /** The account a store's WhatsApp messages use: its connection's, else the platform's (WHATSAPP_BUSINESS_ACCOUNT_ID). */
  async accountOf(organizationId: string): Promise<TemplateAccount | undefined> {
    const connection = await this.prisma.channelConnection.findUnique({ where: { organizationId_kind: { organizationId, kind: 'whatsapp' } } });
    if (connection) return this.connectionAccount(connection);
    return this.platformAccount();
  }

  /** The account of a route chosen for a message: its connection's or the platform's; none for sandbox. */
  async accountOfRoute(route: SendRoute | null, connectionId: string | null): Promise<TemplateAccount | undefined> {
    if (route === 'CONNECTION' && connectionId) {
      const connection = await this.prisma.channelConnection.findUnique({ where: { id: connectionId } });
      return connection ? this.connectionAccount(connection) : undefined;
    }
    return route === 'PLATFORM' ? this.platformAccount() : undefined;
  }

  async list(organizationId: string): Promise<{ data: TemplateView[]; syncedAt: string | null }> {
    const account = await this.accountOf(organizationId);
    if (!account) throw new NotFoundException('No WhatsApp account: connect one with PUT /api/channels/whatsapp.');
    return this.view(account.businessAccountId);
  }

  /**
   * `POST /api/channels/whatsapp/templates/sync`: 502 when Meta refuses, fails or answers what is not a template
   * list (the stored list is kept); 422 when the platform's account has no WHATSAPP_TOKEN to read them with.
   */
  async syncFor(organizationId: string): Promise<{ data: TemplateView[]; syncedAt: string | null }> {
    const account = await this.accountOf(organizationId);
    if (!account) throw new NotFoundException('No WhatsApp account: connect one with PUT /api/channels/whatsapp.');
    if (!syncable(account)) {
      throw new UnprocessableEntityException(
        "The platform's WhatsApp templates cannot be synced: WHATSAPP_TOKEN is not set. The stored list is kept; connect your own number with PUT /api/channels/whatsapp.",
      );
    }
    try {
      await this.sync(account);
    } catch (error) {
      if (error instanceof ProviderError) throw new BadGatewayException(`Templates could not be synced: ${error.message}; the stored list is kept.`);
      throw error;
    }
    return this.view(account.businessAccountId);
  }

  /**
   * The template a send names, checked: it must be synced for the account the
   * message goes through, APPROVED, and given one value per placeholder.
   * Anything else is a `422` that says what to do.
   */
  async resolve(account: TemplateAccount | undefined, ref: { name: string; language: string; variables: readonly string[] }): Promise<WhatsAppTemplate> {
    const label = `${ref.name} (${ref.language})`;
    if (!account) {
      throw new UnprocessableEntityException(
        `Template ${label} cannot be checked: WhatsApp templates need the store's WhatsApp connection (PUT /api/channels/whatsapp) or WHATSAPP_BUSINESS_ACCOUNT_ID.`,
      );
    }
    const template = await this.find(account.businessAccountId, ref.name, ref.language);
    if (!template) throw new UnprocessableEntityException(`Unknown WhatsApp template ${label}: sync the templates with POST /api/channels/whatsapp/templates/sync.`);
    if (template.status !== 'APPROVED') throw new UnprocessableEntityException(`WhatsApp template ${label} is ${template.status}: only APPROVED templates can be sent.`);
    if (ref.variables.length !== template.variables) {
      throw new UnprocessableEntityException(`WhatsApp template ${label} takes ${template.variables} variable(s), ${ref.variables.length} given.`);
    }
    return template;
  }

  /** A stored template, by name and language. */
  find(businessAccountId: string, name: string, language: string): Promise<WhatsAppTemplate | null> {
    return this.prisma.whatsAppTemplate.findUnique({ where: { businessAccountId_name_language: { businessAccountId, name, language } } });
  }

  /**
   * Replaces the stored list of an account with Meta's, every page of it, or writes nothing: a ProviderError when
   * Meta refuses, fails, or answers a page that is not a template list, or when its pages cannot all be read.
   */
  async sync(account: SyncableAccount): Promise<number> {
    const attemptedAt = new Date();
    await this.prisma.whatsAppTemplateSync.upsert({
      where: { businessAccountId: account.businessAccountId },
      create: { businessAccountId: account.businessAccountId, attemptedAt },
      update: { attemptedAt },
    });
    let templates: MetaTemplate[];
    try {
      templates = await this.fetchAll(account);
    } catch (error) {
      await this.prisma.whatsAppTemplateSync.update({ where: { businessAccountId: account.businessAccountId }, data: { error: (error as Error).message.slice(0, 1000) } });
      throw error;
    }
    const rows = templates
      .filter((t) => t.name && t.language)
      .map((t) => {
        const body = t.components?.find((c) => c.type?.toUpperCase() === 'BODY')?.text ?? '';
        return {
          businessAccountId: account.businessAccountId,
          name: t.name!,
          language: t.language!,
          category: t.category ?? 'UNKNOWN',
          status: t.status ?? 'UNKNOWN',
          body,
          variables: placeholderCount(body),
          syncedAt: attemptedAt,
        };
      });
    await this.prisma.$transaction([
      this.prisma.whatsAppTemplate.deleteMany({ where: { businessAccountId: account.businessAccountId } }),
      this.prisma.whatsAppTemplate.createMany({ data: rows, skipDuplicates: true }),
      this.prisma.whatsAppTemplateSync.update({ where: { businessAccountId: account.businessAccountId }, data: { syncedAt: attemptedAt, error: null } }),
    ]);
    this.logger.log(`Synced ${rows.length} WhatsApp templates of business account ${account.businessAccountId}`);
    return rows.length;
  }

  /** The schedule's run: every account whose last attempt is older than TEMPLATE_SYNC_EVERY_MS. Failures are logged, never retried in a loop. */
  async syncDue(now = new Date()): Promise<{ synced: number; failed: number }> {
    const due = new Date(now.getTime() - TEMPLATE_SYNC_EVERY_MS + 60_000);
    const accounts: SyncableAccount[] = [];
    const connections = await this.prisma.channelConnection.findMany({ where: { kind: 'whatsapp', status: 'CONNECTED' } });
    for (const connection of connections) {
      const account = this.connectionAccount(connection);
      if (account) accounts.push(account);
    }
    const platform = this.platformAccount();
    if (syncable(platform)) accounts.push(platform);
    const recent = new Set(
      (await this.prisma.whatsAppTemplateSync.findMany({ where: { businessAccountId: { in: accounts.map((a) => a.businessAccountId) }, attemptedAt: { gt: due } } })).map(
        (s) => s.businessAccountId,
      ),
    );
    const report = { synced: 0, failed: 0 };
    const seen = new Set<string>();
    for (const account of accounts) {
      if (recent.has(account.businessAccountId) || seen.has(account.businessAccountId)) continue;
      seen.add(account.businessAccountId);
      try {
        await this.sync(account);
        report.synced++;
      } catch (error) {
        if (!(error instanceof ProviderError)) throw error;
        report.failed++;
        this.logger.warn(`Templates of business account ${account.businessAccountId} not synced: ${error.message}`);
      }
    }
    return report;
  }

  /** Every page, or a ProviderError: a partial list would replace the stored one with fewer templates than Meta has. */
  private async fetchAll(account: SyncableAccount): Promise<MetaTemplate[]> {
    const base = this.config.WHATSAPP_API_URL.replace(/\/$/, '');
    let url: string | undefined = `${base}/${encodeURIComponent(account.businessAccountId)}/message_templates?limit=100`;
    const templates: MetaTemplate[] = [];
    const seen = new Set<string>();
    while (url) {
      if (seen.has(url)) throw new ProviderError(PROVIDER, 'template list answered a paging.next it had already answered (a loop)', false);
      if (seen.size === MAX_PAGES) throw new ProviderError(PROVIDER, `template list still going after ${MAX_PAGES} pages`, false);
      seen.add(url);
      const res = await this.http.request({ provider: PROVIDER, method: 'GET', url, headers: { Authorization: `Bearer ${account.accessToken}` } });
      if (res.status < 200 || res.status >= 300) throw graphApiError(PROVIDER, res);
      const body = templatePage(res.json, res.status);
      templates.push(...body.data);
      url = this.nextPage(body.next, base);
    }
    return templates;
  }

  /** `paging.next`, followed only on the API's own origin: the token is never sent anywhere else. */
  private nextPage(next: string | undefined, base: string): string | undefined {
    if (next === undefined) return undefined;
    let origin: string | undefined;
    try {
      origin = new URL(next).origin;
    } catch {
      throw new ProviderError(PROVIDER, 'template list answered a paging.next that is not a URL', false);
    }
    if (origin !== new URL(base).origin) throw new ProviderError(PROVIDER, `template list answered a paging.next on another origin (${origin})`, false);
    return next;
  }

  private async view(businessAccountId: string): Promise<{ data: TemplateView[]; syncedAt: string | null }> {
    const [rows, sync] = await Promise.all([
      this.prisma.whatsAppTemplate.findMany({ where: { businessAccountId }, orderBy: [{ name: 'asc' }, { language: 'asc' }] }),
      this.prisma.whatsAppTemplateSync.findUnique({ where: { businessAccountId } }),
    ]);
    return {
      data: rows.map((t) => ({ name: t.name, language: t.language, category: t.category, status: t.status, body: t.body, variables: t.variables })),
      syncedAt: sync?.syncedAt?.toISOString() ?? null,
    };
  }

  private connectionAccount(connection: { organizationId: string; kind: string; config: unknown; secrets: string }): SyncableAccount | undefined {
    const businessAccountId = (connection.config as { businessAccountId?: string }).businessAccountId;
    if (!businessAccountId) return undefined;
    const { accessToken } = this.secrets.open(connection.organizationId, connection.kind, connection.secrets) as { accessToken: string };
    return { businessAccountId, accessToken };
  }

  /** Listing and checking the stored templates need only WHATSAPP_BUSINESS_ACCOUNT_ID; syncing them needs WHATSAPP_TOKEN too. */
  private platformAccount(): TemplateAccount | undefined {
    const { WHATSAPP_BUSINESS_ACCOUNT_ID, WHATSAPP_TOKEN } = this.config;
    return WHATSAPP_BUSINESS_ACCOUNT_ID ? { businessAccountId: WHATSAPP_BUSINESS_ACCOUNT_ID, accessToken: WHATSAPP_TOKEN || undefined } : undefined;
  }
}

/**
 * One page of `GET /{waba}/message_templates` as Zyva reads it, or a ProviderError for an answer of another
 * shape (not a JSON object, `data` not a list, a template or one of its components not an object, a field
 * read that is not a string), which would otherwise store no templates or fail as a 500.
 */
function templatePage(json: unknown, status: number): { data: MetaTemplate[]; next?: string } {
  const malformed = (what: string) => new ProviderError(PROVIDER, `template list answered ${what} (HTTP ${status})`, false, status);
  if (!isObject(json)) throw malformed('a body that is not a JSON object');
  if (!Array.isArray(json.data)) throw malformed('no data list');
  for (const [i, t] of json.data.entries()) {
    if (!isObject(t) || !stringsOrAbsent(t, ['name', 'language', 'status', 'category'])) throw malformed(`data[${i}], which is not a template`);
    const components = t.components;
    if (components !== undefined && !(Array.isArray(components) && components.every((c) => isObject(c) && stringsOrAbsent(c, ['type', 'text'])))) {
      throw malformed(`data[${i}].components, which is not a list of components`);
    }
  }
  const next = isObject(json.paging) ? (json.paging.next ?? undefined) : undefined;
  if (next !== undefined && typeof next !== 'string') throw malformed('a paging.next that is not a string');
  return { data: json.data as MetaTemplate[], next: next || undefined };
}

function syncable(account: TemplateAccount | undefined): account is SyncableAccount {
  return Boolean(account?.accessToken);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringsOrAbsent(value: Record<string, unknown>, fields: string[]): boolean {
  return fields.every((f) => value[f] === undefined || typeof value[f] === 'string');
}
