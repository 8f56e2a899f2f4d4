import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiCookieAuth, ApiExtension, ApiProperty, ApiResponse, type ApiResponseOptions, type OpenAPIObject } from '@nestjs/swagger';
import { ErrorResponseDto } from './pagination.dto';

/** Names of the security schemes of the document (app.setup.ts declares them). */
export const BEARER_SCHEME = 'bearer';
export const COOKIE_SCHEME = 'cookie';

type HeaderObject = NonNullable<ApiResponseOptions['headers']>;

/** Sent by every /api answer that passed a limiter (plan per user, or per client IP on public routes). */
export const RATE_LIMIT_HEADERS: HeaderObject = {
  'X-RateLimit-Limit': { description: 'Requests allowed in the current window', schema: { type: 'integer', example: 100 } },
  'X-RateLimit-Remaining': { description: 'Requests left in the current window', schema: { type: 'integer', example: 97 } },
  'X-RateLimit-Reset': { description: 'When the window resets (epoch seconds)', schema: { type: 'integer', example: 1764590460 } },
};

/** Sent by the cached GET routes. */
export const CACHE_HEADERS: HeaderObject = {
  'X-Cache': { description: 'Whether the answer came from the cache', schema: { type: 'string', enum: ['HIT', 'MISS'] } },
};

export class TooManyRequestsDto extends ErrorResponseDto {
  @ApiProperty({ example: 429 }) declare statusCode: number;
  @ApiProperty({ enum: ['Plan Limit Exceeded', 'Too Many Requests'], example: 'Too Many Requests' }) declare error: string;
  @ApiProperty({ example: 42, description: 'Seconds until a request may succeed (as Retry-After)' }) retryAfter: number;
}

const ERRORS: Record<number, ApiResponseOptions> = {
  400: { description: 'Invalid input: every offending field is named in `message` (an array)' },
  401: { description: 'No session, or the session expired or was ended' },
  402: { description: 'Plan Quota Exceeded: a plan quota or cap is reached; nothing was consumed' },
  403: { description: 'Not allowed: the role may not use this route, or a cookie-authenticated change came from another site' },
  404: { description: 'Not found in your organization' },
  409: { description: 'Conflicts with the current state' },
  422: { description: 'Understood but refused' },
  502: { description: 'A provider could not be reached or failed; nothing was changed' },
  429: {
    description: 'Over a rate limit: wait `Retry-After` seconds',
    type: TooManyRequestsDto,
    headers: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer', example: 42 } }, ...RATE_LIMIT_HEADERS },
  },
  503: {
    description: 'A dependency (Postgres, Redis) is unavailable right now',
    headers: { 'Retry-After': { description: 'Seconds to wait', schema: { type: 'integer', example: 5 } } },
  },
};

/**
 * The error answers a route really gives, in the one error shape
 * (`{ statusCode, error, message }`). Pass a status alone for the standard
 * description, or `[status, 'what it means here']`.
 * `@ApiStandardErrors(400, [404, 'No such contact'], 409)`
 */
export function ApiStandardErrors(...statuses: (number | [number, string])[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...statuses.map((entry) => {
      const [status, description] = Array.isArray(entry) ? entry : [entry, undefined];
      const base = ERRORS[status] ?? { description: 'Error' };
      return ApiResponse({ type: ErrorResponseDto, ...base, status, ...(description ? { description } : {}) });
    }),
  );
}

/**
 * A controller (or route) that needs a session: bearer token or the session
 * cookie, 401 without one, the plan's rate limit (429) for store users, and
 * 503 while sessions (Redis) or the database are away.
 */
export function ApiAuthenticated(): ClassDecorator & MethodDecorator {
  return applyDecorators(ApiBearerAuth(BEARER_SCHEME), ApiCookieAuth(COOKIE_SCHEME), ApiStandardErrors(401, 429, [503, 'Sessions (Redis) or the database are unavailable right now']));
}

const PUBLIC_MARK = 'x-zyva-public';

/**
 * A route that needs no session: `security: []`, so generated clients send
 * no credentials. (@nestjs/swagger drops an empty security list, so the
 * route is marked and publicSecurity() writes the empty list.)
 */
export function ApiPublic(): ClassDecorator & MethodDecorator {
  return ApiExtension(PUBLIC_MARK, true);
}

/** Turns the marks of ApiPublic into `security: []`; run on the document before serving it. */
export function publicSecurity(document: OpenAPIObject): OpenAPIObject {
  for (const path of Object.values(document.paths)) {
    for (const operation of Object.values(path) as Record<string, unknown>[]) {
      if (typeof operation !== 'object' || operation === null || !(PUBLIC_MARK in operation)) continue;
      delete operation[PUBLIC_MARK];
      operation.security = [];
    }
  }
  return document;
}

/** The provider webhooks read their bodies themselves (and check a signature over them): they answer no 415. */
const PROVIDER_WEBHOOKS = /^\/api\/webhooks\/(whatsapp|resend|twilio)\b/;

/**
 * Every operation taking a JSON body answers a form or plain-text body 415
 * (see input-guards.ts); said once here rather than on each route.
 */
export function jsonBodies(document: OpenAPIObject): OpenAPIObject {
  for (const [route, path] of Object.entries(document.paths)) {
    if (PROVIDER_WEBHOOKS.test(route)) continue;
    for (const operation of Object.values(path) as { requestBody?: { content?: Record<string, unknown> }; responses?: Record<string, unknown> }[]) {
      const types = Object.keys(operation?.requestBody?.content ?? {});
      if (types.length !== 1 || types[0] !== 'application/json' || !operation.responses || '415' in operation.responses) continue;
      operation.responses['415'] = {
        description: 'The body is not JSON (a form, plain text, another type): send it with Content-Type: application/json',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponseDto' } } },
      };
    }
  }
  return document;
}

/** Adds the rate-limit headers (and the cache header, for cached routes) to a success answer. */
export function limited(options: ApiResponseOptions, extra: { cached?: boolean } = {}): ApiResponseOptions {
  return { ...options, headers: { ...RATE_LIMIT_HEADERS, ...(extra.cached ? CACHE_HEADERS : {}), ...(options.headers ?? {}) } } as ApiResponseOptions;
}
