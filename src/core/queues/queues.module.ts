import { BullModule } from '@nestjs/bullmq';
import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { type RedisClient, closeRedisClient, createRedisClient } from '../redis/redis.connection';
import { JobProducer } from './job-producer.service';
import { ALL_QUEUES, DEFAULT_JOB_OPTIONS } from './queue.catalogue';
import { queuePrefix } from './queue-prefix';

/** BullMQ's connection of this process, shared by every queue (workers and event streams duplicate it for their blocking reads). */
export const BULLMQ_CONNECTION = Symbol('BULLMQ_CONNECTION');

@Module({
  providers: [
    {
      provide: BULLMQ_CONNECTION,
      inject: [AppConfig],
      // `queue` profile: commands wait for Redis rather than fail, as BullMQ requires (maxRetriesPerRequest: null).
      useFactory: (config: AppConfig): RedisClient => createRedisClient(config, { name: 'zyva:bullmq', profile: 'queue' }),
    },
  ],
  exports: [BULLMQ_CONNECTION],
})
class QueueConnectionModule {}

/**
 * BullMQ on its own connection, separate from the command connection, to one
 * node or a cluster. Each queue has the prefix `queuePrefix(name)`, which
 * its workers inherit.
 */
@Global()
@Module({
  imports: [
    QueueConnectionModule,
    BullModule.forRootAsync({
      imports: [QueueConnectionModule],
      inject: [BULLMQ_CONNECTION],
      useFactory: (connection: RedisClient) => ({ connection }),
    }),
    BullModule.registerQueueAsync(
      ...ALL_QUEUES.map((name) => ({
        name,
        inject: [AppConfig],
        useFactory: (config: AppConfig) => ({ prefix: queuePrefix(name, config.QUEUE_PREFIX), defaultJobOptions: DEFAULT_JOB_OPTIONS[name] }),
      })),
    ),
  ],
  providers: [JobProducer],
  exports: [BullModule, JobProducer, QueueConnectionModule],
})
export class QueuesModule implements OnApplicationShutdown {
  constructor(@Inject(BULLMQ_CONNECTION) private readonly connection: RedisClient) {}

  /**
   * Queues and workers leave a connection they were given open. Nest shuts the
   * deepest modules down first, so BullMQ's own (which close the workers, after
   * their running jobs, and the queues) are done by the time this runs.
   */
  async onApplicationShutdown(): Promise<void> {
    await closeRedisClient(this.connection);
  }
}
