import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { ProviderError } from '../http/provider-error';
import { Prisma } from '../../generated/prisma/client';
import { isInfrastructureOutage, runWaitingOutOutages } from './job-outage';

function fakeJob(data: Record<string, unknown> = {}) {
  const calls: { delayedUntil?: number; token?: string; data?: unknown } = {};
  const job = {
    data,
    updateData: async (d: unknown) => {
      calls.data = d;
      job.data = d as Record<string, unknown>;
    },
    moveToDelayed: async (until: number, token?: string) => {
      calls.delayedUntil = until;
      calls.token = token;
    },
  };
  return { job: job as unknown as Job, calls };
}

const unreachable = () => new Prisma.PrismaClientKnownRequestError("Can't reach database server", { code: 'P1001', clientVersion: '7' });

describe('job outages', () => {
  it('recognises an unreachable database, a dropped connection and a closed Redis connection, nothing else', () => {
    expect(isInfrastructureOutage(unreachable())).toBe(true);
    const dropped = new Prisma.PrismaClientKnownRequestError('Raw query failed', {
      code: 'P2010',
      clientVersion: '7',
      meta: { driverAdapterError: { cause: { code: '57P01' } } },
    });
    expect(isInfrastructureOutage(dropped)).toBe(true);
    expect(isInfrastructureOutage(new Error('Connection is closed.'))).toBe(true);
    expect(isInfrastructureOutage(new Prisma.PrismaClientKnownRequestError('Unique', { code: 'P2002', clientVersion: '7' }))).toBe(false);
    expect(isInfrastructureOutage(new Error('WhatsApp: invalid parameter'))).toBe(false);
    // A provider's API being unreachable is the provider's failure (an attempt), not our outage.
    expect(isInfrastructureOutage(new ProviderError('X API', 'request failed (ECONNREFUSED)', true, undefined, 'ECONNREFUSED'))).toBe(false);
    expect(isInfrastructureOutage(new UnrecoverableError('X API: outcome unknown (request failed (ECONNRESET))'))).toBe(false);
  });

  it('postpones the job without using an attempt, waiting longer each time', async () => {
    const { job, calls } = fakeJob({ messageId: 'm1' });
    const start = Date.now();
    await expect(runWaitingOutOutages(job, 'tok', () => Promise.reject(unreachable()))).rejects.toBeInstanceOf(DelayedError);
    expect(calls.token).toBe('tok');
    expect(calls.data).toEqual({ messageId: 'm1', outages: 1 });
    const first = calls.delayedUntil! - start;
    await expect(runWaitingOutOutages(job, 'tok', () => Promise.reject(unreachable()))).rejects.toBeInstanceOf(DelayedError);
    expect(calls.delayedUntil! - start).toBeGreaterThan(first);
  });

  it('lets other errors through untouched, and answers the result when the work succeeds', async () => {
    const { job, calls } = fakeJob();
    await expect(runWaitingOutOutages(job, 'tok', () => Promise.reject(new Error('bad request')))).rejects.toThrow('bad request');
    expect(calls.delayedUntil).toBeUndefined();
    await expect(runWaitingOutOutages(job, 'tok', async () => 42)).resolves.toBe(42);
  });
});

describe('runWaitingOutOutages with work that postponed itself', () => {
  it('never moves a job twice', async () => {
    const { job, calls } = fakeJob();
    const own = new DelayedError("postponed: Can't reach database server");
    await expect(runWaitingOutOutages(job, 'tok', () => Promise.reject(own))).rejects.toBe(own);
    expect(calls.delayedUntil).toBeUndefined();
  });
});
