import { Module } from '@nestjs/common';
import { DashboardController } from './dashboard.controller';
import { DashboardService } from './dashboard.service';
import { OrganizationsController } from './organizations.controller';
import { OrganizationsService } from './organizations.service';

@Module({
  controllers: [OrganizationsController, DashboardController],
  providers: [OrganizationsService, DashboardService],
  exports: [OrganizationsService],
})
export class OrganizationsModule {}
