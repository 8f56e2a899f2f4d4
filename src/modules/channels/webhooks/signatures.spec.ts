import { createHmac } from 'node:crypto';
import { isValidHubSignature, isValidSvixSignature, isValidTwilioSignature, SVIX_TOLERANCE_SECONDS, twilioSignature } from './signatures';

describe('isValidHubSignature', () => {
  const body = Buffer.from('{"object":"whatsapp_business_account"}');
  const good = `sha256=${createHmac('sha256', 'secret').update(body).digest('hex')}`;

  it('accepts the HMAC of the raw body and nothing else', () => {
    expect(isValidHubSignature(body, good, 'secret')).toBe(true);
    expect(isValidHubSignature(body, good.toUpperCase().replace('SHA256=', 'sha256='), 'secret')).toBe(true);
    expect(isValidHubSignature(body, good, 'other')).toBe(false);
    expect(isValidHubSignature(Buffer.from(`${body} `), good, 'secret')).toBe(false);
    expect(isValidHubSignature(body, undefined, 'secret')).toBe(false);
    expect(isValidHubSignature(body, good.slice(7), 'secret')).toBe(false);
    expect(isValidHubSignature(body, 'sha256=abc', 'secret')).toBe(false);
  });
});

describe('isValidSvixSignature', () => {
  const key = Buffer.from('a-32-byte-key-for-svix-signing!!');
  const secret = `whsec_${key.toString('base64')}`;
  const body = Buffer.from('{"type":"email.delivered"}');
  const now = 1_800_000_000;
  const sign = (id: string, ts: number, payload = body) =>
    `v1,${createHmac('sha256', key).update(`${id}.${ts}.${payload}`).digest('base64')}`;

  it('accepts a fresh v1 signature among several', () => {
    const headers = { id: 'msg_1', timestamp: String(now), signature: `v1,bm9wZQ== ${sign('msg_1', now)}` };
    expect(isValidSvixSignature(body, headers, secret, now)).toBe(true);
  });

  it('refuses a stale or future timestamp, another id, a tampered body, or missing headers', () => {
    const stale = now - SVIX_TOLERANCE_SECONDS - 1;
    expect(isValidSvixSignature(body, { id: 'msg_1', timestamp: String(stale), signature: sign('msg_1', stale) }, secret, now)).toBe(false);
    const future = now + SVIX_TOLERANCE_SECONDS + 1;
    expect(isValidSvixSignature(body, { id: 'msg_1', timestamp: String(future), signature: sign('msg_1', future) }, secret, now)).toBe(false);
    expect(isValidSvixSignature(body, { id: 'msg_2', timestamp: String(now), signature: sign('msg_1', now) }, secret, now)).toBe(false);
    expect(isValidSvixSignature(Buffer.from('{}'), { id: 'msg_1', timestamp: String(now), signature: sign('msg_1', now) }, secret, now)).toBe(false);
    expect(isValidSvixSignature(body, { id: 'msg_1', timestamp: String(now) }, secret, now)).toBe(false);
    expect(isValidSvixSignature(body, { id: 'msg_1', timestamp: String(now), signature: sign('msg_1', now).replace('v1', 'v2') }, secret, now)).toBe(false);
  });
});

describe('twilioSignature', () => {
  // Twilio's published example (its SDKs' RequestValidator tests use the same vector).
  const url = 'https://mycompany.com/myapp.php?foo=1&bar=2';
  const params = { CallSid: 'CA1234567890ABCDE', Caller: '+14158675309', Digits: '1234', From: '+14158675309', To: '+18005551212' };

  it("reproduces Twilio's documented signature", () => {
    expect(twilioSignature('12345', url, params)).toBe('RSOYDt4T1cUTdK1PDd93/VVr8B8=');
    expect(isValidTwilioSignature('12345', url, params, 'RSOYDt4T1cUTdK1PDd93/VVr8B8=')).toBe(true);
  });

  it('refuses another token, another URL, a changed parameter or no header', () => {
    const good = 'RSOYDt4T1cUTdK1PDd93/VVr8B8=';
    expect(isValidTwilioSignature('54321', url, params, good)).toBe(false);
    expect(isValidTwilioSignature('12345', `${url}&x=1`, params, good)).toBe(false);
    expect(isValidTwilioSignature('12345', url, { ...params, Digits: '9999' }, good)).toBe(false);
    expect(isValidTwilioSignature('12345', url, params, undefined)).toBe(false);
  });
});
