import { Injectable, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MetricsService } from './metrics.service';

/** Label of requests no route matched, so scanners probing random URLs cannot grow the label set. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Counts every response in one Fastify `onResponse` hook: it sees what Nest
 * interceptors never do (guard refusals such as 401/403/429, 404s, the Bull
 * Board's own routes) and costs no I/O. Routes are labelled by their pattern
 * (`/api/contacts/:id`), never the raw URL, to keep cardinality bounded.
 */
export function installHttpMetrics(fastify: FastifyInstance, metrics: MetricsService): void {
  // Label children resolved once per (method, route, status): prom-client hashes label objects on every call.
  const series = new Map<string, { count: () => void; observe: (seconds: number) => void; hit: () => void; miss: () => void }>();
  const seriesOf = (method: string, route: string, status: number) => {
    const id = `${method} ${status} ${route}`;
    let found = series.get(id);
    if (!found) {
      const labels = { method, route, status_code: String(status) };
      const counter = metrics.httpRequests.labels(labels);
      const histogram = metrics.httpDuration.labels(labels);
      // Cache series only once a response of the route says HIT or MISS, so uncached routes show none.
      let hits: { inc: () => void } | undefined;
      let misses: { inc: () => void } | undefined;
      found = {
        count: () => counter.inc(),
        observe: (seconds) => histogram.observe(seconds),
        hit: () => (hits ??= metrics.cacheResponses.labels({ route, result: 'hit' })).inc(),
        miss: () => (misses ??= metrics.cacheResponses.labels({ route, result: 'miss' })).inc(),
      };
      series.set(id, found);
    }
    return found;
  };

  fastify.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    const s = seriesOf(request.method, route, reply.statusCode);
    s.count();
    s.observe(reply.elapsedTime / 1000);

    // The cache interceptor marks cached routes with X-Cache; reading the header keeps the two decoupled.
    const cache = reply.getHeader('x-cache');
    if (cache === 'HIT') s.hit();
    else if (cache === 'MISS') s.miss();
    if (reply.statusCode === 429) metrics.throttled.inc({ route });
    done();
  });
}

@Injectable()
export class HttpMetricsHook implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly metrics: MetricsService,
  ) {}

  onModuleInit(): void {
    // An application context (no HTTP server) has no adapter and nothing to count.
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (fastify) installHttpMetrics(fastify, this.metrics);
  }
}
