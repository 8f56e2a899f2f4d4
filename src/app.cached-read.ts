import {
  GUARDS_METADATA,
  HEADERS_METADATA,
  HTTP_CODE_METADATA,
  INTERCEPTORS_METADATA,
  METHOD_METADATA,
  PATH_METADATA,
  REDIRECT_METADATA,
  RENDER_METADATA,
  SSE_METADATA,
  VERSION_METADATA,
} from '@nestjs/common/constants';
import { Injectable, Logger, OnModuleInit, RequestMethod, type Type } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR, HttpAdapterHost, ModulesContainer } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import './core/auth/guards-settled';
import { TenantCacheInterceptor, tenantCachedRoutes } from './core/cache/tenant-cache.interceptor';
import { RateLimitGuard } from './core/throttling/rate-limit.guard';
import { AuthGuard } from './modules/auth/auth.guard';

interface CachedRoute {
  controller: Type;
  handler: (...args: unknown[]) => unknown;
}

/**
 * The cached read path: a GET of a `@TenantCached` body route (the contact
 * lists, the dashboard) whose answer is a cache hit is answered in a Fastify
 * `preHandler` hook, without Nest's guard, interceptor and rxjs chain. It does
 * what that chain does, with the same code: it calls the global guards
 * (AuthGuard, then RateLimitGuard) and the route's TenantCacheInterceptor
 * (`hit`) with an execution context of the route's own controller and handler,
 * so metadata, headers and errors are theirs; on one Redis node both
 * guards take one round trip, with the session read in the limiter's script
 * (see oneRoundTrip). Whatever is not a clean hit goes
 * on to Nest as usual: the guards' outcome is kept on the request
 * (`guardsSettled`), so they answer it (or rethrow its error, through the
 * exception filter) instead of running twice, and the interceptor renders the
 * miss. The Fastify hooks before and after (request id, input checks, access
 * log, metrics) run for both alike.
 *
 * Only routes the chain would treat exactly so take it: guarded by the global
 * guards alone, no other interceptor, no header, status, redirect, render,
 * SSE or version decorator; if the application's global guards or
 * interceptors are not exactly these, the path is not installed at all.
 */
@Injectable()
export class CachedReadPath implements OnModuleInit {
  private readonly logger = new Logger(CachedReadPath.name);
  /** By route pattern (`/api/contacts`). */
  readonly routes = new Map<string, CachedRoute>();

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly modules: ModulesContainer,
    private readonly auth: AuthGuard,
    private readonly limiter: RateLimitGuard,
    private readonly interceptor: TenantCacheInterceptor,
  ) {}

  onModuleInit(): void {
    // An application context (worker role) has no HTTP server.
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (!fastify) return;
    const enhancers = this.globalEnhancers();
    if (enhancers.interceptors.length > 0 || enhancers.guards.length !== 2 || enhancers.guards[0] !== this.auth || enhancers.guards[1] !== this.limiter) {
      this.logger.warn('Cached reads go through the whole Nest chain: the global guards or interceptors are not the ones it reproduces');
      return;
    }
    for (const route of tenantCachedRoutes) {
      const path = this.plainGetRoute(route.controller, route.handler);
      if (path) this.routes.set(path, route);
    }
    fastify.addHook('preHandler', (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
      const route = request.method === 'GET' ? this.routes.get(request.routeOptions.url ?? '') : undefined;
      if (!route) return done();
      this.answer(route, request, reply).then(
        (answered) => {
          if (!answered) done();
        },
        (error: Error) => done(error),
      );
    });
  }

  /** True when the hit was answered here; false: Nest's chain runs next. */
  private async answer(route: CachedRoute, request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    const context = new ExecutionContextHost([request, reply, undefined], route.controller, route.handler);
    try {
      const passed = (await this.oneRoundTrip(context)) ?? ((await this.auth.canActivate(context)) && (await this.limiter.canActivate(context)));
      request.guardsSettled = { passed };
      if (!passed) return false;
    } catch (error) {
      request.guardsSettled = { error };
      return false;
    }
    let body: Buffer | undefined;
    try {
      body = await this.interceptor.hit(context);
    } catch {
      return false; // the interceptor, in Nest's chain, meets the same error and it is answered there
    }
    if (body === undefined) return false;
    reply.send(body);
    return true;
  }

  /**
   * Both guards in one Redis round trip, where the layout allows (one node):
   * the caller this process remembers behind the token is checked by the
   * AuthGuard as it would be, and the session's read comes with the plan hit
   * and the cache entry (RateLimitGuard.limitWithSession), confirmed by the
   * AuthGuard before anything is answered. Undefined: the guards run as usual.
   */
  private async oneRoundTrip(context: ExecutionContextHost): Promise<boolean | undefined> {
    const caller = this.auth.remembered(context);
    if (!caller) return undefined;
    return this.limiter.limitWithSession(context, caller.token, caller.auth, (raw) => this.auth.confirm(caller.token, raw));
  }

  /** The GET route a handler answers, if Nest's chain would add nothing to a hit of it beyond the global guards and the cache. */
  private plainGetRoute(controller: Type, handler: CachedRoute['handler']): string | undefined {
    const meta = (key: string, target: object) => Reflect.getMetadata(key, target) as unknown;
    if (meta(METHOD_METADATA, handler) !== RequestMethod.GET) return undefined;
    const interceptors = meta(INTERCEPTORS_METADATA, handler) as unknown[] | undefined;
    if (interceptors?.length !== 1 || interceptors[0] !== TenantCacheInterceptor) return undefined;
    for (const key of [GUARDS_METADATA, INTERCEPTORS_METADATA, VERSION_METADATA]) {
      if (meta(key, controller) !== undefined) return undefined;
    }
    for (const key of [GUARDS_METADATA, HEADERS_METADATA, HTTP_CODE_METADATA, REDIRECT_METADATA, RENDER_METADATA, SSE_METADATA, VERSION_METADATA]) {
      if (meta(key, handler) !== undefined) return undefined;
    }
    const parts = [meta(PATH_METADATA, controller), meta(PATH_METADATA, handler)];
    if (!parts.every((part) => typeof part === 'string')) return undefined;
    return `/${(parts as string[]).map((part) => part.replace(/^\/+|\/+$/g, '')).filter(Boolean).join('/')}`;
  }

  /** The instances behind the application's APP_GUARD and APP_INTERCEPTOR providers, in the order they are declared. */
  private globalEnhancers(): { guards: unknown[]; interceptors: unknown[] } {
    const found = { guards: [] as unknown[], interceptors: [] as unknown[] };
    for (const module of this.modules.values()) {
      for (const [token, wrapper] of module.providers) {
        if (typeof token !== 'string') continue;
        if (token.startsWith(`${APP_GUARD} `)) found.guards.push(wrapper.instance);
        if (token.startsWith(`${APP_INTERCEPTOR} `)) found.interceptors.push(wrapper.instance);
      }
    }
    return found;
  }
}
