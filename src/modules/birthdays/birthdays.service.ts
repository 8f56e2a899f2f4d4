import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../../core/config/app-config';
import { Paginated } from '../../core/http/pagination.dto';
import { JobProducer } from '../../core/queues/job-producer.service';
import { JobName } from '../../core/queues/queue.catalogue';
import type { TenantScope } from '../../core/auth/tenant-scope';
import { FlowTriggersService } from '../flows/flow-triggers.service';
import { addDays, birthdayWindow, birthdaysOn, dateInTimeZone } from './birthday-dates';
import { BirthdaysRepository } from './birthdays.repository';
import { BirthdayRunQueuedDto, UpcomingBirthdayDto } from './dto/birthday.dto';

export const BIRTHDAY_BATCH_SIZE = 1000;

export interface BirthdayRunSummary {
  date: string;
  contacts: number;
  started: number;
}

@Injectable()
export class BirthdaysService {
  private readonly logger = new Logger(BirthdaysService.name);

  constructor(
    private readonly repository: BirthdaysRepository,
    private readonly triggers: FlowTriggersService,
    private readonly producer: JobProducer,
    private readonly config: AppConfig,
  ) {}

  /** Today in BIRTHDAY_TZ (the calendar the stores live by, not the server's). */
  today(now = new Date()): string {
    return dateInTimeZone(now, this.config.BIRTHDAY_TZ);
  }

  /**
   * The daily check for `date`: every active BIRTHDAY flow starts for each
   * contact of its organization born on that day (Feb 29 birthdays on Feb 28
   * of other years), in keyset batches. Each run's key is
   * `birthday:{flow}:{contact}:{date}`, so running the check again for the
   * same date starts nothing twice.
   */
  async runDailyCheck(date: string): Promise<BirthdayRunSummary> {
    const flowsByOrganization = await this.repository.activeBirthdayFlows();
    const summary = { date, contacts: 0, started: 0 };
    if (flowsByOrganization.size === 0) return summary;
    const organizationIds = [...flowsByOrganization.keys()];

    for (const { month, day } of birthdaysOn(date)) {
      let afterId = '';
      for (;;) {
        const batch = await this.repository.birthdayBatch({ month, day, organizationIds, afterId, limit: BIRTHDAY_BATCH_SIZE });
        if (batch.length === 0) break;
        summary.contacts += batch.length;
        for (const [organizationId, contactIds] of groupByOrganization(batch)) {
          summary.started += await this.triggers.birthdays(flowsByOrganization.get(organizationId)!, contactIds, date);
        }
        if (batch.length < BIRTHDAY_BATCH_SIZE) break;
        afterId = batch[batch.length - 1].id;
      }
    }
    this.logger.log(`Birthday check ${date}: ${summary.contacts} contacts, ${summary.started} runs started`);
    return summary;
  }

  /** The ADMIN run: the same job as the daily one, for the given date, queued now. */
  async queueRun(date: string): Promise<BirthdayRunQueuedDto> {
    const job = await this.producer.add(JobName.CheckBirthdays, { date });
    return { jobId: job.id!, date };
  }

  /** Contacts whose birthday falls within `days` days from today (today included), soonest first. */
  async upcoming(scope: TenantScope, days: number, page: number, limit: number): Promise<Paginated<UpcomingBirthdayDto>> {
    const today = this.today();
    const window = birthdayWindow(today, days);
    const { rows, total } = await this.repository.upcoming(scope.organizationId, window, limit, (page - 1) * limit);
    const data = rows.map((row) => {
      const birthday = row.birthday instanceof Date ? row.birthday.toISOString().slice(0, 10) : (row.birthday?.slice(0, 10) ?? null);
      const nextBirthday = addDays(today, row.offset);
      return {
        id: row.id,
        name: row.name,
        email: row.email,
        phone: row.phone,
        birthday,
        nextBirthday,
        daysUntil: row.offset,
        turning: birthday ? Number(nextBirthday.slice(0, 4)) - Number(birthday.slice(0, 4)) : null,
      };
    });
    return { data, total, page, limit };
  }
}

function groupByOrganization(rows: { id: string; organizationId: string }[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const row of rows) {
    const group = groups.get(row.organizationId);
    if (group) group.push(row.id);
    else groups.set(row.organizationId, [row.id]);
  }
  return groups;
}
