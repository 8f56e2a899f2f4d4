import { BadRequestException, Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Req } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBody,
  ApiConflictResponse,
  ApiConsumes,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiPaymentRequiredResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { CACHE_TTL_SECONDS, cacheKeys } from '../../core/cache/cache-keys';
import { TenantCached, canonicalQuery } from '../../core/cache/tenant-cache.interceptor';
import { ErrorResponseDto } from '../../core/http/pagination.dto';
import { Tenant } from '../../core/auth/auth.decorators';
import { TenantScope } from '../../core/auth/tenant-scope';
import { ContactsImportService } from './contacts-import.service';
import { ContactsService } from './contacts.service';
import {
  AddTagDto,
  ContactDto,
  ContactPageDto,
  CreateContactDto,
  ImportResultDto,
  ListContactsQueryDto,
  UpdateContactDto,
} from './dto/contact.dto';
import { ApiAuthenticated, ApiStandardErrors, limited } from '../../core/http/api-docs';

@ApiTags('contacts')
@ApiAuthenticated()
@ApiStandardErrors(400, 403)
@ApiNotFoundResponse({ type: ErrorResponseDto, description: 'No such contact in your organization' })
@Controller('api/contacts')
export class ContactsController {
  constructor(
    private readonly contacts: ContactsService,
    private readonly importer: ContactsImportService,
  ) {}

  @Get()
  @TenantCached({ key: (orgId, request) => cacheKeys.contacts(orgId, canonicalQuery(request)), ttlSeconds: CACHE_TTL_SECONDS.contacts, indexed: true })
  @ApiOperation({
    summary: 'List contacts, newest first; search by name, email or phone, filter by tag or by consent (cached 5 min; X-Cache: HIT|MISS)',
  })
  @ApiOkResponse(limited({ type: ContactPageDto }, { cached: true }))
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'A bad query parameter, e.g. consent=EMAIL:MAYBE' })
  list(@Tenant() tenant: TenantScope, @Query() query: ListContactsQueryDto) {
    return this.contacts.list(tenant, query);
  }

  @Post()
  @ApiOperation({ summary: 'Create a contact; tags given here start the TAG_ADDED flows for them' })
  @ApiCreatedResponse(limited({ type: ContactDto }))
  @ApiBadRequestResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'Email or phone already used by another contact' })
  @ApiPaymentRequiredResponse({ type: ErrorResponseDto, description: "The plan's contact limit is reached (Plan Quota Exceeded)" })
  create(@Tenant() tenant: TenantScope, @Body() dto: CreateContactDto) {
    return this.contacts.create(tenant, dto);
  }

  @Post('import')
  @HttpCode(200)
  @ApiConsumes('multipart/form-data')
  @ApiBody({
    schema: { type: 'object', required: ['file'], properties: { file: { type: 'string', format: 'binary' } } },
    description:
      'A CSV file (UTF-8, comma separated, header line first) with columns name (required), email, phone (E.164), ' +
      'birthday (YYYY-MM-DD), tags (separated by ";"), instagramId, optIn (channels the person agreed to, separated by ";", ' +
      'e.g. EMAIL;WHATSAPP: recorded as OPTED_IN with source IMPORT; a channel the contact already has a status for keeps it). ' +
      'A row whose email or phone matches a contact updates it.',
  })
  @ApiOperation({ summary: 'Import contacts from a CSV file: counts of created, updated and rejected rows, with the reason per rejected line' })
  @ApiOkResponse(limited({ type: ImportResultDto }))
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'No file, empty file, or a bad header' })
  async import(@Tenant() tenant: TenantScope, @Req() request: FastifyRequest) {
    if (!request.isMultipart()) throw new BadRequestException('Send the CSV as multipart/form-data in a field named "file".');
    const upload = await request.file().catch((error: unknown) => {
      // The multipart parser's own errors (no boundary, a body cut short) carry no status; its limits do.
      if ((error as { statusCode?: number }).statusCode) throw error;
      throw new BadRequestException(`The multipart body cannot be read: ${(error as Error).message}.`);
    });
    if (!upload) throw new BadRequestException('Send the CSV as multipart/form-data in a field named "file".');
    return this.importer.import(tenant, upload.file);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One contact' })
  @ApiOkResponse(limited({ type: ContactDto }))
  get(@Tenant() tenant: TenantScope, @Param('id') id: string) {
    return this.contacts.get(tenant, id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change a contact; null clears an optional field' })
  @ApiOkResponse(limited({ type: ContactDto }))
  @ApiBadRequestResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'Email or phone already used by another contact' })
  update(@Tenant() tenant: TenantScope, @Param('id') id: string, @Body() dto: UpdateContactDto) {
    return this.contacts.update(tenant, id, dto);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a contact (frees a slot of the plan)' })
  @ApiNoContentResponse()
  remove(@Tenant() tenant: TenantScope, @Param('id') id: string) {
    return this.contacts.remove(tenant, id);
  }

  @Post(':id/tags')
  @HttpCode(200)
  @ApiOperation({ summary: "Add a tag; if the contact did not have it, the organization's active TAG_ADDED flows for it start" })
  @ApiOkResponse(limited({ type: ContactDto }))
  addTag(@Tenant() tenant: TenantScope, @Param('id') id: string, @Body() dto: AddTagDto) {
    return this.contacts.addTag(tenant, id, dto.tag);
  }

  @Delete(':id/tags/:tag')
  @ApiOperation({ summary: 'Remove a tag (removing one the contact does not have changes nothing)' })
  @ApiOkResponse(limited({ type: ContactDto }))
  removeTag(@Tenant() tenant: TenantScope, @Param('id') id: string, @Param('tag') tag: string) {
    return this.contacts.removeTag(tenant, id, tag);
  }
}
