import type { Logger } from '@nestjs/common';
import { type RedisClient, dataNodes, nodeAddress } from './redis.connection';

export interface NodePolicy {
  node: string;
  policy: string;
}

/** `maxmemory-policy` of every data node, read from `INFO memory` (managed Redis often disables CONFIG). */
export async function evictionPolicies(client: RedisClient): Promise<NodePolicy[]> {
  return Promise.all(
    dataNodes(client).map(async (node) => {
      const info = await node.info('memory');
      return { node: nodeAddress(node), policy: /^maxmemory_policy:(\S+)/m.exec(info)?.[1] ?? 'unknown' };
    }),
  );
}

/**
 * Warns, once per node, when a node may evict keys. BullMQ keeps every job in
 * Redis and Zyva keeps sessions and quota counters there: under any policy
 * but `noeviction` a full Redis silently drops them (a lost job, a logged-out
 * user, a quota that starts again), where `noeviction` refuses the write
 * instead, which the app sees and reports.
 */
export async function warnUnlessNoEviction(client: RedisClient, logger: Logger): Promise<NodePolicy[]> {
  const policies = await evictionPolicies(client);
  for (const { node, policy } of policies) {
    if (policy === 'noeviction') continue;
    logger.warn(
      `Redis ${node} runs with maxmemory-policy ${policy}: when it fills up it will evict keys, and an evicted BullMQ ` +
        'key is a lost job (sessions and quota counters go the same way). Set maxmemory-policy noeviction on every node.',
    );
  }
  return policies;
}
