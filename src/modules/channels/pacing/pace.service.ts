import { Inject, Injectable } from '@nestjs/common';
import { REDIS, orgTag } from '../../../core/redis/redis.constants';
import type { RedisClient } from '../../../core/redis/redis.connection';
import { Batcher } from '../../../core/batching/batcher';
import { BoundedMap } from '../../../core/memo/bounded-map';

/** A slot on the local clock (epoch ms): it lies between the two. */
export interface PaceSlot {
  earliest: number;
  latest: number;
}

/** Who a send is paced as: a store's connection, or one of the platform's own accounts. */
export interface PaceAccount {
  /** The limiter's Redis key: `zyva:pace:{<orgId>}:<connectionId>` or `zyva:pace:platform:<kind>`. */
  key: string;
  perSecond: number;
}

export const paceKeys = {
  connection: (organizationId: string, connectionId: string) => `zyva:pace:${orgTag(organizationId)}:${connectionId}`,
  platform: (kind: string) => `zyva:pace:platform:${kind}`,
};

/**
 * How late a worker may send after its slot (event loop, network) without the
 * provider seeing more than `perSecond` in any one second: slots are spaced
 * (1000 + LATENESS_MS) / perSecond apart, about 10% under the limit.
 */
export const LATENESS_MS = 100;
/** Accounts whose batcher a process keeps (a few per store it sends for). */
const MAX_BATCHERS = 10_000;
/** The longest a throttled account waits when the provider does not say (doubling from 1 s). */
const MAX_PAUSE_MS = 60_000;

/**
 * One hash per account (`tat`: the next free slot, `pausedUntil`, `streak`
 * of pauses the provider left unspecified), timed by Redis' own clock so
 * every worker shares it. `reserve` hands out the next `ARGV[5]` slots and
 * answers how long to wait for the first, in microseconds (the spacing is a
 * fraction of a millisecond at high rates); `paused` answers how long a pause has left (ms); `throttle` pushes every later slot past the pause the
 * provider asked for (or 1 s, doubling while throttling goes on).
 */
const PACE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = redis.call('HMGET', KEYS[1], 'tat', 'pausedUntil', 'streak')
if ARGV[1] == 'paused' then return math.max(0, (tonumber(h[2]) or 0) - now) end
local tat = tonumber(h[1]) or now
if tat < now then tat = now end
if ARGV[1] == 'reserve' then
  local n = tonumber(ARGV[5]) or 1
  redis.call('HSET', KEYS[1], 'tat', tostring(tat + n * tonumber(ARGV[2])))
  redis.call('PEXPIRE', KEYS[1], math.ceil(tat - now) + 60000)
  return math.floor((tat - now) * 1000)
end
local pausedUntil = tonumber(h[2]) or 0
if now < pausedUntil then return pausedUntil - now end
local streak = tonumber(h[3]) or 0
if now - pausedUntil > tonumber(ARGV[4]) then streak = 0 end
local pause = tonumber(ARGV[3])
if pause < 0 then
  pause = math.min(tonumber(ARGV[4]), 1000 * (2 ^ streak))
  streak = streak + 1
end
pausedUntil = now + pause
if tat < pausedUntil then tat = pausedUntil end
redis.call('HSET', KEYS[1], 'tat', tostring(tat), 'pausedUntil', pausedUntil, 'streak', streak)
redis.call('PEXPIRE', KEYS[1], math.ceil(tat - now) + 60000)
return pause`;

type Scripted = { zyvaPace(key: string, op: string, interval: number, pause: number, maxPause: number, count?: number): Promise<number> };

/**
 * `count` consecutive slots on the local clock, from the first one's wait (µs) as Redis answered it: Redis
 * timed it somewhere between the call leaving (`sentAt`) and its answer (`answeredAt`).
 */
function slotsOf(firstMicros: number, interval: number, count: number, sentAt: number, answeredAt: number): PaceSlot[] {
  return Array.from({ length: count }, (_, i) => {
    const wait = Math.floor(firstMicros / 1000 + i * interval);
    return { earliest: sentAt + wait, latest: answeredAt + wait };
  });
}

/**
 * Each account's `maxPerSecond` across every worker process together: a
 * Redis limiter per connection (and per platform account), which a send asks
 * for its slot before calling the provider.
 */
@Injectable()
export class PaceService {
  /** Slots asked for together, per account: one script call at a time hands them all out, in the order asked. */
  private readonly batches = new BoundedMap<string, Batcher<PaceAccount, PaceSlot>>(MAX_BATCHERS);

  constructor(@Inject(REDIS) private readonly redis: RedisClient) {
    if (!('zyvaPace' in redis)) redis.defineCommand('zyvaPace', { numberOfKeys: 1, lua: PACE });
  }

  private get scripted(): Scripted {
    return this.redis as unknown as Scripted;
  }

  /**
   * Takes the account's next slot, on this process' clock: Redis timed it somewhere within the round trip, so
   * the slot lies between `earliest` and `latest`. Sending at `latest` is never early; sending more than
   * LATENESS_MS after `earliest` may be late. Concurrent sends through one account share one round trip:
   * they get consecutive slots, spaced as one at a time would have been. The round trip is timed around the
   * call itself, not from when each send asked (a busy event loop may hold the call back a while).
   */
  slot(account: PaceAccount): Promise<PaceSlot> {
    let batch = this.batches.get(account.key);
    if (!batch) {
      // One per account this process sends through; a batch already collecting still flushes once dropped.
      batch = new Batcher((accounts) => this.reserveMany(accounts[0], accounts.length), 1000, 1);
      this.batches.set(account.key, batch);
    }
    return batch.add(account);
  }

  /** `count` consecutive slots of the account in one call (for sends queued together, each then waiting for its own). */
  slots(account: PaceAccount, count: number): Promise<PaceSlot[]> {
    return this.reserveMany(account, count);
  }

  private async reserveMany(account: PaceAccount, count: number): Promise<PaceSlot[]> {
    const interval = (1000 + LATENESS_MS) / account.perSecond;
    const sentAt = Date.now();
    const first = await this.scripted.zyvaPace(account.key, 'reserve', interval, 0, MAX_PAUSE_MS, count);
    return slotsOf(first, interval, count, sentAt, Date.now());
  }

  /**
   * Whether a slot taken earlier still stands: a throttling answer since then paused the account over it (the
   * slots handed out after the pause are all later). One round trip.
   */
  async outsidePause(account: PaceAccount, slot: PaceSlot): Promise<boolean> {
    const sentAt = Date.now();
    const left = await this.scripted.zyvaPace(account.key, 'paused', 0, 0, MAX_PAUSE_MS);
    return left === 0 || slot.earliest >= sentAt + left;
  }

  /**
   * The provider throttled the account: no slot before the pause is over.
   * `retryAfterMs` when the provider said how long; else 1 s, doubling.
   * Answers the pause. Concurrent throttled sends share one pause.
   */
  throttle(account: PaceAccount, retryAfterMs?: number): Promise<number> {
    return this.scripted.zyvaPace(account.key, 'throttle', 0, retryAfterMs === undefined ? -1 : Math.min(retryAfterMs, 15 * 60_000), MAX_PAUSE_MS);
  }
}
