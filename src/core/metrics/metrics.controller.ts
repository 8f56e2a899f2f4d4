import { Controller, Get, Headers, Res, UnauthorizedException } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProduces, ApiTags, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { Public } from '../auth/auth.decorators';
import { bearerTokenOf } from '../auth/bearer';
import { AppConfig } from '../config/app-config';
import { ErrorResponseDto } from '../http/pagination.dto';
import { MetricsService } from './metrics.service';
import { ApiPublic } from '../http/api-docs';

const EXAMPLE = `# HELP zyva_http_requests_total HTTP requests answered, by method, route pattern and status code
# TYPE zyva_http_requests_total counter
zyva_http_requests_total{method="GET",route="/api/contacts",status_code="200"} 42
# HELP zyva_queue_jobs Jobs per queue and state, sampled every few seconds (waiting includes prioritized jobs)
# TYPE zyva_queue_jobs gauge
zyva_queue_jobs{queue="messages",state="waiting"} 3
`;

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Sessions do not apply here: a scraper authenticates with METRICS_TOKEN, when one is set. */
@ApiTags('operations')
@Public()
@ApiPublic()
@Controller('metrics')
export class MetricsController {
  constructor(
    private readonly metrics: MetricsService,
    private readonly config: AppConfig,
  ) {}

  @Get()
  @ApiBearerAuth('metrics')
  @ApiOperation({
    summary:
      'Prometheus metrics: HTTP requests and latency by route and status, cache hits and misses, throttled requests, ' +
      'queue depths and job outcomes per queue. Needs `Authorization: Bearer <METRICS_TOKEN>` when METRICS_TOKEN is set.',
  })
  @ApiProduces('text/plain')
  @ApiOkResponse({ description: 'Prometheus text exposition format', schema: { type: 'string', example: EXAMPLE } })
  @ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'METRICS_TOKEN is set and the bearer token is missing or wrong' })
  async scrape(@Headers('authorization') authorization: string | undefined, @Res({ passthrough: true }) reply: FastifyReply) {
    this.authorize(authorization);
    reply.header('Content-Type', this.metrics.contentType());
    return this.metrics.render();
  }

  private authorize(authorization: string | undefined): void {
    const expected = this.config.METRICS_TOKEN;
    if (!expected) return;
    const given = bearerTokenOf(authorization);
    // Comparing digests keeps the comparison constant-time whatever the length of the guess.
    if (!given || !timingSafeEqual(digest(given), digest(expected))) {
      throw new UnauthorizedException('A valid metrics token is required.');
    }
  }
}
