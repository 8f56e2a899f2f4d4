import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { QueueEvents } from 'bullmq';
import { JobProducer } from '../queues/job-producer.service';
import { ALL_QUEUES, QueueName } from '../queues/queue.catalogue';
import { REDIS } from '../redis/redis.constants';
import type { RedisClient } from '../redis/redis.connection';
import { MetricsService, SAMPLED_QUEUE_STATES } from './metrics.service';

export const QUEUE_SAMPLE_INTERVAL_MS = 5000;

/**
 * Queue metrics of one API process:
 * - depths (waiting / active / delayed / failed) sampled on an interval, so a
 *   scrape never waits on Redis;
 * - completed / failed totals from each queue's event stream (QueueEvents), so
 *   jobs finished by every worker process count, not only this one's.
 */
@Injectable()
export class QueueMetricsCollector implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(QueueMetricsCollector.name);
  private readonly listeners: QueueEvents[] = [];
  private sampling = false;
  private sampleFailing = false;
  private closed = false;

  constructor(
    private readonly producer: JobProducer,
    private readonly metrics: MetricsService,
    @Inject(REDIS) private readonly redis: RedisClient,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // Event streams open once Redis answers: a listener that never connected cannot be closed.
    if (this.redis.status === 'ready') await this.startListeners();
    else this.redis.once('ready', () => void this.startListeners());
    void this.sample();
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    // Bounded: closing a listener whose Redis is away would wait for Redis.
    await Promise.all(
      this.listeners.map((listener) =>
        Promise.race([listener.close(), new Promise((resolve) => setTimeout(resolve, 2000).unref())]),
      ),
    );
  }

  private async startListeners(): Promise<void> {
    for (const name of ALL_QUEUES) {
      const lastEventId = await this.lastEventId(name);
      if (this.closed) return;
      this.listeners.push(this.listen(name, lastEventId));
    }
  }

  @Interval(QUEUE_SAMPLE_INTERVAL_MS)
  async sample(): Promise<void> {
    // While Redis is away BullMQ commands wait for it: never stack a second sample on a pending one.
    if (this.sampling) return;
    this.sampling = true;
    try {
      for (const name of ALL_QUEUES) {
        const counts = await this.producer.queue(name).getJobCounts(...SAMPLED_QUEUE_STATES, 'prioritized');
        for (const state of SAMPLED_QUEUE_STATES) {
          const value = state === 'waiting' ? counts.waiting + counts.prioritized : counts[state];
          this.metrics.queueJobs.set({ queue: name, state }, value);
        }
      }
      this.metrics.queueSampledAt.setToCurrentTime();
      if (this.sampleFailing) this.logger.log('Queue depth sampling recovered');
      this.sampleFailing = false;
    } catch (error) {
      if (!this.sampleFailing) this.logger.warn(`Queue depth sampling failed: ${(error as Error).message}`);
      this.sampleFailing = true;
    } finally {
      this.sampling = false;
    }
  }

  private listen(name: QueueName, lastEventId: string): QueueEvents {
    const queue = this.producer.queue(name);
    const listener = new QueueEvents(name, {
      connection: queue.opts.connection,
      prefix: queue.opts.prefix,
      lastEventId,
    });
    listener.on('completed', () => this.metrics.jobsCompleted.inc({ queue: name }));
    listener.on('failed', () => this.metrics.jobsFailed.inc({ queue: name }));
    listener.on('error', (error) => this.logger.warn(`Event stream of queue ${name}: ${error.message}`));
    return listener;
  }

  /**
   * Reading from the stream's current end (instead of QueueEvents' default `$`,
   * resolved only when its first XREAD runs) counts every job that finishes
   * after startup, even one finishing before the listener's connection is up.
   */
  private async lastEventId(name: QueueName): Promise<string> {
    try {
      const [latest] = await this.redis.xrevrange(this.producer.queue(name).keys.events, '+', '-', 'COUNT', 1);
      return latest?.[0] ?? '0-0';
    } catch (error) {
      this.logger.warn(`Cannot read the event stream of queue ${name} (${(error as Error).message}); counting from when it connects`);
      return '$';
    }
  }
}
