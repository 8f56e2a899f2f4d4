import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiHeader,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { ErrorResponseDto } from '../../core/http/pagination.dto';
import { Tenant } from '../../core/auth/auth.decorators';
import { TenantScope } from '../../core/auth/tenant-scope';
import { CreateMessageDto, MessageAcceptedDto, MessageDto, MessageListQueryDto, MessagePageDto } from './dto/message.dto';
import { MessagesService } from './messages.service';
import { ApiAuthenticated, ApiStandardErrors, limited } from '../../core/http/api-docs';
import { IdempotencyKey } from '../../core/http/idempotency-key.decorator';

@ApiTags('messages')
@ApiAuthenticated()
@ApiStandardErrors(400, 403)
@Controller('api/messages')
export class MessagesController {
  constructor(private readonly messages: MessagesService) {}

  @Post()
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Queue a message to a contact (or schedule it with scheduledFor); counts against the monthly quota' })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: 'Repeat a request safely: the same key within 24 h answers the first message and sends nothing more',
  })
  @ApiAcceptedResponse(limited({ type: MessageAcceptedDto }))
  @ApiBadRequestResponse({ type: ErrorResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'Contact not found in your organization' })
  @ApiResponse({ status: 402, type: ErrorResponseDto, description: 'Plan Quota Exceeded: the monthly message quota is used up' })
  @ApiResponse({ status: 422, type: ErrorResponseDto, description: 'Idempotency-Key reused for a different message' })
  create(
    @Tenant() tenant: TenantScope,
    @Body() dto: CreateMessageDto,
    @IdempotencyKey() idempotencyKey?: string,
  ): Promise<MessageAcceptedDto> {
    return this.messages.create(
      tenant,
      { ...dto, scheduledFor: dto.scheduledFor ? new Date(dto.scheduledFor) : undefined },
      { idempotencyKey },
    );
  }

  @Get()
  @ApiOperation({ summary: "The organization's messages, newest first, filterable by status, channel, contact and campaign" })
  @ApiOkResponse(limited({ type: MessagePageDto }))
  list(@Tenant() tenant: TenantScope, @Query() query: MessageListQueryDto): Promise<MessagePageDto> {
    return this.messages.list(tenant, query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One message with its delivery status, provider id, attempts and error' })
  @ApiOkResponse(limited({ type: MessageDto }))
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  get(@Tenant() tenant: TenantScope, @Param('id') id: string): Promise<MessageDto> {
    return this.messages.get(tenant, id);
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Cancel a QUEUED or SCHEDULED message (its job is removed)' })
  @ApiOkResponse(limited({ type: MessageDto, description: 'The message, now CANCELED' }))
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'Already sent (or failed, or being sent right now)' })
  cancel(@Tenant() tenant: TenantScope, @Param('id') id: string): Promise<MessageDto> {
    return this.messages.cancel(tenant, id);
  }
}
