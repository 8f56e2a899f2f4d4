import { Module } from '@nestjs/common';
import { OutboxModule } from '../../core/outbox/outbox.module';
import { ConsentController } from './consent/consent.controller';
import { ConsentRepository } from './consent/consent.repository';
import { ConsentService } from './consent/consent.service';
import { IgnoredBodyHook } from './consent/ignored-body';
import { UnsubscribeController } from './consent/unsubscribe.controller';
import { UnsubscribeService } from './consent/unsubscribe.service';
import { UnsubscribeTokens } from './consent/unsubscribe-token';
import { ContactsImportService } from './contacts-import.service';
import { ContactsController } from './contacts.controller';
import { ContactsRepository } from './contacts.repository';
import { ContactsService } from './contacts.service';

/**
 * Contacts, tags, CSV import and consent (with the public unsubscribe link). Other modules use
 * ContactsService (findForTenant, addTag, removeTag) and ConsentService (statusOf, record, recordByPhone,
 * unsubscribeUrl).
 */
@Module({
  imports: [OutboxModule],
  controllers: [ContactsController, ConsentController, UnsubscribeController],
  providers: [
    ContactsService,
    ContactsRepository,
    ContactsImportService,
    ConsentService,
    ConsentRepository,
    UnsubscribeTokens,
    UnsubscribeService,
    IgnoredBodyHook,
  ],
  exports: [ContactsService, ConsentService],
})
export class ContactsModule {}
