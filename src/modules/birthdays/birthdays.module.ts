import { Module } from '@nestjs/common';
import { workerProviders } from '../../core/queues/worker-providers';
import { FlowsModule } from '../flows/flows.module';
import { AdminBirthdaysController } from './admin-birthdays.controller';
import { BirthdaySchedulerService } from './birthday-scheduler.service';
import { BirthdaysController } from './birthdays.controller';
import { BirthdaysProcessor } from './birthdays.processor';
import { BirthdaysRepository } from './birthdays.repository';
import { BirthdaysService } from './birthdays.service';

@Module({
  imports: [FlowsModule],
  controllers: [BirthdaysController, AdminBirthdaysController],
  providers: [BirthdaysService, BirthdaysRepository, ...workerProviders(BirthdaysProcessor, BirthdaySchedulerService)],
})
export class BirthdaysModule {}
