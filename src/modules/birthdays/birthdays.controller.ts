import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Tenant } from '../../core/auth/auth.decorators';
import { TenantScope } from '../../core/auth/tenant-scope';
import { BirthdaysService } from './birthdays.service';
import { UpcomingBirthdayPageDto, UpcomingQueryDto } from './dto/birthday.dto';
import { ApiAuthenticated, ApiStandardErrors, limited } from '../../core/http/api-docs';

@ApiTags('birthdays')
@ApiAuthenticated()
@ApiStandardErrors(400, 403)
@Controller('api/birthdays')
export class BirthdaysController {
  constructor(private readonly birthdays: BirthdaysService) {}

  @Get('upcoming')
  @ApiOperation({ summary: 'Contacts with a birthday in the next N days (today included, BIRTHDAY_TZ), soonest first' })
  @ApiOkResponse(limited({ type: UpcomingBirthdayPageDto }))
  upcoming(@Tenant() scope: TenantScope, @Query() query: UpcomingQueryDto) {
    return this.birthdays.upcoming(scope, query.days, query.page, query.limit);
  }
}
