import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CACHE_TTL_SECONDS, cacheKeys } from '../../core/cache/cache-keys';
import { TenantCached } from '../../core/cache/tenant-cache.interceptor';
import { Tenant } from '../../core/auth/auth.decorators';
import { TenantScope } from '../../core/auth/tenant-scope';
import { OrganizationDto } from './dto/organization.dto';
import { OrganizationsService } from './organizations.service';
import { ApiAuthenticated, ApiStandardErrors, limited } from '../../core/http/api-docs';

@ApiTags('organization')
@ApiAuthenticated()
@ApiStandardErrors(400, 403)
@Controller('api/organization')
export class OrganizationsController {
  constructor(private readonly organizations: OrganizationsService) {}

  @Get()
  @TenantCached({ key: cacheKeys.org, ttlSeconds: CACHE_TTL_SECONDS.org, store: 'value' })
  @ApiOperation({ summary: "The caller's organization with its plan, caps and usage (cached 30 min; X-Cache: HIT|MISS)" })
  @ApiOkResponse(limited({ type: OrganizationDto }, { cached: true }))
  get(@Tenant() tenant: TenantScope): Promise<OrganizationDto> {
    // The interceptor caches this under the key OrganizationsService.get reads, so it loads uncached here.
    return this.organizations.load(tenant.organizationId);
  }
}
