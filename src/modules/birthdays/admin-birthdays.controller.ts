import { Body, Controller, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { ApiAcceptedResponse, ApiForbiddenResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ErrorResponseDto } from '../../core/http/pagination.dto';
import { Roles } from '../../core/auth/auth.decorators';
import { BirthdaysService } from './birthdays.service';
import { BirthdayRunQueuedDto, RunBirthdaysDto } from './dto/birthday.dto';
import { ApiAuthenticated, ApiStandardErrors, limited } from '../../core/http/api-docs';

@ApiTags('admin')
@ApiAuthenticated()
@ApiStandardErrors(400, 403)
@ApiForbiddenResponse({ type: ErrorResponseDto, description: 'Not an ADMIN' })
@Roles('ADMIN')
@Controller('api/admin/birthdays')
export class AdminBirthdaysController {
  constructor(private readonly birthdays: BirthdaysService) {}

  @Post('run')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Queue the daily birthday check for a date now (running it twice starts nothing twice)' })
  @ApiAcceptedResponse(limited({ type: BirthdayRunQueuedDto }))
  run(@Body() dto: RunBirthdaysDto): Promise<BirthdayRunQueuedDto> {
    return this.birthdays.queueRun(dto.date);
  }
}
