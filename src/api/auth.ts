/**
 * Merchant authentication on `/v1`: an API key from `API_KEYS`, sent as
 * `Authorization: Bearer <key>` or `X-API-Key: <key>`. Keys are compared as SHA-256 digests with
 * `timingSafeEqual`, so neither a key's content nor its length leaks through timing, and every
 * configured key is compared on every request.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { ApiError } from './errors';

declare module 'express-serve-static-core' {
  interface Request {
    /** Set once authenticated: the merchant the key acts for (`MERCHANT_ID`). */
    merchantId?: string;
    /** Set once authenticated: identifies the API key (not the key itself), e.g. for rate limits. */
    apiKeyId?: string;
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Splits `API_KEYS` (comma-separated; blanks around keys ignored; empty entries dropped). */
export function parseApiKeys(value: string): string[] {
  return value
    .split(',')
    .map((key) => key.trim())
    .filter((key) => key.length > 0);
}

/**
 * A name for an API key that is safe to keep in memory and logs: the first 16 hex digits of the
 * key's SHA-256. Stable for a key, and reveals nothing usable about it.
 */
export function apiKeyIdOf(apiKey: string): string {
  return sha256(apiKey).toString('hex').slice(0, 16);
}

/**
 * Compares two secrets in constant time: both are hashed first, so inputs of different lengths
 * take the same path as equal-length ones.
 */
export function constantTimeEqual(expected: string, actual: string): boolean {
  return timingSafeEqual(sha256(expected), sha256(actual));
}

/** Checks presented keys against the configured ones. */
export class ApiKeyVerifier {
  readonly #digests: Buffer[];

  /** @param keys the accepted keys (see {@link parseApiKeys}); none means every request is refused */
  constructor(keys: readonly string[]) {
    this.#digests = keys.map(sha256);
  }

  /** Whether `presented` is one of the keys; compares against all of them whatever the outcome. */
  verify(presented: string): boolean {
    const digest = sha256(presented);
    let matched = false;
    for (const known of this.#digests) {
      if (timingSafeEqual(known, digest)) matched = true;
    }
    return matched;
  }
}

/**
 * The key a request presents: `Authorization: Bearer <key>` (scheme case-insensitive) or
 * `X-API-Key`. `undefined` when neither is there.
 */
export function presentedApiKey(
  authorization: string | undefined,
  xApiKey: string | undefined,
): string | undefined {
  if (authorization !== undefined) {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (match?.[1]) return match[1];
  }
  const key = xApiKey?.trim();
  return key ? key : undefined;
}

/**
 * Middleware answering 401 `unauthorized` unless the request carries a configured API key; on
 * success it sets `req.merchantId` (every key acts for the one merchant of the deployment, so all
 * of them share its idempotency keys) and `req.apiKeyId`.
 */
export function requireApiKey(verifier: ApiKeyVerifier, merchantId: string): RequestHandler {
  return (req, res, next) => {
    const key = presentedApiKey(req.get('authorization'), req.get('x-api-key'));
    if (key === undefined || !verifier.verify(key)) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      next(
        new ApiError({
          status: 401,
          code: 'unauthorized',
          message:
            key === undefined
              ? 'missing API key: send Authorization: Bearer <key> or X-API-Key'
              : 'invalid API key',
        }),
      );
      return;
    }
    req.merchantId = merchantId;
    req.apiKeyId = apiKeyIdOf(key);
    next();
  };
}
