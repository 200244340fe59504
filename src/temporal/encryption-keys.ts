/**
 * `PAYLOAD_ENCRYPTION_KEYS`: the keys of the payload codec (src/temporal/codec.ts), parsed without
 * loading the codec itself, so configuration can check them cheaply.
 */
/** Key material shorter than this is refused in production (and warned about elsewhere). */
export const MIN_KEY_BYTES = 32;
/** What a key id may be: it is written, in clear, into every payload. */
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/**
 * The public development key: the default outside production, so the codec runs everywhere
 * (tests, `npm start`). Refused in production, and warned about elsewhere.
 */
export const DEVELOPMENT_ENCRYPTION_KEYS =
  'dev:cWZwYXktZW5naW5lIHB1YmxpYyBkZXZlbG9wbWVudCBrZXksIG5ldmVyIGZvciBwcm9kdWN0aW9u';

/** One configured key: its id (public, in payload metadata) and its secret material. */
export interface EncryptionKey {
  id: string;
  material: Buffer;
}

/** A `PAYLOAD_ENCRYPTION_KEYS` value that cannot be used. */
export class EncryptionKeyError extends Error {
  readonly type = 'EncryptionKeyError' as const;
  constructor(message: string) {
    super(message);
    this.name = 'EncryptionKeyError';
  }
}

/**
 * Parses `PAYLOAD_ENCRYPTION_KEYS`: comma-separated `id:base64`, the newest (encrypting) key first.
 * @throws EncryptionKeyError naming the entry that is wrong (never quoting key material)
 */
export function parseEncryptionKeys(value: string): EncryptionKey[] {
  const entries = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  if (entries.length === 0) throw new EncryptionKeyError('no key: give at least one id:base64 entry');
  const seen = new Set<string>();
  return entries.map((entry, index) => {
    const at = entry.indexOf(':');
    const id = at > 0 ? entry.slice(0, at) : '';
    const encoded = at > 0 ? entry.slice(at + 1) : '';
    if (!KEY_ID.test(id)) {
      throw new EncryptionKeyError(
        `entry ${index + 1} must be id:base64 with an id of 1-64 letters, digits, '.', '_' or '-'`,
      );
    }
    if (!BASE64.test(encoded)) throw new EncryptionKeyError(`key ${id}: the secret is not base64`);
    if (seen.has(id)) throw new EncryptionKeyError(`key ${id} is given twice`);
    seen.add(id);
    return { id, material: Buffer.from(encoded, 'base64') };
  });
}
