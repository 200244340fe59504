/**
 * QFPay request and notification signing, exactly as the open API documents it.
 *
 * Request: every parameter that is not empty or null, sorted by name (ASCII), joined as `k=v`
 * with `&` (values not URL-encoded), the app key appended with no separator, hashed with MD5
 * (default) or SHA256, written as UPPER-case hex.
 *
 * Notification: UPPER-case hex MD5 of the raw request body bytes followed by the app key.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export type SignType = 'MD5' | 'SHA256';

/** A request parameter value before it is put on the wire. Objects and arrays travel as JSON strings. */
export type ParamValue = string | number | boolean | null | undefined | object;

/**
 * Turns request parameters into the exact strings that are signed and sent.
 * Empty strings, `null` and `undefined` are dropped (QFPay signs only non-empty parameters);
 * nested objects and arrays are JSON-stringified ("stringify JSON object").
 */
export function wireParams(params: Record<string, ParamValue>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined) continue;
    const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
    if (text === '') continue;
    out[key] = text;
  }
  return out;
}

/** The string that is hashed: sorted `k=v` pairs joined by `&`, then the key. */
export function signingString(params: Record<string, string>, appKey: string): string {
  const names = Object.keys(params)
    .filter((k) => params[k] !== '')
    .sort();
  return names.map((k) => `${k}=${params[k]}`).join('&') + appKey;
}

function hexDigest(signType: SignType, data: string | Buffer): string {
  return createHash(signType === 'SHA256' ? 'sha256' : 'md5')
    .update(data)
    .digest('hex')
    .toUpperCase();
}

/**
 * Signs request parameters.
 * @param params the wire parameters (see {@link wireParams})
 * @param appKey the merchant's app key
 * @param signType MD5 (QFPay's default when `X-QF-SIGNTYPE` is absent) or SHA256
 * @returns UPPER-case hex digest for the `X-QF-SIGN` header
 */
export function signRequest(
  params: Record<string, string>,
  appKey: string,
  signType: SignType = 'MD5',
): string {
  return hexDigest(signType, signingString(params, appKey));
}

/** Signs a notification body the way QFPay does: MD5 over the raw bytes + app key. */
export function signNotification(rawBody: string | Buffer, appKey: string): string {
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody, 'utf8') : rawBody;
  return hexDigest('MD5', Buffer.concat([body, Buffer.from(appKey, 'utf8')]));
}

/** Compares two signatures in constant time (case-insensitive hex). */
export function signaturesEqual(expected: string, actual: string | undefined | null): boolean {
  if (typeof actual !== 'string') return false;
  const a = Buffer.from(expected.toUpperCase(), 'utf8');
  const b = Buffer.from(actual.trim().toUpperCase(), 'utf8');
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

/** Verifies a request signature (used by the emulator, and by tests). */
export function verifyRequestSignature(
  params: Record<string, string>,
  appKey: string,
  signature: string | undefined,
  signType: SignType = 'MD5',
): boolean {
  return signaturesEqual(signRequest(params, appKey, signType), signature);
}

/** Verifies a notification's `X-QF-SIGN` header against the raw body bytes. */
export function verifyNotificationSignature(
  rawBody: string | Buffer,
  appKey: string,
  signature: string | undefined,
): boolean {
  return signaturesEqual(signNotification(rawBody, appKey), signature);
}

/** Parses the `X-QF-SIGNTYPE` header: absent means MD5. Returns undefined for an unknown type. */
export function parseSignType(header: string | undefined): SignType | undefined {
  if (header === undefined || header === '') return 'MD5';
  const upper = header.trim().toUpperCase();
  return upper === 'MD5' || upper === 'SHA256' ? upper : undefined;
}
