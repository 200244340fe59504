/**
 * Keyed digests (HMAC-SHA256 under `API_HMAC_SECRET`) that stand in for merchant data wherever
 * Temporal keeps text in clear: a creation workflow's id is derived from the merchant's
 * Idempotency-Key, and its memo records a digest of the request body, so neither the key nor the
 * body (which carries customers' details) can be read or confirmed by guessing from Temporal's
 * database. List cursors are signed with the same secret, so a forged one is refused before it
 * reaches Temporal or QFPay.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** What is created idempotently: each kind has its own key space. */
export type CreationKind = 'subscription' | 'customer' | 'product';

/** Most levels of nesting {@link canonicalJson} follows (request bodies are limited far below). */
const MAX_CANONICAL_DEPTH = 64;

/**
 * JSON with object keys sorted at every level: equal data, equal text.
 * @throws RangeError past {@link MAX_CANONICAL_DEPTH} levels (request bodies never get there)
 */
export function canonicalJson(value: unknown, depth = 0): string {
  if (depth > MAX_CANONICAL_DEPTH) throw new RangeError('value nested too deeply');
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null, depth + 1)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v, depth + 1)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Version byte of the cursor layout: version, 16-byte MAC, the position in the list. */
const CURSOR_VERSION = 1;
const CURSOR_MAC_BYTES = 16;

/** The API's keyed digests. */
export class ApiDigests {
  readonly #secret: string;

  /** @param secret `API_HMAC_SECRET` */
  constructor(secret: string) {
    this.#secret = secret;
  }

  #mac(...parts: Array<string | Uint8Array>): Buffer {
    const hmac = createHmac('sha256', this.#secret);
    for (const part of parts) {
      // Length-prefixed, so no two different part lists hash the same bytes.
      const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part;
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      hmac.update(length).update(bytes);
    }
    return hmac.digest();
  }

  /** The part of a creation workflow's id that identifies the merchant's request (64 hex digits). */
  idempotencyDigest(merchantId: string, kind: CreationKind, idempotencyKey: string): string {
    return this.#mac('idempotency-key', merchantId, kind, idempotencyKey).toString('hex');
  }

  /** The digest of a validated request body, kept in the creation workflow's memo. */
  requestDigest(kind: CreationKind, body: unknown): string {
    return this.#mac('request-body', kind, canonicalJson(body)).toString('hex');
  }

  /**
   * The digest of one metadata key and value (22 base64url characters, 128 bits): what the
   * `MetadataDigests` search attribute holds and the list by metadata asks for, so visibility never
   * holds a value in clear. Fifty of them fit one search attribute's size limit.
   */
  metadataDigest(key: string, value: string): string {
    return this.#mac('metadata', key, value).subarray(0, 16).toString('base64url');
  }

  #cursorMac(list: string, position: Uint8Array): Buffer {
    return this.#mac('list-cursor', list, position).subarray(0, CURSOR_MAC_BYTES);
  }

  /**
   * The opaque `next_cursor` of a list: a position in it (Temporal's page token, an offset), signed
   * and tied to the list and filters it pages through.
   * @param list names the list and its filters (a visibility query, `customers?{…}`)
   * @returns base64url text, or null when there is no position (the last page)
   */
  encodeCursor(position: Uint8Array | null | undefined, list: string): string | null {
    if (!position || position.length === 0) return null;
    return Buffer.concat([Buffer.from([CURSOR_VERSION]), this.#cursorMac(list, position), position]).toString(
      'base64url',
    );
  }

  /** The position a `cursor` holds, or undefined when this API did not issue it for this list. */
  decodeCursor(cursor: string, list: string): Buffer | undefined {
    const raw = Buffer.from(cursor, 'base64url');
    const header = 1 + CURSOR_MAC_BYTES;
    if (raw.length <= header || raw[0] !== CURSOR_VERSION) return undefined;
    const position = raw.subarray(header);
    const expected = this.#cursorMac(list, position);
    return timingSafeEqual(raw.subarray(1, header), expected) ? position : undefined;
  }
}
