import { ProviderError, isRetryableStatus, retryAfterMs } from '../../../core/http/provider-error';
import type { ProviderResponse } from '../../../core/http/provider-http';

/**
 * Graph API error codes (WhatsApp Cloud API and Instagram) that mean "later":
 * throttling (4, 17, 32, 613, 80007, 130429, 131048, 131056) and transient
 * platform failures (1, 2, 131000, 133004). Anything else in a 4xx, such as
 * 100 (bad parameter), 190 (expired token) or 131026 (undeliverable), fails
 * the message at once.
 */
const RETRYABLE_GRAPH_CODES = new Set([1, 2, 4, 17, 32, 613, 80007, 130429, 131000, 131048, 131056, 133004]);
/**
 * Throttling of the account or app (as opposed to one recipient): the account
 * pauses for a while, and the message waits without losing an attempt.
 * 131056 (pair rate limit) is one recipient's, so it is an ordinary retry.
 */
const THROTTLING_GRAPH_CODES = new Set([4, 17, 32, 613, 80007, 130429]);
/** 190: the access token is invalid or expired. */
const AUTH_GRAPH_CODES = new Set([190]);

interface GraphErrorBody {
  error?: {
    message?: string;
    type?: string;
    code?: number;
    error_subcode?: number;
    error_data?: { details?: string };
    fbtrace_id?: string;
  };
}

/** The ProviderError of a non-2xx Graph answer: `{ error: { message, type, code, error_data, fbtrace_id } }`. */
export function graphApiError(provider: string, res: ProviderResponse): ProviderError {
  const error = (res.json as GraphErrorBody | undefined)?.error;
  const code = typeof error?.code === 'number' ? error.code : undefined;
  const retryable = code !== undefined && RETRYABLE_GRAPH_CODES.has(code) ? true : isRetryableStatus(res.status);
  const details = error?.error_data?.details ? ` (${error.error_data.details})` : '';
  const message = error?.message ? `${error.message}${details}` : `HTTP ${res.status}`;
  const throttled = (code !== undefined && THROTTLING_GRAPH_CODES.has(code)) || res.status === 429;
  return new ProviderError(provider, `${message}${code !== undefined ? ` [code ${code}]` : ''}`, retryable, res.status, code, {
    authentication: (code !== undefined && AUTH_GRAPH_CODES.has(code)) || res.status === 401,
    throttled,
    retryAfterMs: throttled ? retryAfterMs(res.headers['retry-after']) : undefined,
  });
}
