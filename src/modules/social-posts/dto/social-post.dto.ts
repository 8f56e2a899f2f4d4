import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  IsEnum,
  IsISO8601,
  IsNotEmpty,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  MaxLength,
  ValidateIf,
} from 'class-validator';
import { PaginationQueryDto } from '../../../core/http/pagination.dto';
import { HasText, Omittable } from '../../../core/http/validation';
import { SocialPlatform, SocialPostStatus } from '../../../generated/prisma/enums';

const httpUrl = { protocols: ['http', 'https'], require_protocol: true, require_tld: false };
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

export class CreateSocialPostDto {
  @ApiProperty({ enum: SocialPlatform, example: 'INSTAGRAM' })
  @IsEnum(SocialPlatform)
  platform: SocialPlatform;

  @ApiProperty({ example: 'Nova coleção chegou! 🔥', description: 'At most 280 characters for TWITTER, 2200 for INSTAGRAM' })
  @IsString()
  @IsNotEmpty()
  @HasText()
  @MaxLength(63206)
  content: string;

  @ApiPropertyOptional({ example: 'https://cdn.example.com/colecao.jpg', description: 'Required for INSTAGRAM; not for TWITTER' })
  @IsOptional()
  @IsUrl(httpUrl)
  @MaxLength(2048)
  imageUrl?: string;

  @ApiProperty({ format: 'date-time', example: '2026-12-01T18:00:00.000Z', description: 'When to publish (ISO-8601 date-time, in the future)' })
  @IsISO8601({ strict: true })
  @Matches(DATE_TIME, { message: 'scheduledFor must be a date-time (YYYY-MM-DDTHH:mm…)' })
  scheduledFor: string;

  @ApiPropertyOptional({ example: 'cm3x1camp0000', description: 'A campaign of your organization this post belongs to' })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  campaignId?: string;
}

export class UpdateSocialPostDto {
  @ApiPropertyOptional({ example: 'Última chance! 🔥' })
  @Omittable()
  @IsString()
  @IsNotEmpty()
  @HasText()
  @MaxLength(63206)
  content?: string;

  @ApiPropertyOptional({ type: String, format: 'uri', example: 'https://cdn.example.com/colecao.jpg', nullable: true, description: 'null removes the image' })
  @IsOptional()
  @ValidateIf((_, value) => value !== null)
  @IsUrl(httpUrl)
  @MaxLength(2048)
  imageUrl?: string | null;

  @ApiPropertyOptional({ format: 'date-time', example: '2026-12-02T18:00:00.000Z', description: 'Reschedule: the publication moves to this time' })
  @Omittable()
  @IsISO8601({ strict: true })
  @Matches(DATE_TIME, { message: 'scheduledFor must be a date-time (YYYY-MM-DDTHH:mm…)' })
  scheduledFor?: string;
}

export class SocialPostsQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ enum: SocialPostStatus })
  @IsOptional()
  @IsEnum(SocialPostStatus)
  status?: SocialPostStatus;

  @ApiPropertyOptional({ enum: SocialPlatform })
  @IsOptional()
  @IsEnum(SocialPlatform)
  platform?: SocialPlatform;
}

export class SocialPostDto {
  @ApiProperty({ example: 'cm3x1post0000' }) id: string;
  @ApiProperty({ enum: SocialPlatform, example: 'INSTAGRAM' }) platform: SocialPlatform;
  @ApiProperty({ example: 'Nova coleção chegou! 🔥' }) content: string;
  @ApiProperty({ example: 'https://cdn.example.com/colecao.jpg', nullable: true, type: String }) imageUrl: string | null;
  @ApiProperty({ example: '2026-12-01T18:00:00.000Z' }) scheduledFor: string;
  @ApiProperty({ enum: SocialPostStatus, example: 'SCHEDULED' }) status: SocialPostStatus;
  @ApiProperty({ example: '17895695668004550', nullable: true, type: String, description: "The platform's id once PUBLISHED" })
  externalId: string | null;
  @ApiProperty({ example: 0 }) attempts: number;
  @ApiProperty({ example: null, nullable: true, type: String }) errorMessage: string | null;
  @ApiProperty({ example: null, nullable: true, type: String }) publishedAt: string | null;
  @ApiProperty({ example: null, nullable: true, type: String }) failedAt: string | null;
  @ApiProperty({ example: null, nullable: true, type: String }) campaignId: string | null;
  @ApiProperty({ example: '2026-11-20T12:00:00.000Z' }) createdAt: string;
}

export class SocialPostPageDto {
  @ApiProperty({ type: [SocialPostDto] }) data: SocialPostDto[];
  @ApiProperty({ example: 1 }) total: number;
  @ApiProperty({ example: 1 }) page: number;
  @ApiProperty({ example: 20 }) limit: number;
}
