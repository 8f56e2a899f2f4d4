import { Body, Controller, Delete, Get, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ErrorResponseDto } from '../../core/http/pagination.dto';
import { Tenant } from '../../core/auth/auth.decorators';
import { TenantScope } from '../../core/auth/tenant-scope';
import {
  CreateSocialPostDto,
  SocialPostDto,
  SocialPostPageDto,
  SocialPostsQueryDto,
  UpdateSocialPostDto,
} from './dto/social-post.dto';
import { SocialPostsService } from './social-posts.service';
import { ApiAuthenticated, ApiStandardErrors, limited } from '../../core/http/api-docs';

@ApiTags('social-posts')
@ApiAuthenticated()
@ApiStandardErrors(400, 403)
@ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such post in your organization' })
@Controller('api/social-posts')
export class SocialPostsController {
  constructor(private readonly posts: SocialPostsService) {}

  @Post()
  @ApiOperation({ summary: 'Schedule a post on Instagram, a Facebook Page or X' })
  @ApiCreatedResponse(limited({ type: SocialPostDto }))
  @ApiBadRequestResponse({
    type: ErrorResponseDto,
    description: 'INSTAGRAM without imageUrl, TWITTER over 280 characters, scheduledFor in the past…',
  })
  create(@Tenant() scope: TenantScope, @Body() dto: CreateSocialPostDto): Promise<SocialPostDto> {
    return this.posts.create(scope, dto);
  }

  @Get()
  @ApiOperation({ summary: 'List posts, latest scheduled first' })
  @ApiOkResponse(limited({ type: SocialPostPageDto }))
  list(@Tenant() scope: TenantScope, @Query() query: SocialPostsQueryDto) {
    return this.posts.list(scope, query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One post, with its status and the platform id once published' })
  @ApiOkResponse(limited({ type: SocialPostDto }))
  get(@Tenant() scope: TenantScope, @Param('id') id: string): Promise<SocialPostDto> {
    return this.posts.get(scope, id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Edit or reschedule a SCHEDULED post (its publication moves)' })
  @ApiOkResponse(limited({ type: SocialPostDto }))
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'The post is no longer SCHEDULED' })
  update(@Tenant() scope: TenantScope, @Param('id') id: string, @Body() dto: UpdateSocialPostDto): Promise<SocialPostDto> {
    return this.posts.update(scope, id, dto);
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Cancel a SCHEDULED post (it stays listed as CANCELED)' })
  @ApiOkResponse(limited({ type: SocialPostDto }))
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'The post is no longer SCHEDULED' })
  cancel(@Tenant() scope: TenantScope, @Param('id') id: string): Promise<SocialPostDto> {
    return this.posts.cancel(scope, id);
  }
}
