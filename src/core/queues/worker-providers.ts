import type { Provider } from '@nestjs/common';
import { isWorkerRole, loadConfig } from '../config/app-config';

/**
 * Queue consumers exist only in the `worker` and `all` roles, so one build
 * scales API and workers apart. Use in a module's `providers`.
 */
export function workerProviders(...processors: Provider[]): Provider[] {
  return isWorkerRole(loadConfig()) ? processors : [];
}

/** Concurrency of each processor, from WORKER_CONCURRENCY (default 100). */
export function workerConcurrency(): number {
  return loadConfig().WORKER_CONCURRENCY;
}

/**
 * Worker options from config: concurrency, and the takeover of a dead
 * worker's jobs within WORKER_LOCK_DURATION_MS: a job's lock lapses after
 * three quarters of it, and every worker looks for lapsed locks each quarter,
 * so a job whose worker died is running again at most that long after.
 * A stalled job is safe to run again (the send state machine consults its
 * record first), so it may stall many times before BullMQ gives up on it.
 */
export function workerOptions(): { concurrency: number; lockDuration: number; stalledInterval: number; maxStalledCount: number } {
  const config = loadConfig();
  return {
    concurrency: config.WORKER_CONCURRENCY,
    lockDuration: Math.round(config.WORKER_LOCK_DURATION_MS * 0.75),
    stalledInterval: Math.round(config.WORKER_LOCK_DURATION_MS * 0.25),
    maxStalledCount: 10,
  };
}
