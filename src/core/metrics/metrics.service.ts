import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ALL_QUEUES } from '../queues/queue.catalogue';

/** Queue states sampled into `zyva_queue_jobs`. */
export const SAMPLED_QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
export type SampledQueueState = (typeof SAMPLED_QUEUE_STATES)[number];

/**
 * Every Prometheus metric Zyva exposes, on a Registry of its own: the app
 * instance owns its metrics instead of prom-client's global registry, so
 * several instances in one process (the e2e tests) never collide.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'zyva_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'zyva_http_request_duration_seconds',
    help: 'Time from receiving a request to finishing its response, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly cacheResponses = new Counter({
    name: 'zyva_cache_responses_total',
    help: 'Responses of cached routes, by route pattern and result (hit or miss), from their X-Cache header',
    labelNames: ['route', 'result'] as const,
    registers: [this.registry],
  });

  readonly throttled = new Counter({
    name: 'zyva_http_throttled_total',
    help: 'Requests refused with 429 (plan or per-IP rate limits), by route pattern',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });

  readonly queueJobs = new Gauge({
    name: 'zyva_queue_jobs',
    help: 'Jobs per queue and state, sampled every few seconds (waiting includes prioritized jobs)',
    labelNames: ['queue', 'state'] as const,
    registers: [this.registry],
  });

  readonly queueSampledAt = new Gauge({
    name: 'zyva_queue_sampled_timestamp_seconds',
    help: 'When zyva_queue_jobs was last sampled successfully (alert when it falls behind)',
    registers: [this.registry],
  });

  readonly jobsCompleted = new Counter({
    name: 'zyva_queue_jobs_completed_total',
    help: 'Jobs completed by any worker process, per queue, seen since this process started',
    labelNames: ['queue'] as const,
    registers: [this.registry],
  });

  readonly jobsFailed = new Counter({
    name: 'zyva_queue_jobs_failed_total',
    help: 'Jobs that ended failed (after their last attempt) in any worker process, per queue, seen since this process started',
    labelNames: ['queue'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    // Gauges named like counters (promtool refuses them); `nodejs_active_handles` & co. hold the same, per type.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(name);
    }
    // Every queue's series exist from startup, at 0: a dashboard or alert never sees a gap before the first job.
    for (const queue of ALL_QUEUES) {
      for (const state of SAMPLED_QUEUE_STATES) this.queueJobs.set({ queue, state }, 0);
      this.jobsCompleted.inc({ queue }, 0);
      this.jobsFailed.inc({ queue }, 0);
    }
  }

  contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
