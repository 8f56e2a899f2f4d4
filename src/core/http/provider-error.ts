export interface ProviderErrorDetails {
  /**
   * The provider may have acted on the request although no answer says so (a
   * timeout or a dropped connection after the request was sent, a 2xx without
   * an id): sending again could deliver twice.
   */
  unknownOutcome?: boolean;
  /** The credentials were refused (expired token, revoked key): no retry helps until they are replaced. */
  authentication?: boolean;
  /** The provider throttled the account: try again after `retryAfterMs`, which is not a failed attempt. */
  throttled?: boolean;
  retryAfterMs?: number;
}

/**
 * A failed provider call. `retryable` decides between a later attempt (rate
 * limits, 5xx, network failures) and failing at once (a request that cannot
 * succeed however often it is repeated); the details say what else is known.
 */
export class ProviderError extends Error {
  readonly unknownOutcome: boolean;
  readonly authentication: boolean;
  readonly throttled: boolean;
  readonly retryAfterMs?: number;

  constructor(
    readonly provider: string,
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    readonly code?: string | number,
    details: ProviderErrorDetails = {},
  ) {
    super(`${provider}: ${message}`);
    this.name = 'ProviderError';
    this.unknownOutcome = details.unknownOutcome ?? false;
    this.authentication = details.authentication ?? false;
    this.throttled = details.throttled ?? false;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** The HTTP rule of the contract: 429 and 5xx may succeed later; any other 4xx will not. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/** `Retry-After` in seconds or as an HTTP date, in milliseconds from now; undefined when absent or unreadable. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
