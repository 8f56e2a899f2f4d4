import { ApiProperty } from '@nestjs/swagger';

export class OrganizationDto {
  @ApiProperty({ example: 'cm3x1org0000' }) id: string;
  @ApiProperty({ example: 'Loja da Ana' }) name: string;
  @ApiProperty({ enum: ['FREE', 'PRO', 'BUSINESS', 'ENTERPRISE'], example: 'FREE' }) plan: string;
  @ApiProperty({ example: 100 }) maxContacts: number;
  @ApiProperty({ example: 12 }) currentContacts: number;
  @ApiProperty({ example: 300 }) maxMessagesPerMonth: number;
  @ApiProperty({ example: 41 }) messagesThisMonth: number;
}

export class AdminOrganizationDto extends OrganizationDto {
  @ApiProperty({ example: '2026-11-01T12:00:00.000Z' }) createdAt: string;
}

export class OrganizationPageDto {
  @ApiProperty({ type: [AdminOrganizationDto] }) data: AdminOrganizationDto[];
  @ApiProperty({ example: 1 }) total: number;
  @ApiProperty({ example: 1 }) page: number;
  @ApiProperty({ example: 20 }) limit: number;
}
