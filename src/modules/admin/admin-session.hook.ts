import { HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply, onRequestAsyncHookHandler } from 'fastify';
import { isCrossSiteCookieWrite } from '../../core/auth/cross-site';
import { sessionTokenOf } from '../auth/auth.guard';
import type { SessionService } from '../auth/session.service';

function deny(reply: FastifyReply, status: HttpStatus, error: string, message: string): FastifyReply {
  return reply.code(status).header('Cache-Control', 'no-store').send({ statusCode: status, error, message });
}

/**
 * Fastify onRequest hook admitting only ADMIN sessions (cookie or bearer).
 * Nest guards never run for routes registered straight on Fastify (the Bull
 * Board), so this hook is registered on the board's own encapsulated scope:
 * every route inside it, whatever URL spelling matched it, passes through here.
 */
export function adminSessionHook(sessions: SessionService, logger: Logger): onRequestAsyncHookHandler {
  return async (request, reply) => {
    const token = sessionTokenOf(request);
    if (!token) return deny(reply, HttpStatus.UNAUTHORIZED, 'Unauthorized', 'Authentication required: log in as an ADMIN.');
    let auth;
    try {
      auth = await sessions.resolve(token);
    } catch (error) {
      logger.error(`Session lookup failed: ${(error as Error).message}`);
      return deny(reply, HttpStatus.SERVICE_UNAVAILABLE, 'Service Unavailable', 'Sessions are temporarily unavailable; try again shortly.');
    }
    if (!auth) return deny(reply, HttpStatus.UNAUTHORIZED, 'Unauthorized', 'Your session has expired or was ended; log in again.');
    if (auth.role !== 'ADMIN') return deny(reply, HttpStatus.FORBIDDEN, 'Forbidden', 'Only an ADMIN may open the queue dashboard.');
    if (isCrossSiteCookieWrite(request)) return deny(reply, HttpStatus.FORBIDDEN, 'Forbidden', 'Cross-origin changes to the queues are refused.');
    request.auth = auth;
  };
}
