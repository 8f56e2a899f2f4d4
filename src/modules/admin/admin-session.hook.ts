import { HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { sessionTokenOf } from '../auth/auth.guard';
import type { SessionService } from '../auth/session.service';

const SAFE_METHODS = new Set(['GET', 'HEAD']);

function deny(reply: FastifyReply, status: HttpStatus, error: string, message: string): FastifyReply {
  return reply.code(status).header('Cache-Control', 'no-store').send({ statusCode: status, error, message });
}

/**
 * A cookie-authenticated write must come from the board's own pages. SameSite=Lax
 * already keeps the cookie off cross-site POSTs; this also refuses same-site
 * origins (another subdomain). Browsers say where a request comes from in
 * Sec-Fetch-Site, which survives proxies that rewrite Host; older ones only
 * send Origin, compared with the host the request was made to.
 */
function isCrossOriginWrite(request: FastifyRequest): boolean {
  if (SAFE_METHODS.has(request.method) || request.headers.authorization) return false;
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined) return site !== 'same-origin';
  const origin = request.headers.origin;
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== request.host;
  } catch {
    return true; // an Origin header that is not a URL is not our page
  }
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
    if (isCrossOriginWrite(request)) return deny(reply, HttpStatus.FORBIDDEN, 'Forbidden', 'Cross-origin changes to the queues are refused.');
    request.auth = auth;
  };
}
