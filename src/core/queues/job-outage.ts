import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import { ProviderError } from '../http/provider-error';
import { isDatabaseUnavailable } from '../prisma/prisma-errors';
import { isRedisUnavailable } from '../redis/redis-errors';

/**
 * An outage of our own infrastructure (Postgres or Redis): waited out, never held against a job. A
 * provider's failure (`connect ECONNREFUSED` to its API) or a deliberate final failure is not one,
 * whatever its message says.
 */
export function isInfrastructureOutage(error: unknown): boolean {
  if (error instanceof ProviderError || error instanceof UnrecoverableError) return false;
  return isDatabaseUnavailable(error) || isRedisUnavailable(error);
}

/** First wait after an outage, doubled on each consecutive postponement of the same job, up to the cap. */
const FIRST_WAIT_MS = 1000;
const MAX_WAIT_MS = 15_000;

/**
 * Puts the job back to run after a pause, without using one of its attempts
 * (BullMQ's DelayedError: the attempt is not counted), and answers the error
 * the processor must throw. The pause grows with each consecutive outage the
 * job meets (kept in `job.data.outages`), so thousands of waiting jobs do not
 * hammer a database that is coming back.
 */
export async function postponeForOutage(job: Pick<Job, 'data' | 'updateData' | 'moveToDelayed'>, token: string | undefined, reason: unknown): Promise<DelayedError> {
  const outages = Number((job.data as { outages?: number })?.outages ?? 0);
  const wait = Math.min(MAX_WAIT_MS, FIRST_WAIT_MS * 2 ** outages) * (0.75 + Math.random() / 2);
  await job.updateData({ ...(job.data as object), outages: outages + 1 });
  await job.moveToDelayed(Date.now() + Math.round(wait), token);
  return new DelayedError(`postponed: ${(reason as Error)?.message ?? String(reason)}`);
}

/**
 * Runs a job's work; an infrastructure outage postpones the job instead of
 * failing the attempt. Use in every processor: `return runWaitingOutOutages(job, token, () => …)`.
 */
export async function runWaitingOutOutages<T>(job: Job, token: string | undefined, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    // Already postponed by the work itself (its own waits, or an outage it handled): moving it twice would lose the lock.
    if (error instanceof DelayedError || !token || !isInfrastructureOutage(error)) throw error;
    throw await postponeForOutage(job, token, error);
  }
}
