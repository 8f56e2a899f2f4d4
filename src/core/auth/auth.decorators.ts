import { ExecutionContext, ForbiddenException, SetMetadata, createParamDecorator } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { Role } from '../../generated/prisma/enums';
import type { AuthContext } from './auth.types';
import { TenantScope } from './tenant-scope';

export const IS_PUBLIC = 'zyva:public';
export const ROLES = 'zyva:roles';

/** The route needs no session (login, register, public webhooks, health). */
export const Public = () => SetMetadata(IS_PUBLIC, true);

/** Only these roles may call the route; others get `403`. */
export const Roles = (...roles: Role[]) => SetMetadata(ROLES, roles);

/** The authenticated caller. */
export const CurrentAuth = createParamDecorator((_: unknown, ctx: ExecutionContext): AuthContext => {
  const auth = ctx.switchToHttp().getRequest<FastifyRequest>().auth;
  if (!auth) throw new Error('CurrentAuth used on a public route');
  return auth;
});

/**
 * The caller's organization as a scope every tenant query goes through.
 * A caller without an organization (a platform ADMIN) gets `403` on tenant routes.
 */
export const Tenant = createParamDecorator((_: unknown, ctx: ExecutionContext): TenantScope => {
  const auth = ctx.switchToHttp().getRequest<FastifyRequest>().auth;
  if (!auth?.organizationId) {
    throw new ForbiddenException('This route acts on an organization; your account has none.');
  }
  return new TenantScope(auth.organizationId, auth.userId);
});
