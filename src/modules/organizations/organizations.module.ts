import { Global, Module } from '@nestjs/common';
import { PLAN_LOOKUP } from '../../core/plans/plans';
import { DashboardController } from './dashboard.controller';
import { DashboardService } from './dashboard.service';
import { MessageQuota } from './message-quota';
import { OrganizationsController } from './organizations.controller';
import { OrganizationsService } from './organizations.service';

/**
 * Organizations, their plans and monthly message quota. Global because core's
 * plan limiter looks plans up through PLAN_LOOKUP, which this module provides.
 */
@Global()
@Module({
  controllers: [OrganizationsController, DashboardController],
  providers: [OrganizationsService, DashboardService, MessageQuota, { provide: PLAN_LOOKUP, useExisting: OrganizationsService }],
  exports: [OrganizationsService, MessageQuota, PLAN_LOOKUP],
})
export class OrganizationsModule {}
