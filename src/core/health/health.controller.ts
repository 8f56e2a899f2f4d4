import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type Redis from 'ioredis';
import { Public } from '../../modules/auth/auth.decorators';
import { PrismaService } from '../prisma/prisma.service';
import { REDIS } from '../redis/redis.constants';

const CHECK_TIMEOUT_MS = 1500;

function withTimeout<T>(work: Promise<T>, what: string): Promise<T> {
  return Promise.race([
    work,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} timed out`)), CHECK_TIMEOUT_MS).unref()),
  ]);
}

@ApiTags('operations')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly prisma: PrismaService,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  @Get()
  @HealthCheck()
  @ApiOperation({ summary: 'Liveness of Postgres and Redis: 200 when both answer, 503 otherwise' })
  check() {
    return this.health.check([() => this.probe('database', () => this.prisma.$queryRaw`SELECT 1`), () => this.probe('redis', () => this.redis.ping())]);
  }

  private async probe(key: string, run: () => Promise<unknown>) {
    const indicator = this.indicator.check(key);
    try {
      await withTimeout(run(), key);
      return indicator.up();
    } catch (error) {
      return indicator.down({ message: (error as Error).message });
    }
  }
}
