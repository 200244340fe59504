/**
 * The benchmark's own stack: a Temporal dev server (in memory or on a SQLite file) or the
 * Temporal server on PostgreSQL of `npm run cluster`, the QFPay emulator (frozen clock, its own
 * notifications off: the benchmark drives the webhook), the HTTP API and the worker, each in a
 * child process of its own. Everything is on loopback and everything is stopped by `close()`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createQfpayClient } from '../src/activities';
import { loadConfig, type Config } from '../src/config';
import {
  findPostgresBin,
  freeClusterEnvironment,
  startCluster,
  temporaryClusterDataDir,
} from '../src/dev/cluster';
import { loadClusterConfig } from '../src/dev/cluster-config';
import { dynamicConfigFlags, engineServerConfig } from '../src/dev/stack';
import { devServerExecutable } from '../src/dev/temporal-binaries';
import { engineDataConverter } from '../src/temporal/data-converter';
import { createLogger } from '../src/logger';
import type { QfpayClient } from '../src/gateways/qfpay/client';
import { startQfpayEmulator, type QfpayEmulatorHandle } from '../src/gateways/qfpay/emulator/server';
import { ALL_SEARCH_ATTRIBUTE_KEYS } from '../src/workflows/definitions';
import { startApiProcess } from './api-process';
import { startWorkerProcess, type WorkerProcess } from './worker-process';
import type { WorkerTuning } from './worker-protocol';

const execFileAsync = promisify(execFile);

export const BENCH_API_KEY = 'bench-api-key';
export const BENCH_APP_CODE = 'bench-app-code';
export const BENCH_APP_KEY = 'bench-app-key';
export const BENCH_TASK_QUEUE = 'bench-subscriptions';

/**
 * Where Temporal keeps its state: the dev server in memory or on a SQLite file, or the Temporal
 * server on PostgreSQL that `npm run cluster` runs (`cluster`).
 */
export type DbMode = 'memory' | 'sqlite' | 'cluster';

export interface BenchStackOptions {
  db: DbMode;
  /** `--sqlite-pragma` values for the dev server (SQLite only), e.g. `journal_mode=wal`. */
  sqlitePragmas?: string[];
  /**
   * Dynamic config of the dev server (memory and SQLite), `name=value` each, e.g.
   * `system.enableActivityEagerExecution=true`.
   */
  serverConfig?: string[];
  /** A prebuilt workflow bundle for the worker (`WORKFLOW_BUNDLE_PATH`). */
  workflowBundlePath?: string;
  /** `WORKER_MAX_CACHED_WORKFLOWS` of the main worker. */
  maxCachedWorkflows?: number;
  tuning?: WorkerTuning;
  /** Where the API process writes a V8 CPU profile when it stops (`--api-cpu-prof`). */
  apiCpuProfDir?: string;
  /** Also run `bench/bare-webhook-api.ts`, the webhook intake without Express (`--bare-webhook`). */
  bareWebhook?: boolean;
}

export interface BenchStack {
  db: DbMode;
  client: Client;
  /** `host:port` of the dev server's frontend. */
  temporalAddress: string;
  namespace: string;
  qfpayEmulator: QfpayEmulatorHandle;
  config: Config;
  qfpay: QfpayClient;
  apiUrl: string;
  /** The API child's pid (for its CPU time). */
  apiPid: number;
  /** With `bareWebhook`: the bare webhook server's URL and pid. */
  bareWebhook?: { url: string; pid: number };
  worker: WorkerProcess;
  /** The environment a worker child needs for this stack, on `taskQueue`. */
  workerEnv(taskQueue: string, extra?: Record<string, string>): Record<string, string>;
  /** `cluster` only: bytes of Temporal's two PostgreSQL databases (tables and indexes). */
  databaseBytes?: () => Promise<number>;
  close(): Promise<void>;
}

let runtimeInstalled = false;

/** Starts the whole stack; on failure whatever was started is stopped again. */
export async function startBenchStack(options: BenchStackOptions): Promise<BenchStack> {
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
    runtimeInstalled = true;
  }
  const cleanups: Array<() => Promise<void> | void> = [];
  const cleanup = async (): Promise<void> => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch {
        // Keep stopping the rest.
      }
    }
  };
  try {
    const { client, temporalAddress, namespace, databaseBytes } =
      options.db === 'cluster'
        ? await startClusterTemporal(cleanups)
        : await startDevServer(options, cleanups);

    const qfpayEmulator = await startQfpayEmulator({
      appCode: BENCH_APP_CODE,
      appKey: BENCH_APP_KEY,
      frozen: true,
      retryFractions: [],
      faults: { notificationsEnabled: false },
    });
    cleanups.push(() => qfpayEmulator.close());

    const workerEnv = (taskQueue: string, extra: Record<string, string> = {}): Record<string, string> => ({
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_NAMESPACE: namespace,
      TEMPORAL_TASK_QUEUE: taskQueue,
      QFPAY_BASE_URL: qfpayEmulator.url,
      QFPAY_APP_CODE: BENCH_APP_CODE,
      QFPAY_APP_KEY: BENCH_APP_KEY,
      ...(options.workflowBundlePath ? { WORKFLOW_BUNDLE_PATH: options.workflowBundlePath } : {}),
      ...extra,
    });

    const config = loadConfig({
      ...workerEnv(BENCH_TASK_QUEUE),
      API_KEYS: BENCH_API_KEY,
      LOG_LEVEL: 'silent',
    });
    const logger = createLogger('bench', 'silent');
    const qfpay = createQfpayClient(config, logger);
    const api = await startApiProcess({
      ...workerEnv(BENCH_TASK_QUEUE),
      API_KEYS: BENCH_API_KEY,
      // The benchmark is one client driving the API as hard as it goes: no per-client limit.
      RATE_LIMIT_PER_MINUTE: String(Number.MAX_SAFE_INTEGER),
      ...(options.apiCpuProfDir ? { BENCH_API_CPU_PROF_DIR: options.apiCpuProfDir } : {}),
    });
    cleanups.push(() => api.stop());
    const apiUrl = api.url;
    let bareWebhook: BenchStack['bareWebhook'];
    if (options.bareWebhook) {
      const bare = await startApiProcess(
        { ...workerEnv(BENCH_TASK_QUEUE), API_KEYS: BENCH_API_KEY },
        undefined,
        join(__dirname, 'bare-webhook-api.ts'),
      );
      cleanups.push(() => bare.stop());
      bareWebhook = { url: bare.url, pid: bare.pid };
    }

    const worker = await startWorkerProcess(
      workerEnv(
        BENCH_TASK_QUEUE,
        options.maxCachedWorkflows ? { WORKER_MAX_CACHED_WORKFLOWS: String(options.maxCachedWorkflows) } : {},
      ),
      options.tuning,
    );
    cleanups.push(() => worker.stop());

    return {
      db: options.db,
      client,
      temporalAddress,
      namespace,
      qfpayEmulator,
      config,
      qfpay,
      apiUrl,
      apiPid: api.pid,
      ...(bareWebhook ? { bareWebhook } : {}),
      worker,
      workerEnv,
      ...(databaseBytes ? { databaseBytes } : {}),
      close: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

type Cleanups = Array<() => Promise<void> | void>;

/**
 * The dev server's arguments for dynamic config values, `name=value` each.
 * @throws Error naming a value that is not `name=value`
 */
export function serverConfigArgs(values: readonly string[]): string[] {
  for (const v of values)
    if (!/^[A-Za-z][\w.]*=\S+$/.test(v)) throw new Error(`server config "${v}" is not name=value`);
  return dynamicConfigFlags(values);
}

/** The dev server, in memory or on a SQLite file with the given pragmas and dynamic config. */
async function startDevServer(options: BenchStackOptions, cleanups: Cleanups) {
  let dbFilename: string | undefined;
  if (options.db === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'qfpay-bench-'));
    dbFilename = join(dir, 'temporal.db');
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  }
  const pragmas = options.db === 'sqlite' ? (options.sqlitePragmas ?? []) : [];
  const env = await TestWorkflowEnvironment.createLocal({
    // The engine's own codec, so the benchmark measures encrypted payloads as production has them.
    client: { dataConverter: engineDataConverter(loadConfig({})) },
    server: {
      executable: devServerExecutable(),
      searchAttributes: ALL_SEARCH_ATTRIBUTE_KEYS,
      ip: '127.0.0.1',
      log: { format: 'json', level: 'never' },
      ...(dbFilename ? { dbFilename } : {}),
      extraArgs: [
        ...pragmas.flatMap((p) => ['--sqlite-pragma', p]),
        // The engine's own config (as `npm start` runs), each `--server-config` replacing its value.
        ...serverConfigArgs(engineServerConfig(options.serverConfig ?? [])),
      ],
    },
  });
  cleanups.push(() => env.teardown());
  return {
    client: env.client,
    temporalAddress: env.address,
    namespace: env.namespace ?? 'default',
    databaseBytes: undefined,
  };
}

/**
 * PostgreSQL, the schema and namespace jobs and the Temporal server of `npm run cluster`, in a
 * temporary DATA_DIR on free ports (the cluster's own workers and API are not started).
 */
async function startClusterTemporal(cleanups: Cleanups) {
  const dataDir = temporaryClusterDataDir();
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const env = await freeClusterEnvironment({ workers: 1, replicas: 1 }, dataDir);
  const cluster = await startCluster({
    config: loadClusterConfig({ ...env, TEMPORAL_LOG_LEVEL: 'error' }),
    temporalOnly: true,
    onOutput: () => {},
  });
  cleanups.push(() => cluster.stop());
  const namespace = cluster.config.TEMPORAL_NAMESPACE;
  const connection = await Connection.connect({ address: cluster.urls.temporal });
  cleanups.push(() => connection.close());
  const psql = join(findPostgresBin() ?? '', 'psql');
  const databaseBytes = async (): Promise<number> => {
    const { stdout } = await execFileAsync(
      psql,
      [
        '-h',
        '127.0.0.1',
        '-p',
        env.POSTGRES_PORT!,
        '-U',
        'temporal',
        '-d',
        'postgres',
        '-At',
        '-c',
        "select pg_database_size('temporal') + pg_database_size('temporal_visibility')",
      ],
      { env: { ...process.env, PGPASSWORD: cluster.config.POSTGRES_PASSWORD } },
    );
    return Number(stdout.trim());
  };
  return {
    client: new Client({ connection, namespace, dataConverter: engineDataConverter(loadConfig({})) }),
    temporalAddress: cluster.urls.temporal,
    namespace,
    databaseBytes,
  };
}
