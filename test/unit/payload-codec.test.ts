/**
 * The payload codec: AES-256-GCM with the key id in the metadata, the first key encrypting and
 * every key decrypting (rotation), unencrypted payloads passed through, tampering and unknown keys
 * refused; and the failure converter puts messages and stack traces into an encrypted payload.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { ApplicationFailure, defaultPayloadConverter, type Payload } from '@temporalio/common';
import { encodeErrorToFailure, decodeFailure } from '@temporalio/common/lib/internal-non-workflow';
import {
  ENCRYPTED_ENCODING,
  EncryptionCodec,
  EncryptionKeyError,
  KEY_ID_METADATA,
  PayloadDecryptionError,
  parseEncryptionKeys,
} from '../../src/temporal/codec';
import { engineDataConverter } from '../../src/temporal/data-converter';
import { failureConverter } from '../../src/temporal/failure-converter';

const key = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;
const text = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? []).toString('utf8');
const PII = 'ada.lovelace+marker@example.com';

function jsonPayload(value: unknown): Payload {
  return defaultPayloadConverter.toPayload(value);
}

describe('encryption keys (PAYLOAD_ENCRYPTION_KEYS)', () => {
  it('parses id:base64 entries, newest first', () => {
    const keys = parseEncryptionKeys(`${key('2026-11')}, ${key('2026-05')}`);
    assert.deepEqual(
      keys.map((k) => k.id),
      ['2026-11', '2026-05'],
    );
    assert.ok(keys.every((k) => k.material.length === 32));
  });

  for (const [value, why] of [
    ['', 'no key'],
    ['nokey', 'no id'],
    [':c2VjcmV0', 'an empty id'],
    ['bad id:c2VjcmV0', 'a space in the id'],
    ['a:not base64!', 'material that is not base64'],
    [`${key('a')},${key('a')}`, 'the same id twice'],
  ] as const) {
    it(`refuses ${why}`, () => {
      assert.throws(() => parseEncryptionKeys(value), EncryptionKeyError);
    });
  }

  it('never quotes key material in its errors', () => {
    const secret = 'c2VjcmV0LW1hdGVyaWFs';
    assert.throws(
      () => parseEncryptionKeys(`dup:${secret},dup:${secret}`),
      (err: Error) => !err.message.includes(secret),
    );
  });
});

describe('EncryptionCodec', () => {
  it('seals a payload: binary/encrypted, the key id in clear, no plaintext left', async () => {
    const codec = new EncryptionCodec(parseEncryptionKeys(key('k1')));
    const [sealed] = await codec.encode([jsonPayload({ email: PII })]);
    assert.equal(text(sealed!.metadata!.encoding), ENCRYPTED_ENCODING);
    assert.equal(text(sealed!.metadata![KEY_ID_METADATA]), 'k1');
    assert.ok(!Buffer.from(sealed!.data!).includes(PII), 'the data is ciphertext');
    const [opened] = await codec.decode([sealed!]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(opened!), { email: PII });
  });

  it('uses a fresh nonce: the same value seals to different bytes', async () => {
    const codec = new EncryptionCodec(parseEncryptionKeys(key('k1')));
    const [a, b] = await codec.encode([jsonPayload('same'), jsonPayload('same')]);
    assert.notDeepEqual(Buffer.from(a!.data!), Buffer.from(b!.data!));
  });

  it('rotation: the newest key encrypts, an older one still decrypts', async () => {
    const old = key('2026-05');
    const before = new EncryptionCodec(parseEncryptionKeys(old));
    const [sealedBefore] = await before.encode([jsonPayload('written before the rotation')]);
    const after = new EncryptionCodec(parseEncryptionKeys(`${key('2026-11')},${old}`));
    assert.equal(after.encryptingKeyId, '2026-11');
    const [sealedAfter] = await after.encode([jsonPayload('written after')]);
    assert.equal(text(sealedAfter!.metadata![KEY_ID_METADATA]), '2026-11');
    const opened = await after.decode([sealedBefore!, sealedAfter!]);
    assert.deepEqual(
      opened.map((p) => defaultPayloadConverter.fromPayload(p)),
      ['written before the rotation', 'written after'],
    );
  });

  it('passes an unencrypted payload through decode (histories from before encryption)', async () => {
    const codec = new EncryptionCodec(parseEncryptionKeys(key('k1')));
    const plain = jsonPayload({ a: 1 });
    assert.deepEqual(await codec.decode([plain]), [plain]);
  });

  it('refuses a payload sealed with a key it does not have, naming the key id', async () => {
    const [sealed] = await new EncryptionCodec(parseEncryptionKeys(key('gone'))).encode([jsonPayload(1)]);
    const codec = new EncryptionCodec(parseEncryptionKeys(key('k1')));
    await assert.rejects(codec.decode([sealed!]), (err: Error) => {
      assert.ok(err instanceof PayloadDecryptionError);
      assert.match(err.message, /"gone"/);
      return true;
    });
  });

  it('refuses tampered ciphertext and a key id swapped in the metadata', async () => {
    const keys = `${key('k1')},${key('k2')}`;
    const codec = new EncryptionCodec(parseEncryptionKeys(keys));
    const [sealed] = await codec.encode([jsonPayload('x')]);
    const flipped = Buffer.from(sealed!.data!);
    flipped[20] = flipped[20]! ^ 1;
    await assert.rejects(codec.decode([{ ...sealed!, data: flipped }]), PayloadDecryptionError);
    const swapped = { ...sealed!, metadata: { ...sealed!.metadata!, [KEY_ID_METADATA]: Buffer.from('k2') } };
    await assert.rejects(codec.decode([swapped]), PayloadDecryptionError);
    await assert.rejects(codec.decode([{ ...sealed!, data: Buffer.alloc(5) }]), PayloadDecryptionError);
  });
});

describe('failure converter', () => {
  it('moves the message and stack trace into an encoded payload, which the codec encrypts', async () => {
    const converter = engineDataConverter({ PAYLOAD_ENCRYPTION_KEYS: key('k1') });
    const loaded = {
      payloadConverter: defaultPayloadConverter,
      failureConverter,
      payloadCodecs: converter.payloadCodecs!,
    };
    const failure = await encodeErrorToFailure(
      loaded,
      ApplicationFailure.nonRetryable(`no customer ${PII}`, 'X'),
    );
    assert.equal(failure.message, 'Encoded failure');
    assert.equal(failure.stackTrace, '');
    assert.equal(text(failure.encodedAttributes!.metadata!.encoding), ENCRYPTED_ENCODING);
    assert.ok(!Buffer.from(failure.encodedAttributes!.data!).includes(PII));
    const decoded = await decodeFailure(loaded.payloadCodecs, failure);
    const error = failureConverter.failureToError(decoded, defaultPayloadConverter);
    assert.equal(error.message, `no customer ${PII}`);
  });
});
