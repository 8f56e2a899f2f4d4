import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class ConnectionDto {
  @ApiProperty({ example: 'cm4c0nn3ct10n' }) id: string;
  @ApiProperty({ example: 'whatsapp', description: 'whatsapp, email, sms, instagram, facebook, twitter (or a kind an extension registers)' })
  kind: string;
  @ApiProperty({ enum: ['CONNECTED', 'INVALID'], description: 'INVALID once the provider refused the credentials (a live check, or a send answered with an authentication error)' })
  status: 'CONNECTED' | 'INVALID';
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    example: { phoneNumberId: '106540352242922', businessAccountId: '102290129340398', displayPhoneNumber: '+55 11 98765-4321', verifiedName: 'Loja Bela' },
    description: 'Public fields of the account (never a secret)',
  })
  account: Record<string, unknown>;
  @ApiProperty({ example: '…a1B2', description: 'The last 4 characters of the main secret (secrets are write-only)' }) secretHint: string;
  @ApiPropertyOptional({
    example: 'https://api.zyva.app/api/webhooks/resend/cm4c0nn3ct10n',
    description: "Where to point the provider's webhook for this connection (email and sms); stable across PUTs",
  })
  webhookUrl?: string;
  @ApiProperty({ nullable: true, type: Number, example: 80, description: 'Sends per second across every worker; null where the kind is not paced (facebook, twitter)' })
  maxPerSecond: number | null;
  @ApiProperty({ format: 'date-time', example: '2026-12-01T12:00:00.000Z' }) connectedAt: string;
  @ApiProperty({ format: 'date-time', example: '2026-12-01T12:00:00.000Z' }) checkedAt: string;
  @ApiProperty({ nullable: true, type: String, example: null, description: 'Why the connection is INVALID' }) error: string | null;
}

export class ConnectionListDto {
  @ApiProperty({ type: [ConnectionDto] }) data: ConnectionDto[];
}
