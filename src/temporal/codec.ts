/**
 * The payload codec: every payload the engine sends to Temporal (workflow and activity inputs and
 * results, signals, updates, queries, memos, and failure messages through the failure converter)
 * is encrypted with AES-256-GCM before it leaves the process, so Temporal's database, its Web UI
 * and anyone who reads a history see only ciphertext. Search attributes and workflow ids are never
 * encoded: they must not carry personal data.
 *
 * Keys come from configuration (`PAYLOAD_ENCRYPTION_KEYS`, newest first) and never enter a
 * history: a payload carries only the id of the key that sealed it. The first key encrypts; every
 * configured key decrypts, so a key is rotated by putting a new one first and removing the old one
 * once no open workflow still holds payloads sealed with it (docs/security.md).
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { EncryptionKeyError, type EncryptionKey } from './encryption-keys';

export { EncryptionKeyError, parseEncryptionKeys, type EncryptionKey } from './encryption-keys';

/** `metadata.encoding` of an encrypted payload (the name Temporal's samples use). */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** Metadata key naming the key that sealed a payload. */
export const KEY_ID_METADATA = 'encryption-key-id';
/** Metadata key naming the cipher, so a later format can be told apart. */
export const CIPHER_METADATA = 'encryption-cipher';
const CIPHER = 'AES-256-GCM';

/** Domain separation: the AES key is derived from the configured material, never used raw. */
const HKDF_INFO = 'qfpay-engine payload codec v1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
function aesKey(material: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), HKDF_INFO, 32));
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** Thrown when a payload cannot be decrypted: unknown key id, or tampered / truncated ciphertext. */
export class PayloadDecryptionError extends Error {
  readonly type = 'PayloadDecryptionError' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PayloadDecryptionError';
  }
}

/**
 * AES-256-GCM over the whole serialized payload (its metadata included), with a fresh 96-bit
 * nonce per payload and the key id as additional authenticated data. Payloads that are not
 * encrypted pass through `decode` unchanged (histories recorded before encryption, and values
 * other tools wrote).
 */
export class EncryptionCodec implements PayloadCodec {
  readonly #encryptWith: { id: string; key: Buffer };
  readonly #keys: ReadonlyMap<string, Buffer>;

  /** @param keys the configured keys, the encrypting one first (see {@link parseEncryptionKeys}) */
  constructor(keys: readonly EncryptionKey[]) {
    const [first] = keys;
    if (!first) throw new EncryptionKeyError('the codec needs at least one key');
    this.#keys = new Map(keys.map((k) => [k.id, aesKey(k.material)]));
    this.#encryptWith = { id: first.id, key: this.#keys.get(first.id)! };
  }

  /** The id of the key new payloads are sealed with. */
  get encryptingKeyId(): string {
    return this.#encryptWith.id;
  }

  // async: a payload that cannot be opened rejects the promise instead of throwing.
  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.#seal(payload));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.#open(payload));
  }

  #seal(payload: Payload): Payload {
    const { id, key } = this.#encryptWith;
    const plaintext = temporal.api.common.v1.Payload.encode(payload).finish();
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(utf8.encode(id));
    const sealed = Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: {
        encoding: utf8.encode(ENCRYPTED_ENCODING),
        [KEY_ID_METADATA]: utf8.encode(id),
        [CIPHER_METADATA]: utf8.encode(CIPHER),
      },
      data: sealed,
    };
  }

  #open(payload: Payload): Payload {
    const encoding = payload.metadata?.encoding;
    if (!encoding || fromUtf8.decode(encoding) !== ENCRYPTED_ENCODING) return payload;
    const idBytes = payload.metadata?.[KEY_ID_METADATA];
    const id = idBytes ? fromUtf8.decode(idBytes) : '';
    const key = this.#keys.get(id);
    if (!key) {
      throw new PayloadDecryptionError(
        `payload sealed with key "${id}", which is not in PAYLOAD_ENCRYPTION_KEYS (configured: ${[
          ...this.#keys.keys(),
        ].join(', ')})`,
      );
    }
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < NONCE_BYTES + TAG_BYTES) {
      throw new PayloadDecryptionError(`payload sealed with key "${id}" is truncated`);
    }
    const nonce = data.subarray(0, NONCE_BYTES);
    const tag = data.subarray(data.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(utf8.encode(id));
    decipher.setAuthTag(tag);
    let plaintext: Buffer;
    try {
      plaintext = Buffer.concat([
        decipher.update(data.subarray(NONCE_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch (err) {
      throw new PayloadDecryptionError(`payload sealed with key "${id}" does not authenticate`, {
        cause: err,
      });
    }
    return temporal.api.common.v1.Payload.decode(plaintext);
  }
}
