/**
 * The local stack behind `npm start`: the codec server, the Temporal dev server (SQLite file,
 * Web UI decoding payloads through the codec server, the engine's search attributes), the QFPay
 * emulator, the worker and the API, each a child process of the supervisor
 * (src/dev/supervisor.ts), started in that order and each waited for before the next, stopped in
 * reverse order. If one part dies, the others are stopped and the caller learns which.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { ConfigError, loadConfig } from '../config';
import { GATEWAY_MODULES } from '../gateways/registry';
import { QFPAY_GATEWAY } from '../domain/gateway-profile';
import { DEFAULT_EMULATOR_APP_CODE, DEFAULT_EMULATOR_APP_KEY } from '../gateways/qfpay/emulator/credentials';
import { ALL_SEARCH_ATTRIBUTE_KEYS } from '../workflows/definitions';
import { endpointsOf } from './stack-client';
import { StackConfigError, type StackConfig } from './stack-config';
import { StackError, Supervisor, httpOk, type PartExit, type PartInfo } from './supervisor';
import { findTemporalCli } from './temporal-binaries';

export { StackError, exitText, httpOk, type StackErrorType } from './supervisor';

const ROOT = resolve(__dirname, '..', '..');

/** The parts of the stack, in start order. */
export type PartName = 'codec' | 'temporal' | 'emulator' | 'worker' | 'api';

const PART_DESCRIPTIONS: Record<PartName, string> = {
  codec: 'the codec server',
  temporal: 'the Temporal dev server',
  emulator: 'the QFPay emulator',
  worker: 'the worker',
  api: "the engine's API",
};

/** A port the stack needs that something else holds. */
export interface PortInUse {
  variable: string;
  port: number;
  /** What would listen there, e.g. "the worker". */
  what: string;
}

/** The user-facing sentence for a port in use. */
export function describePortInUse(p: PortInUse): string {
  return `${p.variable} ${p.port} is already in use (${p.what}); set ${p.variable}=… to use another`;
}

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) => {
      // A machine without IPv6 cannot be asked about `::`; the IPv4 check still stands.
      done(err.code === 'EAFNOSUPPORT' || err.code === 'EADDRNOTAVAIL');
    });
    server.listen({ port, host, exclusive: true }, () => server.close(() => done(true)));
  });
}

/**
 * The ports of `config` that are taken. The API listens on every interface, the others on
 * 127.0.0.1; both the loopback and the wildcard address are tried so either kind of holder is seen.
 */
export async function findPortsInUse(config: StackConfig): Promise<PortInUse[]> {
  return portsInUse([
    { variable: 'TEMPORAL_PORT', port: config.TEMPORAL_PORT, what: PART_DESCRIPTIONS.temporal },
    { variable: 'TEMPORAL_UI_PORT', port: config.TEMPORAL_UI_PORT, what: 'the Temporal Web UI' },
    { variable: 'CODEC_SERVER_PORT', port: config.CODEC_SERVER_PORT, what: PART_DESCRIPTIONS.codec },
    ...(config.useEmulator
      ? [{ variable: 'EMULATOR_PORT', port: config.EMULATOR_PORT, what: PART_DESCRIPTIONS.emulator }]
      : []),
    { variable: 'PORT', port: config.PORT, what: PART_DESCRIPTIONS.api },
  ]);
}

/** Those of `wanted` that something listens on already. */
export async function portsInUse(wanted: PortInUse[]): Promise<PortInUse[]> {
  const taken: PortInUse[] = [];
  for (const p of wanted) {
    if (!(await canListen(p.port, '127.0.0.1')) || !(await canListen(p.port, '::'))) taken.push(p);
  }
  return taken;
}

/**
 * The Temporal CLI, provisioning it first (`scripts/provision-temporal.sh --if-possible`) when it
 * is nowhere to be found.
 * @throws StackError `temporal_cli_missing` saying how to get one
 */
export function ensureTemporalCli(log: (message: string) => void = () => {}): string {
  const found = findTemporalCli();
  if (found) return found;
  log('no Temporal CLI found: trying to build it (scripts/provision-temporal.sh, needs Go; once only)');
  spawnSync('bash', [join(ROOT, 'scripts', 'provision-temporal.sh'), '--if-possible'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const provisioned = findTemporalCli();
  if (provisioned) return provisioned;
  throw new StackError(
    'temporal_cli_missing',
    [
      'The Temporal CLI is needed to run the local Temporal server, and none was found.',
      'Get it one of these ways, then run npm start again:',
      '  - install Go >= 1.23 and run: npm run provision',
      '  - install it (e.g. brew install temporal, or https://docs.temporal.io/cli) so that `temporal` is on PATH',
      '  - point TEMPORAL_CLI_PATH at an existing temporal binary',
    ].join('\n'),
  );
}

/** Where the running stack can be reached. */
export interface StackUrls {
  api: string;
  openapi: string;
  webhook: string;
  webUi: string;
  /** The codec server the Web UI decodes payloads through. */
  codecServer: string;
  /** `host:port` of Temporal's gRPC frontend. */
  temporal: string;
  /** The emulator, or null when real QFPay is used. */
  emulator: string | null;
  qfpay: string;
  /** Each gateway behind the port: its emulator's URL (`/_emulator` controls), or the real one's. */
  gateways: Record<string, string>;
}

export interface RunningStack {
  config: StackConfig;
  urls: StackUrls;
  /** The first of `API_KEYS`: the key to send as `Authorization: Bearer …`. */
  apiKey: string;
  parts: Array<PartInfo<PartName>>;
  /** Milliseconds from the call to every part being ready. */
  readyMs: number;
  /** Resolves when a part exits on its own; the rest are stopped by then. Never rejects. */
  failed: Promise<PartExit<PartName>>;
  /** Stops every part in reverse order. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILLs every part at once (a second Ctrl-C). */
  kill(): void;
}

export interface StartStackOptions {
  config: StackConfig;
  /** Each output line of a part; default: written to this process's stdout/stderr with a prefix. */
  onOutput?: (part: PartName, line: string, stream: 'stdout' | 'stderr') => void;
  /** Progress messages of the supervisor itself. */
  onProgress?: (message: string) => void;
  /** The Temporal CLI; default `ensureTemporalCli()`. */
  temporalCli?: string;
  /** The environment the parts inherit (default `process.env`); the stack's own settings win. */
  env?: NodeJS.ProcessEnv;
  /** Aborting during start-up stops what was started and rejects with `aborted`. */
  signal?: AbortSignal;
}

/** Variables that would point the parts at another Temporal than the one started here. */
const FOREIGN_TEMPORAL_VARS = [
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_CERT_PATH',
  'TEMPORAL_TLS_KEY_PATH',
  'TEMPORAL_TLS_CA_PATH',
  'TEMPORAL_TLS_SERVER_NAME',
];

/** The QFPay emulator's state file in a stack's data folder. */
export function emulatorStateFile(dataDir: string): string {
  return join(dataDir, 'qfpay-emulator-state.json');
}

/**
 * Renames the emulator's state file of a data folder from before it had its name
 * (`sandbox-state.json`) to {@link emulatorStateFile}, so the emulator carries on with the
 * subscriptions the Temporal data beside it knows. Does nothing when there is no older file, or
 * when a current one exists already.
 * @returns whether the file was renamed
 */
export function adoptOlderEmulatorState(dataDir: string): boolean {
  const older = join(dataDir, 'sandbox-state.json');
  const current = emulatorStateFile(dataDir);
  if (!existsSync(older) || existsSync(current)) return false;
  renameSync(older, current);
  return true;
}

/** The environment every Node part gets, so that all of them agree. */
export function partEnvironment(
  config: StackConfig,
  base: NodeJS.ProcessEnv = process.env,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const name of FOREIGN_TEMPORAL_VARS) delete env[name];
  // Set by `node --test` for its own subprocesses; the parts are not test files.
  delete env.NODE_TEST_CONTEXT;
  const qfpayUrl = config.useEmulator
    ? `http://127.0.0.1:${config.EMULATOR_PORT}`
    : (config.QFPAY_BASE_URL ?? '');
  Object.assign(env, {
    TEMPORAL_ADDRESS: `127.0.0.1:${config.TEMPORAL_PORT}`,
    TEMPORAL_NAMESPACE: config.TEMPORAL_NAMESPACE,
    TEMPORAL_TASK_QUEUE: config.TEMPORAL_TASK_QUEUE,
    PORT: String(config.PORT),
    API_KEYS: config.API_KEYS,
    LOG_LEVEL: config.LOG_LEVEL,
    QFPAY_BASE_URL: qfpayUrl,
    QFPAY_APP_CODE: config.QFPAY_APP_CODE ?? (config.useEmulator ? DEFAULT_EMULATOR_APP_CODE : ''),
    QFPAY_APP_KEY: config.QFPAY_APP_KEY ?? (config.useEmulator ? DEFAULT_EMULATOR_APP_KEY : ''),
    EMULATOR_PORT: String(config.EMULATOR_PORT),
    EMULATOR_HOST: '127.0.0.1',
    EMULATOR_NOTIFY_URL: `http://127.0.0.1:${config.PORT}/webhooks/qfpay`,
    EMULATOR_STATE_FILE: emulatorStateFile(config.dataDir),
    CODEC_SERVER_PORT: String(config.CODEC_SERVER_PORT),
    CODEC_SERVER_HOST: '127.0.0.1',
    // The browser calls the codec server from the Web UI's page, under either name of loopback.
    CODEC_SERVER_CORS_ORIGINS: `http://127.0.0.1:${config.TEMPORAL_UI_PORT},http://localhost:${config.TEMPORAL_UI_PORT}`,
  });
  return env;
}

/** `--search-attribute` values for the CLI, from the engine's own definitions. */
export function searchAttributeFlags(): string[] {
  const cliType: Record<string, string> = {
    TEXT: 'Text',
    KEYWORD: 'Keyword',
    INT: 'Int',
    DOUBLE: 'Double',
    BOOL: 'Bool',
    DATETIME: 'Datetime',
    KEYWORD_LIST: 'KeywordList',
  };
  return ALL_SEARCH_ATTRIBUTE_KEYS.flatMap((key) => [
    '--search-attribute',
    `${key.name}=${cliType[key.type]}`,
  ]);
}

/**
 * Dynamic config every Temporal server of the engine runs with: the dev server's flags here and in
 * the tests, and the cluster's `deploy/temporal/dynamicconfig/production-sql.yaml`.
 *
 * - `system.enableActivityEagerExecution`: a worker that completes a workflow task gets the
 *   activity it scheduled in the same answer, with no trip through matching (the SDK asks for it;
 *   the server has it off by default). Measured by `npm run bench` (docs/performance.md, "Eager
 *   activity dispatch"): creation faster in 10 of 11 alternating pairs, the server's CPU per
 *   creation about 10 % lower; the chaos runs with their worker kills pass with it. It changes no
 *   history.
 */
export const ENGINE_SERVER_CONFIG: Readonly<Record<string, string>> = {
  'system.enableActivityEagerExecution': 'true',
};

/**
 * The engine's server config as `name=value`, each of `overrides` (`name=value`) replacing the
 * engine's value of the same name.
 */
export function engineServerConfig(overrides: readonly string[] = []): string[] {
  const overridden = new Set(overrides.map((o) => o.slice(0, o.indexOf('='))));
  return [
    ...Object.entries(ENGINE_SERVER_CONFIG)
      .filter(([name]) => !overridden.has(name))
      .map(([name, value]) => `${name}=${value}`),
    ...overrides,
  ];
}

/** The dev server's flags for dynamic config values, from `name=value` each. */
export function dynamicConfigFlags(values: readonly string[]): string[] {
  return values.flatMap((v) => ['--dynamic-config-value', v]);
}

/** The dev server's arguments: on loopback, on a SQLite file, with the engine's search attributes. */
export function devServerArgs(port: number, dbFile: string, extra: readonly string[] = []): string[] {
  return [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    ...dynamicConfigFlags(engineServerConfig()),
    ...extra,
    '--db-filename',
    dbFile,
    // Measured by `npm run bench`: 3.5x webhook throughput, 2.6x creation on the SQLite file.
    '--sqlite-pragma',
    'journal_mode=wal',
    '--sqlite-pragma',
    'synchronous=normal',
    ...searchAttributeFlags(),
  ];
}

/**
 * Starts the whole stack and resolves once every part is ready.
 * @throws StackConfigError when the parts would refuse the configuration
 * @throws StackError `port_in_use` (nothing started), `part_exited` / `not_ready` (what was started
 *   is stopped again), `aborted`
 */
export async function startLocalStack(options: StartStackOptions): Promise<RunningStack> {
  const started = Date.now();
  const { config } = options;
  const progress = options.onProgress ?? (() => {});
  const output =
    options.onOutput ??
    ((part: PartName, line: string, stream: 'stdout' | 'stderr') =>
      (stream === 'stdout' ? process.stdout : process.stderr).write(`${part.padEnd(8)} | ${line}\n`));

  const env = partEnvironment(config, options.env ?? process.env);
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) throw new StackConfigError(err.problems);
    throw err;
  }
  const taken = await findPortsInUse(config);
  if (taken.length > 0) throw new StackError('port_in_use', taken.map(describePortInUse).join('\n'));
  const cli = options.temporalCli ?? ensureTemporalCli(progress);
  mkdirSync(config.dataDir, { recursive: true });
  if (adoptOlderEmulatorState(config.dataDir)) {
    progress(`renamed the emulator's state file to ${emulatorStateFile(config.dataDir)}`);
  }

  const supervisor = new Supervisor({
    cwd: ROOT,
    env,
    describe: (name) => PART_DESCRIPTIONS[name as PartName],
    output: (part, line, stream) => output(part as PartName, line, stream),
    progress,
    readyTimeoutMs: config.STACK_READY_TIMEOUT_MS,
    stopGraceMs: config.STACK_STOP_GRACE_MS,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  // Resolved from the cwd (the project root); the supervisor's own flags are not inherited.
  const node = (entry: string) => ({ command: process.execPath, args: ['--import', 'tsx', entry] });

  let connection: Connection | undefined;
  const gatewayEmulators: Array<{ name: string; url: string; close(): Promise<void> }> = [];
  const closeGatewayEmulators = async (): Promise<void> => {
    await Promise.allSettled(gatewayEmulators.splice(0).map((e) => e.close()));
  };
  const temporalAddress = `127.0.0.1:${config.TEMPORAL_PORT}`;
  const { webUiUrl: webUi, emulatorUrl, apiUrl, apiKey } = endpointsOf(config);
  const codecServer = `http://127.0.0.1:${config.CODEC_SERVER_PORT}`;
  try {
    progress(`starting ${PART_DESCRIPTIONS.codec} on ${codecServer}`);
    // Every part is started again if it crashes once the stack runs (with a growing delay).
    supervisor.start('codec', { ...node(join('src', 'codec-server', 'main.ts')), restart: true });
    await supervisor.waitFor('codec', '/healthz', () => httpOk(`${codecServer}/healthz`));

    progress(`starting ${PART_DESCRIPTIONS.temporal} on ${temporalAddress} (data: ${config.dataDir})`);
    supervisor.start('temporal', {
      command: cli,
      args: devServerArgs(config.TEMPORAL_PORT, join(config.dataDir, 'temporal.sqlite'), [
        '--ui-port',
        String(config.TEMPORAL_UI_PORT),
        // The Web UI shows payloads decrypted by the codec server (the browser calls it).
        '--ui-codec-endpoint',
        codecServer,
        '--namespace',
        config.TEMPORAL_NAMESPACE,
      ]),
      // The dev server complains about its own internal connections while it shuts down.
      quietWhileStopping: true,
      restart: true,
    });
    await supervisor.waitFor('temporal', 'gRPC GetSystemInfo', async () => {
      connection ??= await temporalAnswers(temporalAddress);
      return connection !== undefined;
    });
    await ensureSearchAttributes(connection!, config.TEMPORAL_NAMESPACE);
    await supervisor.waitFor('temporal', 'Web UI', () => httpOk(webUi));

    if (config.useEmulator) {
      progress(`starting ${PART_DESCRIPTIONS.emulator} on ${emulatorUrl}`);
      supervisor.start('emulator', {
        ...node(join('src', 'gateways', 'qfpay', 'emulator', 'main.ts')),
        restart: true,
      });
      await supervisor.waitFor('emulator', '/healthz', () => httpOk(`${emulatorUrl}/healthz`));
      // A part of its own (supervised, restarted); listed with the in-process emulators below.
      gatewayEmulators.push({ name: QFPAY_GATEWAY, url: emulatorUrl, close: () => Promise.resolve() });
    }

    // The other gateways' emulators run in this process (each is small, and each makes its own
    // keys and tokens at start, which the worker and the API then receive). A gateway whose
    // variables are set (the real one, or QFPay's, whose base URL is always set) gets none.
    for (const module of GATEWAY_MODULES) {
      if (module.configured(env)) continue;
      const emulator = await module.startEmulator({
        port: 0,
        host: '127.0.0.1',
        notifyUrl: `${apiUrl}/webhooks/${module.name}`,
        ...(config.EMULATOR_START_TIME === undefined
          ? {}
          : { startMs: Date.parse(config.EMULATOR_START_TIME) }),
      });
      gatewayEmulators.push({ name: module.name, ...emulator });
      Object.assign(env, emulator.env);
      progress(`started the ${module.name} emulator on ${emulator.url}`);
    }

    progress(`starting ${PART_DESCRIPTIONS.worker} on task queue ${config.TEMPORAL_TASK_QUEUE}`);
    supervisor.start('worker', { ...node('worker.ts'), restart: true });
    await supervisor.waitFor('worker', 'polling its task queue', async () => {
      const pollers = await workflowPollers(
        connection!,
        config.TEMPORAL_NAMESPACE,
        config.TEMPORAL_TASK_QUEUE,
      );
      return pollers.length > 0;
    });

    progress(`starting ${PART_DESCRIPTIONS.api} on ${apiUrl}`);
    supervisor.start('api', { ...node('src/api/main.ts'), restart: true });
    await supervisor.waitFor('api', '/readyz', () => httpOk(`${apiUrl}/readyz`));
  } catch (err) {
    await connection?.close().catch(() => {});
    await supervisor.stopAll();
    await closeGatewayEmulators();
    throw err;
  }
  await connection?.close().catch(() => {});
  supervisor.markRunning();

  return {
    config,
    urls: {
      api: apiUrl,
      openapi: `${apiUrl}/openapi.json`,
      webhook: `${apiUrl}/webhooks/qfpay`,
      webUi,
      codecServer,
      temporal: temporalAddress,
      emulator: config.useEmulator ? emulatorUrl : null,
      qfpay: env.QFPAY_BASE_URL ?? '',
      gateways: Object.fromEntries(
        GATEWAY_MODULES.map((m) => [
          m.name,
          gatewayEmulators.find((e) => e.name === m.name)?.url ?? `${m.name} (configured by its variables)`,
        ]),
      ),
    },
    apiKey,
    parts: supervisor.parts().map((p) => ({
      name: p.name as PartName,
      description: PART_DESCRIPTIONS[p.name as PartName],
      pid: p.pid,
    })),
    readyMs: Date.now() - started,
    failed: supervisor.failed as Promise<PartExit<PartName>>,
    stop: async () => {
      await supervisor.stopAll();
      await closeGatewayEmulators();
    },
    kill: () => supervisor.killAll(),
  };
}

/** The user-facing name of a part. */
export function describePart(part: PartName): string {
  return PART_DESCRIPTIONS[part];
}

/** A connection to the Temporal frontend at `address` once it answers GetSystemInfo, else undefined. */
export async function temporalAnswers(address: string): Promise<Connection | undefined> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: 1_000 });
    await connection.workflowService.getSystemInfo({});
    return connection;
  } catch {
    await connection?.close().catch(() => {});
    return undefined;
  }
}

/**
 * The CLI registers the attributes given on its command line; this only covers a server that did
 * not (an older database, another CLI), adding what is missing and tolerating "already exists".
 */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const { IndexedValueType } = temporal.api.enums.v1;
  const types: Record<string, temporal.api.enums.v1.IndexedValueType> = {
    TEXT: IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
    KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    INT: IndexedValueType.INDEXED_VALUE_TYPE_INT,
    DOUBLE: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
    BOOL: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
    DATETIME: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    KEYWORD_LIST: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
  };
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const known = new Set(Object.keys(existing.customAttributes ?? {}));
  const missing = ALL_SEARCH_ATTRIBUTE_KEYS.filter((key) => !known.has(key.name));
  if (missing.length === 0) return;
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((key) => [key.name, types[key.type]!])),
    });
  } catch (err) {
    if (!/already exists/i.test(err instanceof Error ? err.message : String(err))) throw err;
  }
}

/** The identities of the workers polling `taskQueue` for workflow tasks (none on an error). */
export async function workflowPollers(
  connection: Connection,
  namespace: string,
  taskQueue: string,
): Promise<string[]> {
  try {
    const res = await connection.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    });
    return (res.pollers ?? []).map((p) => p.identity ?? '');
  } catch {
    return [];
  }
}
