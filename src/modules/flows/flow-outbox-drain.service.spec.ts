import type { AppConfig } from '../../core/config/app-config';
import type { OutboxEvent, OutboxService } from '../../core/outbox/outbox.service';
import type { JobProducer } from '../../core/queues/job-producer.service';
import { Prisma } from '../../generated/prisma/client';
import { DRAIN_BATCH, FlowOutboxDrainService, PURGE_EVERY_MS } from './flow-outbox-drain.service';
import type { FlowTriggersService } from './flow-triggers.service';

const event = (id: number, tag: string, attempts = 1): OutboxEvent => ({
  id: BigInt(id),
  organizationId: 'org-1',
  type: 'contact.tag-added',
  payload: { contactId: `c${id}`, tag },
  attempts,
});

const tagOf = (e: OutboxEvent) => (e.payload as { tag: string }).tag;

function setup(batches: OutboxEvent[][], tagAdded: (e: { contactId: string; tag: string }) => Promise<void> = async () => undefined) {
  const calls = { claims: 0, completed: [] as bigint[][], failed: [] as [bigint, string, number | null][], kicks: 0, started: [] as string[], purges: 0 };
  const outbox = {
    // As the claim with TAG_STARTS_NO_FLOW does in SQL: the events of tag `no-flow` are handled by the claim itself.
    claim: async () => {
      calls.claims++;
      const batch = batches.shift() ?? [];
      return { events: batch.filter((e) => tagOf(e) !== 'no-flow'), completed: batch.filter((e) => tagOf(e) === 'no-flow').length };
    },
    complete: async (ids: bigint[]) => void calls.completed.push(ids),
    failed: async (id: bigint, error: string, retryInMs: number | null) => void calls.failed.push([id, error, retryInMs]),
    kick: async () => void calls.kicks++,
    purge: async () => {
      calls.purges++;
      return 0;
    },
  };
  const triggers = {
    tagAdded: async (e: { contactId: string; tag: string }) => {
      calls.started.push(e.contactId);
      await tagAdded(e);
    },
  };
  const drain = new FlowOutboxDrainService(
    outbox as unknown as OutboxService,
    triggers as unknown as FlowTriggersService,
    {} as JobProducer,
    {} as AppConfig,
  );
  return { drain, calls };
}

describe('FlowOutboxDrainService', () => {
  it('starts the flows of the events the claim hands out and marks them handled; the claim handled those of tags without flows', async () => {
    const { drain, calls } = setup([[event(1, 'vip'), event(2, 'no-flow'), event(3, 'vip')]]);
    await expect(drain.run()).resolves.toEqual({ handled: 3, failed: 0, purged: 0 });
    expect(calls.started.sort()).toEqual(['c1', 'c3']);
    expect(calls.completed.map((ids) => ids.map(Number).sort())).toEqual([[1, 3]]);
  });

  it('a batch shorter than DRAIN_BATCH ends the run without claiming again (a later kick brings a follow-up job); a full one is followed by another claim', async () => {
    const full = Array.from({ length: DRAIN_BATCH }, (_, i) => event(i, i % 2 ? 'vip' : 'no-flow'));
    const { drain, calls } = setup([full, [event(900, 'no-flow'), event(901, 'vip')], [event(902, 'vip')]]);
    await expect(drain.run()).resolves.toEqual({ handled: DRAIN_BATCH + 2, failed: 0, purged: 0 });
    expect(calls.claims).toBe(2);
    expect(calls.kicks).toBe(0);
    expect(calls.purges).toBe(1); // the run emptied the outbox
    await expect(drain.run()).resolves.toMatchObject({ handled: 1 });
    expect(calls.claims).toBe(3);
  });

  it('a failing event is handed out again later with a growing backoff, and given up on after 10 attempts', async () => {
    const { drain, calls } = setup([[event(1, 'vip', 1), event(2, 'vip', 4), event(3, 'vip', 10)]], async () => {
      throw new Error('flow broken');
    });
    await expect(drain.run()).resolves.toMatchObject({ handled: 0, failed: 3 });
    expect(calls.failed.map(([id, error, retry]) => [Number(id), error, retry])).toEqual([
      [1, 'flow broken', 2000],
      [2, 'flow broken', 16000],
      [3, 'flow broken', null],
    ]);
    expect(calls.completed).toEqual([[]]);
  });

  it('our own outage aborts the run: nothing is marked, the events come back once their lease ends', async () => {
    const down = new Prisma.PrismaClientKnownRequestError("Can't reach database server", { code: 'P1001', clientVersion: '7' });
    const { drain, calls } = setup([[event(1, 'vip'), event(2, 'vip')]], async () => {
      throw down;
    });
    await expect(drain.run()).rejects.toBe(down);
    expect(calls.completed).toEqual([]);
    expect(calls.failed).toEqual([]);
  });

  it('hands a long backlog over to a follow-up job instead of holding the worker', async () => {
    const full = () => Array.from({ length: DRAIN_BATCH }, (_, i) => event(i, 'no-flow'));
    const { drain, calls } = setup(Array.from({ length: 25 }, full));
    const report = await drain.run();
    expect(report.handled).toBe(20 * DRAIN_BATCH);
    expect(calls.claims).toBe(20);
    expect(calls.kicks).toBe(1);
  });

  it('purges old handled events once per period, not on every drain that empties the outbox', async () => {
    jest.useFakeTimers({ now: new Date('2026-12-01T12:00:00Z') });
    try {
      const { drain, calls } = setup([]);
      for (let i = 0; i < 5; i++) await drain.run();
      expect(calls.purges).toBe(1);
      jest.setSystemTime(Date.now() + PURGE_EVERY_MS - 1);
      await drain.run();
      expect(calls.purges).toBe(1);
      jest.setSystemTime(Date.now() + 1);
      await drain.run();
      expect(calls.purges).toBe(2);
    } finally {
      jest.useRealTimers();
    }
  });
});
