import { Module } from '@nestjs/common';

/** Filled in by its own issue; nothing here yet. */
@Module({})
export class ContactsModule {}
