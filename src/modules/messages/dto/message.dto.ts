import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsDateString, IsEnum, IsNotEmpty, IsObject, IsOptional, IsString, IsUrl, Matches, MaxLength, ValidateIf, ValidateNested } from 'class-validator';
import { PaginatedMetaDto, PaginationQueryDto } from '../../../core/http/pagination.dto';
import { MessageDirection, MessageStatus } from '../../../generated/prisma/enums';
import { CheckedWith, HasText } from '../../../core/http/validation';
import { BUILT_IN_CHANNELS, CHANNEL_NAME } from '../../channels/channel-extension';
import { ChannelRegistry } from '../../channels/channel-registry';

/** A full date-time with its zone: a bare date is not a moment. */
export const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/;

/** A WhatsApp template message: an approved template of the account, its variables each a Zyva template rendered per contact. */
export class TemplateMessageDto {
  @ApiProperty({ example: 'promo_aniversario', description: 'The template name, as synced (GET /api/channels/whatsapp/templates)' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(512)
  name: string;

  @ApiProperty({ example: 'pt_BR' })
  @IsString()
  @Matches(/^[a-z]{2,3}(_[A-Z]{2})?$/, { message: 'template.language must be a language code such as pt_BR or en' })
  language: string;

  @ApiProperty({
    type: [String],
    example: ['{{nome}}', 'ANIVER10'],
    description: 'One value per {{1}}…{{n}} of the template body, in order; each may use {{nome}}, {{name}}, {{email}}, {{phone}}',
  })
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @MaxLength(1024, { each: true })
  variables: string[];
}

/** Stored with a template message: what was asked, before rendering. */
export interface TemplateRef {
  name: string;
  language: string;
  variables: string[];
}

/** What a template message or campaign was asked to send, without the body stored beside it (what the API answers). */
export function templateRefOf(stored: unknown): TemplateRef | null {
  if (!stored) return null;
  const { name, language, variables } = stored as TemplateRef;
  return { name, language, variables };
}

/** What a body with `template` may not have, in the same 400 as its other problems. */
export function templateProblems(dto: { channel?: unknown; content?: unknown; template?: unknown }): string[] {
  if (dto.template === undefined) return [];
  return [
    ...(dto.channel === 'WHATSAPP' ? [] : ['template is only for the WHATSAPP channel']),
    ...(dto.content === undefined ? [] : ['give either content or template, not both']),
  ];
}

@CheckedWith(() => ChannelRegistry, (registry, dto: CreateMessageDto) => [...registry.channelProblems(dto.channel), ...templateProblems(dto)])
export class CreateMessageDto {
  @ApiProperty({ example: 'cm3x1contact00' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(64)
  contactId: string;

  @ApiProperty({ enum: BUILT_IN_CHANNELS, example: 'WHATSAPP', description: 'A message channel (an extension may register more)' })
  @IsString()
  @Matches(CHANNEL_NAME, { message: `channel must be one of the following values: ${BUILT_IN_CHANNELS.join(', ')}` })
  channel: string;

  @ApiPropertyOptional({
    example: 'Olá {{nome}}! Sua encomenda chegou.',
    description:
      "The text (required unless `template` is given): {{nome}}, {{name}}, {{email}} and {{phone}} are replaced with the contact's values; " +
      'nothing is evaluated. On WHATSAPP through the store’s own number, free-form text is only sent inside the 24-hour window.',
    maxLength: 4096,
  })
  @ValidateIf((dto: CreateMessageDto) => dto.template === undefined || dto.content !== undefined)
  @IsString()
  @IsNotEmpty()
  @HasText()
  @MaxLength(4096)
  content?: string;

  @ApiPropertyOptional({ type: TemplateMessageDto, description: 'WHATSAPP only, instead of content: an approved message template' })
  @IsOptional()
  // ValidateNested alone takes an array as a list of templates, and an empty one as valid.
  @IsObject({ message: 'template must be an object' })
  @ValidateNested()
  @Type(() => TemplateMessageDto)
  template?: TemplateMessageDto;

  @ApiPropertyOptional({ example: 'https://cdn.lojadaana.com.br/promo.jpg', description: 'Image, video, audio or document sent with the text' })
  @IsOptional()
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true })
  @MaxLength(2048)
  mediaUrl?: string;

  @ApiPropertyOptional({ example: '2026-12-24T12:00:00.000Z', description: 'Send later (at most a year ahead); past times send now' })
  @IsOptional()
  @IsDateString({ strict: true, strictSeparator: true })
  @Matches(DATE_TIME, { message: 'scheduledFor must be an ISO-8601 date-time with a time zone, e.g. 2026-12-24T12:00:00Z' })
  scheduledFor?: string;
}

export class MessageListQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ enum: MessageDirection, description: 'OUTBOUND (sent by the store) or INBOUND (received from contacts)' })
  @IsOptional()
  @IsEnum(MessageDirection)
  direction?: MessageDirection;

  @ApiPropertyOptional({ enum: MessageStatus })
  @IsOptional()
  @IsEnum(MessageStatus)
  status?: MessageStatus;

  @ApiPropertyOptional({ enum: BUILT_IN_CHANNELS })
  @IsOptional()
  @IsString()
  @Matches(CHANNEL_NAME, { message: `channel must be one of the following values: ${BUILT_IN_CHANNELS.join(', ')}` })
  channel?: string;

  @ApiPropertyOptional({ example: 'cm3x1contact00' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  contactId?: string;

  @ApiPropertyOptional({ example: 'cm3x1campaign0' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  campaignId?: string;
}

export class MessageAcceptedDto {
  @ApiProperty({ example: 'cm3x1message00' }) id: string;
  @ApiProperty({ enum: ['QUEUED', 'SCHEDULED'], example: 'QUEUED' }) status: 'QUEUED' | 'SCHEDULED';
}

export class MessageDto {
  @ApiProperty({ example: 'cm3x1message00' }) id: string;
  @ApiProperty({ example: 'cm3x1contact00' }) contactId: string;
  @ApiProperty({ enum: BUILT_IN_CHANNELS, example: 'WHATSAPP' }) channel: string;
  @ApiProperty({ enum: MessageDirection, example: 'OUTBOUND' }) direction: MessageDirection;
  @ApiProperty({ example: 'Olá Ana! Sua encomenda chegou.', description: 'The text; for a template message, its body with the variables filled in' }) content: string;
  @ApiProperty({ nullable: true, type: TemplateMessageDto, description: 'The template a template message was sent with' }) template: TemplateRef | null;
  @ApiProperty({ nullable: true, type: String, example: null }) mediaUrl: string | null;
  @ApiProperty({ enum: MessageStatus, example: 'SENT' }) status: MessageStatus;
  @ApiProperty({ nullable: true, type: String, example: 'wamid.HBgLNTUxMTk5OTk5OTk5ORUCABEYEjQ3' }) externalId: string | null;
  @ApiProperty({ example: 1 }) attempts: number;
  @ApiProperty({ nullable: true, type: String, example: '2026-11-26T12:00:01.000Z' }) sentAt: string | null;
  @ApiProperty({ nullable: true, type: String, example: null }) deliveredAt: string | null;
  @ApiProperty({ nullable: true, type: String, example: null }) readAt: string | null;
  @ApiProperty({ nullable: true, type: String, example: null }) failedAt: string | null;
  @ApiProperty({ nullable: true, type: String, example: null }) errorMessage: string | null;
  @ApiProperty({ nullable: true, type: String, example: null }) scheduledFor: string | null;
  @ApiProperty({ nullable: true, type: String, example: null }) campaignId: string | null;
  @ApiProperty({ example: '2026-11-26T12:00:00.000Z' }) createdAt: string;
}

export class MessagePageDto extends PaginatedMetaDto {
  @ApiProperty({ type: [MessageDto] }) data: MessageDto[];
}

