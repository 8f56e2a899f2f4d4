import { CallHandler, ExecutionContext, Injectable, NestInterceptor, SetMetadata, type Type, UseInterceptors, applyDecorators } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import { Observable, from, lastValueFrom } from 'rxjs';
import { ownerOf } from './cache-keys';
import { type CachedBody, CacheService, type LookupOptions } from './cache.service';

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
     * round trip of its own; undefined: not fetched, null: not in Redis), with
     * its `version`; `unchanged` when the script found that Redis still holds
     * the version of the body this process already has (nothing fetched);
     * `fence` when it found the entry absent and began its fill (see
     * `LookupOptions.fence`).
     */
    tenantCache?: { key: string; raw?: Buffer | null; version?: string | null; unchanged?: CachedBody; fence?: string | null };
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

/** Every handler decorated with TenantCached (its controller and method), for the cached read path (CachedReadPath). */
export const tenantCachedRoutes: { controller: Type; handler: (...args: unknown[]) => unknown }[] = [];

/**
 * Caches a GET route per organization and answers `X-Cache: HIT|MISS`.
 * Unlike the stock CacheInterceptor (keyed by URL alone) the key always names
 * the caller's organization, so one store's data cannot be served to another.
 * A hit is answered before pipes and handler run.
 */
export const TenantCached = (options: TenantCacheOptions) =>
  applyDecorators(SetMetadata(TENANT_CACHE, options), UseInterceptors(TenantCacheInterceptor), (target: object, _key: string | symbol, descriptor?: PropertyDescriptor) => {
    if (options.store !== 'value' && typeof descriptor?.value === 'function') {
      tenantCachedRoutes.push({ controller: target.constructor as Type, handler: descriptor.value as (...args: unknown[]) => unknown });
    }
  });

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

  /**
   * What `intercept` answers on a hit of a serialized-body route, with the
   * same headers set, for a caller that answers it itself (the cached read
   * path, see CachedReadPath); undefined when the route must run (a miss, a
   * value route, no cache key), which `intercept` then does as usual. An entry
   * the rate limiter found absent is not read again here.
   */
  async hit(context: ExecutionContext): Promise<Buffer | undefined> {
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const key = tenantCacheKey(this.reflector, context, request);
    if (key === undefined || request.tenantCache?.raw === null) return undefined;
    const options = this.reflector.get<TenantCacheOptions>(TENANT_CACHE, context.getHandler());
    if (options.store === 'value') return undefined;
    const body = await this.cache.cachedBody(key, lookupOf(request, options));
    if (body) markBody(http.getResponse<FastifyReply>(), true);
    return body;
  }

  private async answer(key: string, request: FastifyRequest, options: TenantCacheOptions, reply: FastifyReply, next: CallHandler): Promise<unknown> {
    const handle = () => lastValueFrom(next.handle());
    const lookup = lookupOf(request, options);
    if (options.store === 'value') {
      const { value, hit } = await this.cache.lookup(key, options.ttlSeconds, handle, lookup);
      reply.header('X-Cache', hit ? 'HIT' : 'MISS');
      return value;
    }
    const { value, hit } = await this.cache.lookupBody(key, options.ttlSeconds, async () => JSON.stringify(await handle()), lookup);
    markBody(reply, hit);
    return value;
  }
}

/** What the rate limiter's script already found for this request's entry. */
function lookupOf(request: FastifyRequest, options: TenantCacheOptions): LookupOptions {
  const found = request.tenantCache;
  return { indexed: options.indexed, prefetched: found?.raw ?? undefined, version: found?.version, unchanged: found?.unchanged, fence: found?.fence };
}

/** The headers of a serialized body answered by the cache or by the route. */
function markBody(reply: FastifyReply, hit: boolean): void {
  reply.header('X-Cache', hit ? 'HIT' : 'MISS');
  reply.header('content-type', 'application/json; charset=utf-8');
}
