import { Body, Controller, Get, Param, Put } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiForbiddenResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
  ApiTooManyRequestsResponse,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import { Tenant } from '../../../core/auth/auth.decorators';
import type { TenantScope } from '../../../core/auth/tenant-scope';
import { ErrorResponseDto } from '../../../core/http/pagination.dto';
import { ContactDto } from '../dto/contact.dto';
import { ConsentService } from './consent.service';
import { ConsentEventDto, SetConsentDto } from './dto/consent.dto';

@ApiTags('consent')
@ApiBearerAuth()
@ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such contact in your organization' })
@ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'No session, or it expired' })
@ApiForbiddenResponse({ type: ErrorResponseDto, description: 'Your account belongs to no organization (a platform ADMIN)' })
@ApiTooManyRequestsResponse({ type: ErrorResponseDto, description: "Over your plan's requests per minute (Plan Limit Exceeded)" })
@ApiParam({ name: 'id', description: 'The contact' })
@Controller('api/contacts/:id/consent')
export class ConsentController {
  constructor(private readonly consent: ConsentService) {}

  @Put()
  @ApiOperation({
    summary:
      "Set a contact's consent on one channel (source API, you as actor); setting the status the channel already has records nothing",
  })
  @ApiOkResponse({ type: ContactDto, description: 'The contact, with its consent per channel' })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'A bad channel, status or evidence' })
  set(@Tenant() tenant: TenantScope, @Param('id') id: string, @Body() dto: SetConsentDto): Promise<ContactDto> {
    return this.consent.set(tenant, id, dto);
  }

  @Get()
  @ApiOperation({ summary: "A contact's consent history, newest first: every change, with its source, evidence and actor" })
  @ApiOkResponse({ type: [ConsentEventDto], description: 'Every recorded change (a bare array); empty when nothing was ever recorded' })
  history(@Tenant() tenant: TenantScope, @Param('id') id: string): Promise<ConsentEventDto[]> {
    return this.consent.history(tenant, id);
  }
}
