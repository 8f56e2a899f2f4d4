import { Inject, Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import type Redis from 'ioredis';
import { REDIS } from '../../core/redis/redis.constants';
import { parseRedisInfo } from './redis-info';
import type { RedisStatsDto } from './dto/redis-stats.dto';

@Injectable()
export class RedisStatsService {
  private readonly logger = new Logger(RedisStatsService.name);

  constructor(@Inject(REDIS) private readonly redis: Redis) {}

  async stats(): Promise<RedisStatsDto> {
    try {
      const [stats, memory, clients] = await Promise.all([
        this.redis.info('stats'),
        this.redis.info('memory'),
        this.redis.info('clients'),
      ]);
      return { stats: parseRedisInfo(stats), memory: parseRedisInfo(memory), clients: parseRedisInfo(clients) };
    } catch (error) {
      this.logger.error(`Redis INFO failed: ${(error as Error).message}`);
      throw new ServiceUnavailableException('Redis is not answering; try again shortly.');
    }
  }
}
