import { Controller, Get } from '@nestjs/common';
import {
  ApiForbiddenResponse,
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { ErrorResponseDto } from '../../core/http/pagination.dto';
import { Roles } from '../../core/auth/auth.decorators';
import { RedisStatsDto } from './dto/redis-stats.dto';
import { RedisStatsService } from './redis-stats.service';
import { ApiAuthenticated, ApiStandardErrors, limited } from '../../core/http/api-docs';

@ApiTags('admin')
@ApiAuthenticated()
@ApiStandardErrors(400, 403)
@ApiForbiddenResponse({ type: ErrorResponseDto, description: 'Not an ADMIN' })
@Roles('ADMIN')
@Controller('api/admin/redis')
export class AdminRedisController {
  constructor(private readonly redisStats: RedisStatsService) {}

  @Get('stats')
  @ApiOperation({ summary: 'Redis INFO sections stats, memory and clients, parsed (numbers as numbers)' })
  @ApiOkResponse(limited({ type: RedisStatsDto }))
  @ApiServiceUnavailableResponse({ type: ErrorResponseDto, description: 'Redis is not answering' })
  stats(): Promise<RedisStatsDto> {
    return this.redisStats.stats();
  }
}
