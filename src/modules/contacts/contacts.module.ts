import { Module } from '@nestjs/common';
import { OutboxModule } from '../../core/outbox/outbox.module';
import { ContactsImportService } from './contacts-import.service';
import { ContactsController } from './contacts.controller';
import { ContactsRepository } from './contacts.repository';
import { ContactsService } from './contacts.service';

/** Contacts, tags and CSV import. Other modules use ContactsService (findForTenant, addTag, removeTag). */
@Module({
  imports: [OutboxModule],
  controllers: [ContactsController],
  providers: [ContactsService, ContactsRepository, ContactsImportService],
  exports: [ContactsService],
})
export class ContactsModule {}
