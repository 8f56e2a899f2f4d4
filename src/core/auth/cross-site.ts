import type { FastifyRequest } from 'fastify';
import { bearerTokenOf } from './bearer';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A state-changing request that a browser says comes from another site (or
 * another origin of ours, such as a sibling subdomain). The session cookie
 * authenticates such a request by itself, so it is refused; bearer requests
 * carry their credential explicitly and are not affected, nor are requests
 * without these headers (API clients, curl). Browsers say where a request
 * comes from in Sec-Fetch-Site, which survives proxies that rewrite Host;
 * older ones only send Origin, compared with the host the request was made to.
 */
export function isCrossSiteCookieWrite(request: FastifyRequest): boolean {
  if (SAFE_METHODS.has(request.method) || bearerTokenOf(request.headers.authorization)) return false;
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined) return site !== 'same-origin' && site !== 'none';
  const origin = request.headers.origin;
  if (origin === undefined) return false;
  try {
    return new URL(origin).host !== request.host;
  } catch {
    return true; // an Origin header that is not a URL is not our page
  }
}
