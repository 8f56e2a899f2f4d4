import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsEnum, IsInt, Max, Min } from 'class-validator';
import { Omittable } from '../../../core/http/validation';
import { Plan } from '../../../generated/prisma/enums';

export class UpdateOrganizationDto {
  @ApiPropertyOptional({ enum: Plan, description: 'Changing the plan resets the caps to its defaults unless given here' })
  @Omittable()
  @IsEnum(Plan)
  plan?: Plan;

  @ApiPropertyOptional({ example: 5000, minimum: 0 })
  @Omittable()
  @IsInt()
  @Min(0)
  @Max(100_000_000)
  maxContacts?: number;

  @ApiPropertyOptional({ example: 50000, minimum: 0 })
  @Omittable()
  @IsInt()
  @Min(0)
  @Max(1_000_000_000)
  maxMessagesPerMonth?: number;
}
