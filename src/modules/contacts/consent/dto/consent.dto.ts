import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';
import { Channel, ConsentSource, ConsentStatus } from '../../../../generated/prisma/enums';
import { CHANNELS, CONSENT_STATES, type ConsentState, EVIDENCE_MAX } from '../consent-state';

const SOURCES = Object.values(ConsentSource);
const RECORDED = Object.values(ConsentStatus);

export class SetConsentDto {
  @ApiProperty({ enum: CHANNELS, example: 'EMAIL' })
  @IsIn(CHANNELS)
  channel: Channel;

  @ApiProperty({ enum: RECORDED, example: 'OPTED_OUT' })
  @IsIn(RECORDED)
  status: ConsentStatus;

  @ApiPropertyOptional({
    example: 'Pediu para sair pelo telefone em 2026-11-20, atendente Júlia',
    maxLength: EVIDENCE_MAX,
    nullable: true,
    description: 'What proves the change (a signed form, a conversation); kept in the history as given',
  })
  @IsOptional()
  @Transform(({ value }) => (typeof value === 'string' ? value.trim() : value))
  @IsString()
  @IsNotEmpty()
  @MaxLength(EVIDENCE_MAX)
  evidence?: string | null;
}

const state = (example: ConsentState) => ApiProperty({ enum: CONSENT_STATES, example });

/** One contact's consent per channel; UNKNOWN until something is recorded. */
export class ConsentMapDto {
  @state('OPTED_IN') WHATSAPP: ConsentState;
  @state('OPTED_OUT') EMAIL: ConsentState;
  @state('UNKNOWN') SMS: ConsentState;
  @state('UNKNOWN') INSTAGRAM_DM: ConsentState;
}

export class ConsentEventDto {
  @ApiProperty({ enum: CHANNELS, example: 'EMAIL' }) channel: Channel;
  @ApiProperty({ enum: RECORDED, example: 'OPTED_OUT' }) status: ConsentStatus;
  @ApiProperty({ enum: SOURCES, example: 'UNSUBSCRIBE_LINK' }) source: ConsentSource;
  @ApiProperty({ type: String, nullable: true, example: null, description: 'What proves the change, when known' }) evidence: string | null;
  @ApiProperty({ type: String, nullable: true, example: null, description: 'The user who made an API change; null for other sources' })
  actor: string | null;
  @ApiProperty({ example: '2026-11-20T12:00:00.000Z' }) at: string;
}
