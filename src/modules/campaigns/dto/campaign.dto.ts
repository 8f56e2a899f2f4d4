import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsDateString, IsNotEmpty, IsObject, IsOptional, IsString, Matches, MaxLength, ValidateIf, ValidateNested } from 'class-validator';
import { PaginatedMetaDto } from '../../../core/http/pagination.dto';
import { CheckedWith, HasText, trimmed } from '../../../core/http/validation';
import { CampaignStatus } from '../../../generated/prisma/enums';
import { BUILT_IN_CHANNELS, CHANNEL_NAME } from '../../channels/channel-extension';
import { ChannelRegistry } from '../../channels/channel-registry';
import { DATE_TIME, TemplateMessageDto, type TemplateRef, templateProblems } from '../../messages/dto/message.dto';

@CheckedWith(() => ChannelRegistry, (registry, dto: CreateCampaignDto) => [...registry.channelProblems(dto.channel), ...templateProblems(dto)])
export class CreateCampaignDto {
  @ApiProperty({ example: 'Black Friday' })
  @Transform(trimmed)
  @IsString()
  @IsNotEmpty()
  @MaxLength(120)
  name: string;

  @ApiProperty({ enum: BUILT_IN_CHANNELS, example: 'WHATSAPP', description: 'A message channel (an extension may register more)' })
  @IsString()
  @Matches(CHANNEL_NAME, { message: `channel must be one of the following values: ${BUILT_IN_CHANNELS.join(', ')}` })
  channel: string;

  @ApiPropertyOptional({
    example: 'Oi {{nome}}, 30% off hoje!',
    description: 'The text (required unless `template` is given), as in POST /api/messages',
    maxLength: 4096,
  })
  @ValidateIf((dto: CreateCampaignDto) => dto.template === undefined || dto.content !== undefined)
  @IsString()
  @IsNotEmpty()
  @HasText()
  @MaxLength(4096)
  content?: string;

  @ApiPropertyOptional({ type: TemplateMessageDto, description: 'WHATSAPP only, instead of content: an approved template, its variables rendered per contact' })
  @IsOptional()
  // ValidateNested alone takes an array as a list of templates, and an empty one as valid.
  @IsObject({ message: 'template must be an object' })
  @ValidateNested()
  @Type(() => TemplateMessageDto)
  template?: TemplateMessageDto;

  @ApiPropertyOptional({ example: 'vip', description: 'Only contacts with this tag; every contact when absent' })
  @Transform(trimmed)
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(64)
  tag?: string;

  @ApiPropertyOptional({ example: '2026-11-27T12:00:00.000Z', description: 'Send later (at most a year ahead)' })
  @IsOptional()
  @IsDateString({ strict: true, strictSeparator: true })
  @Matches(DATE_TIME, { message: 'scheduledFor must be an ISO-8601 date-time with a time zone, e.g. 2026-12-24T12:00:00Z' })
  scheduledFor?: string;
}

export class CampaignDto {
  @ApiProperty({ example: 'cm3x1campaign0' }) id: string;
  @ApiProperty({ example: 'Black Friday' }) name: string;
  @ApiProperty({ enum: BUILT_IN_CHANNELS, example: 'WHATSAPP' }) channel: string;
  @ApiProperty({ example: 'Oi {{nome}}, 30% off hoje!', description: 'The text, or a template campaign’s body' }) content: string;
  @ApiProperty({ nullable: true, type: TemplateMessageDto }) template: TemplateRef | null;
  @ApiProperty({ nullable: true, type: String, example: 'vip' }) tag: string | null;
  @ApiProperty({ nullable: true, type: String, example: null }) scheduledFor: string | null;
  @ApiProperty({
    enum: CampaignStatus,
    example: 'QUEUED',
    description: 'PENDING (accepted), FANNING_OUT (creating its messages), QUEUED (all messages queued), COMPLETED (none left to send)',
  })
  status: CampaignStatus;
  @ApiProperty({ example: 1200, description: 'Messages of the campaign: the contacts that get one' }) total: number;
  @ApiProperty({ example: 12, description: 'Contacts of the audience left out because they opted out of the channel' }) skipped: number;
  @ApiProperty({ example: 300, description: 'Not sent yet (QUEUED or SCHEDULED)' }) queued: number;
  @ApiProperty({ example: 890, description: 'Sent (SENT, DELIVERED or READ)' }) sent: number;
  @ApiProperty({ example: 10 }) failed: number;
  @ApiProperty({ example: 0 }) canceled: number;
  @ApiProperty({ example: '2026-11-26T12:00:00.000Z' }) createdAt: string;
}

export class CampaignPageDto extends PaginatedMetaDto {
  @ApiProperty({ type: [CampaignDto] }) data: CampaignDto[];
}
