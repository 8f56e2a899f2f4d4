import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsEnum, IsNotEmpty, IsObject, IsOptional, IsString, MaxLength } from 'class-validator';
import { PaginationQueryDto } from '../../../core/http/pagination.dto';
import { ExecutionStatus, TriggerType } from '../../../generated/prisma/enums';

export class StartExecutionDto {
  @ApiProperty({ example: 'cm3x1contact0000' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(64)
  contactId: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    example: { orderId: 'A-1001' },
    description: 'Any JSON object, stored with the run',
  })
  @IsOptional()
  @IsObject()
  data?: Record<string, unknown>;
}

export class ExecutionStartedDto {
  @ApiProperty({ example: 'cm3x1exec0000' }) executionId: string;
}

export class ExecutionsQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ enum: ExecutionStatus })
  @IsOptional()
  @IsEnum(ExecutionStatus)
  status?: ExecutionStatus;
}

export class ExecutionDto {
  @ApiProperty({ example: 'cm3x1exec0000' }) id: string;
  @ApiProperty({ example: 'cm3x1contact0000' }) contactId: string;
  @ApiProperty({ enum: ExecutionStatus, example: 'WAITING' }) status: ExecutionStatus;
  @ApiProperty({
    example: 1,
    description: 'The step being run (RUNNING), waited on (WAITING) or that failed (FAILED); the number of steps once COMPLETED',
  })
  stepIndex: number;
  @ApiProperty({ enum: TriggerType, example: 'TAG_ADDED' }) triggerType: TriggerType;
  @ApiProperty({ example: 2, description: 'The flow version (and steps) this run follows' }) flowVersion: number;
  @ApiProperty({ format: 'date-time', example: '2026-11-01T12:00:00.000Z' }) startedAt: string;
  @ApiProperty({ example: null, nullable: true, type: String, format: 'date-time' }) finishedAt: string | null;
  @ApiProperty({ example: null, nullable: true, type: String }) error: string | null;
}

export class ExecutionPageDto {
  @ApiProperty({ type: [ExecutionDto] }) data: ExecutionDto[];
  @ApiProperty({ example: 1 }) total: number;
  @ApiProperty({ example: 1 }) page: number;
  @ApiProperty({ example: 20 }) limit: number;
}
