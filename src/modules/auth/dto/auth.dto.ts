import { ApiProperty } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsEmail, IsNotEmpty, IsString, MaxLength, MinLength } from 'class-validator';
import { trimmed } from '../../../core/http/validation';
import { OrganizationDto } from '../../organizations/dto/organization.dto';

const normaliseEmail = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim().toLowerCase() : value);

export class RegisterDto {
  @ApiProperty({ example: 'ana@lojadaana.com.br' })
  @Transform(normaliseEmail)
  @IsEmail()
  @MaxLength(254)
  email: string;

  @ApiProperty({ example: 'correct horse battery', minLength: 8 })
  @IsString()
  @MinLength(8)
  @MaxLength(200)
  password: string;

  @ApiProperty({ example: 'Ana Souza' })
  @Transform(trimmed)
  @IsString()
  @IsNotEmpty()
  @MaxLength(120)
  name: string;

  @ApiProperty({ example: 'Loja da Ana' })
  @Transform(trimmed)
  @IsString()
  @IsNotEmpty()
  @MaxLength(120)
  organizationName: string;
}

export class LoginDto {
  @ApiProperty({ example: 'ana@lojadaana.com.br' })
  @Transform(normaliseEmail)
  @IsEmail()
  email: string;

  @ApiProperty({ example: 'correct horse battery' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  password: string;
}

export class TokenDto {
  @ApiProperty({ description: 'The single-use token from the email link' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  token: string;
}

export class ForgotPasswordDto {
  @ApiProperty({ example: 'ana@lojadaana.com.br' })
  @Transform(normaliseEmail)
  @IsEmail()
  email: string;
}

export class ResetPasswordDto extends TokenDto {
  @ApiProperty({ minLength: 8 })
  @IsString()
  @MinLength(8)
  @MaxLength(200)
  password: string;
}

export class UserDto {
  @ApiProperty({ example: 'cm3x1abc0000' }) id: string;
  @ApiProperty({ example: 'ana@lojadaana.com.br' }) email: string;
  @ApiProperty({ example: 'Ana Souza' }) name: string;
  @ApiProperty({ enum: ['ADMIN', 'LOJA'] }) role: 'ADMIN' | 'LOJA';
  @ApiProperty({ nullable: true, type: String, example: 'cm3x1org0000' }) organizationId: string | null;
}

export class MeDto extends UserDto {
  @ApiProperty({ nullable: true, enum: ['FREE', 'PRO', 'BUSINESS', 'ENTERPRISE'] }) plan: string | null;
  @ApiProperty() emailVerified: boolean;
}

export class LoginResponseDto {
  @ApiProperty({ description: 'Opaque session token: send as `Authorization: Bearer <token>`' }) token: string;
  @ApiProperty({ type: UserDto }) user: UserDto;
}

export class RegisterResponseDto extends LoginResponseDto {
  @ApiProperty({ type: OrganizationDto }) organization: OrganizationDto;
}
