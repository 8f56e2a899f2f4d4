import { Global, Module } from '@nestjs/common';
import { MessageQuotaService } from './message-quota.service';

@Global()
@Module({ providers: [MessageQuotaService], exports: [MessageQuotaService] })
export class QuotasModule {}
