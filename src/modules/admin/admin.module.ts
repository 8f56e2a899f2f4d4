import { Module } from '@nestjs/common';
import { OrganizationsModule } from '../organizations/organizations.module';
import { AdminOrganizationsController } from './admin-organizations.controller';
import { AdminRedisController } from './admin-redis.controller';
import { BullBoardSetup } from './bull-board.setup';
import { RedisStatsService } from './redis-stats.service';

@Module({
  imports: [OrganizationsModule],
  controllers: [AdminOrganizationsController, AdminRedisController],
  providers: [RedisStatsService, BullBoardSetup],
})
export class AdminModule {}
