/**
 * The worker process: connects to the configured Temporal, runs the subscription workflows and
 * the activities that talk to QFPay and to the merchant, and shuts down gracefully on
 * SIGINT/SIGTERM (in-flight activities get `shutdownGraceTime` to finish).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  Runtime,
  Worker,
  makeTelemetryFilterString,
  type LogLevel,
  type LogMetadata,
} from '@temporalio/worker';
import { createActivities } from './src/activities';
import { loadConfigOrExit, warnAboutUnsafeSettings, type Config } from './src/config';
import { createLogger, type Logger } from './src/logger';
import { startTracing } from './src/observability/tracing';
import { QFPAY_DURATION_BUCKETS_SECONDS, WORKER_METRICS } from './src/observability/worker-metrics';
import { connectClient, connectWorker } from './src/temporal/connection';
import { engineDataConverter } from './src/temporal/data-converter';
import { sharedWorkflowModules } from './src/temporal/workflow-modules';
import { reconcilerScheduleId, startReconciler } from './src/temporal/reconciler-schedule';

/**
 * The SDK's log metadata (workflowId, runId / workflowRunId, activityId, activityType, attempt,
 * namespace, taskQueue) without the activity task token: a long opaque capability that completes
 * the activity, useless in a log line.
 */
function logFields(meta: LogMetadata | undefined): LogMetadata {
  if (!meta || !('taskToken' in meta)) return meta ?? {};
  const { taskToken: _taskToken, ...rest } = meta;
  return rest;
}

/**
 * The workflow bundler logs webpack's whole report (every module, one per line) as one message;
 * as one JSON line it buries everything around it. It is kept at debug level, a line an item;
 * warnings and errors stay at their level. The SDK's own "Workflow bundle created" line (with the
 * size) follows it at info.
 */
export function bundlerReport(logger: Logger, level: LogLevel, message: string, meta: LogMetadata): boolean {
  if (!message.includes('\n') || !/^(asset|runtime modules|modules by) /m.test(message)) return false;
  const lines = message.split('\n').filter((line) => line.trim() !== '');
  const problems = lines.filter((line) => /\b(WARNING|ERROR)\b/.test(line));
  if (level === 'ERROR' || problems.length > 0) {
    logger[level === 'ERROR' ? 'error' : 'warn'](
      { ...meta, webpack: lines },
      'workflow bundle: webpack reported problems',
    );
  } else {
    logger.debug({ ...meta, webpack: lines }, 'workflow bundle: webpack report');
  }
  return true;
}

function installRuntime(logger: Logger, config: Config): void {
  Runtime.install({
    logger: {
      log: (level: LogLevel, message: string, meta?: LogMetadata) => {
        if (bundlerReport(logger, level, message, logFields(meta))) return;
        const pinoLevel =
          level === 'TRACE'
            ? 'trace'
            : level === 'DEBUG'
              ? 'debug'
              : level === 'WARN'
                ? 'warn'
                : level === 'ERROR'
                  ? 'error'
                  : 'info';
        logger[pinoLevel](logFields(meta), message);
      },
      trace: (message, meta) => logger.trace(logFields(meta), message),
      debug: (message, meta) => logger.debug(logFields(meta), message),
      info: (message, meta) => {
        if (!bundlerReport(logger, 'INFO', message, logFields(meta))) logger.info(logFields(meta), message);
      },
      warn: (message, meta) => logger.warn(logFields(meta), message),
      error: (message, meta) => {
        if (!bundlerReport(logger, 'ERROR', message, logFields(meta))) logger.error(logFields(meta), message);
      },
    },
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      ...(config.WORKER_METRICS_PORT
        ? {
            metrics: {
              prometheus: {
                bindAddress: `0.0.0.0:${config.WORKER_METRICS_PORT}`,
                histogramBucketOverrides: {
                  [WORKER_METRICS.qfpayRequestDuration]: [...QFPAY_DURATION_BUCKETS_SECONDS],
                },
              },
            },
          }
        : {}),
    },
  });
}

/** Workflow code: a prebuilt bundle when one is given (faster start), else the sources. */
export function workflowSource(config: Pick<Config, 'WORKFLOW_BUNDLE_PATH'>) {
  if (config.WORKFLOW_BUNDLE_PATH) {
    if (!existsSync(config.WORKFLOW_BUNDLE_PATH)) {
      throw new Error(`WORKFLOW_BUNDLE_PATH=${config.WORKFLOW_BUNDLE_PATH} does not exist`);
    }
    return { workflowBundle: { codePath: config.WORKFLOW_BUNDLE_PATH } };
  }
  const workflowsPath = require.resolve(join(__dirname, 'src', 'workflows'));
  return { workflowsPath, bundlerOptions: sharedWorkflowModules(workflowsPath) };
}

export async function main(): Promise<void> {
  // Off unless OTEL_* asks for it (src/observability/tracing.ts).
  const tracing = startTracing('worker');
  const config = loadConfigOrExit();
  const logger = createLogger('worker', config.LOG_LEVEL);
  installRuntime(logger, config);
  warnAboutUnsafeSettings(config, logger);

  let connection;
  let client;
  try {
    connection = await connectWorker(config);
    client = await connectClient(config, undefined, tracing ? [tracing.plugin] : []);
  } catch (err) {
    logger.fatal(
      {
        address: config.TEMPORAL_ADDRESS,
        namespace: config.TEMPORAL_NAMESPACE,
        reason: (err as Error).message,
      },
      'cannot connect to Temporal: check TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE (and TLS / API key for a remote cluster)',
    );
    process.exit(1);
  }

  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    // The tracing plugin adds its workflow interceptors to the bundle: the worker bundles itself.
    ...workflowSource(tracing ? { WORKFLOW_BUNDLE_PATH: undefined } : config),
    ...(tracing ? { plugins: [tracing.plugin] } : {}),
    dataConverter: engineDataConverter(config),
    activities: createActivities({ config, client, logger }),
    shutdownGraceTime: '10s',
    maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS,
  });
  const reconciler = await startReconciler(client, config).catch((err: unknown) => {
    logger.fatal(
      { reason: (err as Error).message },
      "cannot keep the reconciler's Schedule: a server without Schedules needs RECONCILER=timer",
    );
    process.exit(1);
  });
  logger.info(
    {
      scheduleId: reconcilerScheduleId(config.TEMPORAL_TASK_QUEUE),
      everyMs: config.RECONCILE_EVERY_MS,
    },
    `reconciler: ${reconciler}`,
  );
  logger.info(
    {
      address: config.TEMPORAL_ADDRESS,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
    },
    'worker started',
  );
  if (tracing && config.WORKFLOW_BUNDLE_PATH) {
    logger.warn(
      'traces are on: the workflows were bundled with the OpenTelemetry interceptors (WORKFLOW_BUNDLE_PATH not used)',
    );
  }
  // The SDK's Runtime turns SIGINT/SIGTERM into worker.shutdown(): run() resolves once drained.
  await worker.run();
  await client.connection.close();
  await connection.close();
  await tracing?.shutdown();
  logger.info('worker stopped');
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`worker failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
