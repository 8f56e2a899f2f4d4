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
