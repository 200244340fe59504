/**
 * The engine's data converter and payload codec with the development encryption key: what the
 * tests, the chaos suite and the bench tools use to read the histories they make or record. A
 * deployment sets its own PAYLOAD_ENCRYPTION_KEYS and never uses these.
 */
import type { DataConverter } from '@temporalio/common';
import { DEVELOPMENT_DEFAULTS } from '../config';
import type { EncryptionCodec } from '../temporal/codec';
import { engineDataConverter, payloadCodec } from '../temporal/data-converter';

const DEVELOPMENT_KEYS = { PAYLOAD_ENCRYPTION_KEYS: DEVELOPMENT_DEFAULTS.PAYLOAD_ENCRYPTION_KEYS };

/** The engine's data converter, with the development key. */
export function developmentDataConverter(): DataConverter {
  return engineDataConverter(DEVELOPMENT_KEYS);
}

/** The engine's payload codec (encryption), with the development key. */
export function developmentPayloadCodec(): EncryptionCodec {
  return payloadCodec(DEVELOPMENT_KEYS);
}
