/**
 * The engine's worker in a child process of the benchmark, so its memory is measured alone and it
 * gets its own event loop (as in production). Configured through the engine's own environment
 * variables plus `BENCH_WORKER_OPTIONS` (JSON worker options, e.g. poller counts). Answers the
 * parent over IPC: `status` (cache, in-flight work, memory after a full GC) and `shutdown`.
 */
import { readFileSync } from 'node:fs';
import { DefaultLogger, Runtime, Worker, makeTelemetryFilterString } from '@temporalio/worker';
import { createActivities } from '../src/activities';
import { startReconciler } from '../src/temporal/reconciler-schedule';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/logger';
import { connectClient, connectWorker } from '../src/temporal/connection';
import { engineDataConverter } from '../src/temporal/data-converter';
import { workflowSource } from '../worker';
import type { WorkerChildReply, WorkerChildRequest, WorkerTuning } from './worker-protocol';

/** VmRSS of this process in KiB, from the kernel (covers every V8 isolate and native memory). */
function vmRssKb(): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const tuning = JSON.parse(process.env.BENCH_WORKER_OPTIONS ?? '{}') as WorkerTuning;
  // Core's warnings (e.g. slow workflow tasks under load) would drown the report; errors stay.
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }), forward: {} } },
  });
  const logger = createLogger('bench-worker', config.LOG_LEVEL);
  const connection = await connectWorker(config);
  const client = await connectClient(config);
  const started = Date.now();
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    ...workflowSource(config),
    dataConverter: engineDataConverter(config),
    activities: createActivities({ config, client, logger }),
    shutdownGraceTime: '2s',
    ...(config.WORKER_MAX_CACHED_WORKFLOWS === undefined
      ? {}
      : { maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS }),
    ...tuning,
  });
  const createMs = Date.now() - started;
  const running = worker.run();
  await startReconciler(client, config);

  const send = (reply: WorkerChildReply): void => {
    process.send?.(reply);
  };
  process.on('message', (message: WorkerChildRequest) => {
    if (message.kind === 'status') {
      if (message.gc) (globalThis as { gc?: () => void }).gc?.();
      const status = worker.getStatus();
      const memory = process.memoryUsage();
      send({
        kind: 'status',
        id: message.id,
        numCachedWorkflows: status.numCachedWorkflows,
        inFlightActivations: status.numInFlightWorkflowActivations,
        inFlightActivities: status.numInFlightActivities,
        rssKb: vmRssKb() ?? Math.round(memory.rss / 1024),
        heapUsedKb: Math.round(memory.heapUsed / 1024),
        externalKb: Math.round(memory.external / 1024),
      });
    } else if (message.kind === 'shutdown') {
      worker.shutdown();
    }
  });
  // The parent going away (Ctrl-C, crash) must not leave a worker polling.
  process.on('disconnect', () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
  });
  send({ kind: 'ready', createMs });
  await running;
  await client.connection.close();
  await connection.close();
  if (process.connected) process.disconnect();
}

main().catch((err: unknown) => {
  process.stderr.write(
    `bench worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
