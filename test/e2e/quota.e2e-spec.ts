import type { MessageQuotaService } from '../../src/core/quotas/message-quota.service';
import { Fixtures } from '../utils/factories';
import { TestApp, createTestApp, unlinkKeys } from '../utils/test-app';

const quotaKey = (orgId: string) => `zyva:limits:{${orgId}}:messages`;

describe('Monthly message quota (e2e)', () => {
  let t: TestApp;
  let fixtures: Fixtures;
  let quota: MessageQuotaService;
  const orgs: string[] = [];

  beforeAll(async () => {
    t = await createTestApp();
    fixtures = new Fixtures(t);
    quota = t.get<MessageQuotaService>('core/quotas/message-quota.service', 'MessageQuotaService');
  });

  afterAll(async () => {
    await unlinkKeys(t.redis, orgs.map(quotaKey));
    await fixtures.cleanup();
    await t.close();
  });

  async function newOrg(): Promise<string> {
    const user = await fixtures.registerUser();
    orgs.push(user.organizationId);
    return user.organizationId;
  }

  it('never overshoots under concurrency: 50 concurrent single units at a limit of 10 take exactly 10', async () => {
    const org = await newOrg();
    const results = await Promise.all(Array.from({ length: 50 }, () => quota.tryConsume(org, 1, 10)));
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    expect(results.filter((r) => !r.ok).every((r) => r.used === 10 && r.limit === 10)).toBe(true);
    expect(results.filter((r) => r.ok).map((r) => r.used).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(await t.redis.get(quotaKey(org))).toBe('10');
    expect(await quota.used(org)).toBe(10);
  });

  it('never overshoots with multi-unit requests either (a campaign takes all its units or none)', async () => {
    const org = await newOrg();
    const results = await Promise.all(Array.from({ length: 20 }, () => quota.tryConsume(org, 3, 31)));
    expect(results.filter((r) => r.ok)).toHaveLength(10);
    expect(await quota.used(org)).toBe(30);
    const tooBig = await quota.tryConsume(org, 2, 31);
    expect(tooBig).toEqual({ ok: false, used: 30, limit: 31 });
    expect(await quota.tryConsume(org, 1, 31)).toEqual({ ok: true, used: 31, limit: 31 });
  });

  it('consumes nothing when it refuses', async () => {
    const org = await newOrg();
    expect(await quota.tryConsume(org, 8, 10)).toEqual({ ok: true, used: 8, limit: 10 });
    expect(await quota.tryConsume(org, 5, 10)).toEqual({ ok: false, used: 8, limit: 10 });
    expect(await t.redis.get(quotaKey(org))).toBe('8');
    expect(await quota.tryConsume(org, 2, 10)).toEqual({ ok: true, used: 10, limit: 10 });
    // A lower limit (an admin lowered the cap) refuses without touching the counter.
    expect((await quota.tryConsume(org, 1, 5)).ok).toBe(false);
    expect(await quota.used(org)).toBe(10);
  });

  it('expires the counter at the start of the next month, UTC', async () => {
    const org = await newOrg();
    await quota.tryConsume(org, 1, 10);
    const now = new Date();
    const nextMonth = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
    expect(Number(await t.redis.call('PEXPIRETIME', quotaKey(org)))).toBe(nextMonth);
    await quota.tryConsume(org, 1, 10);
    expect(Number(await t.redis.call('PEXPIRETIME', quotaKey(org)))).toBe(nextMonth);
  });

  it('gives units back on release, never below zero, keeping the expiry; a past month’s units are not taken off', async () => {
    const org = await newOrg();
    await quota.tryConsume(org, 5, 10);
    const expiry = await t.redis.call('PEXPIRETIME', quotaKey(org));
    expect(await quota.release(org, 2)).toBe(3);
    expect(await t.redis.call('PEXPIRETIME', quotaKey(org))).toBe(expiry);
    const lastMonth = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() - 1, 15));
    expect(await quota.release(org, 1, lastMonth)).toBe(3);
    expect(await quota.release(org, 10)).toBe(0);
    expect(await quota.used(org)).toBe(0);
    await expect(quota.tryConsume(org, 0, 10)).rejects.toThrow(RangeError);
    await expect(quota.release(org, -1)).rejects.toThrow(RangeError);
  });

  it('starts a missing counter from the month’s messages in Postgres (Redis lost its data)', async () => {
    const org = await newOrg();
    const message = (status: 'SENT' | 'CANCELED' | 'QUEUED', createdAt = new Date()) => ({
      organizationId: org, contactId: 'c', channel: 'EMAIL' as const, content: 'x', status, createdAt,
    });
    await t.prisma.message.createMany({
      data: [message('SENT'), message('QUEUED'), message('CANCELED'), message('SENT', new Date(Date.UTC(2020, 0, 5)))],
    });
    expect(await t.redis.exists(quotaKey(org))).toBe(0);
    expect(await quota.tryConsume(org, 1, 3)).toEqual({ ok: true, used: 3, limit: 3 });
    expect((await quota.tryConsume(org, 1, 3)).ok).toBe(false);
  });

  it('rebuilds a missing counter from outbound messages only: inbound ones count against no quota', async () => {
    const org = await newOrg();
    const message = (direction: 'OUTBOUND' | 'INBOUND', status: 'SENT' | 'RECEIVED' | 'CANCELED') => ({
      organizationId: org, contactId: 'c', channel: 'WHATSAPP' as const, content: 'x', direction, status,
    });
    await t.prisma.message.createMany({
      data: [
        message('OUTBOUND', 'SENT'),
        message('OUTBOUND', 'SENT'),
        message('OUTBOUND', 'CANCELED'),
        message('INBOUND', 'RECEIVED'),
        message('INBOUND', 'RECEIVED'),
        message('INBOUND', 'RECEIVED'),
      ],
    });
    const outbound = await t.prisma.message.count({ where: { organizationId: org, direction: 'OUTBOUND', status: { not: 'CANCELED' } } });
    expect(outbound).toBe(2);
    await t.redis.unlink(quotaKey(org));
    expect(await quota.tryConsume(org, 1, 100)).toEqual({ ok: true, used: outbound + 1, limit: 100 });
    expect(await t.redis.get(quotaKey(org))).toBe(String(outbound + 1));
  });
});
