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
