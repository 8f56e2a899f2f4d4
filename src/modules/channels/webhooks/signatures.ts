import { createHmac, timingSafeEqual } from 'node:crypto';

/** Constant-time comparison of two strings (false at once when lengths differ, which leaks only the length). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Meta's `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with the app secret>`. */
export function isValidHubSignature(rawBody: Buffer, header: string | undefined, appSecret: string): boolean {
  if (!header?.startsWith('sha256=')) return false;
  const expected = createHmac('sha256', appSecret).update(rawBody).digest('hex');
  return safeEqual(header.slice('sha256='.length).toLowerCase(), expected);
}

export interface SvixHeaders {
  id?: string;
  timestamp?: string;
  signature?: string;
}

/** How far a Svix timestamp may be from now (either way), against replays. */
export const SVIX_TOLERANCE_SECONDS = 5 * 60;

/**
 * Svix (Resend webhooks): `svix-signature` lists `v1,<base64 HMAC-SHA256 of
 * "{svix-id}.{svix-timestamp}.{raw body}">` entries, space separated, keyed
 * with the base64 secret after `whsec_`; the timestamp must be recent.
 */
export function isValidSvixSignature(rawBody: Buffer, headers: SvixHeaders, secret: string, nowSeconds = Date.now() / 1000): boolean {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature || !/^\d+$/.test(timestamp)) return false;
  if (Math.abs(nowSeconds - Number(timestamp)) > SVIX_TOLERANCE_SECONDS) return false;
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(rawBody).digest('base64');
  return signature
    .split(' ')
    .map((entry) => entry.split(','))
    .some(([version, value]) => version === 'v1' && value !== undefined && safeEqual(value, expected));
}

/**
 * Twilio's `X-Twilio-Signature`: base64 HMAC-SHA1, keyed with the account's
 * auth token, of the full URL Twilio called followed by every POST parameter
 * as name + value, sorted by name (values of a repeated name sorted too).
 * Written here rather than taken from the `twilio` package: that SDK brings
 * an HTTP client and a dozen dependencies for these few lines, which are
 * checked against Twilio's own published test vector (signatures.spec.ts).
 */
export function twilioSignature(authToken: string, url: string, params: Record<string, string | string[]>): string {
  const data = Object.keys(params)
    .sort()
    .map((name) => {
      const values = params[name];
      return (Array.isArray(values) ? [...values].sort() : [values]).map((value) => `${name}${value}`).join('');
    })
    .join('');
  return createHmac('sha1', authToken).update(url + data).digest('base64');
}

export function isValidTwilioSignature(authToken: string, url: string, params: Record<string, string | string[]>, header: string | undefined): boolean {
  return header !== undefined && header !== '' && safeEqual(header, twilioSignature(authToken, url, params));
}
