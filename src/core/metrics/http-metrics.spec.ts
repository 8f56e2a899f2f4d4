import Fastify, { FastifyInstance } from 'fastify';
import { UNMATCHED_ROUTE, installHttpMetrics } from './http-metrics.hook';
import { MetricsService } from './metrics.service';

async function valueOf(metrics: MetricsService, name: string, labels: Record<string, string>): Promise<number> {
  const metric = await metrics.registry.getSingleMetric(name)!.get();
  const match = metric.values.find(
    (v) => !('le' in v.labels) && Object.entries(labels).every(([k, value]) => v.labels[k] === value),
  );
  return match?.value ?? 0;
}

describe('installHttpMetrics', () => {
  let fastify: FastifyInstance;
  let metrics: MetricsService;

  beforeEach(async () => {
    metrics = new MetricsService();
    fastify = Fastify();
    installHttpMetrics(fastify, metrics);
    fastify.get('/things/:id', async (request, reply) => {
      const { id } = request.params as { id: string };
      reply.header('X-Cache', id === 'cached' ? 'HIT' : 'MISS');
      return { id };
    });
    fastify.get('/limited', async (_request, reply) => reply.code(429).send({ statusCode: 429 }));
    fastify.get('/plain', async () => 'ok');
    await fastify.ready();
  });

  afterEach(() => fastify.close());

  it('labels requests by route pattern, never by raw URL', async () => {
    await fastify.inject('/things/a1');
    await fastify.inject('/things/b2');
    await fastify.inject('/nowhere/c3');

    const labels = { method: 'GET', route: '/things/:id', status_code: '200' };
    expect(await valueOf(metrics, 'zyva_http_requests_total', labels)).toBe(2);
    expect(await valueOf(metrics, 'zyva_http_requests_total', { route: UNMATCHED_ROUTE, status_code: '404' })).toBe(1);
    const text = await metrics.render();
    expect(text).not.toMatch(/a1|b2|c3/);
    expect(text).toMatch(/zyva_http_request_duration_seconds_count\{method="GET",route="\/things\/:id",status_code="200"\} 2/);
  });

  it('counts cache hits and misses from the X-Cache header, and 429s as throttled', async () => {
    await fastify.inject('/things/cached');
    await fastify.inject('/things/cached');
    await fastify.inject('/things/fresh');
    await fastify.inject('/plain');
    await fastify.inject('/limited');

    expect(await valueOf(metrics, 'zyva_cache_responses_total', { route: '/things/:id', result: 'hit' })).toBe(2);
    expect(await valueOf(metrics, 'zyva_cache_responses_total', { route: '/things/:id', result: 'miss' })).toBe(1);
    expect(await valueOf(metrics, 'zyva_cache_responses_total', { route: '/plain' })).toBe(0);
    expect(await valueOf(metrics, 'zyva_http_throttled_total', { route: '/limited' })).toBe(1);
    expect(await valueOf(metrics, 'zyva_http_throttled_total', { route: '/things/:id' })).toBe(0);
  });

  it('keeps each app instance on its own registry', async () => {
    const other = new MetricsService();
    await fastify.inject('/plain');
    expect(await valueOf(metrics, 'zyva_http_requests_total', { route: '/plain' })).toBe(1);
    expect(await valueOf(other, 'zyva_http_requests_total', { route: '/plain' })).toBe(0);
  });
});
