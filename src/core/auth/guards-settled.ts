import type { FastifyRequest } from 'fastify';

/** The outcome of the global guards when they already ran for this request (see CachedReadPath). */
export type GuardsSettled = { passed: boolean } | { error: unknown };

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Set when the global guards (AuthGuard, then RateLimitGuard) already ran
     * for this request before Nest's chain: their outcome, which the guards
     * then answer again instead of running twice (a request is counted once).
     */
    guardsSettled?: GuardsSettled;
  }
}

/** The guards' earlier outcome, rethrown or returned; undefined when they have not run yet. */
export function settledOutcome(request: FastifyRequest): boolean | undefined {
  const settled = request.guardsSettled;
  if (!settled) return undefined;
  if ('error' in settled) throw settled.error;
  return settled.passed;
}
