import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AppConfig } from '../../core/config/app-config';
import { JobProducer } from '../../core/queues/job-producer.service';
import { DEFAULT_JOB_OPTIONS, JobName, QueueName } from '../../core/queues/queue.catalogue';

export const BIRTHDAY_SCHEDULER_ID = 'check-birthdays';
export const BIRTHDAY_CRON = '0 9 * * *';

/**
 * Registers the daily `check-birthdays` job with BullMQ's job scheduler when
 * a worker starts. Upserting under a fixed id is idempotent: any number of
 * workers keep one scheduler and one next job (its id is derived from the
 * fire time), so the check runs once a day; the cron is evaluated in
 * BIRTHDAY_TZ, which also keeps 09:00 local across DST changes. The
 * producer keeps it: if Redis loses it, it is re-created without a restart.
 */
@Injectable()
export class BirthdaySchedulerService implements OnApplicationBootstrap {
  private readonly logger = new Logger(BirthdaySchedulerService.name);

  constructor(
    private readonly jobs: JobProducer,
    private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.jobs.keepScheduler(
      this.jobs.queue(QueueName.Birthdays),
      BIRTHDAY_SCHEDULER_ID,
      { pattern: BIRTHDAY_CRON, tz: this.config.BIRTHDAY_TZ },
      {
        name: JobName.CheckBirthdays,
        data: {},
        // Re-running a date is harmless (runs are de-duplicated), so a failed check is retried.
        opts: { ...DEFAULT_JOB_OPTIONS[QueueName.Birthdays], attempts: 3, backoff: { type: 'exponential', delay: 60_000 } },
      },
    );
    this.logger.log(`Daily birthday check scheduled (${BIRTHDAY_CRON}, ${this.config.BIRTHDAY_TZ})`);
  }
}
