import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import http from 'node:http';
import https from 'node:https';
import { AppConfig } from '../config/app-config';
import { ProviderError } from './provider-error';

export interface ProviderRequest {
  provider: string;
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface ProviderResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

/**
 * The most of an answer that is read. Provider answers are small JSON (a
 * page of 100 WhatsApp templates is well under this); a bigger one is a
 * misbehaving endpoint, and reading it whole could exhaust the worker's memory.
 */
export const MAX_ANSWER_BYTES = 2 * 1024 * 1024;

/**
 * The one HTTP client of the outbound providers: keep-alive sockets (a
 * campaign is thousands of calls to one host), a timeout per call from
 * PROVIDER_TIMEOUT_MS, answers read up to MAX_ANSWER_BYTES, and network
 * failures reported as retryable ProviderErrors. HTTP statuses are left to
 * each provider, which knows its error shapes.
 */
@Injectable()
export class ProviderHttp implements OnApplicationShutdown {
  private readonly agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: 128 }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: 128 }),
  };

  constructor(private readonly config: AppConfig) {}

  request(req: ProviderRequest): Promise<ProviderResponse> {
    const url = new URL(req.url);
    const transport = url.protocol === 'https:' ? https : http;
    const agent = this.agents[url.protocol as 'http:' | 'https:'];
    const headers: Record<string, string | number> = { Accept: 'application/json', ...req.headers };
    if (req.body !== undefined) headers['Content-Length'] = Buffer.byteLength(req.body);

    return new Promise<ProviderResponse>((resolve, reject) => {
      const outgoing = transport.request(url, { method: req.method, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= MAX_ANSWER_BYTES) return void chunks.push(c);
          // Not retried: a send may have happened, and the same endpoint would answer the same way.
          outgoing.destroy(new ProviderError(req.provider, `answer larger than ${MAX_ANSWER_BYTES} bytes (status ${res.statusCode})`, false, res.statusCode));
        });
        res.on('error', (error) => reject(error instanceof ProviderError ? error : this.networkError(req, error)));
        res.on('end', () => {
          const text = withoutCredentials(Buffer.concat(chunks).toString('utf8'), headers);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: parseJson(text) });
        });
      });
      outgoing.setTimeout(this.config.PROVIDER_TIMEOUT_MS, () => {
        outgoing.destroy(
          new ProviderError(req.provider, `no answer within ${this.config.PROVIDER_TIMEOUT_MS} ms`, true, undefined, 'ETIMEDOUT', {
            unknownOutcome: req.method !== 'GET',
          }),
        );
      });
      outgoing.on('error', (error) => reject(error instanceof ProviderError ? error : this.networkError(req, error)));
      outgoing.end(req.body);
    });
  }

  /** After the workers closed (module destroy): the sends they were finishing still had their sockets. */
  onApplicationShutdown(): void {
    this.agents['http:'].destroy();
    this.agents['https:'].destroy();
  }

  /**
   * A refused or unresolvable connection never reached the provider; any other
   * network failure of a request that changes something (a reset, a hang-up)
   * may have happened after the provider acted on it.
   */
  private networkError(req: ProviderRequest, error: Error): ProviderError {
    const code = (error as NodeJS.ErrnoException).code;
    const neverSent = code !== undefined && NEVER_SENT.has(code);
    return new ProviderError(req.provider, `request failed (${code ?? error.message})`, true, undefined, code, {
      unknownOutcome: req.method !== 'GET' && !neverSent,
    });
  }
}

/** Network errors raised before any byte of the request reached the provider. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Shorter values are not searched for: replacing them could break the answer's own text. */
const MIN_REDACTED_LENGTH = 8;

/**
 * The answer with the request's own credentials taken out. Providers quote a
 * refused token in their error ("Malformed access token EAAG…"), and such
 * reasons reach API answers, stored errors and logs, where a secret never may.
 */
export function withoutCredentials(text: string, headers: Record<string, string | number>): string {
  const auth = Object.entries(headers).find(([name]) => name.toLowerCase() === 'authorization')?.[1];
  if (typeof auth !== 'string') return text;
  const [scheme, value = ''] = auth.split(' ', 2);
  const secrets = scheme.toLowerCase() === 'basic' ? [Buffer.from(value, 'base64').toString('utf8').split(':').slice(1).join(':')] : [value];
  return secrets.filter((secret) => secret.length >= MIN_REDACTED_LENGTH).reduce((answer, secret) => answer.split(secret).join('[redacted]'), text);
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    // Not JSON (an HTML error page from a proxy, say): the caller reports the status instead.
    return undefined;
  }
}
