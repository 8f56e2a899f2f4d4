import { Module } from '@nestjs/common';
import { OutboxService } from './outbox.service';

/** The transactional outbox: the modules that write events and the ones that drain them import this. */
@Module({ providers: [OutboxService], exports: [OutboxService] })
export class OutboxModule {}
