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
import { type AuthContext, SESSION_COOKIE } from '../../core/auth/auth.types';
import { SessionService } from './session.service';

/** Bearer token first, then the `zyva_session` cookie. */
export function sessionTokenOf(request: FastifyRequest): string | undefined {
  return bearerTokenOf(request.headers.authorization) ?? (request.cookies?.[SESSION_COOKIE] || undefined);
}

/** Where the route's metadata is read: its handler, then its controller. */
const targetsOf = (context: ExecutionContext) => [context.getHandler(), context.getClass()];

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
    const targets = targetsOf(context);
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
    const refusal = this.refusal(request, targets, auth);
    if (refusal) throw refusal;
    request.auth = auth;
    return true;
  }

  /**
   * For the cached read path (CachedReadPath): the caller this process last
   * read behind the request's session, when this guard would let that caller
   * through; undefined for a public route, no token, a token not remembered,
   * or a caller it would refuse (the guard then runs as usual). Only a guess:
   * the session may have ended since, so nothing may be answered before
   * `confirm` has the value read from Redis.
   */
  remembered(context: ExecutionContext): { token: string; auth: Readonly<AuthContext> } | undefined {
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const targets = targetsOf(context);
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return undefined;
    const token = sessionTokenOf(request);
    const auth = token ? this.sessions.remembered(token) : undefined;
    if (!token || !auth || this.refusal(request, targets, auth)) return undefined;
    return { token, auth };
  }

  /** The session behind `token` from a value just read (and slid) from Redis; null when it is gone. */
  confirm(token: string, raw: string): Promise<Readonly<AuthContext> | null> {
    return this.sessions.accept(token, raw);
  }

  /** Why a live session may not use this route: a cross-site cookie write, or a role the route does not allow. */
  private refusal(request: FastifyRequest, targets: ReturnType<typeof targetsOf>, auth: Readonly<AuthContext>): ForbiddenException | undefined {
    if (isCrossSiteCookieWrite(request)) {
      return new ForbiddenException('A change made with the session cookie must come from this site: send the token as a bearer instead.');
    }
    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES, targets);
    if (roles && !roles.includes(auth.role)) return new ForbiddenException('Your role may not use this route.');
    return undefined;
  }
}
