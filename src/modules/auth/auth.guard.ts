import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Injectable,
  Logger,
  ServiceUnavailableException,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import type { Role } from '../../generated/prisma/enums';
import { IS_PUBLIC, ROLES } from '../../core/auth/auth.decorators';
import { bearerTokenOf } from '../../core/auth/bearer';
import { isCrossSiteCookieWrite } from '../../core/auth/cross-site';
import { settledOutcome } from '../../core/auth/guards-settled';
import { SESSION_COOKIE } from '../../core/auth/auth.types';
import { SessionService } from './session.service';

/** Bearer token first, then the `zyva_session` cookie. */
export function sessionTokenOf(request: FastifyRequest): string | undefined {
  return bearerTokenOf(request.headers.authorization) ?? (request.cookies?.[SESSION_COOKIE] || undefined);
}

/**
 * Global guard: every route needs a live session unless marked @Public(); @Roles() narrows it.
 * A cookie-authenticated change coming from another site is refused (see isCrossSiteCookieWrite).
 * When both global guards already ran for the request (the cached read path),
 * it answers their outcome for both instead.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly logger = new Logger(AuthGuard.name);

  constructor(
    private readonly reflector: Reflector,
    private readonly sessions: SessionService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const settled = settledOutcome(request);
    if (settled !== undefined) return settled;
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;

    const token = sessionTokenOf(request);
    if (!token) throw new UnauthorizedException('Authentication required.');

    let auth;
    try {
      auth = await this.sessions.resolve(token);
    } catch (error) {
      this.logger.error(`Session lookup failed: ${(error as Error).message}`);
      throw new ServiceUnavailableException('Sessions are temporarily unavailable; try again shortly.');
    }
    if (!auth) throw new UnauthorizedException('Your session has expired or was ended; log in again.');
    if (isCrossSiteCookieWrite(request)) {
      throw new ForbiddenException('A change made with the session cookie must come from this site: send the token as a bearer instead.');
    }
    request.auth = auth;

    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES, targets);
    if (roles && !roles.includes(auth.role)) {
      throw new ForbiddenException('Your role may not use this route.');
    }
    return true;
  }
}
