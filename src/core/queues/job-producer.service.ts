import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, OnApplicationShutdown, ServiceUnavailableException } from '@nestjs/common';
import type { Job, JobSchedulerTemplateOptions, JobsOptions, Queue, RepeatOptions } from 'bullmq';
import { JobName, JobPayloads, QUEUE_OF_JOB, QueueName } from './queue.catalogue';

/** How long an enqueue may wait for Redis before the caller is told the queue is unavailable. */
const ENQUEUE_TIMEOUT_MS = 3000;

/** Thrown when Redis does not take a job in time; the job may still land once Redis is back. */
export class QueueUnavailableError extends ServiceUnavailableException {
  constructor(queue: string) {
    super(`The ${queue} queue is unavailable right now; try again shortly.`);
  }
}

function bounded<T>(work: Promise<T>, queue: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new QueueUnavailableError(queue)), ENQUEUE_TIMEOUT_MS);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** How often a process that keeps job schedulers checks that Redis still has them (it may have restarted empty). */
export const SCHEDULER_CHECK_MS = 10_000;

interface KeptScheduler {
  queue: Queue;
  repeat: Omit<RepeatOptions, 'key'> | (() => Omit<RepeatOptions, 'key'>);
  template: { name: string; data: unknown; opts?: JobSchedulerTemplateOptions };
}

export interface BulkJob<N extends JobName> {
  data: JobPayloads[N];
  opts?: JobsOptions;
}

/**
 * The typed producer: every job enters a queue through here, routed by the
 * catalogue, with the queue's default options unless a caller overrides one.
 * BullMQ custom job ids must not contain ':'; use '-' or '_' in them.
 * The BullMQ connection retries forever (as workers need), so an enqueue is
 * bounded here: while Redis is down the caller gets a QueueUnavailableError
 * instead of hanging (the data it stored first is picked up by a reconciler).
 */
@Injectable()
export class JobProducer implements OnApplicationShutdown {
  private readonly logger = new Logger(JobProducer.name);
  private readonly queues: Record<QueueName, Queue>;
  private readonly kept = new Map<string, KeptScheduler>();
  private readonly lostListeners: (() => void)[] = [];
  private keeper?: NodeJS.Timeout;

  constructor(
    @InjectQueue(QueueName.Messages) messages: Queue,
    @InjectQueue(QueueName.Flows) flows: Queue,
    @InjectQueue(QueueName.Birthdays) birthdays: Queue,
    @InjectQueue(QueueName.SocialPosts) socialPosts: Queue,
    @InjectQueue(QueueName.Emails) emails: Queue,
  ) {
    this.queues = {
      [QueueName.Messages]: messages,
      [QueueName.Flows]: flows,
      [QueueName.Birthdays]: birthdays,
      [QueueName.SocialPosts]: socialPosts,
      [QueueName.Emails]: emails,
    };
    // Without a listener BullMQ prints every reconnect failure; log at most once a minute per queue.
    for (const queue of Object.values(this.queues)) {
      let lastLogged = 0;
      queue.on('error', (error: Error) => {
        if (Date.now() - lastLogged < 60_000) return;
        lastLogged = Date.now();
        this.logger.warn(`Queue ${queue.name} cannot reach Redis: ${error.message}`);
      });
    }
  }

  queue(name: QueueName): Queue {
    return this.queues[name];
  }

  queueOf(job: JobName): Queue {
    return this.queues[QUEUE_OF_JOB[job]];
  }

  /**
   * A job repeated every `everyMs` across the whole cluster: one BullMQ job
   * scheduler (id = job name), however many workers register it. The first
   * run comes one interval after boot (or after it was re-created).
   */
  scheduleEvery<N extends JobName>(name: N, everyMs: number, data: JobPayloads[N]): Promise<void> {
    return this.keepScheduler(this.queueOf(name), name, () => ({ every: everyMs, startDate: new Date(Date.now() + everyMs) }), {
      name,
      data,
      opts: { attempts: 1, removeOnComplete: 20, removeOnFail: 50 },
    });
  }

  /**
   * Upserts a job scheduler (idempotent under its id, so one per cluster
   * whatever number of workers register it) and keeps it: every
   * SCHEDULER_CHECK_MS this process checks that Redis still has it and
   * re-creates it when Redis lost it (restarted empty), without a restart.
   */
  async keepScheduler(queue: Queue, id: string, repeat: KeptScheduler['repeat'], template: KeptScheduler['template']): Promise<void> {
    const kept = { queue, repeat, template };
    this.kept.set(`${queue.name}:${id}`, kept);
    await this.upsert(id, kept);
    this.keeper ??= setInterval(() => void this.checkSchedulers(), SCHEDULER_CHECK_MS).unref();
  }

  /**
   * Called after this process found Redis without its schedulers (Redis
   * restarted empty): the jobs it held are gone too, so reconcilers may want
   * to look at once rather than at their next interval.
   */
  onSchedulersLost(listener: () => void): void {
    this.lostListeners.push(listener);
  }

  /** Re-creates the kept schedulers Redis no longer has; answers how many. */
  async checkSchedulers(): Promise<number> {
    let recreated = 0;
    for (const [key, kept] of this.kept) {
      const id = key.slice(kept.queue.name.length + 1);
      try {
        if (await kept.queue.getJobScheduler(id)) continue;
        await this.upsert(id, kept);
        recreated++;
        this.logger.warn(`Job scheduler ${id} of queue ${kept.queue.name} was missing (Redis lost it): re-created`);
      } catch (error) {
        this.logger.debug(`Cannot check job scheduler ${id}: ${(error as Error).message}`);
      }
    }
    if (recreated > 0) for (const listener of this.lostListeners) listener();
    return recreated;
  }

  onApplicationShutdown(): void {
    if (this.keeper) clearInterval(this.keeper);
  }

  private async upsert(id: string, kept: KeptScheduler): Promise<void> {
    const repeat = typeof kept.repeat === 'function' ? kept.repeat() : kept.repeat;
    await kept.queue.upsertJobScheduler(id, repeat, kept.template as Parameters<Queue['upsertJobScheduler']>[2]);
  }

  add<N extends JobName>(name: N, data: JobPayloads[N], opts?: JobsOptions): Promise<Job<JobPayloads[N]>> {
    const queue = this.queueOf(name);
    return bounded(queue.add(name, data, opts) as Promise<Job<JobPayloads[N]>>, queue.name);
  }

  addBulk<N extends JobName>(name: N, jobs: BulkJob<N>[]): Promise<Job<JobPayloads[N]>[]> {
    const queue = this.queueOf(name);
    const added = queue.addBulk(jobs.map((j) => ({ name, data: j.data, opts: j.opts })));
    return bounded(added as Promise<Job<JobPayloads[N]>[]>, queue.name);
  }
}
