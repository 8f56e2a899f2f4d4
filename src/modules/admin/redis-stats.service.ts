import { Inject, Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import { REDIS } from '../../core/redis/redis.constants';
import { type RedisClient, dataNodes, isCluster, nodeAddress } from '../../core/redis/redis.connection';
import { type RedisInfoSection, parseRedisInfo, sumRedisInfo } from './redis-info';
import type { RedisNodeStatsDto, RedisStatsDto } from './dto/redis-stats.dto';

const SECTIONS = ['stats', 'memory', 'clients'] as const;

@Injectable()
export class RedisStatsService {
  private readonly logger = new Logger(RedisStatsService.name);

  constructor(@Inject(REDIS) private readonly redis: RedisClient) {}

  /** Every node that holds data (one, or a cluster's masters), and their sums: on a cluster INFO only describes the node it is sent to. */
  async stats(): Promise<RedisStatsDto> {
    let nodes: RedisNodeStatsDto[];
    try {
      if (isCluster(this.redis) && this.redis.status !== 'ready') throw new Error(`cluster client is ${this.redis.status}`);
      nodes = await Promise.all(
        dataNodes(this.redis).map(async (node) => {
          const [stats, memory, clients] = await Promise.all(SECTIONS.map(async (section) => parseRedisInfo(await node.info(section))));
          return { node: nodeAddress(node), stats, memory, clients };
        }),
      );
    } catch (error) {
      this.logger.error(`Redis INFO failed: ${(error as Error).message}`);
      throw new ServiceUnavailableException('Redis is not answering; try again shortly.');
    }
    const total = (section: (typeof SECTIONS)[number]): RedisInfoSection => sumRedisInfo(nodes.map((n) => n[section]));
    return { stats: total('stats'), memory: total('memory'), clients: total('clients'), nodes };
  }
}
