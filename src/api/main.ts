/**
 * The API process (`npm run api`): loads the configuration, connects to Temporal, serves the app
 * on `PORT`, and on SIGINT/SIGTERM stops taking requests, lets the ones in flight finish, then
 * closes the Temporal connection.
 */
// First: tracing patches node:http and Express as they load.
import { tracing } from './tracing';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import { createQfpayClient } from '../activities';
import { loadConfigOrExit, warnAboutUnsafeSettings } from '../config';
import { createLogger } from '../logger';
import { connectClient } from '../temporal/connection';
import { appMetrics, buildApp, buildMetricsApp } from './app';
import { DunningPolicyConfigError } from './context';

/** How long in-flight requests get to finish after a shutdown signal. */
const SHUTDOWN_GRACE_MS = 10_000;

/**
 * The HTTP server's time limits, explicit rather than Node's defaults: a client gets 15 s to send
 * its headers and 60 s for the whole request (longer than the 30 s an update may wait on
 * Temporal); an idle keep-alive connection is closed after 5 s, and a reverse proxy in front
 * should keep its own idle timeout below that.
 */
export const SERVER_TIMEOUTS = Object.freeze({
  headersTimeout: 15_000,
  requestTimeout: 60_000,
  keepAliveTimeout: 5_000,
});

/** Applies {@link SERVER_TIMEOUTS} to a server. */
export function applyServerTimeouts(server: Server): void {
  server.headersTimeout = SERVER_TIMEOUTS.headersTimeout;
  server.requestTimeout = SERVER_TIMEOUTS.requestTimeout;
  server.keepAliveTimeout = SERVER_TIMEOUTS.keepAliveTimeout;
}

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
    temporal = await connectClient(config, undefined, tracing ? [tracing.plugin] : []);
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
  applyServerTimeouts(server);
  const metricsServer =
    config.METRICS_PORT === undefined
      ? undefined
      : buildMetricsApp(appMetrics(app)).listen(config.METRICS_PORT);
  metricsServer?.on('error', (err: NodeJS.ErrnoException) => {
    logger.fatal(
      { port: config.METRICS_PORT, reason: err.message, code: err.code },
      `cannot listen on METRICS_PORT=${config.METRICS_PORT}`,
    );
    process.exit(1);
  });
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
        metrics: config.METRICS_PORT === undefined ? 'off (METRICS_PORT)' : `:${config.METRICS_PORT}/metrics`,
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
    metricsServer?.close();
    await temporal.connection.close();
    await tracing?.shutdown();
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
