import { Body, Controller, Get, HttpCode, Post, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { AppConfig } from '../../core/config/app-config';
import { ApiAuthenticated, ApiPublic, ApiStandardErrors, limited } from '../../core/http/api-docs';
import { ErrorResponseDto } from '../../core/http/pagination.dto';
import { CurrentAuth, Public } from '../../core/auth/auth.decorators';
import { AuthService } from './auth.service';
import { AuthContext, SESSION_COOKIE, SESSION_TTL_SECONDS } from '../../core/auth/auth.types';
import {
  ForgotPasswordDto,
  LoginDto,
  LoginResponseDto,
  MeDto,
  RegisterDto,
  RegisterResponseDto,
  ResetPasswordDto,
  TokenDto,
} from './dto/auth.dto';

@ApiTags('auth')
@Controller('api/auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly config: AppConfig,
  ) {}

  @Public()
  @ApiPublic()
  @ApiStandardErrors(400, 429)
  @Post('register')
  @ApiOperation({ summary: 'Create a FREE organization and its first user; queues a verification email' })
  @ApiCreatedResponse(limited({ type: RegisterResponseDto }))
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'Email already registered' })
  async register(@Body() dto: RegisterDto, @Res({ passthrough: true }) reply: FastifyReply) {
    const result = await this.auth.register(dto);
    this.setSessionCookie(reply, result.token);
    return result;
  }

  @Public()
  @ApiPublic()
  @ApiStandardErrors(400, 429)
  @Post('login')
  @HttpCode(200)
  @ApiOperation({ summary: 'Log in: answers a bearer token and sets the zyva_session cookie' })
  @ApiOkResponse(limited({ type: LoginResponseDto }))
  @ApiUnauthorizedResponse({ type: ErrorResponseDto, description: 'Wrong email or password (same answer for both)' })
  async login(@Body() dto: LoginDto, @Res({ passthrough: true }) reply: FastifyReply) {
    const result = await this.auth.login(dto);
    this.setSessionCookie(reply, result.token);
    return result;
  }

  @Post('logout')
  @HttpCode(204)
  @ApiAuthenticated()
  @ApiOperation({ summary: 'End the current session at once' })
  @ApiNoContentResponse(limited({}))
  async logout(@CurrentAuth() auth: AuthContext, @Res({ passthrough: true }) reply: FastifyReply) {
    await this.auth.logout(auth.token, auth.userId);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
  }

  @Get('me')
  @ApiAuthenticated()
  @ApiOperation({ summary: 'The current user' })
  @ApiOkResponse(limited({ type: MeDto }))
  me(@CurrentAuth() auth: AuthContext) {
    return this.auth.me(auth.userId);
  }

  @Public()
  @ApiPublic()
  @ApiStandardErrors(400, 429)
  @Post('verify-email')
  @HttpCode(204)
  @ApiOperation({ summary: 'Confirm an email address with the single-use token from the email' })
  @ApiNoContentResponse(limited({}))
  @ApiStandardErrors([400, 'Invalid input, or an unknown, used or expired token'])
  verifyEmail(@Body() dto: TokenDto) {
    return this.auth.verifyEmail(dto.token);
  }

  @Public()
  @ApiPublic()
  @ApiStandardErrors(400, 429)
  @Post('password/forgot')
  @HttpCode(202)
  @ApiOperation({ summary: 'Queue a password reset email (always 202: no account enumeration)' })
  @ApiAcceptedResponse(limited({}))
  forgot(@Body() dto: ForgotPasswordDto) {
    return this.auth.forgotPassword(dto.email);
  }

  @Public()
  @ApiPublic()
  @ApiStandardErrors(400, 429)
  @Post('password/reset')
  @HttpCode(204)
  @ApiOperation({ summary: "Set a new password with a single-use token; ends every one of the user's sessions" })
  @ApiNoContentResponse(limited({}))
  @ApiStandardErrors([400, 'Invalid input, or an unknown, used or expired token'])
  reset(@Body() dto: ResetPasswordDto) {
    return this.auth.resetPassword(dto.token, dto.password);
  }

  private setSessionCookie(reply: FastifyReply, token: string): void {
    reply.setCookie(SESSION_COOKIE, token, {
      httpOnly: true,
      sameSite: 'lax',
      secure: this.config.NODE_ENV === 'production',
      path: '/',
      maxAge: SESSION_TTL_SECONDS,
    });
  }
}
