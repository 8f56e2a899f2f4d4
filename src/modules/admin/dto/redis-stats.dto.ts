import { ApiProperty } from '@nestjs/swagger';
import type { RedisInfoSection } from '../redis-info';

const section = (description: string, example: RedisInfoSection) => ({
  description,
  type: 'object' as const,
  additionalProperties: { oneOf: [{ type: 'number' }, { type: 'string' }] },
  example,
});

const STATS_EXAMPLE = {
  total_connections_received: 59,
  total_commands_processed: 1325,
  instantaneous_ops_per_sec: 12,
  keyspace_hits: 278,
  keyspace_misses: 57,
  evicted_keys: 0,
  expired_keys: 2,
};
const MEMORY_EXAMPLE = {
  used_memory: 1104576,
  used_memory_human: '1.05M',
  used_memory_peak: 1290032,
  maxmemory: 0,
  maxmemory_policy: 'noeviction',
  mem_fragmentation_ratio: 6.83,
};
const CLIENTS_EXAMPLE = { connected_clients: 7, blocked_clients: 2, maxclients: 10000 };

/** One node's sections of Redis `INFO`, field names exactly as Redis reports them. */
export class RedisNodeStatsDto {
  @ApiProperty({ description: 'The node, host:port', example: '10.0.0.7:6379' })
  node: string;

  @ApiProperty(section('INFO stats of this node', STATS_EXAMPLE))
  stats: RedisInfoSection;

  @ApiProperty(section('INFO memory of this node', MEMORY_EXAMPLE))
  memory: RedisInfoSection;

  @ApiProperty(section('INFO clients of this node', CLIENTS_EXAMPLE))
  clients: RedisInfoSection;
}

/**
 * Sections of Redis `INFO`, field names exactly as Redis reports them. On a
 * cluster `stats`, `memory` and `clients` are over every master: numbers
 * summed (ratios: the highest node's), text kept when all nodes agree, else
 * their values joined with ", "; `nodes` has each node's own.
 */
export class RedisStatsDto {
  @ApiProperty(section('INFO stats: commands, connections, keyspace hits and misses, evictions', STATS_EXAMPLE))
  stats: RedisInfoSection;

  @ApiProperty(section('INFO memory: usage, peak, fragmentation, eviction policy', MEMORY_EXAMPLE))
  memory: RedisInfoSection;

  @ApiProperty(section('INFO clients: connected and blocked clients', CLIENTS_EXAMPLE))
  clients: RedisInfoSection;

  @ApiProperty({ type: [RedisNodeStatsDto], description: 'Each node that holds data: the one node, or every master of a cluster' })
  nodes: RedisNodeStatsDto[];
}
