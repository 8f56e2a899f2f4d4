import { Injectable, Logger, Module } from '@nestjs/common';
import { PrismaService } from '../../../core/prisma/prisma.service';
import { ConnectionSecrets } from './connection-secrets';

export interface ReencryptReport {
  checked: number;
  rewritten: number;
}

/**
 * `channels:reencrypt`: rewrites every stored channel secret with the first
 * key of CHANNEL_ENCRYPTION_KEYS, so the older keys can then be removed from
 * the ring. Safe to run again (values already under the first key are left
 * alone) and while the service runs: each row is rewritten only if it still
 * holds the value that was read, and its version is not bumped (the
 * credentials themselves did not change).
 */
@Injectable()
export class ConnectionsReencryption {
  private readonly logger = new Logger(ConnectionsReencryption.name);

  constructor(
    private readonly prisma: PrismaService,
    private readonly secrets: ConnectionSecrets,
  ) {}

  async run(): Promise<ReencryptReport> {
    const report: ReencryptReport = { checked: 0, rewritten: 0 };
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
        const sealed = this.secrets.seal(row.organizationId, row.kind, this.secrets.open(row.organizationId, row.kind, row.secrets));
        const { count } = await this.prisma.channelConnection.updateMany({ where: { id: row.id, secrets: row.secrets }, data: { secrets: sealed } });
        report.rewritten += count;
      }
    }
    this.logger.log(`Re-encrypted ${report.rewritten} of ${report.checked} channel connections`);
    return report;
  }
}

/** What `channels:reencrypt` needs, and nothing that serves or consumes anything. */
@Module({ providers: [ConnectionSecrets, ConnectionsReencryption], exports: [ConnectionsReencryption] })
export class ChannelsCliModule {}
