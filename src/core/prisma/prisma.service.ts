import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import { AppConfig } from '../config/app-config';
import { PrismaClient } from '../../generated/prisma/client';

/** The one Prisma client of the process, on the pg driver adapter (no engine binary). */
@Injectable()
export class PrismaService extends PrismaClient implements OnApplicationShutdown {
  constructor(config: AppConfig) {
    super({ adapter: new PrismaPg({ connectionString: config.DATABASE_URL, max: 20 }) });
  }

  /**
   * After every module's onModuleDestroy, where the queue processors finish
   * their active jobs: whatever order the modules are destroyed in, no job
   * loses its database halfway.
   */
  async onApplicationShutdown(): Promise<void> {
    await this.$disconnect();
  }
}
