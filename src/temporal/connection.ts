/**
 * Connection options for the Temporal client and worker from configuration alone: a local
 * dev server, a self-hosted cluster with mTLS, or Temporal Cloud with an API key.
 */
import { readFileSync } from 'node:fs';
import { Client, Connection, type ClientPlugin, type ConnectionOptions } from '@temporalio/client';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import type { Config } from '../config';
import { engineDataConverter } from './data-converter';

type TemporalConfig = Pick<
  Config,
  | 'TEMPORAL_ADDRESS'
  | 'TEMPORAL_NAMESPACE'
  | 'TEMPORAL_API_KEY'
  | 'TEMPORAL_TLS'
  | 'TEMPORAL_TLS_CERT_PATH'
  | 'TEMPORAL_TLS_KEY_PATH'
  | 'TEMPORAL_TLS_CA_PATH'
  | 'TEMPORAL_TLS_SERVER_NAME'
  | 'PAYLOAD_ENCRYPTION_KEYS'
>;

function tlsOptions(config: TemporalConfig): ConnectionOptions['tls'] {
  const mtls = config.TEMPORAL_TLS_CERT_PATH && config.TEMPORAL_TLS_KEY_PATH;
  if (!mtls && !config.TEMPORAL_API_KEY && !config.TEMPORAL_TLS && !config.TEMPORAL_TLS_CA_PATH)
    return undefined;
  return {
    serverNameOverride: config.TEMPORAL_TLS_SERVER_NAME,
    serverRootCACertificate: config.TEMPORAL_TLS_CA_PATH
      ? readFileSync(config.TEMPORAL_TLS_CA_PATH)
      : undefined,
    clientCertPair: mtls
      ? {
          crt: readFileSync(config.TEMPORAL_TLS_CERT_PATH!),
          key: readFileSync(config.TEMPORAL_TLS_KEY_PATH!),
        }
      : undefined,
  };
}

/** What the client and the worker connection share: address, API key, namespace header. */
function commonOptions(config: TemporalConfig) {
  return {
    address: config.TEMPORAL_ADDRESS,
    apiKey: config.TEMPORAL_API_KEY,
    metadata: config.TEMPORAL_API_KEY ? { 'temporal-namespace': config.TEMPORAL_NAMESPACE } : undefined,
  };
}

/** Options for `Connection.connect` (client side). */
export function clientConnectionOptions(config: TemporalConfig): ConnectionOptions {
  return { ...commonOptions(config), tls: tlsOptions(config) };
}

/** Options for `NativeConnection.connect` (worker side). */
export function workerConnectionOptions(config: TemporalConfig): NativeConnectionOptions {
  return { ...commonOptions(config), tls: tlsOptions(config) as NativeConnectionOptions['tls'] };
}

/** Connects a client (with the engine's encrypting data converter), failing within `timeoutMs` when the server is unreachable. */
export async function connectClient(
  config: TemporalConfig,
  timeoutMs = 10_000,
  plugins: ClientPlugin[] = [],
): Promise<Client> {
  const connection = await Connection.connect({
    ...clientConnectionOptions(config),
    connectTimeout: timeoutMs,
  });
  return new Client({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    dataConverter: engineDataConverter(config),
    plugins,
  });
}

/** Connects the worker's native connection. */
export async function connectWorker(config: TemporalConfig): Promise<NativeConnection> {
  return NativeConnection.connect(workerConnectionOptions(config));
}
