import { Inject, Injectable } from '@nestjs/common';
import { PrismaService } from '../prisma/prisma.service';
import { REDIS, keys } from '../redis/redis.constants';
import type { RedisClient } from '../redis/redis.connection';

export interface QuotaResult {
  ok: boolean;
  /** Units used this month after the call (unchanged when refused). */
  used: number;
  limit: number;
}

/**
 * Check and increment in one step. A missing counter (new month, or Redis lost
 * its data) answers -1 unless a seed is given: the caller then counts the
 * month's messages in Postgres and calls again with that seed, which only the
 * first caller's SET NX applies. A refusal changes nothing.
 */
const CONSUME = `
local used = redis.call('GET', KEYS[1])
if not used then
  if ARGV[4] == '' then return { -1, 0 } end
  redis.call('SET', KEYS[1], ARGV[4], 'PXAT', ARGV[3], 'NX')
  used = redis.call('GET', KEYS[1])
end
used = tonumber(used)
local count = tonumber(ARGV[1])
if used + count > tonumber(ARGV[2]) then return { 0, used } end
return { 1, redis.call('INCRBY', KEYS[1], count) }`;

/** Gives units back, never below zero, keeping the month's expiry. */
const RELEASE = `
local used = redis.call('GET', KEYS[1])
if not used then return 0 end
local left = math.max(0, tonumber(used) - tonumber(ARGV[1]))
redis.call('SET', KEYS[1], left, 'KEEPTTL')
return left`;

type Scripted = {
  zyvaQuotaConsume(key: string, count: number, limit: number, expireAtMs: number, seed: string): Promise<[number, number]>;
  zyvaQuotaRelease(key: string, count: number): Promise<number>;
};

/** The first millisecond of the next month, UTC: when the monthly counter expires. */
export function startOfNextMonthUtc(now = new Date()): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
}

function startOfMonthUtc(now = new Date()): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

/**
 * The monthly message quota of an organization: `zyva:limits:{orgId}:messages`,
 * expiring at the start of the next month (UTC). `tryConsume` is atomic (one
 * Lua script), so concurrent senders can never overshoot the limit, and a
 * refused request consumes nothing.
 */
@Injectable()
export class MessageQuotaService {
  constructor(
    @Inject(REDIS) private readonly redis: RedisClient,
    private readonly prisma: PrismaService,
  ) {
    if (!('zyvaQuotaConsume' in redis)) redis.defineCommand('zyvaQuotaConsume', { numberOfKeys: 1, lua: CONSUME });
    if (!('zyvaQuotaRelease' in redis)) redis.defineCommand('zyvaQuotaRelease', { numberOfKeys: 1, lua: RELEASE });
  }

  private get scripted(): Scripted {
    return this.redis as unknown as Scripted;
  }

  /** Takes `count` units if `used + count <= limit`; otherwise takes none. */
  async tryConsume(orgId: string, count: number, limit: number): Promise<QuotaResult> {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`count must be a positive integer, got ${count}`);
    const key = keys.messageQuota(orgId);
    const expireAt = startOfNextMonthUtc().getTime();
    let [ok, used] = await this.scripted.zyvaQuotaConsume(key, count, limit, expireAt, '');
    if (ok === -1) {
      const seed = await this.countThisMonth(orgId);
      [ok, used] = await this.scripted.zyvaQuotaConsume(key, count, limit, expireAt, String(seed));
    }
    return { ok: ok === 1, used, limit };
  }

  /**
   * Gives back units of a message refused later or cancelled. Pass when it was
   * consumed: units of a past month are not taken off this month's counter.
   */
  async release(orgId: string, count: number, consumedAt?: Date): Promise<number> {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`count must be a positive integer, got ${count}`);
    if (consumedAt && consumedAt < startOfMonthUtc()) return this.used(orgId);
    return this.scripted.zyvaQuotaRelease(keys.messageQuota(orgId), count);
  }

  async used(orgId: string): Promise<number> {
    return Number((await this.redis.get(keys.messageQuota(orgId))) ?? 0);
  }

  /** What this month has consumed, from the durable record: its outbound messages that were not cancelled (inbound ones count against nothing). */
  private countThisMonth(orgId: string): Promise<number> {
    return this.prisma.message.count({
      where: { organizationId: orgId, direction: 'OUTBOUND', createdAt: { gte: startOfMonthUtc() }, status: { not: 'CANCELED' } },
    });
  }
}
