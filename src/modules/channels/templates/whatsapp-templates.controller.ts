import { Controller, Get, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { Tenant } from '../../../core/auth/auth.decorators';
import { TenantScope } from '../../../core/auth/tenant-scope';
import { ApiAuthenticated, ApiStandardErrors, limited } from '../../../core/http/api-docs';
import { WhatsAppTemplatesService } from './whatsapp-templates.service';

class TemplateDto {
  @ApiProperty({ example: 'promo_aniversario' }) name: string;
  @ApiProperty({ example: 'pt_BR' }) language: string;
  @ApiProperty({ example: 'MARKETING' }) category: string;
  @ApiProperty({ example: 'APPROVED', description: 'As Meta reports it: APPROVED, PENDING, REJECTED, PAUSED, DISABLED…; only APPROVED can be sent' })
  status: string;
  @ApiProperty({ example: 'Olá {{1}}! Seu cupom de aniversário: {{2}}', description: 'The BODY text with its placeholders' }) body: string;
  @ApiProperty({ example: 2, description: 'Distinct {{1}}…{{n}} placeholders: the number of variables a send must give' }) variables: number;
}

class TemplateListDto {
  @ApiProperty({ type: [TemplateDto] }) data: TemplateDto[];
  @ApiProperty({ nullable: true, type: String, format: 'date-time', example: '2026-12-01T12:00:00.000Z', description: 'The last successful sync' })
  syncedAt: string | null;
}

@ApiTags('channels')
@ApiAuthenticated()
@ApiStandardErrors(400, 403, [404, 'No WhatsApp account: neither a connection nor WHATSAPP_BUSINESS_ACCOUNT_ID'])
@Controller('api/channels/whatsapp/templates')
export class WhatsAppTemplatesController {
  constructor(private readonly templates: WhatsAppTemplatesService) {}

  @Get()
  @ApiOperation({ summary: "The WhatsApp message templates of the organization's number (or the platform's), whatever their status, as last synced" })
  @ApiOkResponse(limited({ type: TemplateListDto }))
  list(@Tenant() tenant: TenantScope): Promise<TemplateListDto> {
    return this.templates.list(tenant.organizationId);
  }

  @Post('sync')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Sync the templates from Meta now (every page), replacing the stored list; also done on connect and every 6 hours' })
  @ApiOkResponse(limited({ type: TemplateListDto }))
  @ApiStandardErrors(
    [422, "The platform's number has no WHATSAPP_TOKEN to sync with (its stored list can still be read)"],
    [502, 'Meta refused, failed, or answered something other than a complete template list; the stored list is kept'],
  )
  sync(@Tenant() tenant: TenantScope): Promise<TemplateListDto> {
    return this.templates.syncFor(tenant.organizationId);
  }
}
