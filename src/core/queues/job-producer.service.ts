import { InjectQueue } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import type { Job, JobsOptions, Queue } from 'bullmq';
import { JobName, JobPayloads, QUEUE_OF_JOB, QueueName } from './queue.catalogue';

export interface BulkJob<N extends JobName> {
  data: JobPayloads[N];
  opts?: JobsOptions;
}

/**
 * The typed producer: every job enters a queue through here, routed by the
 * catalogue, with the queue's default options unless a caller overrides one.
 * BullMQ custom job ids must not contain ':'; use '-' or '_' in them.
 */
@Injectable()
export class JobProducer {
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
  }

  queue(name: QueueName): Queue {
    return this.queues[name];
  }

  queueOf(job: JobName): Queue {
    return this.queues[QUEUE_OF_JOB[job]];
  }

  add<N extends JobName>(name: N, data: JobPayloads[N], opts?: JobsOptions): Promise<Job<JobPayloads[N]>> {
    return this.queueOf(name).add(name, data, opts) as Promise<Job<JobPayloads[N]>>;
  }

  addBulk<N extends JobName>(name: N, jobs: BulkJob<N>[]): Promise<Job<JobPayloads[N]>[]> {
    return this.queueOf(name).addBulk(jobs.map((j) => ({ name, data: j.data, opts: j.opts }))) as Promise<
      Job<JobPayloads[N]>[]
    >;
  }
}
