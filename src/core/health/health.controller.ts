import { Controller, Get, Inject, Logger, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheckResult, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';
import type Redis from 'ioredis';
import { Public } from '../auth/auth.decorators';
import { PrismaService } from '../prisma/prisma.service';
import { REDIS } from '../redis/redis.constants';
import { LimiterStatus } from '../throttling/limiter-status';
import { ApiPublic, ApiStandardErrors } from '../http/api-docs';

const CHECK_TIMEOUT_MS = 1500;

function withTimeout<T>(work: Promise<T>, what: string): Promise<T> {
  return Promise.race([
    work,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} timed out`)), CHECK_TIMEOUT_MS).unref()),
  ]);
}

@ApiTags('operations')
@Public()
@ApiPublic()
@Controller('health')
export class HealthController {
  private readonly logger = new Logger(HealthController.name);

  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly prisma: PrismaService,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly limiter: LimiterStatus,
  ) {}

  /** Terminus' own body (`status`, `info`, `error`, `details`) in both cases, with 503 when a check fails. */
  @Get()
  @ApiOperation({ summary: 'Liveness of Postgres and Redis: 200 when both answer, 503 otherwise' })
  @ApiStandardErrors([503, 'Postgres or Redis does not answer (the body names which, never why)'])
  async check(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthCheckResult> {
    try {
      return await this.health.check([
        () => this.probe('database', () => this.prisma.$queryRaw`SELECT 1`),
        () =>
          this.probe(
            'redis',
            () => this.redis.ping(),
            (up) => ({ rateLimiting: this.limiter.describe(up) }),
          ),
      ]);
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      void reply.status(503);
      return error.getResponse() as HealthCheckResult;
    }
  }

  /** `details` adds what depends on the probed service (the limiter fails open without Redis). */
  private async probe(key: string, run: () => Promise<unknown>, details: (up: boolean) => Record<string, string> = () => ({})) {
    const indicator = this.indicator.check(key);
    try {
      await withTimeout(run(), key);
      return indicator.up(details(true));
    } catch (error) {
      // The driver's message names hosts, ports and users: it goes to the log, the answer only says what failed.
      const message = (error as Error).message ?? String(error);
      this.logger.warn(`Health check of ${key} failed: ${message}`);
      return indicator.down({ message: message.endsWith('timed out') ? 'no answer in time' : 'unreachable', ...details(false) });
    }
  }
}
