import { graphApiError } from './graph-api-error';
import type { ProviderResponse } from '../../../core/http/provider-http';

const answer = (status: number, code?: number): ProviderResponse => ({
  status,
  headers: {},
  text: '',
  json: code === undefined ? undefined : { error: { message: `(#${code}) x`, type: 'OAuthException', code, fbtrace_id: 'A' } },
});

describe('graphApiError', () => {
  it.each([130429, 131056, 4, 80007, 131000])('retries WhatsApp/Graph code %i even in a 400', (code) => {
    expect(graphApiError('WhatsApp', answer(400, code)).retryable).toBe(true);
  });

  it.each([131026, 100, 190, 10])('fails code %i at once', (code) => {
    expect(graphApiError('WhatsApp', answer(400, code)).retryable).toBe(false);
  });

  it('falls back to the HTTP status: 429 and 5xx retry, other 4xx do not', () => {
    expect(graphApiError('X', answer(503)).retryable).toBe(true);
    expect(graphApiError('X', answer(429)).retryable).toBe(true);
    expect(graphApiError('X', answer(404)).retryable).toBe(false);
  });

  it('keeps the provider message and code', () => {
    expect(graphApiError('WhatsApp Cloud API', answer(400, 131026)).message).toBe('WhatsApp Cloud API: (#131026) x [code 131026]');
  });
});

describe('graphApiError details', () => {
  it('marks 190 and HTTP 401 as authentication failures', () => {
    expect(graphApiError('WhatsApp', answer(401, 190)).authentication).toBe(true);
    expect(graphApiError('WhatsApp', answer(401)).authentication).toBe(true);
    expect(graphApiError('WhatsApp', answer(400, 100)).authentication).toBe(false);
  });

  it('marks account throttling (130429, 80007) but not a pair rate limit (131056)', () => {
    expect(graphApiError('WhatsApp', answer(400, 130429)).throttled).toBe(true);
    expect(graphApiError('WhatsApp', answer(400, 80007)).throttled).toBe(true);
    expect(graphApiError('WhatsApp', answer(400, 131056)).throttled).toBe(false);
  });
});
