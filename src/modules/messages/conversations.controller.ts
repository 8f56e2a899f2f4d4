import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Tenant } from '../../core/auth/auth.decorators';
import { TenantScope } from '../../core/auth/tenant-scope';
import { ApiAuthenticated, ApiStandardErrors, limited } from '../../core/http/api-docs';
import { PaginationQueryDto } from '../../core/http/pagination.dto';
import { MessagePageDto } from './dto/message.dto';
import { MessagesService } from './messages.service';

@ApiTags('messages')
@ApiAuthenticated()
@ApiStandardErrors(400, 403, [404, 'No such contact in your organization'])
@Controller('api/contacts')
export class ConversationsController {
  constructor(private readonly messages: MessagesService) {}

  @Get(':id/messages')
  @ApiOperation({ summary: 'The conversation with a contact: its outbound and inbound messages, newest first (each with its direction)' })
  @ApiOkResponse(limited({ type: MessagePageDto }))
  conversation(@Tenant() tenant: TenantScope, @Param('id') id: string, @Query() query: PaginationQueryDto): Promise<MessagePageDto> {
    return this.messages.conversation(tenant, id, query);
  }
}
