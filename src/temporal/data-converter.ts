/**
 * The data converter every part of the engine talks to Temporal with: the default JSON payload
 * converter, the encrypting payload codec, and a failure converter that moves error messages and
 * stack traces into payloads so the codec encrypts them too.
 */
import type { DataConverter } from '@temporalio/common';
import type { Config } from '../config';
import { EncryptionCodec, parseEncryptionKeys } from './codec';

/** The module with the `failureConverter` export, for the worker and the workflow bundler. */
export const FAILURE_CONVERTER_PATH = require.resolve('./failure-converter');

/** The codec for the configured keys. */
export function payloadCodec(config: Pick<Config, 'PAYLOAD_ENCRYPTION_KEYS'>): EncryptionCodec {
  return new EncryptionCodec(parseEncryptionKeys(config.PAYLOAD_ENCRYPTION_KEYS));
}

/** The data converter for clients and workers (the bundle gets {@link FAILURE_CONVERTER_PATH}). */
export function engineDataConverter(config: Pick<Config, 'PAYLOAD_ENCRYPTION_KEYS'>): DataConverter {
  return { payloadCodecs: [payloadCodec(config)], failureConverterPath: FAILURE_CONVERTER_PATH };
}
