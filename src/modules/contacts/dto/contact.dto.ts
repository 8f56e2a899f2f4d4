import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsEmail,
  IsNotEmpty,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  ValidateBy,
  ValidateIf,
  ValidationOptions,
} from 'class-validator';
import { PaginatedMetaDto, PaginationQueryDto } from '../../../core/http/pagination.dto';
import { CHANNELS, CONSENT_FILTER, CONSENT_STATES, type ConsentMap } from '../consent/consent-state';
import { ConsentMapDto } from '../consent/dto/consent.dto';
import { E164, EMAIL_MAX, INSTAGRAM_MAX, NAME_MAX, TAGS_PER_CONTACT_MAX, TAG_MAX, normalizeEmail, parseBirthday } from '../contact-fields';
import { trimmed } from '../../../core/http/validation';

const lowerTrim = ({ value }: { value: unknown }) => (typeof value === 'string' ? normalizeEmail(value) : value);

/** `YYYY-MM-DD`, a real calendar date, not in the future, not before 1900. */
function IsBirthday(options?: ValidationOptions) {
  return ValidateBy(
    {
      name: 'isBirthday',
      validator: {
        validate: (value: unknown) => typeof value === 'string' && parseBirthday(value) !== null,
        defaultMessage: (args) => `${args?.property ?? "birthday"} must be a past date in YYYY-MM-DD format`,
      },
    },
    options,
  );
}

const PHONE_MESSAGE = 'phone must be in E.164 format, e.g. +5511987654321';

export class CreateContactDto {
  @ApiProperty({ example: 'Ana Souza', maxLength: NAME_MAX })
  @Transform(trimmed)
  @IsString()
  @IsNotEmpty()
  @MaxLength(NAME_MAX)
  name: string;

  @ApiPropertyOptional({ format: 'email', example: 'ana@example.com', description: 'Unique per organization (stored lower-case)' })
  @IsOptional()
  @Transform(lowerTrim)
  @IsEmail()
  @MaxLength(EMAIL_MAX)
  email?: string;

  @ApiPropertyOptional({ example: '+5511987654321', description: 'E.164; unique per organization' })
  @IsOptional()
  @IsString()
  @Matches(E164, { message: PHONE_MESSAGE })
  phone?: string;

  @ApiPropertyOptional({ format: 'date', example: '1990-04-12', description: 'YYYY-MM-DD' })
  @IsOptional()
  @IsBirthday()
  birthday?: string;

  @ApiPropertyOptional({ example: 'ana.souza' })
  @IsOptional()
  @Transform(trimmed)
  @IsString()
  @IsNotEmpty()
  @MaxLength(INSTAGRAM_MAX)
  instagramId?: string;

  @ApiPropertyOptional({ example: ['vip', 'newsletter'], description: `Up to ${TAGS_PER_CONTACT_MAX}; each starts the organization's TAG_ADDED flows for it` })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(TAGS_PER_CONTACT_MAX)
  @Transform(({ value }) => (Array.isArray(value) ? value.map((t) => (typeof t === 'string' ? t.trim() : t)) : value))
  @IsString({ each: true })
  @IsNotEmpty({ each: true })
  @MaxLength(TAG_MAX, { each: true })
  tags?: string[];
}

/** Every field optional; `null` clears an optional field. Tags change through the tag routes. */
export class UpdateContactDto {
  @ApiPropertyOptional({ example: 'Ana Souza' })
  @ValidateIf((o: UpdateContactDto) => o.name !== undefined)
  @Transform(trimmed)
  @IsString()
  @IsNotEmpty()
  @MaxLength(NAME_MAX)
  name?: string;

  @ApiPropertyOptional({ type: String, format: 'email', example: 'ana@example.com', nullable: true })
  @IsOptional()
  @Transform(lowerTrim)
  @IsEmail()
  @MaxLength(EMAIL_MAX)
  email?: string | null;

  @ApiPropertyOptional({ type: String, example: '+5511987654321', nullable: true, pattern: E164.source })
  @IsOptional()
  @IsString()
  @Matches(E164, { message: PHONE_MESSAGE })
  phone?: string | null;

  @ApiPropertyOptional({ type: String, format: 'date', example: '1990-04-12', nullable: true })
  @IsOptional()
  @IsBirthday()
  birthday?: string | null;

  @ApiPropertyOptional({ type: String, example: 'ana.souza', nullable: true })
  @IsOptional()
  @Transform(trimmed)
  @IsString()
  @IsNotEmpty()
  @MaxLength(INSTAGRAM_MAX)
  instagramId?: string | null;
}

export class ListContactsQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ example: 'ana', description: 'Part of the name, email or phone (case-insensitive)' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  search?: string;

  @ApiPropertyOptional({ example: 'vip', description: 'Only contacts with this tag' })
  @IsOptional()
  @IsString()
  @MaxLength(TAG_MAX)
  tag?: string;

  @ApiPropertyOptional({
    example: 'EMAIL:OPTED_OUT',
    pattern: CONSENT_FILTER.source,
    description:
      `Only contacts with this consent on one channel, as CHANNEL:STATUS; channels ${CHANNELS.join(', ')}, ` +
      `statuses ${CONSENT_STATES.join(', ')} (UNKNOWN: nothing recorded)`,
  })
  @IsOptional()
  @IsString()
  @Matches(CONSENT_FILTER, { message: `consent must be CHANNEL:STATUS, e.g. EMAIL:OPTED_OUT (channels ${CHANNELS.join(', ')}; statuses ${CONSENT_STATES.join(', ')})` })
  consent?: string;
}

export class AddTagDto {
  @ApiProperty({ example: 'vip', maxLength: TAG_MAX })
  @Transform(trimmed)
  @IsString()
  @IsNotEmpty()
  @MaxLength(TAG_MAX)
  tag: string;
}

export class ContactDto {
  @ApiProperty({ example: 'cm3x1c0n7act' }) id: string;
  @ApiProperty({ example: 'Ana Souza' }) name: string;
  @ApiProperty({ example: 'ana@example.com', nullable: true, type: String, format: 'email' }) email: string | null;
  @ApiProperty({ example: '+5511987654321', nullable: true, type: String }) phone: string | null;
  @ApiProperty({ example: '1990-04-12', nullable: true, type: String, format: 'date' }) birthday: string | null;
  @ApiProperty({ example: 'ana.souza', nullable: true, type: String }) instagramId: string | null;
  @ApiProperty({ example: ['newsletter', 'vip'], type: [String] }) tags: string[];
  @ApiProperty({ type: ConsentMapDto, description: 'Consent per channel (see PUT /api/contacts/{id}/consent)' }) consent: ConsentMap;
  @ApiProperty({
    nullable: true,
    type: String,
    format: 'date-time',
    example: '2026-12-02T12:00:00.000Z',
    description: "The WhatsApp customer-service window: the contact's last inbound message + 24 h (free-form messages only until then), or null",
  })
  whatsappWindowExpiresAt: string | null;
  @ApiProperty({ format: 'date-time', example: '2026-11-20T12:00:00.000Z' }) createdAt: string;
  @ApiProperty({ format: 'date-time', example: '2026-11-20T12:00:00.000Z' }) updatedAt: string;
}

export class ContactPageDto extends PaginatedMetaDto {
  @ApiProperty({ type: [ContactDto] }) data: ContactDto[];
}

export class ImportErrorDto {
  @ApiProperty({ example: 7, description: 'Line of the file (the header is line 1)' }) line: number;
  @ApiProperty({ example: 'phone "11 9876" is not in E.164 format (e.g. +5511987654321)' }) reason: string;
}

export class ImportResultDto {
  @ApiProperty({ example: 9412 }) created: number;
  @ApiProperty({ example: 560, description: 'Rows whose email or phone matched an existing contact, which they updated' }) updated: number;
  @ApiProperty({ example: 28 }) rejected: number;
  @ApiProperty({ type: [ImportErrorDto], description: 'The first 1,000 rejected lines, by line number, with the reason' })
  errors: ImportErrorDto[];
  @ApiProperty({ example: 0, description: 'Rejected lines past the first 1,000, counted in `rejected` but not listed' })
  omittedErrors: number;
}
