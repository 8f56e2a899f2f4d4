import { type JobsOptions, Queue } from 'bullmq';
import { ALL_QUEUES, type QueueName } from '../queues/queue.catalogue';
import { queuePrefix } from '../queues/queue-prefix';
import { rateLimitKeys } from '../throttling/rate-limit.guard';
import { KEY_PREFIX, keys } from './redis.constants';
import { type RedisClient, isCluster, scanKeys } from './redis.connection';

export interface MigrationOptions {
  /** `QUEUE_PREFIX`: the old layout's whole BullMQ prefix, the new layout's base. */
  queuePrefix: string;
  /** `AUTH_RATE_LIMIT`: an address blocked in the old layout stays blocked in the new one. */
  authLimit: number;
  /** The organization of each user id (the old per-user plan counters do not name it). */
  organizationsOf(userIds: string[]): Promise<Map<string, string>>;
  print(line: string): void;
}

export interface MigrationReport {
  moved: number;
  merged: number;
  dropped: number;
}

/** Keys a queue of the new version writes before it holds any job (BullMQ's meta, an empty event stream, a worker's checks). */
const UNUSED_QUEUE_KEYS = new Set(['meta', 'events', 'stalled-check', 'marker']);

/** A key of the old layout: an organization id or user id never contains braces, a tagged key always does. */
const untagged = (key: string) => !key.includes('{');

/**
 * Upgrades one Redis from part one's key layout to the tagged one (contract
 * part two, "Redis: one node or a cluster"). Safe to run twice: every step
 * looks for keys of the old layout only, and a second run finds none. Run it
 * with every old worker stopped (it refuses while an old worker holds a job
 * lock), before the new version starts; should the new version have run
 * already, what it wrote is kept and merged with what is moved.
 *
 * - Queued jobs of the five queues: every key under `<prefix>:<queue>:` moves
 *   under `<prefix>:{<queue>}:<queue>:` (waiting, delayed, prioritized,
 *   completed, failed, job schedulers and their next jobs, job data, logs,
 *   counters), and the queue's marker is set so a worker picks them up. If the
 *   new version already used a queue, its job ids would collide with the old
 *   ones: the old queue's waiting, prioritized and delayed jobs and its job
 *   schedulers are added to the new queue instead (custom job ids kept, so a
 *   job both layouts hold is not doubled), and the old queue is removed.
 * - Quota counters `zyva:limits:<orgId>:messages`, with their expiry.
 * - Limiter state: per-user plan counters (their organization read from
 *   Postgres) and per-address auth counters (`:hits` and `:blocked` become one key).
 * - Caches of the old layout are dropped (they refill). Sessions and tokens
 *   keep their names: nothing to move.
 */
export async function migrateRedisLayout(redis: RedisClient, options: MigrationOptions): Promise<MigrationReport> {
  const report: MigrationReport = { moved: 0, merged: 0, dropped: 0 };
  await refuseWhileOldWorkersRun(redis, options.queuePrefix);
  const mover = new KeyMover(redis, report);

  for (const queue of ALL_QUEUES) {
    const from = `${options.queuePrefix}:${queue}:`;
    const to = `${queuePrefix(queue, options.queuePrefix)}:${queue}:`;
    const old = await collect(redis, `${from}*`);
    if (old.length === 0) {
      options.print(`queue ${queue}: nothing under ${from}*`);
    } else if (!(await collect(redis, `${to}*`)).some((key) => !UNUSED_QUEUE_KEYS.has(key.slice(to.length)))) {
      for (const key of old) await mover.move(key, to + key.slice(from.length));
      // BullMQ's workers wait on the marker, which a moved queue may lack: wake one so it takes the waiting and due jobs.
      await redis.zadd(`${to}marker`, 0, '0');
      options.print(`queue ${queue}: ${old.length} key(s) moved from ${from}* to ${to}*`);
    } else {
      const added = await requeue(redis, queue, options.queuePrefix);
      report.moved += added;
      options.print(`queue ${queue}: ${added} job(s) and scheduler(s) added to ${to}* (the new version already used this queue); ${from}* removed`);
    }
  }

  const quotas = (await collect(redis, `${KEY_PREFIX}limits:*`)).filter(untagged);
  for (const key of quotas) {
    const orgId = /^zyva:limits:([^:]+):messages$/.exec(key)?.[1];
    if (orgId) await mover.move(key, keys.messageQuota(orgId));
  }
  options.print(`quota counters: ${quotas.length} moved to zyva:limits:{<orgId>}:messages`);

  const planCounters = (await collect(redis, `${KEY_PREFIX}ratelimit:plan:*`)).filter(untagged);
  const userOf = (key: string) => key.slice(`${KEY_PREFIX}ratelimit:plan:`.length);
  const orgs = planCounters.length > 0 ? await options.organizationsOf(planCounters.map(userOf)) : new Map<string, string>();
  for (const key of planCounters) {
    const orgId = orgs.get(userOf(key));
    if (orgId) await mover.move(key, rateLimitKeys.plan(orgId, userOf(key)));
    else await mover.drop(key);
  }
  options.print(`plan limiter counters: ${planCounters.length} moved to zyva:ratelimit:plan:{<orgId>}:<userId>`);

  const authKeys = await collect(redis, `${KEY_PREFIX}ratelimit:auth:*`);
  const bases = new Set(authKeys.map((key) => /^(.*):(hits|blocked)$/.exec(key)?.[1]).filter((base): base is string => base !== undefined));
  for (const base of bases) await mover.mergeAuthWindow(base, options.authLimit);
  options.print(`auth limiter windows: ${bases.size} moved to one key each`);

  const oldCaches = (await collect(redis, `${KEY_PREFIX}cache:*`)).filter(untagged);
  for (const key of oldCaches) await mover.drop(key);
  options.print(`cache entries of the old layout: ${oldCaches.length} dropped (they refill on use)`);
  options.print('sessions and tokens keep their names: nothing to move');
  return report;
}

async function collect(redis: RedisClient, pattern: string): Promise<string[]> {
  const found: string[] = [];
  for await (const batch of scanKeys(redis, pattern)) found.push(...batch);
  return [...new Set(found)];
}

/**
 * Adds the old queue's pending jobs and job schedulers to the new queue
 * through BullMQ, then removes the old queue. Auto-numbered ids are numbered
 * again (the new queue may have used them); custom ids (a message's id) are
 * kept. A delayed job keeps its due time and a retried one its attempts left.
 */
async function requeue(redis: RedisClient, queue: QueueName, base: string): Promise<number> {
  const from = new Queue(queue, { connection: redis, prefix: base });
  const to = new Queue(queue, { connection: redis, prefix: queuePrefix(queue, base) });
  let added = 0;
  try {
    for (const scheduler of await from.getJobSchedulers()) {
      const { key, name, pattern, every, tz, startDate, endDate, limit, template } = scheduler;
      await to.upsertJobScheduler(key, { pattern, every, tz, startDate, endDate, limit }, { name, data: template?.data, opts: template?.opts });
      added += 1;
    }
    for (const job of await from.getJobs(['waiting', 'prioritized', 'delayed'])) {
      // A scheduler's next run: upserting the scheduler above made the new one.
      if (!job.id || job.id.startsWith('repeat:')) continue;
      const opts: JobsOptions = { ...job.opts, delay: Math.max(0, job.timestamp + (job.delay ?? 0) - Date.now()) };
      if (/^\d+$/.test(job.id)) delete opts.jobId;
      else opts.jobId = job.id;
      opts.attempts = Math.max(1, (job.opts.attempts ?? 1) - job.attemptsMade);
      await to.add(job.name, job.data, opts);
      added += 1;
    }
    await from.obliterate({ force: true });
  } finally {
    await Promise.all([from.close(), to.close()]);
  }
  return added;
}

async function refuseWhileOldWorkersRun(redis: RedisClient, prefix: string): Promise<void> {
  for (const queue of ALL_QUEUES) {
    const locks = await collect(redis, `${prefix}:${queue}:*:lock`);
    if (locks.length > 0) {
      throw new Error(
        `a worker of the old version still holds ${locks.length} job(s) of queue ${queue}: stop every old worker, then run this again (nothing was moved)`,
      );
    }
  }
}

/** Moves keys one at a time, each step one command on one key (or one RENAME on a single node). */
class KeyMover {
  constructor(
    private readonly redis: RedisClient,
    private readonly report: MigrationReport,
  ) {}

  /** Moves `from` to `to` keeping its expiry; when `to` exists already (a counter the new version wrote), merges them. */
  async move(from: string, to: string): Promise<void> {
    if (!isCluster(this.redis)) {
      if ((await this.redis.renamenx(from, to)) === 1) {
        this.report.moved += 1;
        return;
      }
    } else if ((await this.redis.exists(to)) === 0) {
      // Across slots RENAME is refused: copy with DUMP/RESTORE, at the same expiry instant, then delete.
      const [dump, expireAt] = await Promise.all([this.redis.dumpBuffer(from), this.redis.call('PEXPIRETIME', from) as Promise<number>]);
      if (dump && expireAt !== -2) {
        if (expireAt > 0) await this.redis.restore(to, expireAt, dump, 'ABSTTL');
        else await this.redis.restore(to, 0, dump);
        await this.redis.unlink(from);
        this.report.moved += 1;
        return;
      }
    }
    if ((await this.redis.exists(from)) === 0) return; // gone meanwhile (expired)
    await this.merge(from, to);
    await this.redis.unlink(from);
    this.report.merged += 1;
  }

  async drop(key: string): Promise<void> {
    this.report.dropped += await this.redis.unlink(key);
  }

  /**
   * The old auth window was two keys, `<base>:hits` and `<base>:blocked`; the
   * new one is `<base>` alone, counting past the limit while blocked and
   * expiring when the block ends.
   */
  async mergeAuthWindow(base: string, limit: number): Promise<void> {
    const [hits, hitsTtl, blocked, blockTtl] = await Promise.all([
      this.redis.get(`${base}:hits`),
      this.redis.pttl(`${base}:hits`),
      this.redis.exists(`${base}:blocked`),
      this.redis.pttl(`${base}:blocked`),
    ]);
    const count = Math.max(Number(hits ?? 0), blocked ? limit + 1 : 0);
    const ttl = blocked ? blockTtl : hitsTtl;
    if (count > 0 && ttl > 0 && (await this.redis.exists(base)) === 0) {
      await this.redis.set(base, count, 'PX', ttl);
      this.report.moved += 1;
    }
    await this.redis.unlink(`${base}:hits`);
    await this.redis.unlink(`${base}:blocked`);
  }

  /**
   * Both layouts hold the key (the new version ran before the upgrade). A
   * counter: the higher count wins, with the new key's expiry. Anything else
   * (a queue's meta, which the new version rewrites anyway): the new key stays.
   */
  private async merge(from: string, to: string): Promise<void> {
    if ((await this.redis.type(from)) !== 'string' || (await this.redis.type(to)) !== 'string') return;
    const [a, b] = await Promise.all([this.redis.get(from), this.redis.get(to)]);
    if (/^\d+$/.test(a ?? '') && /^\d+$/.test(b ?? '') && Number(a) > Number(b)) await this.redis.set(to, a!, 'KEEPTTL');
  }
}
