import { Queue, Worker } from 'bullmq';
import { runCli } from '../../src/cli';
import { ALL_QUEUES, QueueName } from '../../src/core/queues/queue.catalogue';
import { queuePrefix } from '../../src/core/queues/queue-prefix';
import { startOfNextMonthUtc } from '../../src/core/quotas/message-quota.service';
import { Fixtures, RegisteredUser, randomIp, waitFor } from '../utils/factories';
import { fromSource, runNode } from '../utils/processes';
import { TestApp, createTestApp, describeOnSingleNode, scanKeys, unlinkKeys } from '../utils/test-app';

/** This file's QUEUE_PREFIX: the whole BullMQ prefix of the old layout, the base of the new one. */
const BASE = process.env.QUEUE_PREFIX!;

/** `node src/cli.ts redis:migrate` in its own process, as an operator runs `node dist/cli.js redis:migrate`. */
const cli = (...args: string[]) => runNode(fromSource('src/cli.ts', ...args), { LOG_LEVEL: 'silent' });

/** The command in this process, its output collected. */
async function migrateHere(): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['redis:migrate'], (line) => out.push(line), (line) => err.push(line));
  return { code, out, err };
}

async function keysLike(t: TestApp, pattern: string): Promise<string[]> {
  const found: string[] = [];
  for await (const batch of scanKeys(t.redis, pattern)) found.push(...batch);
  return found.sort();
}

describe('redis:migrate, the upgrade from the untagged layout (e2e)', () => {
  let t: TestApp;
  let fixtures: Fixtures;
  let user: RegisteredUser;
  let other: RegisteredUser;
  const ips = [randomIp(), randomIp()];
  const made: string[] = [];

  beforeAll(async () => {
    // API role: no processor of this app takes the moved jobs; the test's own workers do.
    t = await createTestApp({ APP_ROLE: 'api' });
    fixtures = new Fixtures(t);
    user = await fixtures.registerUser();
    other = await fixtures.registerUser();
  });

  afterAll(async () => {
    await unlinkKeys(t.redis, made);
    await fixtures.cleanup();
    await t.close();
  });

  const quotaOld = (orgId: string) => `zyva:limits:${orgId}:messages`;
  const quotaNew = (orgId: string) => `zyva:limits:{${orgId}}:messages`;
  const authOld = (ip: string) => `zyva:ratelimit:auth:/api/auth/login:${ip}`;

  it('moves quota counters and limiter state, drops old caches, keeps sessions; a second run finds nothing', async () => {
    const expireAt = startOfNextMonthUtc().getTime();
    await t.redis.set(quotaOld(user.organizationId), '42', 'PXAT', expireAt);
    // The new version already counted for this one (it ran before the upgrade): the higher count wins.
    await t.redis.set(quotaOld(other.organizationId), '5', 'PXAT', expireAt);
    await t.redis.set(quotaNew(other.organizationId), '9', 'PXAT', expireAt);
    await t.redis.set(`zyva:ratelimit:plan:${user.userId}`, '7', 'PX', 50_000);
    await t.redis.set(`zyva:ratelimit:plan:nobody-${user.userId}`, '3', 'PX', 50_000);
    await t.redis.set(`${authOld(ips[0])}:hits`, '12', 'PX', 40_000);
    await t.redis.set(`${authOld(ips[0])}:blocked`, '1', 'PX', 30_000);
    await t.redis.set(`${authOld(ips[1])}:hits`, '3', 'PX', 40_000);
    await t.redis.set(`zyva:cache:org:${user.organizationId}`, '"stale"', 'EX', 600);
    await t.redis.set(`zyva:cache:fence:${user.organizationId}`, '4', 'EX', 600);
    made.push(quotaNew(user.organizationId), quotaNew(other.organizationId), ...ips.map(authOld));
    made.push(`zyva:ratelimit:plan:{${user.organizationId}}:${user.userId}`);

    const run = await cli('redis:migrate');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    // The command migrates the whole Redis: old-layout keys another suite (or an older checkout) left count too,
    // so the counts are at least this file's; its own keys are checked one by one below.
    const counted = (pattern: RegExp) => Number(pattern.exec(run.stdout)?.[1] ?? 0);
    expect(counted(/quota counters: (\d+) moved/)).toBeGreaterThanOrEqual(2);
    expect(counted(/plan limiter counters: (\d+) moved/)).toBeGreaterThanOrEqual(2);
    expect(counted(/auth limiter windows: (\d+) moved to one key each/)).toBeGreaterThanOrEqual(2);
    expect(run.stdout).toMatch(/cache entries of the old layout: \d+ dropped/);
    expect(counted(/redis:migrate: done: \d+ key\(s\) moved, (\d+) merged/)).toBeGreaterThanOrEqual(1);

    expect(await t.redis.get(quotaNew(user.organizationId))).toBe('42');
    expect(Number(await t.redis.call('PEXPIRETIME', quotaNew(user.organizationId)))).toBe(expireAt);
    expect(await t.redis.get(quotaNew(other.organizationId))).toBe('9');
    expect(await t.redis.exists(quotaOld(user.organizationId))).toBe(0);
    expect(await t.redis.exists(quotaOld(other.organizationId))).toBe(0);

    const planKey = `zyva:ratelimit:plan:{${user.organizationId}}:${user.userId}`;
    expect(await t.redis.get(planKey)).toBe('7');
    expect(await t.redis.pttl(planKey)).toBeGreaterThan(0);
    expect(await t.redis.pttl(planKey)).toBeLessThanOrEqual(50_000);
    // A counter of a user Postgres does not know has no organization to go to: dropped, it was at most a minute's worth.
    expect(await t.redis.exists(`zyva:ratelimit:plan:nobody-${user.userId}`)).toBe(0);

    // A blocked address stays blocked until its block ends; the other keeps its count and window.
    expect(Number(await t.redis.get(authOld(ips[0])))).toBe(12);
    expect(await t.redis.pttl(authOld(ips[0]))).toBeLessThanOrEqual(30_000);
    expect(await t.redis.get(authOld(ips[1]))).toBe('3');
    expect(await t.redis.pttl(authOld(ips[1]))).toBeGreaterThan(30_000);
    const blocked = await t.http.post('/api/auth/login').set('X-Forwarded-For', ips[0]).send({ email: 'nobody@test.zyva.dev', password: 'wrong password' });
    expect(blocked.status).toBe(429);
    expect(await keysLike(t, `zyva:ratelimit:auth:/api/auth/login:${ips[0]}:*`)).toEqual([]);

    expect(await t.redis.exists(`zyva:cache:org:${user.organizationId}`)).toBe(0);
    expect(await t.redis.exists(`zyva:cache:fence:${user.organizationId}`)).toBe(0);
    // Sessions keep their part-one name: the user is still logged in.
    expect(await t.redis.exists(`zyva:session:${user.token}`)).toBe(1);

    const again = await migrateHere();
    expect(again.err).toEqual([]);
    expect(again.code).toBe(0);
    expect(again.out.at(-1)).toBe('redis:migrate: nothing to migrate, the keys already follow the tagged layout');
    expect(await t.redis.get(quotaNew(user.organizationId))).toBe('42');
  });

  // Part one's queue keys cannot exist on a cluster (BullMQ's scripts refuse keys of several slots there).
  describeOnSingleNode('queued jobs', () => {
    const oldQueues = new Map<QueueName, Queue>();
    const workers: Worker[] = [];

    beforeAll(() => {
      for (const name of ALL_QUEUES) oldQueues.set(name, new Queue(name, { connection: t.queue(name).opts.connection, prefix: BASE }));
    });

    afterAll(async () => {
      await Promise.all(workers.map((w) => w.close()));
      for (const queue of oldQueues.values()) {
        await queue.obliterate({ force: true });
        await queue.close();
      }
    });

    it('refuses while a worker of the old version holds a job, moving nothing', async () => {
      const queue = oldQueues.get(QueueName.Emails)!;
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      const oldWorker = new Worker(QueueName.Emails, () => held, { connection: queue.opts.connection, prefix: BASE });
      const job = await queue.add('send-email', { n: 0 });
      await waitFor(async () => (await job.getState()) === 'active');

      const refused = await migrateHere();
      expect(refused.code).toBe(1);
      expect(refused.err.join('\n')).toMatch(/worker of the old version still holds 1 job\(s\) of queue emails: stop every old worker/);
      expect(await t.redis.exists(`${BASE}:emails:${job.id}`)).toBe(1);

      release();
      await waitFor(async () => (await job.getState()) === 'completed');
      await oldWorker.close();
    });

    it('moves waiting, delayed and prioritized jobs and job schedulers of all five queues; new workers run them', async () => {
      const kinds = ['waiting', 'delayed', 'prioritized', 'custom-id'];
      for (const [name, queue] of oldQueues) {
        await queue.add('waiting', { kind: 'waiting' });
        await queue.add('delayed', { kind: 'delayed' }, { delay: 1500 });
        await queue.add('prioritized', { kind: 'prioritized' }, { priority: 5 });
        await queue.add('custom-id', { kind: 'custom-id' }, { jobId: `msg_${name}` });
      }
      await oldQueues.get(QueueName.Birthdays)!.upsertJobScheduler('check-birthdays', { pattern: '0 9 * * *', tz: 'America/Sao_Paulo' }, { name: 'check-birthdays', data: {} });
      await oldQueues.get(QueueName.Messages)!.upsertJobScheduler('reconcile-messages', { every: 1000 }, { name: 'reconcile-messages', data: {} });

      const run = await migrateHere();
      expect(run.err).toEqual([]);
      expect(run.code).toBe(0);
      for (const name of ALL_QUEUES) {
        const line = run.out.find((l) => l.startsWith(`queue ${name}:`));
        if (name === QueueName.Emails) {
          // Registering this file's users queued verification emails in the new layout: its job ids are taken.
          expect(line).toBe(`queue emails: 4 job(s) and scheduler(s) added to ${BASE}:{emails}:emails:* (the new version already used this queue); ${BASE}:emails:* removed`);
        } else {
          expect(line).toMatch(new RegExp(`^queue ${name}: [1-9]\\d* key\\(s\\) moved from ${BASE}:${name}:\\* to ${BASE}:\\{${name}\\}:${name}:\\*$`));
        }
        expect(await keysLike(t, `${BASE}:${name}:*`)).toEqual([]);
      }

      // Bull Board and metrics read the queues of the new layout: the moved jobs are there, by state.
      for (const name of ALL_QUEUES) {
        const counts = await t.queue(name).getJobCounts('waiting', 'delayed', 'prioritized');
        expect(counts.waiting).toBeGreaterThanOrEqual(2);
        expect(counts.prioritized).toBe(1);
        expect(counts.delayed).toBeGreaterThanOrEqual(1);
        expect(t.queue(name).opts.prefix).toBe(queuePrefix(name));
        expect((await t.queue(name).getJob(`msg_${name}`))?.data).toEqual({ kind: 'custom-id' });
      }
      const [birthdays] = await t.queue(QueueName.Birthdays).getJobSchedulers();
      expect(birthdays).toMatchObject({ key: 'check-birthdays', pattern: '0 9 * * *', tz: 'America/Sao_Paulo' });

      const done = new Map<string, Set<string>>();
      for (const name of ALL_QUEUES) {
        done.set(name, new Set());
        workers.push(
          new Worker(name, async (job) => void done.get(name)!.add(job.name === 'reconcile-messages' ? 'reconcile' : job.data.kind), {
            connection: t.queue(name).opts.connection,
            prefix: queuePrefix(name),
          }),
        );
      }
      await waitFor(async () => ALL_QUEUES.every((name) => kinds.every((kind) => done.get(name)!.has(kind))), 20_000);
      // The repeating scheduler keeps repeating under the new prefix.
      await waitFor(async () => done.get(QueueName.Messages)!.has('reconcile'), 20_000);
      expect(await t.queue(QueueName.Messages).getJobSchedulersCount()).toBe(1);

      const again = await migrateHere();
      expect(again.out.at(-1)).toBe('redis:migrate: nothing to migrate, the keys already follow the tagged layout');
      // Every BullMQ key of this file now carries its queue's tag.
      expect((await keysLike(t, `${BASE}:*`)).every((key) => /^[^{]+:\{[a-z-]+\}:/.test(key))).toBe(true);
    });
  });

  it('names its commands when given none or an unknown one', async () => {
    const err: string[] = [];
    expect(await runCli(['redis:nope'], () => undefined, (line) => err.push(line))).toBe(1);
    expect(err[0]).toBe('Unknown command redis:nope. Commands:');
    expect(err.some((line) => line.includes('redis:migrate'))).toBe(true);
  });
});
