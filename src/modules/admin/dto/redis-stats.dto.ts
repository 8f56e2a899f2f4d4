import { ApiProperty } from '@nestjs/swagger';
import type { RedisInfoSection } from '../redis-info';

const section = (description: string, example: RedisInfoSection) => ({
  description,
  type: 'object' as const,
  additionalProperties: { oneOf: [{ type: 'number' }, { type: 'string' }] },
  example,
});

/** Sections of Redis `INFO`, field names exactly as Redis reports them. */
export class RedisStatsDto {
  @ApiProperty(
    section('INFO stats: commands, connections, keyspace hits and misses, evictions', {
      total_connections_received: 59,
      total_commands_processed: 1325,
      instantaneous_ops_per_sec: 12,
      keyspace_hits: 278,
      keyspace_misses: 57,
      evicted_keys: 0,
      expired_keys: 2,
    }),
  )
  stats: RedisInfoSection;

  @ApiProperty(
    section('INFO memory: usage, peak, fragmentation, eviction policy', {
      used_memory: 1104576,
      used_memory_human: '1.05M',
      used_memory_peak: 1290032,
      maxmemory: 0,
      maxmemory_policy: 'noeviction',
      mem_fragmentation_ratio: 6.83,
    }),
  )
  memory: RedisInfoSection;

  @ApiProperty(
    section('INFO clients: connected and blocked clients', {
      connected_clients: 7,
      blocked_clients: 2,
      maxclients: 10000,
    }),
  )
  clients: RedisInfoSection;
}
