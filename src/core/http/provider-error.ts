/**
 * A failed provider call. `retryable` decides between BullMQ's backoff
 * (rate limits, 5xx, timeouts) and failing the message at once (a request
 * that cannot succeed however often it is repeated).
 */
export class ProviderError extends Error {
  constructor(
    readonly provider: string,
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    readonly code?: string | number,
  ) {
    super(`${provider}: ${message}`);
    this.name = 'ProviderError';
  }
}

/** The HTTP rule of the contract: 429 and 5xx may succeed later; any other 4xx will not. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}
