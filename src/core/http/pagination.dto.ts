import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min, ValidateBy } from 'class-validator';

/** Offset paging stops here: past it Postgres would walk (and throw away) every row before the page. */
export const MAX_LIST_OFFSET = 10_000;

/** `(page - 1) × limit` below MAX_LIST_OFFSET, read with the limit of the same query. */
function WithinListWindow() {
  return ValidateBy({
    name: 'withinListWindow',
    validator: {
      validate: (page: unknown, args) => {
        const limit = Number((args?.object as { limit?: unknown }).limit ?? 20);
        return !Number.isInteger(page) || !Number.isInteger(limit) || ((page as number) - 1) * limit < MAX_LIST_OFFSET;
      },
      defaultMessage: (args) =>
        `page must be at most ${Math.ceil(MAX_LIST_OFFSET / Number((args?.object as { limit?: unknown }).limit ?? 20))} with this limit: lists answer their first ${MAX_LIST_OFFSET} rows (narrow the filters to see others)`,
    },
  });
}

/** `?page=1&limit=20` (limit max 100); query strings are text and are converted. */
export class PaginationQueryDto {
  @ApiPropertyOptional({
    type: 'integer',
    default: 1,
    minimum: 1,
    description: `Page number; (page - 1) × limit must stay below ${MAX_LIST_OFFSET}`,
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @WithinListWindow()
  page: number = 1;

  @ApiPropertyOptional({ type: 'integer', default: 20, minimum: 1, maximum: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit: number = 20;

  get skip(): number {
    return (this.page - 1) * this.limit;
  }
}

export interface Paginated<T> {
  data: T[];
  total: number;
  page: number;
  limit: number;
}

export class PaginatedMetaDto {
  @ApiProperty({ example: 42 }) total: number;
  @ApiProperty({ example: 1 }) page: number;
  @ApiProperty({ example: 20 }) limit: number;
}

export class ErrorResponseDto {
  @ApiProperty({ example: 400 }) statusCode: number;
  @ApiProperty({ example: 'Bad Request' }) error: string;
  @ApiProperty({ oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }], example: ['email must be an email'] })
  message: string | string[];
}
