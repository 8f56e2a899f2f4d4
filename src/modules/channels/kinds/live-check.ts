import { ProviderError } from '../../../core/http/provider-error';
import type { ProviderHttp, ProviderRequest, ProviderResponse } from '../../../core/http/provider-http';
import { ConnectionRefusedError, ProviderUnreachableError } from '../channel-extension';

/**
 * One live-check call: a network failure or a 5xx means the provider could not
 * be asked (502); any other non-2xx is a refusal, with the provider's own
 * words (`reasonOf`) when it gave some.
 */
export async function liveCheck(http: ProviderHttp, request: ProviderRequest, reasonOf: (res: ProviderResponse) => string | undefined): Promise<ProviderResponse> {
  let res: ProviderResponse;
  try {
    res = await http.request(request);
  } catch (error) {
    if (error instanceof ProviderError) throw new ProviderUnreachableError(request.provider, error.message.slice(request.provider.length + 2));
    throw error;
  }
  if (res.status >= 500) throw new ProviderUnreachableError(request.provider, `HTTP ${res.status}`);
  if (res.status < 200 || res.status >= 300) {
    throw new ConnectionRefusedError(request.provider, reasonOf(res) ?? `HTTP ${res.status}`);
  }
  return res;
}

/** The Graph API's `{ error: { message, code } }` as a reason. */
export function graphReason(res: ProviderResponse): string | undefined {
  const error = (res.json as { error?: { message?: string; code?: number } } | undefined)?.error;
  return error?.message ? `${error.message}${error.code !== undefined ? ` [code ${error.code}]` : ''}` : undefined;
}

export const trimSlash = (url: string) => url.replace(/\/$/, '');
