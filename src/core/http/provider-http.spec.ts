import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AppConfig } from '../config/app-config';
import { MAX_ANSWER_BYTES, ProviderHttp } from './provider-http';
import { ProviderError } from './provider-error';

describe('ProviderHttp', () => {
  let server: http.Server;
  let base: string;
  const client = new ProviderHttp({ PROVIDER_TIMEOUT_MS: 5000 } as AppConfig);

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/huge') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 'a');
        let sent = 0;
        // Streams more than the cap, stopping when the client hangs up.
        const pump = () => {
          while (sent < MAX_ANSWER_BYTES * 2 && res.write(chunk)) sent += chunk.length;
          if (sent < MAX_ANSWER_BYTES * 2) res.once('drain', pump);
          else res.end();
        };
        res.on('close', () => res.removeAllListeners('drain'));
        return pump();
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"ok":true}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    client.onApplicationShutdown();
    await new Promise((resolve) => server.close(resolve));
  });

  it('reads ordinary answers', async () => {
    const answer = await client.request({ provider: 'Test', method: 'GET', url: `${base}/small` });
    expect(answer).toMatchObject({ status: 200, json: { ok: true } });
  });

  it('stops reading an answer past the size cap, with an error that is not retried', async () => {
    const error = await client.request({ provider: 'Test', method: 'GET', url: `${base}/huge` }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ retryable: false, status: 200 });
    expect((error as Error).message).toMatch(/larger than/);
  });
});
