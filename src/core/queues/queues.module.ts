import { BullModule } from '@nestjs/bullmq';
import { Global, Module } from '@nestjs/common';
import type { ConnectionOptions } from 'bullmq';
import { AppConfig } from '../config/app-config';
import { redisOptionsFromUrl } from '../redis/redis.options';
import { JobProducer } from './job-producer.service';
import { ALL_QUEUES, DEFAULT_JOB_OPTIONS } from './queue.catalogue';

/**
 * BullMQ on its own connection (`maxRetriesPerRequest: null`, as BullMQ
 * requires for blocking commands), separate from the command connection.
 */
@Global()
@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        prefix: config.QUEUE_PREFIX,
        connection: redisOptionsFromUrl(config.REDIS_URL, {
          maxRetriesPerRequest: null,
          enableReadyCheck: false,
          connectionName: 'zyva:bullmq',
        }) as ConnectionOptions,
      }),
    }),
    BullModule.registerQueue(...ALL_QUEUES.map((name) => ({ name, defaultJobOptions: DEFAULT_JOB_OPTIONS[name] }))),
  ],
  providers: [JobProducer],
  exports: [BullModule, JobProducer],
})
export class QueuesModule {}
