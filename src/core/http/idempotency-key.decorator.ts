import { BadRequestException, ExecutionContext, createParamDecorator } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';

/**
 * The optional `Idempotency-Key` header of the routes that honour one (messages, flow runs, flow webhooks):
 * printable ASCII without spaces, at most 255 characters. An empty header is no key; a bad one is a 400
 * listing the problem in `message`, like every validation 400.
 */
export const IdempotencyKey = createParamDecorator((_: unknown, ctx: ExecutionContext): string | undefined => {
  const header = ctx.switchToHttp().getRequest<FastifyRequest>().headers['idempotency-key'];
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value === '') return undefined;
  if (value.length > 255 || !/^[\x21-\x7e]+$/.test(value)) {
    throw new BadRequestException(['Idempotency-Key must be 1 to 255 printable ASCII characters without spaces']);
  }
  return value;
});
