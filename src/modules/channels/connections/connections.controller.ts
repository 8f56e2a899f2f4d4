import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Post, Put } from '@nestjs/common';
import { ApiBody, ApiExtraModels, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags, getSchemaPath } from '@nestjs/swagger';
import { Tenant } from '../../../core/auth/auth.decorators';
import { TenantScope } from '../../../core/auth/tenant-scope';
import { ApiAuthenticated, ApiStandardErrors, limited } from '../../../core/http/api-docs';
import { EmailConnectDto } from '../kinds/email.kind';
import { FacebookConnectDto, InstagramConnectDto } from '../kinds/graph.kinds';
import { SmsConnectDto } from '../kinds/sms.kind';
import { TwitterConnectDto } from '../kinds/twitter.kind';
import { WhatsAppConnectDto } from '../kinds/whatsapp.kind';
import { ConnectionsService } from './connections.service';
import { ConnectionDto, ConnectionListDto } from './dto/connection.dto';

const BODIES = { whatsapp: WhatsAppConnectDto, email: EmailConnectDto, sms: SmsConnectDto, instagram: InstagramConnectDto, facebook: FacebookConnectDto, twitter: TwitterConnectDto };
const KIND_PARAM = { name: 'kind', enum: Object.keys(BODIES), description: 'The provider kind (an extension may register more)' };

@ApiTags('channels')
@ApiAuthenticated()
@ApiStandardErrors(400, 403)
@ApiExtraModels(...Object.values(BODIES))
@Controller('api/channels')
export class ConnectionsController {
  constructor(private readonly connections: ConnectionsService) {}

  @Get()
  @ApiOperation({ summary: "The organization's channel connections (secrets are never answered)" })
  @ApiOkResponse(limited({ type: ConnectionListDto }))
  async list(@Tenant() tenant: TenantScope): Promise<ConnectionListDto> {
    return { data: await this.connections.list(tenant) };
  }

  @Put(':kind')
  @ApiOperation({
    summary:
      'Connect (or replace) the organization’s account of a kind. The credentials are checked live with the provider before anything is stored; ' +
      'a second PUT keeps the connection’s id and webhookUrl. Body: the schema of the kind (whatsapp: WhatsAppConnectDto, email: EmailConnectDto, ' +
      'sms: SmsConnectDto, instagram: InstagramConnectDto, facebook: FacebookConnectDto, twitter: TwitterConnectDto).',
  })
  @ApiParam(KIND_PARAM)
  @ApiBody({ schema: { oneOf: Object.values(BODIES).map((dto) => ({ $ref: getSchemaPath(dto) })) } })
  @ApiOkResponse(limited({ type: ConnectionDto }))
  @ApiStandardErrors(
    [400, 'The body does not fit the kind'],
    [404, 'Unknown kind'],
    [409, 'The provider account is connected by another organization'],
    [422, 'The provider refused the credentials (its reason in message); nothing changed'],
    [502, 'The provider could not be reached or failed; nothing changed'],
  )
  put(@Tenant() tenant: TenantScope, @Param('kind') kind: string, @Body() body: unknown): Promise<ConnectionDto> {
    return this.connections.put(tenant, kind, body);
  }

  @Delete(':kind')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Disconnect: messages and posts accepted through this connection and not sent yet end FAILED' })
  @ApiParam(KIND_PARAM)
  @ApiNoContentResponse({ description: 'Disconnected' })
  @ApiStandardErrors([404, 'Not connected, or unknown kind'])
  async remove(@Tenant() tenant: TenantScope, @Param('kind') kind: string): Promise<void> {
    await this.connections.remove(tenant, kind);
  }

  @Post(':kind/check')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Run the live check again with the stored credentials: CONNECTED, or INVALID with the provider’s reason' })
  @ApiParam(KIND_PARAM)
  @ApiOkResponse(limited({ type: ConnectionDto }))
  @ApiStandardErrors([404, 'Not connected, or unknown kind'], [502, 'The provider could not be reached; nothing changed'])
  check(@Tenant() tenant: TenantScope, @Param('kind') kind: string): Promise<ConnectionDto> {
    return this.connections.check(tenant, kind);
  }
}
