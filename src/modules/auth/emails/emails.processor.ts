import { Processor } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { runWaitingOutOutages } from '../../../core/queues/job-outage';
import { ZyvaWorkerHost } from '../../../core/queues/zyva-worker-host';
import { JobName, QueueName } from '../../../core/queues/queue.catalogue';
import { workerOptions } from '../../../core/queues/worker-providers';
import { AccountEmailService, SendEmailJob } from './account-email.service';

/** Consumer of the `emails` queue (worker and all roles only). */
@Processor(QueueName.Emails, workerOptions())
export class EmailsProcessor extends ZyvaWorkerHost {
  constructor(private readonly emails: AccountEmailService) {
    super();
  }

  process(job: Job, token?: string): Promise<unknown> {
    switch (job.name as JobName) {
      case JobName.SendEmail:
        // A Redis outage (the link token lives there) postpones the email without using an attempt.
        return runWaitingOutOutages(job, token, () => this.emails.send(job as SendEmailJob));
      default:
        throw new Error(`Unknown job ${job.name} on queue ${QueueName.Emails}`);
    }
  }
}
