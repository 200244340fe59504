/**
 * The API process (`npm run api`): loads the configuration, connects to Temporal, serves the app
 * on `PORT`, and on SIGINT/SIGTERM stops taking requests, lets the ones in flight finish, then
 * closes the Temporal connection.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import { createQfpayClient } from '../activities';
import { loadConfigOrExit, warnAboutUnsafeSettings } from '../config';
import { createLogger } from '../logger';
import { connectClient } from '../temporal/connection';
import { buildApp } from './app';
import { DunningPolicyConfigError } from './context';

/** How long in-flight requests get to finish after a shutdown signal. */
const SHUTDOWN_GRACE_MS = 10_000;

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    // Keep-alive connections with no request in flight would hold close() open.
    server.closeIdleConnections();
  });
}

export async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const logger = createLogger('api', config.LOG_LEVEL);
  warnAboutUnsafeSettings(config, logger);

  let temporal: Client;
  try {
    temporal = await connectClient(config);
  } catch (err) {
    logger.fatal(
      {
        address: config.TEMPORAL_ADDRESS,
        namespace: config.TEMPORAL_NAMESPACE,
        reason: err instanceof Error ? err.message : String(err),
      },
      `cannot connect to Temporal at TEMPORAL_ADDRESS=${config.TEMPORAL_ADDRESS}: is the server running (and TLS / API key right for a remote cluster)?`,
    );
    process.exit(1);
  }

  let app;
  try {
    app = buildApp({ config, temporal, qfpay: createQfpayClient(config, logger), logger });
  } catch (err) {
    if (!(err instanceof DunningPolicyConfigError)) throw err;
    logger.fatal({ reason: err.message }, 'invalid DUNNING_POLICY');
    await temporal.connection.close();
    process.exit(78); // EX_CONFIG, like the other configuration errors
  }

  const server = app.listen(config.PORT);
  server.on('error', (err: NodeJS.ErrnoException) => {
    logger.fatal(
      { port: config.PORT, reason: err.message, code: err.code },
      `cannot listen on PORT=${config.PORT}`,
    );
    process.exit(1);
  });
  server.on('listening', () => {
    const { port } = server.address() as AddressInfo;
    const base = `http://localhost:${port}`;
    logger.info(
      {
        port,
        temporal: config.TEMPORAL_ADDRESS,
        namespace: config.TEMPORAL_NAMESPACE,
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        api: `${base}/v1`,
        webhook: `${base}/webhooks/qfpay`,
        openapi: `${base}/openapi.json`,
        health: `${base}/healthz`,
      },
      `API listening on ${base}`,
    );
  });

  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: no new requests, finishing those in flight');
    const force = setTimeout(() => {
      logger.warn({ graceMs: SHUTDOWN_GRACE_MS }, 'requests still open after the grace period; closing them');
      server.closeAllConnections();
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    try {
      await closeServer(server);
    } catch (err) {
      logger.warn({ reason: err instanceof Error ? err.message : String(err) }, 'HTTP server close');
    }
    clearTimeout(force);
    await temporal.connection.close();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', (signal) => void shutdown(signal));
  process.on('SIGTERM', (signal) => void shutdown(signal));
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`API failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
