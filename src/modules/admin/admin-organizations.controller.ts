import { Body, Controller, Get, Param, Patch, Query } from '@nestjs/common';
import { ApiForbiddenResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ErrorResponseDto, PaginationQueryDto } from '../../core/http/pagination.dto';
import { Roles } from '../../core/auth/auth.decorators';
import { AdminOrganizationDto, OrganizationPageDto } from '../organizations/dto/organization.dto';
import { OrganizationsService } from '../organizations/organizations.service';
import { UpdateOrganizationDto } from './dto/update-organization.dto';
import { ApiAuthenticated, ApiStandardErrors, limited } from '../../core/http/api-docs';

@ApiTags('admin')
@ApiAuthenticated()
@ApiStandardErrors(400, 403)
@ApiForbiddenResponse({ type: ErrorResponseDto, description: 'Not an ADMIN' })
@Roles('ADMIN')
@Controller('api/admin/organizations')
export class AdminOrganizationsController {
  constructor(private readonly organizations: OrganizationsService) {}

  @Get()
  @ApiOperation({ summary: 'List every organization' })
  @ApiOkResponse(limited({ type: OrganizationPageDto }))
  list(@Query() query: PaginationQueryDto) {
    return this.organizations.list(query.page, query.limit);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One organization' })
  @ApiOkResponse(limited({ type: AdminOrganizationDto }))
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  get(@Param('id') id: string) {
    return this.organizations.adminGet(id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change plan or caps; takes effect on the next request' })
  @ApiOkResponse(limited({ type: AdminOrganizationDto }))
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  update(@Param('id') id: string, @Body() dto: UpdateOrganizationDto) {
    return this.organizations.adminUpdate(id, dto);
  }
}
