import { Processor } from '@nestjs/bullmq';
import { Job, UnrecoverableError } from 'bullmq';
import { runWaitingOutOutages } from '../../core/queues/job-outage';
import { ZyvaWorkerHost } from '../../core/queues/zyva-worker-host';
import { workerOptions } from '../../core/queues/worker-providers';
import { JobName, JobPayloads, QueueName } from '../../core/queues/queue.catalogue';
import { BirthdayRunSummary, BirthdaysService } from './birthdays.service';

@Processor(QueueName.Birthdays, workerOptions())
export class BirthdaysProcessor extends ZyvaWorkerHost {
  constructor(private readonly birthdays: BirthdaysService) {
    super();
  }

  async process(job: Job, token?: string): Promise<BirthdayRunSummary> {
    switch (job.name) {
      case JobName.CheckBirthdays: {
        const { date } = job.data as JobPayloads[JobName.CheckBirthdays];
        // A scheduled run checks the day it was due, even when a worker takes it up late.
        const due = new Date(job.opts.prevMillis ?? job.timestamp);
        // A Postgres or Redis outage postpones the check without using an attempt; re-running a date starts nothing twice.
        return runWaitingOutOutages(job, token, () => this.birthdays.runDailyCheck(date ?? this.birthdays.today(due)));
      }
      default:
        throw new UnrecoverableError(`Unknown job ${job.name} on queue ${QueueName.Birthdays}`);
    }
  }
}
