import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import type { Job, JobsOptions, Queue } from 'bullmq';
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
export class JobProducer {
  private readonly logger = new Logger(JobProducer.name);
  private readonly queues: Record<QueueName, Queue>;

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
   * run comes one interval after boot.
   */
  scheduleEvery<N extends JobName>(name: N, everyMs: number, data: JobPayloads[N]): Promise<unknown> {
    return this.queueOf(name).upsertJobScheduler(
      name,
      { every: everyMs, startDate: new Date(Date.now() + everyMs) },
      { name, data, opts: { attempts: 1, removeOnComplete: 20, removeOnFail: 50 } },
    );
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
