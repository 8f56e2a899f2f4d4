import { loadConfig } from '../config/app-config';

/**
 * The BullMQ prefix of a queue: `<QUEUE_PREFIX>:{<queue>}`, so every key of
 * the queue (`bull:{messages}:messages:wait`, `…:delayed`, job hashes, job
 * schedulers) carries the queue's own hash tag. BullMQ's scripts touch several
 * keys of one queue at once; with the tag they all sit in one slot of a Redis
 * Cluster, and different queues spread over the nodes. A sub-queue whose name
 * starts with its queue's (`messages:org1`) gets its own tag `{messages:org1}`.
 * Bull Board and metrics show the plain queue name: the tag is only in the prefix.
 *
 * Every Queue, Worker, QueueEvents or FlowProducer must take its prefix from here.
 */
export function queuePrefix(queue: string, base: string = loadConfig().QUEUE_PREFIX): string {
  if (/[{}]/.test(queue)) throw new Error(`A queue name cannot contain braces: ${queue}`);
  return `${base}:{${queue}}`;
}
