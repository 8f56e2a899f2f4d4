import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { ErrorResponseDto, PaginationQueryDto } from '../../core/http/pagination.dto';
import { Tenant } from '../../core/auth/auth.decorators';
import { TenantScope } from '../../core/auth/tenant-scope';
import { CampaignsService } from './campaigns.service';
import { CampaignDto, CampaignPageDto, CreateCampaignDto } from './dto/campaign.dto';
import { ApiAuthenticated, ApiStandardErrors, limited } from '../../core/http/api-docs';

@ApiTags('campaigns')
@ApiAuthenticated()
@ApiStandardErrors(400, 403)
@Controller('api/campaigns')
export class CampaignsController {
  constructor(private readonly campaigns: CampaignsService) {}

  @Post()
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({
    summary: 'Send one message to every matching contact (with the tag, reachable on the channel); the messages are created in the background',
  })
  @ApiAcceptedResponse(limited({ type: CampaignDto }))
  @ApiBadRequestResponse({ type: ErrorResponseDto })
  @ApiResponse({ status: 402, type: ErrorResponseDto, description: 'Plan Quota Exceeded: the campaign needs more messages than the month has left (refused whole)' })
  create(@Tenant() tenant: TenantScope, @Body() dto: CreateCampaignDto): Promise<CampaignDto> {
    return this.campaigns.create(tenant, dto);
  }

  @Get()
  @ApiOperation({ summary: "The organization's campaigns, newest first, with their message counts" })
  @ApiOkResponse(limited({ type: CampaignPageDto }))
  list(@Tenant() tenant: TenantScope, @Query() query: PaginationQueryDto): Promise<CampaignPageDto> {
    return this.campaigns.list(tenant, query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One campaign with its progress: total, queued, sent, failed' })
  @ApiOkResponse(limited({ type: CampaignDto }))
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  get(@Tenant() tenant: TenantScope, @Param('id') id: string): Promise<CampaignDto> {
    return this.campaigns.get(tenant, id);
  }
}
