import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Tenant } from '../auth/auth.decorators';
import { TenantScope } from '../auth/tenant-scope';
import { OrganizationDto } from './dto/organization.dto';
import { OrganizationsService } from './organizations.service';

@ApiTags('organization')
@ApiBearerAuth()
@Controller('api/organization')
export class OrganizationsController {
  constructor(private readonly organizations: OrganizationsService) {}

  @Get()
  @ApiOperation({ summary: "The caller's organization with its plan, caps and usage (cached 30 min)" })
  @ApiOkResponse({ type: OrganizationDto })
  get(@Tenant() tenant: TenantScope): Promise<OrganizationDto> {
    return this.organizations.get(tenant.organizationId);
  }
}
