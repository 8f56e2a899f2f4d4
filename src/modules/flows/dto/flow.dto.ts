import { ApiExtraModels, ApiProperty, ApiPropertyOptional, ApiPropertyOptions, PartialType, getSchemaPath } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  IsArray,
  IsBoolean,
  IsDefined,
  IsEnum,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  MaxLength,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { Channel, TriggerType } from '../../../generated/prisma/enums';
import { TAG_MAX } from '../../contacts/contact-fields';
import { TemplateMessageDto } from '../../messages/dto/message.dto';
import { CheckedWith, trimmed } from '../../../core/http/validation';
import { FlowStepRegistry } from '../steps/flow-step.registry';


export class SendMessageStepDto {
  @ApiProperty({ enum: ['SEND_MESSAGE'] }) type: 'SEND_MESSAGE';
  @ApiProperty({ enum: Channel, example: 'WHATSAPP' }) channel: Channel;
  @ApiPropertyOptional({ example: 'Oi {{nome}}, obrigado pela compra!', description: 'The text, rendered per contact (or `template`)' })
  content?: string;
  @ApiPropertyOptional({ type: TemplateMessageDto, description: 'WHATSAPP only, instead of content: an approved template, checked when the flow is saved' })
  template?: TemplateMessageDto;
}

export class WaitStepDto {
  @ApiProperty({ enum: ['WAIT'] }) type: 'WAIT';
  @ApiProperty({ example: 259200, description: 'Seconds before the next step (a delayed job), at most one year' })
  seconds: number;
}

export class TagStepDto {
  @ApiProperty({ enum: ['ADD_TAG', 'REMOVE_TAG'] }) type: 'ADD_TAG' | 'REMOVE_TAG';
  @ApiProperty({ example: 'welcomed' }) tag: string;
}

const STEP_SCHEMA: ApiPropertyOptions = {
  type: 'array',
  minItems: 1,
  items: {
    oneOf: [
      { $ref: getSchemaPath(SendMessageStepDto) },
      { $ref: getSchemaPath(WaitStepDto) },
      { $ref: getSchemaPath(TagStepDto) },
    ],
  },
  example: [
    { type: 'SEND_MESSAGE', channel: 'WHATSAPP', content: 'Bem-vinda, {{nome}}!' },
    { type: 'WAIT', seconds: 259200 },
    { type: 'ADD_TAG', tag: 'welcomed' },
  ],
};

export class FlowTriggerDto {
  @ApiProperty({ enum: TriggerType, example: 'TAG_ADDED' })
  @IsEnum(TriggerType)
  type: TriggerType;

  @ApiPropertyOptional({ example: 'vip', description: 'The tag that starts the flow; required for (and only for) TAG_ADDED' })
  @ValidateIf((t: FlowTriggerDto) => t.type === TriggerType.TAG_ADDED || t.tag !== undefined)
  @Transform(trimmed)
  @IsString()
  @IsNotEmpty()
  @MaxLength(TAG_MAX)
  tag?: string;

  @ApiPropertyOptional({
    example: 'QUERO',
    description:
      'INBOUND_MESSAGE only: start only when the inbound text equals it (trimmed, without case or accents: "quero " starts it, "quero mais" does not); ' +
      'without it, every inbound message starts the flow',
  })
  @IsOptional()
  @Transform(trimmed)
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  keyword?: string;
}

/** The steps are checked by their handlers (registered by type) with the rest of the body. */
const stepProblems = (registry: FlowStepRegistry, dto: { steps?: unknown }) => (Array.isArray(dto.steps) ? registry.validate(dto.steps) : []);

@ApiExtraModels(SendMessageStepDto, WaitStepDto, TagStepDto)
@CheckedWith(() => FlowStepRegistry, stepProblems)
export class CreateFlowDto {
  @ApiProperty({ example: 'Boas-vindas VIP' })
  @Transform(trimmed)
  @IsString()
  @IsNotEmpty()
  @MaxLength(120)
  name: string;

  @ApiPropertyOptional({ default: true, description: 'An inactive flow starts no new runs' })
  @ValidateIf((_flow: CreateFlowDto, value: unknown) => value !== undefined)
  @IsBoolean()
  active?: boolean;

  @ApiProperty({ type: FlowTriggerDto })
  @IsDefined()
  @IsObject()
  @ValidateNested()
  @Type(() => FlowTriggerDto)
  trigger: FlowTriggerDto;

  @ApiProperty({ ...STEP_SCHEMA, description: 'Run in order; an invalid list is a 400 naming each bad step' })
  @IsDefined()
  @IsArray()
  steps: Record<string, unknown>[];
}

/** Every field may be left out; a null is validated like any value (none of them is nullable), not taken as "unchanged". */
@CheckedWith(() => FlowStepRegistry, stepProblems)
export class UpdateFlowDto extends PartialType(CreateFlowDto, { skipNullProperties: false }) {}

export class FlowTriggerResponseDto {
  @ApiProperty({ enum: TriggerType, example: 'TAG_ADDED' }) type: TriggerType;
  @ApiProperty({ example: 'vip', nullable: true, type: String }) tag: string | null;
  @ApiProperty({ example: null, nullable: true, type: String, description: 'INBOUND_MESSAGE flows: the keyword, if any' }) keyword: string | null;
}

@ApiExtraModels(SendMessageStepDto, WaitStepDto, TagStepDto)
export class FlowDto {
  @ApiProperty({ example: 'cm3x1flow0000' }) id: string;
  @ApiProperty({ example: 'Boas-vindas VIP' }) name: string;
  @ApiProperty({ example: true }) active: boolean;
  @ApiProperty({ type: FlowTriggerResponseDto }) trigger: FlowTriggerResponseDto;
  @ApiProperty(STEP_SCHEMA) steps: Record<string, unknown>[];
  @ApiProperty({ example: 3, description: 'Bumped by every edit; runs keep the version they started with' })
  version: number;
  @ApiPropertyOptional({
    example: 'https://api.zyva.app/api/webhooks/flows/cm3x1flow0000',
    description: 'WEBHOOK flows: where to POST events',
  })
  webhookUrl?: string;
  @ApiPropertyOptional({
    example: '3f1c…64 hex chars',
    description: 'WEBHOOK flows: the HMAC-SHA256 signing secret, answered only once (when created); store it',
  })
  webhookSecret?: string;
  @ApiProperty({ example: '2026-11-01T12:00:00.000Z' }) createdAt: string;
  @ApiProperty({ example: '2026-11-01T12:00:00.000Z' }) updatedAt: string;
}

export class FlowPageDto {
  @ApiProperty({ type: [FlowDto] }) data: FlowDto[];
  @ApiProperty({ example: 1 }) total: number;
  @ApiProperty({ example: 1 }) page: number;
  @ApiProperty({ example: 20 }) limit: number;
}
