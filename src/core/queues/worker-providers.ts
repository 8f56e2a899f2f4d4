import type { Provider } from '@nestjs/common';
import { isWorkerRole, loadConfig } from '../config/app-config';

/**
 * Queue consumers exist only in the `worker` and `all` roles, so one build
 * scales API and workers apart. Use in a module's `providers`.
 */
export function workerProviders(...processors: Provider[]): Provider[] {
  return isWorkerRole(loadConfig()) ? processors : [];
}

/** Concurrency of each processor, from WORKER_CONCURRENCY (default 5). */
export function workerConcurrency(): number {
  return loadConfig().WORKER_CONCURRENCY;
}

/**
 * Worker options from config: concurrency, and the lock after which a job of
 * a dead worker is taken over as stalled (checked at the same interval).
 */
export function workerOptions(): { concurrency: number; lockDuration: number; stalledInterval: number } {
  const config = loadConfig();
  return {
    concurrency: config.WORKER_CONCURRENCY,
    lockDuration: config.WORKER_LOCK_DURATION_MS,
    stalledInterval: config.WORKER_LOCK_DURATION_MS,
  };
}
