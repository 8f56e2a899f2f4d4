import { Injectable, Logger } from '@nestjs/common';

/**
 * Whether request limits are being enforced. When Redis cannot be reached the
 * limiter lets requests through (fail open) rather than take the API down
 * with it; this says so once in the log and in `/health`.
 */
@Injectable()
export class LimiterStatus {
  private readonly logger = new Logger('RateLimiting');
  private failingSince: Date | undefined;

  get failingOpen(): boolean {
    return this.failingSince !== undefined;
  }

  failed(error: unknown): void {
    if (this.failingSince) return;
    this.failingSince = new Date();
    this.logger.error(
      `Rate limiting is failing open (requests pass unlimited) while Redis is unreachable: ${(error as Error)?.message ?? String(error)}`,
    );
  }

  recovered(): void {
    if (!this.failingSince) return;
    this.logger.log(`Rate limiting enforced again (it failed open since ${this.failingSince.toISOString()})`);
    this.failingSince = undefined;
  }

  /** For `/health`: what the limiter is doing right now. */
  describe(redisReachable: boolean): string {
    if (!redisReachable) return 'failing open: requests are not limited while Redis is unreachable';
    return this.failingSince ? `failing open since ${this.failingSince.toISOString()}` : 'enforced';
  }
}
