import { ExecutionContext, createParamDecorator } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

/**
 * One request header's value (the first, when repeated), or undefined.
 * Unlike `@Headers(name)`, Swagger does not document it by itself (as a
 * required header, in lower case): the route says how with `@ApiHeader`, once.
 */
export const HeaderValue = createParamDecorator((name: string, ctx: ExecutionContext): string | undefined => {
  const value = ctx.switchToHttp().getRequest<FastifyRequest>().headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
});
