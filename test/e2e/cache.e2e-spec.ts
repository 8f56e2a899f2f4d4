import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { Logger } from '@nestjs/common';
import { getStorageToken } from '@nestjs/throttler';
import type { Cache } from 'cache-manager';
import type { CacheService } from '../../src/core/cache/cache.service';
import { CACHE_CLIENT } from '../../src/core/cache/cache.tokens';
import type { RedisClient } from '../../src/core/redis/redis.connection';
import { Fixtures, RegisteredUser, bearer, waitFor } from '../utils/factories';
import { TestApp, createTestApp, scanKeys, unlinkKeys } from '../utils/test-app';

const PREFIX = 'zyva:cache:';

describe('Redis cache (e2e)', () => {
  let t: TestApp;
  let fixtures: Fixtures;
  let cache: CacheService;
  let a: RegisteredUser;
  let b: RegisteredUser;
  const keysMade: string[] = [];

  beforeAll(async () => {
    t = await createTestApp();
    fixtures = new Fixtures(t);
    cache = t.get<CacheService>('core/cache/cache.service', 'CacheService');
    a = await fixtures.registerUser();
    b = await fixtures.registerUser();
    await fixtures.setPlan(a.organizationId, 'ENTERPRISE');
    await fixtures.setPlan(b.organizationId, 'ENTERPRISE');
  });

  afterAll(async () => {
    await unlinkKeys(t.redis, keysMade);
    await fixtures.cleanup();
    await t.close();
  });

  const get = (user: RegisteredUser, path: string) => t.http.get(path).set(bearer(user.token));
  const post = (user: RegisteredUser, path: string, body: object) => t.http.post(path).set(bearer(user.token)).send(body);

  async function cacheKeysOf(orgId: string): Promise<string[]> {
    const found: string[] = [];
    for await (const keys of scanKeys(t.redis, `${PREFIX}*{${orgId}}*`)) found.push(...keys);
    return found.sort();
  }

  it('answers MISS then HIT for contact lists, organization and dashboard, with the tagged keys and TTLs of the design', async () => {
    await post(a, '/api/contacts', { name: 'Primeira' });
    const org = a.organizationId;

    const first = await get(a, '/api/contacts?page=1&limit=20');
    expect(first.status).toBe(200);
    expect(first.headers['x-cache']).toBe('MISS');
    const second = await get(a, '/api/contacts?limit=20&page=1');
    expect(second.headers['x-cache']).toBe('HIT');
    expect(second.headers['content-type']).toMatch(/^application\/json/);
    expect(second.body).toEqual(first.body);

    const listKey = `${PREFIX}contacts:{${org}}:limit=20&page=1`;
    expect(await t.redis.exists(listKey)).toBe(1);
    const listTtl = await t.redis.ttl(listKey);
    expect(listTtl).toBeGreaterThan(290);
    expect(listTtl).toBeLessThanOrEqual(300);
    expect(await t.redis.smembers(`${PREFIX}index:{${org}}`)).toContain(listKey);

    // Storing the organization stored its plan for the plan limiter, for 30 days.
    await get(a, '/api/organization');
    expect(await t.redis.get(`zyva:plan:{${org}}`)).toBe('ENTERPRISE');
    expect(await t.redis.ttl(`zyva:plan:{${org}}`)).toBeGreaterThan(30 * 86_400 - 10);

    // Without the stored plan the plan throttler reads the organization through the same cache entry, so by
    // the time the interceptor looks the request has already loaded it: HIT, with the fresh value.
    await t.redis.unlink(`${PREFIX}org:{${org}}`);
    await t.redis.unlink(`zyva:plan:{${org}}`);
    const orgHit = await get(a, '/api/organization');
    expect(orgHit.headers['x-cache']).toBe('HIT');
    expect(orgHit.body).toMatchObject({ id: org, plan: 'ENTERPRISE', currentContacts: 1 });
    const orgTtl = await t.redis.ttl(`${PREFIX}org:{${org}}`);
    expect(orgTtl).toBeGreaterThan(1790);
    expect(orgTtl).toBeLessThanOrEqual(1800);

    expect((await get(a, '/api/dashboard/stats')).headers['x-cache']).toBe('MISS');
    expect((await get(a, '/api/dashboard/stats')).headers['x-cache']).toBe('HIT');
    const statsTtl = await t.redis.ttl(`${PREFIX}stats:{${org}}:dashboard`);
    expect(statsTtl).toBeGreaterThan(290);
    expect(statsTtl).toBeLessThanOrEqual(300);
  });

  it('never shows stale data on a read right after a write (list, organization, dashboard)', async () => {
    const user = await fixtures.registerUser();
    await fixtures.setPlan(user.organizationId, 'ENTERPRISE');
    const warm = async () => {
      await get(user, '/api/contacts');
      await get(user, '/api/organization');
      await get(user, '/api/dashboard/stats');
    };
    await warm();
    const created = await post(user, '/api/contacts', { name: 'Nova', email: 'nova@example.com' });
    // Only the bookkeeping is left: the fence, and no write mark (the write is over).
    expect(await cacheKeysOf(user.organizationId)).toEqual([`${PREFIX}fence:{${user.organizationId}}`]);
    const list = await get(user, '/api/contacts');
    expect(list.headers['x-cache']).toBe('MISS');
    expect(list.body.data.map((c: { name: string }) => c.name)).toEqual(['Nova']);
    expect((await get(user, '/api/organization')).body.currentContacts).toBe(1);
    expect((await get(user, '/api/dashboard/stats')).body.totalContacts).toBe(1);

    await warm();
    await t.http.patch(`/api/contacts/${created.body.id}`).set(bearer(user.token)).send({ name: 'Renomeada' });
    expect((await get(user, '/api/contacts')).body.data[0].name).toBe('Renomeada');

    await warm();
    await post(user, `/api/contacts/${created.body.id}/tags`, { tag: 'vip' });
    expect((await get(user, '/api/contacts?tag=vip')).body.total).toBe(1);
    expect((await get(user, '/api/contacts')).body.data[0].tags).toEqual(['vip']);

    await warm();
    await t.http.delete(`/api/contacts/${created.body.id}`).set(bearer(user.token));
    expect((await get(user, '/api/contacts')).body.total).toBe(0);
    expect((await get(user, '/api/organization')).body.currentContacts).toBe(0);
    expect((await get(user, '/api/dashboard/stats')).body.totalContacts).toBe(0);
  });

  it('shows messagesThisMonth right after a message is accepted or canceled, and after a campaign fans out (organization and dashboard)', async () => {
    const user = await fixtures.registerUser();
    await fixtures.setPlan(user.organizationId, 'ENTERPRISE');
    keysMade.push(`zyva:limits:{${user.organizationId}}:messages`);
    const contact = await post(user, '/api/contacts', { name: 'Cliente', email: 'cliente@example.com' });
    expect(contact.status).toBe(201);
    const counts = async () => {
      const [org, stats] = [await get(user, '/api/organization'), await get(user, '/api/dashboard/stats')];
      return { org: org.body.messagesThisMonth, orgCache: org.headers['x-cache'], stats: stats.body.messagesThisMonth };
    };
    expect(await counts()).toEqual({ org: 0, orgCache: 'MISS', stats: 0 });
    expect((await get(user, '/api/organization')).headers['x-cache']).toBe('HIT');

    const later = new Date(Date.now() + 3600_000).toISOString();
    const accepted = await t.http.post('/api/messages').set(bearer(user.token)).send({ contactId: contact.body.id, channel: 'EMAIL', content: 'Oi', scheduledFor: later });
    expect(accepted.status).toBe(202);
    expect(await counts()).toEqual({ org: 1, orgCache: 'MISS', stats: 1 });

    expect((await t.http.delete(`/api/messages/${accepted.body.id}`).set(bearer(user.token))).body.status).toBe('CANCELED');
    expect(await counts()).toEqual({ org: 0, orgCache: 'MISS', stats: 0 });

    const campaign = await post(user, '/api/campaigns', { name: 'Promo', channel: 'EMAIL', content: 'Promo', scheduledFor: later });
    expect(campaign.status).toBe(202);
    // QUEUED once every batch of the fan-out is written (each batch moves messagesThisMonth).
    await waitFor(async () => (await t.prisma.campaign.findUniqueOrThrow({ where: { id: campaign.body.id } })).status === 'QUEUED' || undefined);
    expect(await counts()).toEqual({ org: 1, orgCache: 'MISS', stats: 1 });
  });

  it('keys every entry by organization: two organizations never see each other’s lists', async () => {
    await post(b, '/api/contacts', { name: 'Só da B' });
    for (let round = 0; round < 2; round++) {
      const fromA = await get(a, '/api/contacts?search=&limit=50');
      const fromB = await get(b, '/api/contacts?search=&limit=50');
      expect(fromA.headers['x-cache']).toBe(round === 0 ? 'MISS' : 'HIT');
      expect(fromB.headers['x-cache']).toBe(round === 0 ? 'MISS' : 'HIT');
      expect(fromA.body.data.map((c: { name: string }) => c.name)).not.toContain('Só da B');
      expect(fromB.body.data.map((c: { name: string }) => c.name)).toEqual(['Só da B']);
    }
    expect(await t.redis.exists(`${PREFIX}contacts:{${a.organizationId}}:limit=50&search=`)).toBe(1);
    expect(await t.redis.exists(`${PREFIX}contacts:{${b.organizationId}}:limit=50&search=`)).toBe(1);
    expect((await get(a, '/api/organization')).body.id).toBe(a.organizationId);
    expect((await get(b, '/api/organization')).body.id).toBe(b.organizationId);
  });

  it('does not let an invalid query reach a cached answer (every raw parameter is part of the key)', async () => {
    await get(a, '/api/contacts');
    expect((await get(a, '/api/contacts?unknown=1')).status).toBe(400);
    expect((await get(a, '/api/contacts?limit=500')).status).toBe(400);
    expect(await t.redis.exists(`${PREFIX}contacts:{${a.organizationId}}:unknown=1`)).toBe(0);
  });

  it('computes concurrent misses of one key once', async () => {
    const key = `contacts:{${a.organizationId}}:stampede`;
    keysMade.push(PREFIX + key);
    let loads = 0;
    const load = async () => {
      loads += 1;
      await new Promise((r) => setTimeout(r, 100));
      return { n: 42 };
    };
    const results = await Promise.all(Array.from({ length: 25 }, () => cache.lookup(key, 60, load)));
    expect(loads).toBe(1);
    expect(results.every((r) => r.value.n === 42 && !r.hit)).toBe(true);
    expect((await cache.lookup(key, 60, load)).hit).toBe(true);
    expect(loads).toBe(1);
  });

  it('does not keep a value loaded while its organization was invalidated, nor hand it to later readers', async () => {
    const user = await fixtures.registerUser();
    const key = `contacts:{${user.organizationId}}:race`;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = cache.lookup(key, 60, async () => {
      await gate;
      return 'before the write';
    }, { indexed: true });
    await new Promise((r) => setTimeout(r, 50));
    await cache.invalidateOrganization(user.organizationId);
    const after = cache.lookup(key, 60, async () => 'after the write', { indexed: true });
    release();
    expect((await slow).value).toBe('before the write');
    expect((await after).value).toBe('after the write');
    // Whatever the stale load stored was dropped; the fresh one may stay.
    const next = await cache.lookup(key, 60, async () => 'reloaded');
    expect(next.value).not.toBe('before the write');
    await cache.invalidateOrganization(user.organizationId);
  });

  it('invalidates by pattern with SCAN + UNLINK', async () => {
    const org = a.organizationId;
    for (let i = 0; i < 3; i++) await cache.getOrSet(`contacts:{${org}}:pattern-${i}`, 60, async () => ({ i }));
    expect(await cache.invalidate(`contacts:{${org}}:pattern-*`)).toBe(3);
    // One organization's keys share a slot, so even a cluster answers one EXISTS for all three.
    expect(await t.redis.exists(...[0, 1, 2].map((i) => `${PREFIX}contacts:{${org}}:pattern-${i}`))).toBe(0);
  });

  it('reads and writes entries exactly as cache-manager does', async () => {
    const manager = t.app.get<Cache>(CACHE_MANAGER);
    const values: Array<[string, unknown]> = [
      [`org:{${a.organizationId}}:shape-1`, { name: ':colon first', nested: [':a', 'b', { c: '::d' }], n: 1.5, ok: true }],
      [`org:{${a.organizationId}}:shape-2`, '{"data":[{"name":":)"}]}'],
      [`org:{${a.organizationId}}:shape-3`, ':starts with a colon'],
      [`org:{${a.organizationId}}:shape-4`, ['2026-01-01T00:00:00.000Z', null]],
    ];
    for (const [key, value] of values) {
      keysMade.push(PREFIX + key);
      await manager.set(key, value, 60_000);
      const fast = await cache.lookup(key, 60, async () => 'not cached');
      expect(fast).toEqual({ value: await manager.get(key), hit: true });
      expect(fast.value).toEqual(value);

      // Stored by the service's own script: the library reads it back as it reads its own entries.
      await t.redis.unlink(PREFIX + key);
      expect(await cache.lookup(key, 60, async () => value)).toEqual({ value, hit: false });
      expect(await manager.get(key)).toEqual(value);
      expect(await t.redis.pttl(PREFIX + key)).toBeGreaterThan(59_000);
    }
  });

  it('computes the dashboard from Postgres: contacts, flows, messages this month, conversion and 7 days of activity', async () => {
    const user = await fixtures.registerUser();
    await fixtures.setPlan(user.organizationId, 'ENTERPRISE');
    const orgId = user.organizationId;
    await post(user, '/api/contacts', { name: 'Um' });
    await post(user, '/api/contacts', { name: 'Dois' });
    await t.prisma.flow.createMany({
      data: [
        { organizationId: orgId, name: 'A', triggerType: 'MANUAL', steps: [], active: true },
        { organizationId: orgId, name: 'B', triggerType: 'MANUAL', steps: [], active: false },
      ],
    });
    const now = new Date();
    const today = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 0, 30));
    const daysAgo = (n: number) => new Date(today.getTime() - n * 86_400_000);
    const message = (status: 'SENT' | 'DELIVERED' | 'READ' | 'FAILED' | 'QUEUED', sentAt: Date | null) => ({
      organizationId: orgId, contactId: 'c', channel: 'WHATSAPP' as const, content: 'oi', status, sentAt,
    });
    await t.prisma.message.createMany({
      data: [
        message('DELIVERED', today),
        message('READ', today),
        message('SENT', today),
        message('FAILED', null),
        message('QUEUED', null),
        message('DELIVERED', daysAgo(2)),
        message('READ', daysAgo(6)),
        message('READ', daysAgo(7)),
        message('READ', daysAgo(40)),
      ],
    });
    const monthStart = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
    const inMonth = [today, today, today, daysAgo(2), daysAgo(6), daysAgo(7)].filter((d) => d.getTime() >= monthStart);
    const deliveredInMonth = [today, today, daysAgo(2), daysAgo(6), daysAgo(7)].filter((d) => d.getTime() >= monthStart).length;

    // messagesThisMonth is the organization's count (accepted this month, not canceled), the same as the quota's;
    // these rows were written straight to the table, so the count is set as the API would have left it.
    await t.prisma.organization.update({ where: { id: orgId }, data: { messagesThisMonth: 7, messagesPeriod: now.toISOString().slice(0, 7) } });

    const res = await get(user, '/api/dashboard/stats');
    expect(res.status).toBe(200);
    const day = (n: number) => daysAgo(n).toISOString().slice(0, 10);
    expect(res.body).toEqual({
      totalContacts: 2,
      totalFlows: 2,
      activeFlows: 1,
      messagesThisMonth: 7,
      conversionRate: Math.round((deliveredInMonth / inMonth.length) * 10_000) / 10_000,
      recentActivity: [
        { date: day(6), count: 1 },
        { date: day(5), count: 0 },
        { date: day(4), count: 0 },
        { date: day(3), count: 0 },
        { date: day(2), count: 1 },
        { date: day(1), count: 0 },
        { date: day(0), count: 3 },
      ],
    });
    const other = await get(b, '/api/dashboard/stats');
    expect(other.body.totalFlows).toBe(0);
  });

  it('serves from the database when the cache is unreachable, logging it once', async () => {
    // Both connections that can read a cache entry: the cache's own, and the limiter's (which prefetches it).
    const client = t.app.get<RedisClient>(CACHE_CLIENT);
    const limiter = t.app.get<{ redis: RedisClient }>(getStorageToken()).redis;
    const warnings = jest.spyOn(Logger.prototype, 'warn');
    await get(a, '/api/contacts?limit=7');
    try {
      client.disconnect();
      limiter.disconnect();
      for (let i = 0; i < 5; i++) {
        const res = await get(a, '/api/contacts?limit=7');
        expect(res.status).toBe(200);
        expect(res.headers['x-cache']).toBe('MISS');
        expect(res.body.data.map((c: { name: string }) => c.name)).toContain('Primeira');
      }
      const outage = warnings.mock.calls.filter(([message]) => String(message).includes('Cache unavailable'));
      expect(outage).toHaveLength(1);
    } finally {
      warnings.mockRestore();
      await client.connect();
      await limiter.connect();
    }
    expect((await get(a, '/api/contacts?limit=7')).headers['x-cache']).toBe('HIT');
  });
});
