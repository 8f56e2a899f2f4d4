import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsNotEmpty, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';

/** A provider's numeric object id (phone number id, account id, page id). */
export const NumericId = (example: string, description: string) =>
  applyDecorators(ApiProperty({ example, description, pattern: '^\\d{1,30}$' }), IsString(), Matches(/^\d{1,30}$/, { message: '$property must be the numeric id' }));

/** A write-only secret: documented as such, never answered. */
export const Secret = (example: string, description: string) =>
  applyDecorators(
    ApiProperty({ example, description: `${description} Write-only: never answered; the connection shows its last 4 characters as secretHint.`, writeOnly: true }),
    IsString(),
    IsNotEmpty(),
    MaxLength(2048),
  );

/** The connection's sends per second across every worker (the pace), within the provider's limits. */
export const MaxPerSecond = (defaultValue: number) =>
  applyDecorators(
    ApiPropertyOptional({ minimum: 1, maximum: 1000, default: defaultValue, description: 'Sends per second across every worker process' }),
    IsOptional(),
    IsInt(),
    Min(1),
    Max(1000),
  );
