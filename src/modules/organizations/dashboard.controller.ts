import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CACHE_TTL_SECONDS, cacheKeys } from '../../core/cache/cache-keys';
import { TenantCached } from '../../core/cache/tenant-cache.interceptor';
import { Tenant } from '../../core/auth/auth.decorators';
import { TenantScope } from '../../core/auth/tenant-scope';
import { DashboardService } from './dashboard.service';
import { DashboardStatsDto } from './dto/dashboard.dto';
import { ApiAuthenticated, ApiStandardErrors, limited } from '../../core/http/api-docs';

@ApiTags('organization')
@ApiAuthenticated()
@ApiStandardErrors(400, 403)
@Controller('api/dashboard')
export class DashboardController {
  constructor(private readonly dashboard: DashboardService) {}

  @Get('stats')
  @TenantCached({ key: cacheKeys.dashboard, ttlSeconds: CACHE_TTL_SECONDS.dashboard })
  @ApiOperation({
    summary: "The organization's dashboard: contacts, flows, this month's messages and delivery rate (cached 5 min; X-Cache: HIT|MISS)",
  })
  @ApiOkResponse(limited({ type: DashboardStatsDto }))
  stats(@Tenant() tenant: TenantScope): Promise<DashboardStatsDto> {
    return this.dashboard.stats(tenant);
  }
}
