import { CallHandler, ExecutionContext, Injectable, NestInterceptor, SetMetadata, UseInterceptors, applyDecorators } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import { Observable, from, lastValueFrom } from 'rxjs';
import { ownerOf } from './cache-keys';
import { CacheService } from './cache.service';

export interface TenantCacheOptions {
  /** The key (relative to `zyva:cache:`); its owner segment must be the caller's organization. */
  key: (orgId: string, request: FastifyRequest) => string;
  ttlSeconds: number;
  /**
   * `body` (default) keeps the serialized response and answers a hit with it as is;
   * `value` keeps the returned object, for keys that services read too (the organization).
   */
  store?: 'body' | 'value';
  /** Contact lists: kept in the organization's index so a write drops them without a scan. */
  indexed?: boolean;
}

const TENANT_CACHE = 'zyva:tenant-cache';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The cache entry this request will read, once worked out; `raw` when the
     * rate limiter already fetched it in its own script (a hit then costs no
     * round trip of its own; undefined: not fetched, null: not in Redis).
     */
    tenantCache?: { key: string; raw?: Buffer | null };
  }
}

/** The cache key of this request if its route is TenantCached (authenticated GET with an organization). */
export function tenantCacheKey(reflector: Reflector, context: ExecutionContext, request: FastifyRequest): string | undefined {
  if (request.tenantCache) return request.tenantCache.key;
  const orgId = request.auth?.organizationId;
  if (!orgId || request.method !== 'GET') return undefined;
  const options = reflector.get<TenantCacheOptions | undefined>(TENANT_CACHE, context.getHandler());
  if (!options) return undefined;
  const key = options.key(orgId, request);
  if (ownerOf(key) !== orgId) throw new Error(`Cache key "${key}" does not name the caller's organization`);
  request.tenantCache = { key };
  return key;
}

/**
 * Caches a GET route per organization and answers `X-Cache: HIT|MISS`.
 * Unlike the stock CacheInterceptor (keyed by URL alone) the key always names
 * the caller's organization, so one store's data cannot be served to another.
 * A hit is answered before pipes and handler run.
 */
export const TenantCached = (options: TenantCacheOptions) =>
  applyDecorators(SetMetadata(TENANT_CACHE, options), UseInterceptors(TenantCacheInterceptor));

/** The query string with its parameters sorted: every distinct valid query is its own entry, unknown ones included. */
export function canonicalQuery(request: FastifyRequest): string {
  const at = request.url.indexOf('?');
  if (at === -1) return '-';
  const params = new URLSearchParams(request.url.slice(at + 1));
  params.sort();
  const query = params.toString() || '-';
  return query.length > 200 ? `h:${createHash('sha256').update(query).digest('base64url')}` : query;
}

@Injectable()
export class TenantCacheInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly cache: CacheService,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const key = tenantCacheKey(this.reflector, context, request);
    if (key === undefined) return next.handle();
    const options = this.reflector.get<TenantCacheOptions>(TENANT_CACHE, context.getHandler());
    return from(this.answer(key, request, options, http.getResponse<FastifyReply>(), next));
  }

  private async answer(key: string, request: FastifyRequest, options: TenantCacheOptions, reply: FastifyReply, next: CallHandler): Promise<unknown> {
    const handle = () => lastValueFrom(next.handle());
    const lookup = { indexed: options.indexed, prefetched: request.tenantCache?.raw ?? undefined };
    if (options.store === 'value') {
      const { value, hit } = await this.cache.lookup(key, options.ttlSeconds, handle, lookup);
      reply.header('X-Cache', hit ? 'HIT' : 'MISS');
      return value;
    }
    const { value, hit } = await this.cache.lookupBody(key, options.ttlSeconds, async () => JSON.stringify(await handle()), lookup);
    reply.header('X-Cache', hit ? 'HIT' : 'MISS');
    reply.header('content-type', 'application/json; charset=utf-8');
    return value;
  }
}
