import { Injectable, Module } from '@nestjs/common';
import { KeyRingError } from '../../../core/crypto/key-ring';
import { PrismaService } from '../../../core/prisma/prisma.service';
import { ConnectionSecrets } from './connection-secrets';

/** A connection the ring cannot open: left as it is, named by id and kind (never a secret). */
export interface UnreadableConnection {
  id: string;
  kind: string;
  reason: string;
}

export interface ReencryptReport {
  checked: number;
  rewritten: number;
  unreadable: UnreadableConnection[];
}

/**
 * `channels:reencrypt`: rewrites every stored channel secret with the first
 * key of CHANNEL_ENCRYPTION_KEYS, so the older keys can then be removed from
 * the ring. Safe to run again (values already under the first key are left
 * alone) and while the service runs: each row is rewritten only if it still
 * holds the value that was read, and its version is not bumped (the
 * credentials themselves did not change). A row that no key of the ring
 * opens does not stop the others: it is left as it is and reported.
 */
@Injectable()
export class ConnectionsReencryption {
  constructor(
    private readonly prisma: PrismaService,
    private readonly secrets: ConnectionSecrets,
  ) {}

  async run(): Promise<ReencryptReport> {
    const report: ReencryptReport = { checked: 0, rewritten: 0, unreadable: [] };
    let afterId = '';
    for (;;) {
      const rows = await this.prisma.channelConnection.findMany({
        where: { id: { gt: afterId } },
        select: { id: true, organizationId: true, kind: true, secrets: true },
        orderBy: { id: 'asc' },
        take: 200,
      });
      if (rows.length === 0) break;
      afterId = rows[rows.length - 1].id;
      for (const row of rows) {
        report.checked++;
        if (!this.secrets.isStale(row.secrets)) continue;
        let sealed: string;
        try {
          sealed = this.secrets.seal(row.organizationId, row.kind, this.secrets.open(row.organizationId, row.kind, row.secrets));
        } catch (error) {
          if (!(error instanceof KeyRingError)) throw error;
          report.unreadable.push({ id: row.id, kind: row.kind, reason: error.message });
          continue;
        }
        const { count } = await this.prisma.channelConnection.updateMany({ where: { id: row.id, secrets: row.secrets }, data: { secrets: sealed } });
        report.rewritten += count;
      }
    }
    return report;
  }
}

/** What `channels:reencrypt` needs, and nothing that serves or consumes anything. */
@Module({ providers: [ConnectionSecrets, ConnectionsReencryption], exports: [ConnectionsReencryption] })
export class ChannelsCliModule {}
