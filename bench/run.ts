/**
 * `npm run bench`: starts its own stack (Temporal dev server in memory and/or on SQLite, the
 * worker in a child process, the API on a port, the emulator with its notifications off) and
 * measures webhook ingestion against the raw Temporal ceiling, convergence, creation, history
 * cost and worker memory. Prints Markdown tables and writes `bench/results/<timestamp>.json`.
 *
 * `--quick` is the CI configuration: tiny sizes, and a non-zero exit when any figure is missing
 * (it never judges a speed).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { WORKFLOWS_PATH, writeWorkflowBundle } from '../src/dev/workflow-bundle';
import { engineServerConfig } from '../src/dev/stack';
import { engineDataConverter } from '../src/temporal/data-converter';
import { runCreation } from './phases/creation';
import { runHistory } from './phases/history';
import { runIngestion, WARM_UP, warmUp } from './phases/ingestion';
import { runMemory } from './phases/memory';
import { runPopulation } from './phases/population';
import {
  machineInfo,
  missingFigures,
  renderReport,
  writeReport,
  type BenchReport,
  type DbResults,
} from './report';
import { serverConfigArgs, startBenchStack, type BenchStack, type DbMode } from './stack';
import { killWorkerProcesses } from './worker-process';
import type { WorkerTuning } from './worker-protocol';

export const PHASES = ['ingestion', 'creation', 'history', 'memory', 'population'] as const;
export type Phase = (typeof PHASES)[number];

const USAGE = `npm run bench -- [options]
  --quick                  tiny sizes (CI): proves every figure is produced; exits 1 if one is missing
  --subscriptions LIST     subscription counts for ingestion/convergence (growth), e.g. 100,1000,10000
  --sqlite-subscriptions L the same on the SQLite dev server (default 100,1000: it is much slower)
  --notifications N        notifications per ingestion run (at least one per subscription is sent)
  --concurrency C          HTTP connections / concurrent signals
  --db memory|sqlite|both|cluster
                           Temporal's storage: the dev server in memory or on a database file
                           (like npm start), both, or the Temporal server on PostgreSQL of
                           npm run cluster
  --phases LIST            ${PHASES.join(',')} (default all)
  --convergence-samples N  notifications timed from SUCCESS to the workflow's query
  --creations N            subscriptions created through the API
  --memory-sizes LIST      open workflows for the worker memory phase, e.g. 1000,5000
  --population LIST        open subscriptions for the population phase, e.g. 1000,100000
  --history-cycles N       happy billing cycles measured (default 49: cycles 2 to 50)
  --sqlite-pragma P        dev server SQLite pragma (repeatable), e.g. journal_mode=wal
  --server-config N=V      dev server dynamic config (repeatable; memory and sqlite), replacing
                           the engine's own of that name, e.g.
                           system.enableActivityEagerExecution=false
  --max-cached N           WORKER_MAX_CACHED_WORKFLOWS of the main worker
  --worker-options JSON    extra worker options, e.g. '{"maxConcurrentWorkflowTaskPolls":4}'
  --api-cpu-prof DIR       the API process writes a V8 CPU profile to DIR when it stops
                           (summarize it by stage: npm run bench:api-profile -- FILE)
  --no-bundle              let the worker bundle the workflows itself (no prebuilt bundle)
  --bare-webhook           ingestion also loads the webhook intake served without Express
                           (bench/bare-webhook-api.ts), against the same ceiling
  --out DIR                where the JSON goes (default bench/results)`;

interface BenchOptions {
  quick: boolean;
  subscriptions: number[];
  sqliteSubscriptions: number[];
  notifications: number;
  concurrency: number;
  dbs: DbMode[];
  phases: Set<Phase>;
  convergenceSamples: number;
  creations: number;
  memorySizes: number[];
  population: number[];
  historyCycles: number;
  sqlitePragmas: string[];
  serverConfig: string[];
  maxCached?: number;
  tuning: WorkerTuning;
  bundle: boolean;
  apiCpuProfDir?: string;
  bareWebhook: boolean;
  out: string;
  drainTimeoutMs: number;
}

/** Thrown for a command line the benchmark cannot run. */
export class BenchUsageError extends Error {
  readonly type = 'BenchUsageError' as const;
}

function intList(name: string, text: string): number[] {
  const values = text.split(',').map((v) => Number(v.trim()));
  if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v <= 0)) {
    throw new BenchUsageError(`--${name} must be positive integers separated by commas, got "${text}"`);
  }
  return values;
}

function positive(name: string, text: string): number {
  const [value] = intList(name, text);
  return value!;
}

/** The command line's options, as written; an option the bench does not know is a usage error. */
function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      strict: true,
      options: {
        quick: { type: 'boolean', default: false },
        subscriptions: { type: 'string' },
        'sqlite-subscriptions': { type: 'string' },
        notifications: { type: 'string' },
        concurrency: { type: 'string' },
        db: { type: 'string', default: 'both' },
        phases: { type: 'string' },
        'convergence-samples': { type: 'string' },
        creations: { type: 'string' },
        'memory-sizes': { type: 'string' },
        population: { type: 'string' },
        'history-cycles': { type: 'string' },
        'sqlite-pragma': { type: 'string', multiple: true },
        'server-config': { type: 'string', multiple: true },
        'max-cached': { type: 'string' },
        'worker-options': { type: 'string' },
        'no-bundle': { type: 'boolean', default: false },
        'api-cpu-prof': { type: 'string' },
        'bare-webhook': { type: 'boolean', default: false },
        out: { type: 'string', default: join(__dirname, 'results') },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    throw new BenchUsageError((err as Error).message);
  }
}

/** Parses the command line (defaults: the full run; `--quick`: the CI run). */
export function parseBenchArgs(argv: string[]): BenchOptions {
  const { values } = parseCommandLine(argv);
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const quick = values.quick;
  const dbs: DbMode[] =
    values.db === 'both'
      ? ['memory', 'sqlite']
      : values.db === 'memory' || values.db === 'sqlite' || values.db === 'cluster'
        ? [values.db]
        : [];
  if (dbs.length === 0)
    throw new BenchUsageError(`--db must be memory, sqlite, both or cluster, got "${values.db}"`);
  const phaseNames = values.phases ? values.phases.split(',').map((p) => p.trim()) : [...PHASES];
  for (const p of phaseNames) {
    if (!(PHASES as readonly string[]).includes(p)) {
      throw new BenchUsageError(`--phases: unknown phase "${p}" (known: ${PHASES.join(', ')})`);
    }
  }
  const serverConfig = values['server-config'] ?? [];
  if (serverConfig.length > 0 && dbs.includes('cluster'))
    throw new BenchUsageError(
      '--server-config is for the dev server: the cluster reads deploy/temporal/dynamicconfig/',
    );
  try {
    serverConfigArgs(serverConfig);
  } catch (err) {
    throw new BenchUsageError(`--server-config: ${(err as Error).message}`);
  }
  let tuning: WorkerTuning = {};
  if (values['worker-options']) {
    try {
      tuning = JSON.parse(values['worker-options']) as WorkerTuning;
    } catch (err) {
      throw new BenchUsageError(`--worker-options is not JSON: ${(err as Error).message}`);
    }
  }
  return {
    quick,
    subscriptions: values.subscriptions
      ? intList('subscriptions', values.subscriptions)
      : quick
        ? [20]
        : [100, 1000, 10000],
    sqliteSubscriptions: values['sqlite-subscriptions']
      ? intList('sqlite-subscriptions', values['sqlite-subscriptions'])
      : values.subscriptions
        ? intList('subscriptions', values.subscriptions)
        : quick
          ? [20]
          : [100, 1000],
    notifications: values.notifications ? positive('notifications', values.notifications) : quick ? 60 : 1000,
    concurrency: values.concurrency ? positive('concurrency', values.concurrency) : quick ? 4 : 32,
    dbs,
    phases: new Set(phaseNames as Phase[]),
    convergenceSamples: values['convergence-samples']
      ? positive('convergence-samples', values['convergence-samples'])
      : quick
        ? 5
        : 50,
    creations: values.creations ? positive('creations', values.creations) : quick ? 6 : 100,
    memorySizes: values['memory-sizes']
      ? intList('memory-sizes', values['memory-sizes'])
      : quick
        ? [20, 60]
        : [1000, 5000],
    population: values.population
      ? intList('population', values.population)
      : quick
        ? [20, 60]
        : [1000, 10000],
    historyCycles: values['history-cycles']
      ? positive('history-cycles', values['history-cycles'])
      : quick
        ? 3
        : 49,
    sqlitePragmas: values['sqlite-pragma'] ?? [],
    serverConfig,
    ...(values['max-cached'] ? { maxCached: positive('max-cached', values['max-cached']) } : {}),
    tuning,
    bundle: !values['no-bundle'],
    ...(values['api-cpu-prof'] ? { apiCpuProfDir: values['api-cpu-prof'] } : {}),
    bareWebhook: values['bare-webhook'],
    out: values.out,
    drainTimeoutMs: quick ? 60_000 : 300_000,
  };
}

let current: BenchStack | undefined;

interface Bundles {
  /** The engine's prebuilt workflow bundle (absent with `--no-bundle`). */
  engine?: string;
  /** The memory floor's workflow bundle (memory phase only). */
  floor?: string;
}

async function runDb(db: DbMode, o: BenchOptions, bundles: Bundles): Promise<DbResults> {
  const bundlePath = bundles.engine;
  const t0 = performance.now();
  log(`[${db}] starting stack`);
  const stack = await startBenchStack({
    db,
    sqlitePragmas: o.sqlitePragmas,
    serverConfig: o.serverConfig,
    ...(bundlePath ? { workflowBundlePath: bundlePath } : {}),
    ...(o.maxCached ? { maxCachedWorkflows: o.maxCached } : {}),
    tuning: o.tuning,
    ...(o.apiCpuProfDir ? { apiCpuProfDir: o.apiCpuProfDir } : {}),
    bareWebhook: o.bareWebhook,
  });
  current = stack;
  const results: DbResults = {
    db,
    stackStartMs: Math.round(performance.now() - t0),
    workerCreateMs: stack.worker.createMs,
    ingestion: [],
  };
  try {
    // Creation and history first, on a stack the ingestion's thousands of workflows have not yet
    // filled (they once also kept the worker busy for minutes after their drain, when the
    // emulator did not know them).
    if (o.phases.has('creation')) {
      log(`[${db}] creation: ${o.creations} subscriptions through the API`);
      results.creation = await runCreation(stack, {
        count: o.creations,
        concurrency: Math.min(o.concurrency, 16),
      });
    }
    if (o.phases.has('history')) {
      log(`[${db}] history: ${o.historyCycles} cycles and one dunning episode`);
      // Low enough that the capped subscription continues as new within the 3 cycles of --quick
      // at any per-cycle cost from 6 to 13 events (adoption costs about 12).
      results.history = await runHistory(stack, {
        cycles: o.historyCycles,
        lowThreshold: 24,
        replay: {
          ...(bundlePath
            ? { workflowBundle: { codePath: bundlePath } }
            : { workflowsPath: require.resolve(WORKFLOWS_PATH) }),
          dataConverter: engineDataConverter(stack.config),
        },
        replayRounds: o.quick ? 1 : 5,
      });
    }
    if (o.phases.has('ingestion')) {
      const steps = db === 'sqlite' ? o.sqliteSubscriptions : o.subscriptions;
      const first = { subscriptions: steps[0]!, notifications: Math.max(o.notifications, steps[0]!) };
      const warm = {
        subscriptions: Math.min(first.subscriptions, WARM_UP.subscriptions),
        notifications: Math.min(first.notifications, WARM_UP.notifications),
      };
      log(
        `[${db}] ingestion warm-up: ${warm.notifications} notifications over ${warm.subscriptions} subscriptions, each path`,
      );
      await warmUp(stack, { ...warm, concurrency: o.concurrency, drainTimeoutMs: o.drainTimeoutMs });
      for (const subscriptions of steps) {
        const notifications = Math.max(o.notifications, subscriptions);
        log(
          `[${db}] ingestion: ${notifications} notifications over ${subscriptions} subscriptions at C=${o.concurrency}`,
        );
        const before = await stack.databaseBytes?.();
        results.ingestion.push(
          await runIngestion(stack, {
            subscriptions,
            notifications,
            concurrency: o.concurrency,
            convergenceSamples: o.convergenceSamples,
            drainTimeoutMs: o.drainTimeoutMs,
          }),
        );
        if (stack.databaseBytes && before !== undefined) {
          // Each step starts 2·S workflows (ours and the ceiling's) and applies 2·N facts, 3·
          // with the bare webhook's.
          const loads = stack.bareWebhook ? 3 : 2;
          (results.database ??= []).push({
            subscriptions,
            workflows: loads * subscriptions,
            facts: loads * notifications,
            bytes: (await stack.databaseBytes()) - before,
          });
        }
      }
    }
    // After ingestion (its workflows are part of the server's load, not of the population).
    if (o.phases.has('population') && db === o.dbs[0]) {
      log(`[${db}] population: ${o.population.join(', ')} open subscriptions`);
      results.population = await runPopulation(stack, {
        sizes: o.population,
        notifications: o.notifications,
        concurrency: o.concurrency,
        convergenceSamples: o.convergenceSamples,
        drainTimeoutMs: o.drainTimeoutMs,
        chunk: 2_000,
        log: (m) => log(`[${db}] ${m}`),
      });
    }
    // The worker's memory does not depend on the server's storage: measured once.
    if (o.phases.has('memory') && db === o.dbs[0]) {
      log(`[${db}] memory: ${o.memorySizes.join(', ')} open workflows`);
      const memoryOptions = {
        sizes: o.memorySizes,
        concurrency: o.concurrency,
        tuning: o.tuning,
        timeoutMs: o.drainTimeoutMs,
      };
      results.memory = await runMemory(stack, { ...memoryOptions, workflow: 'engine' });
      if (bundles.floor) {
        log(`[${db}] memory floor: the same with a workflow that only waits`);
        results.memoryFloor = await runMemory(stack, {
          ...memoryOptions,
          workflow: 'floor',
          bundlePath: bundles.floor,
        });
      }
    }
  } finally {
    log(`[${db}] stopping stack`);
    await stack.close();
    current = undefined;
  }
  return results;
}

function log(message: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${message}\n`);
}

async function main(): Promise<number> {
  const o = parseBenchArgs(process.argv.slice(2));
  const started = performance.now();
  const bundles: Bundles = {};
  let workflowBundleMs: number | undefined;
  if (o.bundle) {
    const t = performance.now();
    bundles.engine = await writeWorkflowBundle(
      join(tmpdir(), `qfpay-bench-workflow-bundle-${process.pid}.js`),
    );
    workflowBundleMs = Math.round(performance.now() - t);
  }
  if (o.phases.has('memory')) {
    bundles.floor = await writeWorkflowBundle(
      join(tmpdir(), `qfpay-bench-floor-bundle-${process.pid}.js`),
      join(__dirname, 'floor', 'workflows.ts'),
    );
  }
  const results: DbResults[] = [];
  for (const db of o.dbs) results.push(await runDb(db, o, bundles));
  const report: BenchReport = {
    machine: machineInfo(),
    options: {
      quick: o.quick,
      subscriptions: o.subscriptions,
      sqliteSubscriptions: o.sqliteSubscriptions,
      notifications: o.notifications,
      concurrency: o.concurrency,
      db: o.dbs,
      phases: [...o.phases],
      convergenceSamples: o.convergenceSamples,
      creations: o.creations,
      memorySizes: o.memorySizes,
      population: o.population,
      historyCycles: o.historyCycles,
      sqlitePragmas: o.sqlitePragmas,
      // What the server ran with: the engine's own config and the run's replacements.
      serverConfig: engineServerConfig(o.serverConfig),
      maxCached: o.maxCached ?? null,
      workerOptions: o.tuning,
      prebuiltBundle: o.bundle,
    },
    ...(workflowBundleMs === undefined ? {} : { workflowBundleMs }),
    results,
    durationMs: Math.round(performance.now() - started),
  };
  process.stdout.write(`${renderReport(report)}\n`);
  const file = writeReport(report, o.out);
  log(`results written to ${file}`);
  const missing = missingFigures(report, o.phases);
  if (missing.length > 0) {
    log(`missing figures: ${missing.join(', ')}`);
    return 1;
  }
  return 0;
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(`${signal}: stopping`);
    killWorkerProcesses();
    const closing = current?.close() ?? Promise.resolve();
    void closing.finally(() => process.exit(130));
  });
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    async (err: unknown) => {
      if (err instanceof BenchUsageError) {
        log(`${err.message} (npm run bench -- --help lists the options)`);
        process.exit(2);
      }
      log(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      killWorkerProcesses();
      await current?.close();
      process.exit(1);
    },
  );
}
