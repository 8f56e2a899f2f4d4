import { Module } from '@nestjs/common';
import { isApiRole, loadConfig } from '../config/app-config';
import { HttpMetricsHook } from './http-metrics.hook';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';
import { QueueMetricsCollector } from './queue-metrics.collector';

/**
 * `/metrics` is served by API processes only: a worker has no HTTP server, and
 * the API's queue collector already counts the jobs every worker finishes.
 */
@Module({
  controllers: [MetricsController],
  providers: [MetricsService, ...(isApiRole(loadConfig()) ? [HttpMetricsHook, QueueMetricsCollector] : [])],
  exports: [MetricsService],
})
export class MetricsModule {}
