import { Module } from '@nestjs/common';
import { ChannelsModule } from '../channels/channels.module';
import { OrganizationsModule } from '../organizations/organizations.module';
import { CampaignFanOutService } from './campaign-fan-out.service';
import { CampaignsController } from './campaigns.controller';
import { CampaignsService } from './campaigns.service';

/** Campaigns: one message per matching contact, created by the `fan-out-campaign` job. */
@Module({
  imports: [OrganizationsModule, ChannelsModule],
  controllers: [CampaignsController],
  providers: [CampaignsService, CampaignFanOutService],
  exports: [CampaignsService, CampaignFanOutService],
})
export class CampaignsModule {}
