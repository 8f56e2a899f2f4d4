import { OnWorkerEvent, WorkerHost } from '@nestjs/bullmq';
import { Logger, OnModuleDestroy } from '@nestjs/common';

/**
 * Base of every Zyva queue consumer. A BullMQ worker re-emits what goes wrong
 * around a job (a lost connection, a job removed while it ran) as `error`
 * events; an EventEmitter without a listener throws them, so each worker logs
 * them here instead. Shutdown is graceful: stop taking jobs and let the active
 * ones finish before Prisma and Redis close (global modules are destroyed
 * after the module of a processor).
 */
export abstract class ZyvaWorkerHost extends WorkerHost implements OnModuleDestroy {
  protected readonly logger = new Logger(this.constructor.name);

  @OnWorkerEvent('error')
  onWorkerError(error: Error): void {
    this.logger.warn(`Worker of queue ${this.worker.name}: ${error.message}`);
  }

  async onModuleDestroy(): Promise<void> {
    await this.worker.close();
  }
}
