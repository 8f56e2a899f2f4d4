import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, Min, Validate, ValidatorConstraint, ValidatorConstraintInterface } from 'class-validator';
import { PaginationQueryDto } from '../../../core/http/pagination.dto';
import { isCalendarDate } from '../birthday-dates';

@ValidatorConstraint({ name: 'isCalendarDate' })
class IsCalendarDateConstraint implements ValidatorConstraintInterface {
  validate(value: unknown): boolean {
    return typeof value === 'string' && isCalendarDate(value);
  }

  defaultMessage(): string {
    return '$property must be a calendar date written YYYY-MM-DD';
  }
}

export class RunBirthdaysDto {
  @ApiProperty({ example: '2026-02-28', description: 'The date to run the daily check for' })
  @IsString()
  @Validate(IsCalendarDateConstraint)
  date: string;
}

export class BirthdayRunQueuedDto {
  @ApiProperty({ example: '42', description: 'Id of the check-birthdays job on the birthdays queue' }) jobId: string;
  @ApiProperty({ example: '2026-02-28' }) date: string;
}

export class UpcomingQueryDto extends PaginationQueryDto {
  @ApiPropertyOptional({ type: 'integer', default: 7, minimum: 1, maximum: 366, description: 'Calendar days to look ahead, today included' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(366)
  days: number = 7;
}

export class UpcomingBirthdayDto {
  @ApiProperty({ example: 'cm3x1contact0000' }) id: string;
  @ApiProperty({ example: 'Ana Souza' }) name: string;
  @ApiProperty({ example: 'ana@example.com', nullable: true, type: String }) email: string | null;
  @ApiProperty({ example: '+5511987654321', nullable: true, type: String }) phone: string | null;
  @ApiProperty({ example: '1990-02-29', nullable: true, type: String }) birthday: string | null;
  @ApiProperty({ example: '2027-02-28', description: 'Feb 29 birthdays fall on Feb 28 in other years' })
  nextBirthday: string;
  @ApiProperty({ example: 3, description: '0 is today' }) daysUntil: number;
  @ApiProperty({ example: 37, nullable: true, type: Number }) turning: number | null;
}

export class UpcomingBirthdayPageDto {
  @ApiProperty({ type: [UpcomingBirthdayDto] }) data: UpcomingBirthdayDto[];
  @ApiProperty({ example: 4 }) total: number;
  @ApiProperty({ example: 1 }) page: number;
  @ApiProperty({ example: 20 }) limit: number;
}
