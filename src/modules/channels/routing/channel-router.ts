import { Injectable, UnprocessableEntityException } from '@nestjs/common';
import { AppConfig } from '../../../core/config/app-config';
import { KeyRingError } from '../../../core/crypto/key-ring';
import { PrismaService } from '../../../core/prisma/prisma.service';
import type { SendRoute } from '../../../generated/prisma/enums';
import type { ChannelKind, Credentials } from '../channel-extension';
import { ChannelRegistry } from '../channel-registry';
import { BoundedMap } from '../../../core/memo/bounded-map';
import { ConnectionSecrets } from '../connections/connection-secrets';
import { PaceAccount, paceKeys } from '../pacing/pace.service';

export interface RouteChoice {
  route: SendRoute;
  connectionId: string | null;
}

/** The connection fields a send needs, as the worker loads them with the message (null: deleted). */
export interface ConnectionForSend {
  id: string;
  organizationId: string;
  kind: string;
  status: string;
  version: number;
  maxPerSecond: number | null;
  config: unknown;
  secrets: string;
  error: string | null;
}

/** The credentials a send goes through; `sandbox` sends nothing. */
export type SendCredentials = { sandbox: true } | { sandbox: false; credentials: Credentials; connectionId: string | null };

/** Nothing can carry this channel: `422 "<label> is not connected"` at the API, a failed run in a flow. */
export class ChannelNotConnectedException extends UnprocessableEntityException {
  constructor(label: string) {
    super(`${label} is not connected`);
  }
}

/** The route chosen at acceptance can no longer be used (deleted, INVALID): the send fails with this reason. */
export class RouteUnavailableError extends Error {}

/** Decrypted credentials kept per connection version (a few hundred connections at most in a worker). */
const CACHE_ENTRIES = 1000;

/**
 * Which credentials carry a store's message or post, decided once when it is
 * accepted and kept: the organization's own connection of the kind; else the
 * platform's provider variables when all are set; else sandbox outside
 * production, and `422` in production. At send time the chosen route is
 * honoured as it is now: a deleted or INVALID connection fails the send with
 * the reason, and never falls back to the platform's account. Secrets are
 * decrypted once per connection version, so a connection replaced by another
 * process is used with its new credentials from the next send on.
 */
@Injectable()
export class ChannelRouter {
  private readonly decrypted = new BoundedMap<string, Credentials>(CACHE_ENTRIES);

  constructor(
    private readonly prisma: PrismaService,
    private readonly registry: ChannelRegistry,
    private readonly secrets: ConnectionSecrets,
    private readonly config: AppConfig,
  ) {}

  async choose(organizationId: string, kind: string, label: string): Promise<RouteChoice> {
    this.definition(kind);
    const connection = await this.prisma.channelConnection.findUnique({
      where: { organizationId_kind: { organizationId, kind } },
      select: { id: true },
    });
    return this.chooseGiven(connection?.id ?? null, kind, label);
  }

  /** `choose` for a caller that already read the organization's connection of the kind (its id, or null when none). */
  chooseGiven(connectionId: string | null, kind: string, label: string): RouteChoice {
    const definition = this.definition(kind);
    if (connectionId) return { route: 'CONNECTION', connectionId };
    if (definition.platformCredentials()) return { route: 'PLATFORM', connectionId: null };
    if (this.config.NODE_ENV !== 'production') return { route: 'SANDBOX', connectionId: null };
    throw new ChannelNotConnectedException(label);
  }

  /** The credentials of a route chosen earlier, or RouteUnavailableError saying why it cannot be used now. */
  credentialsFor(kind: string, route: SendRoute | null, connection: ConnectionForSend | null, label: string): SendCredentials {
    const definition = this.definition(kind);
    switch (route) {
      case 'SANDBOX':
        if (this.config.NODE_ENV === 'production') throw new RouteUnavailableError(`${label} was accepted in sandbox mode, which production does not send`);
        return { sandbox: true };
      case 'PLATFORM': {
        const credentials = definition.platformCredentials();
        if (!credentials) throw new RouteUnavailableError(`${label} was accepted for the platform's account, whose credentials are no longer configured`);
        return { sandbox: false, credentials, connectionId: null };
      }
      case 'CONNECTION':
        if (!connection) throw new RouteUnavailableError(`the ${label} connection it was accepted with was deleted; reconnect it and send again`);
        if (connection.status !== 'CONNECTED') {
          throw new RouteUnavailableError(`the ${label} connection is INVALID (${connection.error ?? 'refused by the provider'}); fix it with PUT /api/channels/${kind}`);
        }
        return { sandbox: false, credentials: this.open(connection), connectionId: connection.id };
      default: {
        // Accepted before routes were recorded: as it was then, the platform's account when set, else sandbox outside production.
        const credentials = definition.platformCredentials();
        if (credentials) return { sandbox: false, credentials, connectionId: null };
        if (this.config.NODE_ENV !== 'production') return { sandbox: true };
        throw new RouteUnavailableError(`${label} is not connected`);
      }
    }
  }

  /** The limiter a send of this route is paced by: the connection's, or the platform account's; none in sandbox or when unpaced. */
  paceOf(kind: string, route: SendRoute | null, connection: Pick<ConnectionForSend, 'id' | 'organizationId' | 'maxPerSecond'> | null): PaceAccount | undefined {
    if (route === 'SANDBOX') return undefined;
    if (route === 'CONNECTION') {
      return connection?.maxPerSecond ? { key: paceKeys.connection(connection.organizationId, connection.id), perSecond: connection.maxPerSecond } : undefined;
    }
    const definition = this.definition(kind);
    const perSecond = definition.platformMaxPerSecond ? definition.platformMaxPerSecond() : definition.defaultMaxPerSecond;
    return perSecond ? { key: paceKeys.platform(kind), perSecond } : undefined;
  }

  private open(connection: ConnectionForSend): Credentials {
    const key = `${connection.id}:${connection.version}`;
    let credentials = this.decrypted.get(key);
    if (!credentials) {
      let secrets: Credentials;
      try {
        secrets = this.secrets.open(connection.organizationId, connection.kind, connection.secrets);
      } catch (error) {
        if (!(error instanceof KeyRingError)) throw error;
        throw new RouteUnavailableError(`the ${connection.kind} connection's secrets cannot be decrypted: ${error.message}`);
      }
      credentials = { ...(connection.config as Credentials), ...secrets };
      this.decrypted.set(key, credentials);
    }
    return credentials;
  }

  private definition(kind: string): ChannelKind {
    const definition = this.registry.kind(kind);
    if (!definition) throw new Error(`No channel kind "${kind}" is registered`);
    return definition;
  }
}
