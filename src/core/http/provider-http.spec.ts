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
      if (req.url === '/echo') {
        // A refusal quoting the credentials it was given, as the Graph API does with a malformed token.
        const auth = req.headers.authorization ?? '';
        const secret = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString().split(':')[1] : auth.slice(7);
        res.writeHead(401, { 'Content-Type': 'application/json' });
        return res.end(JSON.stringify({ error: { message: `Malformed access token ${secret}`, code: 190 } }));
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

  it('takes the request’s own bearer or basic-auth secret out of the answer', async () => {
    const bearer = await client.request({ provider: 'Test', method: 'GET', url: `${base}/echo`, headers: { Authorization: 'Bearer EAAGsecret123' } });
    expect(bearer.json).toEqual({ error: { message: 'Malformed access token [redacted]', code: 190 } });
    const basic = `Basic ${Buffer.from('AC123:twilio-auth-token').toString('base64')}`;
    const twilio = await client.request({ provider: 'Test', method: 'GET', url: `${base}/echo`, headers: { authorization: basic } });
    expect(twilio.text).toBe('{"error":{"message":"Malformed access token [redacted]","code":190}}');
  });

  it('stops reading an answer past the size cap, with an error that is not retried', async () => {
    const error = await client.request({ provider: 'Test', method: 'GET', url: `${base}/huge` }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ retryable: false, status: 200 });
    expect((error as Error).message).toMatch(/larger than/);
  });
});
