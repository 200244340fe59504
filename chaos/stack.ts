/**
 * The chaos suite's own stack. The engine's parts run as supervised child processes, so they can
 * be SIGKILLed like a crash: by default the Temporal CLI's dev server (SQLite), two workers and
 * two API processes; with `--cluster`, the topology of `npm run cluster` (PostgreSQL, the Temporal
 * server, workers and API replicas behind nginx). QFPay is the emulator, in this process, on real
 * time: the suite reads its record and switches its faults directly.
 */
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { freeClusterEnvironment, startCluster, temporaryClusterDataDir } from '../src/dev/cluster';
import { loadClusterConfig } from '../src/dev/cluster-config';
import { freePorts } from '../src/dev/free-ports';
import { devServerArgs, ensureTemporalCli } from '../src/dev/stack';
import { Supervisor } from '../src/dev/supervisor';
import { writeWorkflowBundle } from '../src/dev/workflow-bundle';
import { startQfpayEmulator, type QfpayEmulatorHandle } from '../src/gateways/qfpay/emulator/server';
import { developmentDataConverter } from '../src/dev/development-data-converter';

export const CHAOS_API_KEY = 'chaos-api-key';
export const CHAOS_APP_CODE = 'chaos-app-code';
export const CHAOS_APP_KEY = 'chaos-app-key';
/** A Standard Webhooks secret (`whsec_` + base64 of 38 public bytes). */
export const CHAOS_EVENTS_SECRET = 'whsec_Y2hhb3MtbWVyY2hhbnQtZXZlbnRzLXNlY3JldC10aHJvd2F3YXk=';

export interface ChaosStackOptions {
  cluster: boolean;
  /** Where the engine sends its merchant events (the suite's receiver). */
  merchantEventsUrl: string;
  /** Reconciliation grace of every subscription (short cycles want it short). */
  reconcileGraceMs: number;
  log: (message: string) => void;
  /** Every line every part prints goes here (the evidence when the audit finds something). */
  partsLogPath: string;
}

export interface ChaosStack {
  /** The emulator's base URL (QFPay's API and its `/_emulator` control API). */
  emulatorUrl: string;
  /** Base URLs of the API processes (each addressed directly). */
  apis: string[];
  /** The worker parts' names. */
  workers: string[];
  /** The API parts' names (`apis[i]` is `apiParts[i]`). */
  apiParts: string[];
  temporal: Client;
  /** SIGKILLs a part and starts it again at once. */
  crash(part: string): Promise<void>;
  /** Stops the Temporal server and starts it again. */
  restartTemporal(): Promise<void>;
  stop(): Promise<void>;
}

function engineEnvironment(options: ChaosStackOptions, emulatorUrl: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  return {
    ...env,
    API_KEYS: CHAOS_API_KEY,
    QFPAY_BASE_URL: emulatorUrl,
    QFPAY_APP_CODE: CHAOS_APP_CODE,
    QFPAY_APP_KEY: CHAOS_APP_KEY,
    MERCHANT_EVENTS_URL: options.merchantEventsUrl,
    MERCHANT_EVENTS_SECRET: CHAOS_EVENTS_SECRET,
    RECONCILE_GRACE_MS: String(options.reconcileGraceMs),
    // The reconciler sweeps four times per grace, so a lost notification's question is as timely
    // as with a timer of its own.
    RECONCILE_EVERY_MS: String(Math.max(1_000, Math.floor(options.reconcileGraceMs / 4))),
    LOG_LEVEL: 'warn',
  };
}

async function temporalClient(address: string): Promise<Client> {
  const connection = await Connection.connect({ address });
  return new Client({
    connection,
    dataConverter: developmentDataConverter(),
  });
}

function partsLog(path: string): WriteStream {
  mkdirSync(dirname(path), { recursive: true });
  return createWriteStream(path, { flags: 'w' });
}

async function startEmulator(options: ChaosStackOptions, notifyUrl: string): Promise<QfpayEmulatorHandle> {
  return startQfpayEmulator({
    appCode: CHAOS_APP_CODE,
    appKey: CHAOS_APP_KEY,
    notifyUrl,
    logger: pino({ level: 'silent' }),
  });
}

/** Starts the stack: the dev-server topology, or with `cluster` the PostgreSQL one. */
export async function startChaosStack(options: ChaosStackOptions): Promise<ChaosStack> {
  return options.cluster ? startClusterStack(options) : startDevServerStack(options);
}

/**
 * A part's output line the run shows: errors, not the warnings the faults cause on purpose (an
 * activity retried after an injected 5xx) nor the refusals of a server being restarted.
 */
function worthShowing(line: string): boolean {
  if (/ECONNREFUSED|UNAVAILABLE|Connection refused/.test(line)) return false;
  try {
    const parsed = JSON.parse(line) as { level?: number | string };
    if (typeof parsed.level === 'number') return parsed.level >= 50;
    return /error|fatal/i.test(String(parsed.level ?? ''));
  } catch {
    return /error|fatal/i.test(line);
  }
}

async function startDevServerStack(options: ChaosStackOptions): Promise<ChaosStack> {
  const dataDir = mkdtempSync(join(tmpdir(), 'qfpay-chaos-'));
  const [temporalPort, api1, api2] = await freePorts(3);
  const apiPorts = [api1!, api2!];
  const emulator = await startEmulator(options, `http://127.0.0.1:${api1}/webhooks/qfpay`);
  const parts = partsLog(options.partsLogPath);
  // The workflows with the chaos run's own fault in the sandbox: the first start of one merchant
  // event delivery in three is refused (chaos/refuse-event-starts.ts).
  const bundle = await writeWorkflowBundle(join(dataDir, 'workflow-bundle.js'), undefined, [
    require.resolve('./refuse-event-starts'),
  ]);
  const address = `127.0.0.1:${temporalPort}`;
  const env = {
    ...engineEnvironment(options, emulator.url),
    TEMPORAL_ADDRESS: address,
    WORKFLOW_BUNDLE_PATH: bundle,
  };
  const supervisor = new Supervisor({
    cwd: join(__dirname, '..'),
    env,
    describe: (name) => name,
    output: (part, line) => {
      parts.write(`${part} | ${line}\n`);
      if (worthShowing(line)) options.log(`${part} | ${line.slice(0, 300)}`);
    },
    progress: options.log,
    readyTimeoutMs: 120_000,
    stopGraceMs: 10_000,
  });
  const node = (entry: string, extra: Record<string, string> = {}) => ({
    command: process.execPath,
    args: ['--import', 'tsx', entry],
    env: { ...env, ...extra },
    restart: true,
  });
  supervisor.start('temporal', {
    command: ensureTemporalCli(options.log),
    args: devServerArgs(temporalPort!, join(dataDir, 'temporal.sqlite'), [
      '--headless',
      '--log-level',
      'error',
    ]),
    quietWhileStopping: true,
    restart: true,
  });
  let temporal: Client | undefined;
  await supervisor.waitFor('temporal', 'gRPC', async () => {
    temporal = await temporalClient(address).catch(() => undefined);
    return temporal !== undefined;
  });
  const workers = ['worker-1', 'worker-2'];
  for (const name of workers) supervisor.start(name, node('worker.ts'));
  const apiParts = ['api-1', 'api-2'];
  apiParts.forEach((name, i) =>
    supervisor.start(name, node('src/api/main.ts', { PORT: String(apiPorts[i]) })),
  );
  const apis = apiPorts.map((p) => `http://127.0.0.1:${p}`);
  for (const [i, url] of apis.entries()) {
    await supervisor.waitFor(
      apiParts[i]!,
      '/readyz',
      async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.ok === true,
    );
  }
  supervisor.markRunning();
  return {
    emulatorUrl: emulator.url,
    apis,
    workers,
    apiParts,
    temporal: temporal!,
    crash: async (part) => {
      await supervisor.crash(part);
    },
    restartTemporal: async () => {
      await supervisor.restart('temporal');
    },
    stop: async () => {
      await temporal?.connection.close().catch(() => undefined);
      await supervisor.stopAll();
      await emulator.close();
      parts.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function startClusterStack(options: ChaosStackOptions): Promise<ChaosStack> {
  const dataDir = temporaryClusterDataDir();
  const clusterEnv = await freeClusterEnvironment({ workers: 2, replicas: 2 }, dataDir);
  // The cluster runs its own emulator (its default credentials); the suite drives it over HTTP.
  const env = { ...engineEnvironment(options, ''), ...clusterEnv };
  const parts = partsLog(options.partsLogPath);
  delete env.QFPAY_BASE_URL;
  delete env.QFPAY_APP_CODE;
  delete env.QFPAY_APP_KEY;
  const cluster = await startCluster({
    config: loadClusterConfig(env),
    env,
    onProgress: options.log,
    onOutput: (part, line) => parts.write(`${part} | ${line}\n`),
  });
  const temporal = await temporalClient(cluster.urls.temporal);
  const names = cluster.parts().map((p) => p.name);
  return {
    emulatorUrl: cluster.urls.emulator!,
    apis: cluster.urls.replicas,
    workers: names.filter((n) => n.startsWith('worker')),
    apiParts: names.filter((n) => n.startsWith('api-')),
    temporal,
    crash: async (part) => {
      await cluster.crash(part);
    },
    restartTemporal: async () => {
      await cluster.restart('temporal');
    },
    stop: async () => {
      await temporal.connection.close().catch(() => undefined);
      await cluster.stop();
      parts.end();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
