import { ExecutionContext, HttpException, HttpStatus, Inject, Injectable, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { InjectThrottlerOptions, InjectThrottlerStorage, ThrottlerGuard, type ThrottlerModuleOptions } from '@nestjs/throttler';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import type { Plan } from '../../generated/prisma/enums';
import { CACHE_PREFIX, cacheBookkeeping, cacheKeys } from '../cache/cache-keys';
import { type CachedBody, CacheService } from '../cache/cache.service';
import { tenantCacheKey } from '../cache/tenant-cache.interceptor';
import { PLAN_LIMITS, PLAN_LOOKUP, type PlanLookup } from '../plans/plans';
import { isDatabaseUnavailable } from '../prisma/prisma-errors';
import { KEY_PREFIX, keys, orgTag } from '../redis/redis.constants';
import { rateLimitSubject } from './client-ip';
import { LimiterStatus } from './limiter-status';
import '../auth/guards-settled';
import { type PlanHit, type PlanHitKeys, RateLimitStorage, type WindowHit } from './rate-limit.storage';
import { type AuthContext, SESSION_TTL_SECONDS } from '../auth/auth.types';

export const PLAN_THROTTLER = 'plan';
export const AUTH_THROTTLER = 'auth';
export const WEBHOOK_THROTTLER = 'webhook';

export const rateLimitKeys = {
  /** Tagged with the organization: the limiter's script reads the organization's plan and cache entries in the same slot. */
  plan: (orgId: string, userId: string) => `${KEY_PREFIX}ratelimit:plan:${orgTag(orgId)}:${userId}`,
  auth: (route: string, subject: string) => `${KEY_PREFIX}ratelimit:auth:${route}:${subject}`,
  webhook: (route: string, subject: string) => `${KEY_PREFIX}ratelimit:webhook:${route}:${subject}`,
  /** The email is hashed: limiter keys never hold an address. */
  forgotAccount: (email: string) => `${KEY_PREFIX}ratelimit:forgot:${createHash('sha256').update(email).digest('hex').slice(0, 32)}`,
};

interface WindowLimit {
  key: string;
  limit: number;
  windowMs: number;
  error: string;
  message: string;
}

interface Window {
  limit: number;
  used: number;
  msToReset: number;
}

/**
 * Global guard, after the AuthGuard (which has set `request.auth`):
 * - a LOJA user's requests to `/api` count against their plan's requests per
 *   minute, per user, across every API process (the counter is in Redis); the
 *   plan is read in the same round trip from the organization's plan key (or
 *   its cached organization), so an admin's plan change (which drops both)
 *   applies on the next request, and a cached read needs no Postgres. Only when
 *   neither Redis nor Postgres can tell the plan does the request pass unlimited;
 * - public `/api/auth/*` routes are limited per client IP and route
 *   (`AUTH_RATE_LIMIT` per minute), against password guessing, and a reset
 *   email per account as well (FORGOT_PASSWORD_PER_ACCOUNT);
 * - the public webhooks (`/api/webhooks/*`) per client IP and route
 *   (`WEBHOOK_RATE_LIMIT` per minute, high: providers send from few addresses);
 * - ADMIN users are not plan-limited.
 * Per-IP limits count IPv6 clients by /64 (see rateLimitSubject); every
 * per-IP or per-account window is one Redis key.
 * For a cached route the same script also fetches the entry the cache
 * interceptor will read (see TenantCacheInterceptor), saving its round trip,
 * or, when this process already holds that entry's bytes and Redis still
 * holds their version, says so instead of sending them again.
 * Redis unreachable: requests pass (fail open), said once in the log and in `/health`.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  private readonly planLogger = new Logger('RateLimiting');
  /** Plans could not be looked up (Postgres away): logged when it starts and when it ends. */
  private plansUnknown = false;

  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() private readonly storage: RateLimitStorage,
    reflector: Reflector,
    @Inject(PLAN_LOOKUP) private readonly organizations: PlanLookup,
    private readonly status: LimiterStatus,
    private readonly cache: CacheService,
  ) {
    super(options, storage, reflector);
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    // Already counted before Nest's chain (the cached read path): the AuthGuard, first, answered for both.
    if (request.guardsSettled) return true;
    // The route pattern, not the raw URL: Fastify routes `/%61pi/…` to `/api/…`, so a URL check could be dodged.
    const route = request.routeOptions.url ?? '';
    if (!route.startsWith('/api/')) return true;
    const reply = http.getResponse<FastifyReply>();
    const auth = request.auth;
    if (auth) {
      if (auth.role === 'ADMIN' || !auth.organizationId) return true;
      return this.limitByPlan(auth.userId, auth.organizationId, reply, request, tenantCacheKey(this.reflector, context, request));
    }
    // Without request.auth the AuthGuard let it through, so it is a public route.
    if (route.startsWith('/api/auth/')) return this.limitAuth(route, request, reply);
    if (route.startsWith('/api/webhooks/')) {
      const limit = this.limitOf(WEBHOOK_THROTTLER);
      return this.limitWindow(reply, {
        key: rateLimitKeys.webhook(route, rateLimitSubject(request.ip)),
        limit,
        windowMs: this.ttlOf(WEBHOOK_THROTTLER),
        error: 'Too Many Requests',
        message: `Too many webhook calls from your address: ${limit} per minute are allowed on this route.`,
      });
    }
    return true;
  }

  private async limitByPlan(userId: string, orgId: string, reply: FastifyReply, request: FastifyRequest, cacheKey?: string): Promise<boolean> {
    const { keys: planKeys, known } = this.planKeys(userId, orgId, cacheKey);
    let hit: PlanHit;
    try {
      hit = await this.storage.planHit(planKeys, this.ttlOf(PLAN_THROTTLER));
      this.status.recovered();
    } catch (error) {
      this.status.failed(error);
      return true;
    }
    return this.answerPlanHit(hit, orgId, reply, request, cacheKey, known);
  }

  /**
   * The cached read path's one round trip on one Redis node (see
   * CachedReadPath): the session's GETEX and this guard's plan hit (with the
   * route's cache entry) in one script, for `guess`, the caller the AuthGuard
   * remembers behind `token`. The value read is handed to `confirm` (the
   * AuthGuard's) before the plan is answered, so an ended session is never
   * let through. Undefined, with the request as it was, when it cannot be
   * done so: a cluster (the session key is in another slot), an admin, a
   * route not cached, Redis failing, or the session gone (nothing counted)
   * or not the one guessed (which never changes, so it is only the
   * impossible case; it was counted, and is counted again). The guards then
   * run as usual and answer it.
   */
  async limitWithSession(
    context: ExecutionContext,
    token: string,
    guess: Readonly<AuthContext>,
    confirm: (raw: string) => Promise<Readonly<AuthContext> | null>,
  ): Promise<boolean | undefined> {
    const orgId = guess.organizationId;
    if (!this.storage.readsSessions || guess.role === 'ADMIN' || !orgId) return undefined;
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    request.auth = guess as AuthContext;
    const cacheKey = tenantCacheKey(this.reflector, context, request);
    const { keys: planKeys, known } = this.planKeys(guess.userId, orgId, cacheKey);
    let auth: Readonly<AuthContext> | null = null;
    let hit: PlanHit | undefined;
    if (planKeys.prefetch) {
      try {
        const read = await this.storage.sessionPlanHit(keys.session(token), SESSION_TTL_SECONDS, { ...planKeys, prefetch: planKeys.prefetch }, this.ttlOf(PLAN_THROTTLER));
        if (read) [auth, hit] = [await confirm(read.session), read.hit];
      } catch {
        auth = null; // the guards meet the same failure and answer it
      }
    }
    if (!hit || !auth || auth.userId !== guess.userId || auth.organizationId !== orgId || auth.role !== guess.role) {
      request.auth = undefined;
      request.tenantCache = undefined;
      return undefined;
    }
    request.auth = auth as AuthContext;
    this.status.recovered();
    return this.answerPlanHit(hit, orgId, http.getResponse<FastifyReply>(), request, cacheKey, known);
  }

  /** The plan hit's keys for a user of `orgId`, with the cached route's entry, and the version of it this process holds. */
  private planKeys(userId: string, orgId: string, cacheKey?: string): { keys: PlanHitKeys; known?: CachedBody } {
    const known = cacheKey ? this.cache.memoOf(cacheKey) : undefined;
    const planKeys: PlanHitKeys = {
      counter: rateLimitKeys.plan(orgId, userId),
      plan: keys.plan(orgId),
      organization: CACHE_PREFIX + cacheKeys.org(orgId),
      prefetch: cacheKey
        ? {
            entry: CACHE_PREFIX + cacheKey,
            version: cacheBookkeeping.version(cacheKey),
            known: known?.version,
            fence: cacheBookkeeping.fence(orgId),
            writing: cacheBookkeeping.writing(orgId),
          }
        : undefined,
    };
    return { keys: planKeys, known };
  }

  /** Hands the prefetched entry to the cache interceptor, sets the limit's headers, and refuses a request over the plan's limit. */
  private async answerPlanHit(hit: PlanHit, orgId: string, reply: FastifyReply, request: FastifyRequest, cacheKey?: string, known?: CachedBody): Promise<boolean> {
    if (cacheKey) {
      request.tenantCache = hit.unchanged ? { key: cacheKey, unchanged: known } : { key: cacheKey, raw: hit.prefetched, version: hit.version, fence: hit.fence };
    }
    const plan = hit.plan && hit.plan in PLAN_LIMITS ? (hit.plan as Plan) : await this.lookUpPlan(orgId);
    if (!plan) return true;
    const window = { limit: PLAN_LIMITS[plan].requestsPerMinute, used: hit.totalHits, msToReset: hit.msToExpire };
    this.setHeaders(reply, window);
    if (window.used <= window.limit) return true;
    throw this.tooMany(
      reply,
      'Plan Limit Exceeded',
      `Your ${plan} plan allows ${window.limit} requests per minute; upgrade your plan for more.`,
      window.msToReset,
    );
  }

  /** The plan from the organization (which stores it back in Redis); undefined, logged once, while Postgres cannot tell it. */
  private async lookUpPlan(orgId: string): Promise<Plan | undefined> {
    try {
      const { plan } = await this.organizations.get(orgId);
      if (this.plansUnknown) this.planLogger.log('Plans can be looked up again; plan limits are enforced');
      this.plansUnknown = false;
      return plan;
    } catch (error) {
      if (!isDatabaseUnavailable(error)) throw error;
      if (!this.plansUnknown) {
        this.plansUnknown = true;
        this.planLogger.error(`Plan limits fail open for organizations whose plan is not in Redis while the database is unreachable: ${(error as Error).message}`);
      }
      return undefined;
    }
  }

  private limitAuth(route: string, request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    const limit = this.limitOf(AUTH_THROTTLER);
    return this.limitWindow(reply, {
      key: rateLimitKeys.auth(route, rateLimitSubject(request.ip)),
      limit,
      windowMs: this.ttlOf(AUTH_THROTTLER),
      error: 'Too Many Requests',
      message: `Too many attempts from your address: ${limit} per minute are allowed on this route.`,
    });
  }

  /** Counts the request in the window (one round trip); over its limit, the request is refused. */
  private async limitWindow(reply: FastifyReply, window: WindowLimit): Promise<boolean> {
    let hit: WindowHit;
    try {
      hit = await this.storage.windowHit(window.key, window.windowMs);
      this.status.recovered();
    } catch (error) {
      this.status.failed(error);
      return true;
    }
    const state = { ...window, used: hit.totalHits, msToReset: hit.msToExpire };
    this.setHeaders(reply, state);
    if (state.used <= state.limit) return true;
    throw this.tooMany(reply, state.error, state.message, state.msToReset);
  }

  private limitOf(name: string): number {
    return (this.throttlers.find((t) => t.name === name)?.limit as number | undefined) ?? 10;
  }

  private ttlOf(name: string): number {
    return (this.throttlers.find((t) => t.name === name)?.ttl as number | undefined) ?? 60_000;
  }

  private setHeaders(reply: FastifyReply, window: Window): void {
    reply.header('X-RateLimit-Limit', window.limit);
    reply.header('X-RateLimit-Remaining', Math.max(0, window.limit - window.used));
    reply.header('X-RateLimit-Reset', Math.ceil((Date.now() + window.msToReset) / 1000));
  }

  private tooMany(reply: FastifyReply, error: string, message: string, msToReset: number): HttpException {
    const retryAfter = Math.max(1, Math.ceil(msToReset / 1000));
    reply.header('Retry-After', retryAfter);
    return new HttpException({ statusCode: HttpStatus.TOO_MANY_REQUESTS, error, message, retryAfter }, HttpStatus.TOO_MANY_REQUESTS);
  }
}
