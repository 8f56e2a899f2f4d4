import {
  BadGatewayException,
  ConflictException,
  Injectable,
  Logger,
  NotFoundException,
  UnprocessableEntityException,
} from '@nestjs/common';
import type { TenantScope } from '../../../core/auth/tenant-scope';
import { AppConfig } from '../../../core/config/app-config';
import { createValidationPipe } from '../../../core/http/validation';
import { isUniqueViolation } from '../../../core/prisma/prisma-errors';
import { PrismaService } from '../../../core/prisma/prisma.service';
import type { ChannelConnection } from '../../../generated/prisma/client';
import { ChannelKind, ConnectionCheck, ConnectionRefusedError, Credentials, ProviderUnreachableError } from '../channel-extension';
import { ChannelRegistry } from '../channel-registry';
import { ChannelEvents } from '../webhooks/channel-events';
import { ConnectionSecrets, secretHint } from './connection-secrets';
import { ConnectionDto } from './dto/connection.dto';

/**
 * A store's own provider accounts, one per kind. Every PUT is verified by a
 * live call before anything is stored (refused: 422, unreachable: 502, and an
 * existing connection stays as it was); a second PUT replaces the credentials
 * in place, keeping the connection's id and webhook URL. Secrets are sealed
 * with the key ring and never leave this service in clear except to a sender.
 */
@Injectable()
export class ConnectionsService {
  private readonly logger = new Logger(ConnectionsService.name);
  private readonly validation = createValidationPipe();

  constructor(
    private readonly prisma: PrismaService,
    private readonly registry: ChannelRegistry,
    private readonly secrets: ConnectionSecrets,
    private readonly events: ChannelEvents,
    private readonly config: AppConfig,
  ) {}

  async list(scope: TenantScope): Promise<ConnectionDto[]> {
    const rows = await this.prisma.channelConnection.findMany({ where: scope.where(), orderBy: { kind: 'asc' } });
    return rows.map((row) => this.toDto(row));
  }

  async put(scope: TenantScope, kind: string, body: unknown): Promise<ConnectionDto> {
    const definition = this.definition(kind);
    const { maxPerSecond, ...credentials } = (await this.validation.transform(body, { type: 'body', metatype: definition.connectBody })) as Credentials & {
      maxPerSecond?: number;
    };
    const check = await this.liveCheck(definition, credentials);
    const secretFields = new Set<string>(definition.secretFields);
    const sealed = this.secrets.seal(scope.organizationId, kind, pick(credentials, (f) => secretFields.has(f)));
    const now = new Date();
    const fields = {
      status: 'CONNECTED' as const,
      accountKey: check.accountKey,
      config: pick(credentials, (f) => !secretFields.has(f)) as object,
      account: check.account as object,
      secrets: sealed,
      secretHint: secretHint(credentials[definition.hintField]),
      maxPerSecond: definition.defaultMaxPerSecond === null ? null : (maxPerSecond ?? definition.defaultMaxPerSecond),
      error: null,
      connectedAt: now,
      checkedAt: now,
    };
    let row: ChannelConnection;
    try {
      row = await this.prisma.channelConnection.upsert({
        where: { organizationId_kind: { organizationId: scope.organizationId, kind } },
        create: { organizationId: scope.organizationId, kind, ...fields },
        update: { ...fields, version: { increment: 1 } },
      });
    } catch (error) {
      if (isUniqueViolation(error, ['accountKey'])) {
        throw new ConflictException(`This ${definition.provider} account is already connected by another organization.`);
      }
      throw error;
    }
    this.logger.log(`Organization ${scope.organizationId} connected ${kind} (connection ${row.id}, version ${row.version})`);
    await this.events.connected({ organizationId: row.organizationId, connectionId: row.id, kind });
    return this.toDto(row);
  }

  async remove(scope: TenantScope, kind: string): Promise<void> {
    this.definition(kind);
    const { count } = await this.prisma.channelConnection.deleteMany({ where: scope.where({ kind }) });
    if (count === 0) throw new NotFoundException(`No ${kind} connection.`);
    this.logger.log(`Organization ${scope.organizationId} disconnected ${kind}`);
  }

  /** The live check again, with the stored credentials: CONNECTED, or INVALID with the provider's reason. */
  async check(scope: TenantScope, kind: string): Promise<ConnectionDto> {
    const definition = this.definition(kind);
    const row = await this.prisma.channelConnection.findFirst({ where: scope.where({ kind }) });
    if (!row) throw new NotFoundException(`No ${kind} connection.`);
    const credentials = { ...(row.config as Credentials), ...this.secrets.open(row.organizationId, kind, row.secrets) };
    let status: 'CONNECTED' | 'INVALID' = 'CONNECTED';
    let error: string | null = null;
    let account = row.account as object;
    try {
      account = (await definition.check(credentials)).account as object;
    } catch (e) {
      if (e instanceof ProviderUnreachableError) throw new BadGatewayException(e.message);
      if (!(e instanceof ConnectionRefusedError)) throw e;
      status = 'INVALID';
      error = e.message;
    }
    const changed = status !== row.status || error !== row.error;
    const updated = await this.prisma.channelConnection.update({
      where: { id: row.id },
      data: { status, error, account, checkedAt: new Date(), ...(changed ? { version: { increment: 1 } } : {}) },
    });
    return this.toDto(updated);
  }

  toDto(row: ChannelConnection): ConnectionDto {
    const definition = this.registry.kind(row.kind);
    const dto: ConnectionDto = {
      id: row.id,
      kind: row.kind,
      status: row.status,
      account: row.account as Record<string, unknown>,
      secretHint: row.secretHint,
      maxPerSecond: row.maxPerSecond,
      connectedAt: row.connectedAt.toISOString(),
      checkedAt: row.checkedAt.toISOString(),
      error: row.error,
    };
    if (definition?.webhook) dto.webhookUrl = webhookUrlOf(this.config.APP_URL, definition.webhook, row.id);
    return dto;
  }

  private definition(kind: string): ChannelKind {
    const definition = this.registry.kind(kind);
    if (!definition) {
      throw new NotFoundException(`Unknown channel kind "${kind.slice(0, 40)}": one of ${this.registry.kinds().map((k) => k.kind).join(', ')}.`);
    }
    return definition;
  }

  private async liveCheck(definition: ChannelKind, credentials: Credentials): Promise<ConnectionCheck> {
    try {
      return await definition.check(credentials);
    } catch (error) {
      if (error instanceof ConnectionRefusedError) throw new UnprocessableEntityException(error.message);
      if (error instanceof ProviderUnreachableError) throw new BadGatewayException(`${error.message}; nothing was changed, try again later.`);
      throw error;
    }
  }
}

/** `{APP_URL}/api/webhooks/<path>/<connectionId>`: what the store gives its provider, and what signatures are computed over. */
export function webhookUrlOf(appUrl: string, path: string, connectionId: string): string {
  return `${appUrl.replace(/\/$/, '')}/api/webhooks/${path}/${connectionId}`;
}

function pick(source: Credentials, keep: (field: string) => boolean): Credentials {
  return Object.fromEntries(Object.entries(source).filter(([field, value]) => value !== undefined && keep(field)));
}
