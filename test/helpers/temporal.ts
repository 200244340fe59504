/**
 * Test harness on `@temporalio/testing` and the real Temporal binaries: a time-skipping
 * environment (Java test server) and a local dev-server environment (Temporal CLI), the workflow
 * bundle built once per run, and unique task queues and ids per test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach } from 'node:test';
import { Connection, WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { DataConverter } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { freePort, releasePort } from '../../src/dev/free-ports';
import { dynamicConfigFlags, engineServerConfig, searchAttributeFlags } from '../../src/dev/stack';
import {
  devServerExecutable,
  findTemporalCli,
  findTestServer,
  testServerExecutable,
} from '../../src/dev/temporal-binaries';
import { WORKFLOWS_PATH } from '../../src/dev/workflow-bundle';
import { developmentDataConverter } from '../../src/dev/development-data-converter';
import { ALL_SEARCH_ATTRIBUTE_KEYS } from '../../src/workflows/definitions';
import { DAY } from '../../src/domain/duration';
import { until } from './gate';

/**
 * The engine's data converter with the default (development) keys, as every test's configuration
 * has them: tests run with encrypted payloads, like production.
 */
export function testDataConverter(): DataConverter {
  return developmentDataConverter();
}

let runtimeInstalled = false;
function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {
    // Already installed by another helper in this process.
  }
}

/**
 * A server process this harness starts itself. The SDK's own launcher gives a server 5 s to
 * answer, a wall-clock limit a JVM on a busy 2-core machine can miss; here the server gets as
 * long as it needs (bounded only as a hang guard) and the environment attaches to it.
 */
/**
 * The keepalive of the test's client connection to the Java time-skipping test server.
 *
 * That server is a grpc-java server with the default keepalive policy: a client may ping at most
 * every 5 minutes while it has calls open, and not at all without. The client's default (a ping
 * every 30 s, with or without calls) earns a strike for each ping that comes with no data from the
 * server in between; the third makes the server answer GOAWAY "too_many_pings" and close the
 * connection, failing the calls on it. The client retries them, and one of them is the sleep of
 * `env.sleep`: retried, it sleeps its whole duration again from the server's current time. When
 * time skipping is held at that moment (an activity in progress), that sleep runs in real time,
 * for days: the file stalls. It happens once a call waits 90 s with no data, which a busy machine
 * brings about. Pinging no more often than the server permits removes the cause.
 */
export const TEST_SERVER_CHANNEL_ARGS = {
  'grpc.keepalive_time_ms': 10 * 60_000,
  'grpc.keepalive_permit_without_calls': 0,
} as const;

async function startServer(
  command: string,
  args: (port: number) => string[],
): Promise<{ address: string; process: ChildProcess }> {
  // Claimed for this process until the server exits: test files run in parallel, and a slow JVM
  // binds its port long after the port was found free (src/dev/free-ports.ts).
  const port = await freePort();
  const child = spawn(command, args(port), { stdio: ['ignore', 'ignore', 'pipe'] });
  child.once('exit', () => releasePort(port));
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4_000)));
  const address = `127.0.0.1:${port}`;
  for (let i = 0; i < 1_200; i += 1) {
    if (child.exitCode !== null) throw new Error(`${command} exited with ${child.exitCode}: ${stderr}`);
    // A probe that fails must be closed too: left open, its channel goes on connecting, and
    // once the server answers it pings it every 30 s for the rest of the file.
    const probe = Connection.lazy({
      address,
      connectTimeout: 1_000,
      channelArgs: { ...TEST_SERVER_CHANNEL_ARGS },
    });
    try {
      await probe.ensureConnected();
      return { address, process: child };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await probe.close();
    }
  }
  child.kill('SIGKILL');
  throw new Error(`${command} did not answer on ${address}: ${stderr}`);
}

/** The SDK's environment factory for a server that is already running (it is typed private). */
const createEnvironment = (
  TestWorkflowEnvironment as unknown as {
    create(options: {
      server: { type: 'existing' };
      client: { dataConverter: DataConverter };
      address: string;
      namespace: string;
      supportsTimeSkipping: boolean;
      connectionOptions?: { channelArgs: Record<string, number> };
    }): Promise<TestWorkflowEnvironment>;
  }
).create.bind(TestWorkflowEnvironment);

/** An environment whose teardown also stops the server process this harness started. */
async function attach(
  server: { address: string; process: ChildProcess },
  supportsTimeSkipping: boolean,
): Promise<TestWorkflowEnvironment> {
  const env = await createEnvironment({
    server: { type: 'existing' },
    client: { dataConverter: testDataConverter() },
    address: server.address,
    namespace: 'default',
    supportsTimeSkipping,
    ...(supportsTimeSkipping ? { connectionOptions: { channelArgs: { ...TEST_SERVER_CHANNEL_ARGS } } } : {}),
  });
  const teardown = env.teardown.bind(env);
  env.teardown = async () => {
    await teardown();
    if (server.process.exitCode === null) {
      const exited = new Promise((resolve) => server.process.once('exit', resolve));
      server.process.kill('SIGTERM');
      await exited;
    }
  };
  return env;
}

/** A time-skipping environment on the Java test server, with the engine's search attributes. */
export async function startTimeSkipping(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  const executable = findTestServer();
  if (!executable) return startTimeSkippingFromSdk();
  // Started as the SDK starts it: time skips only while the environment's client lets it (sleep, result).
  const env = await attach(await startServer(executable, (port) => [String(port)]), true);
  await declareSearchAttributes(env);
  return env;
}

async function startTimeSkippingFromSdk(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: testServerExecutable() },
    client: { dataConverter: testDataConverter() },
  });
  await declareSearchAttributes(env);
  return env;
}

async function declareSearchAttributes(env: TestWorkflowEnvironment): Promise<void> {
  // The test server refuses undeclared search attributes, like a real cluster: declare them.
  const { IndexedValueType } = temporal.api.enums.v1;
  const types = {
    KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    DATETIME: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    INT: IndexedValueType.INDEXED_VALUE_TYPE_INT,
    KEYWORD_LIST: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
  } as const;
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(
      ALL_SEARCH_ATTRIBUTE_KEYS.map((key) => [key.name, types[key.type as keyof typeof types]]),
    ),
  });
}

/** A local environment on the Temporal CLI's dev server, with the engine's search attributes. */
export async function startDevServer(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  const cli = findTemporalCli();
  if (!cli) {
    return TestWorkflowEnvironment.createLocal({
      client: { dataConverter: testDataConverter() },
      server: {
        executable: devServerExecutable(),
        searchAttributes: ALL_SEARCH_ATTRIBUTE_KEYS,
        ip: '127.0.0.1',
      },
    });
  }
  const server = await startServer(cli, (port) => [
    'server',
    'start-dev',
    '--port',
    String(port),
    '--ip',
    '127.0.0.1',
    '--headless',
    '--log-level',
    'warn',
    // As the SDK's own launcher configures it.
    '--dynamic-config-value',
    'frontend.enableUpdateWorkflowExecution=true',
    '--dynamic-config-value',
    'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true',
    // The engine's own, as `npm start` runs it.
    ...dynamicConfigFlags(engineServerConfig()),
    ...searchAttributeFlags(),
  ]);
  return attach(server, false);
}

let cachedBundle: { code: string } | undefined;
/**
 * The workflow bundle `npm test` built once for the run (or `src/workflows` when run alone), with
 * the data converter it goes with (the bundle holds the failure converter; the codec decrypts).
 */
export function workflowSource(): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath' | 'dataConverter'> {
  const dataConverter = testDataConverter();
  const path = process.env.TEST_WORKFLOW_BUNDLE;
  if (!path) return { workflowsPath: `${WORKFLOWS_PATH}/index.ts`, dataConverter };
  cachedBundle ??= { code: readFileSync(path, 'utf8') };
  return { workflowBundle: cachedBundle, dataConverter };
}

/** A task queue no other test uses. */
export function uniqueTaskQueue(prefix = 'test'): string {
  return `${prefix}-${randomUUID()}`;
}

/** A fresh fake QFPay subscription id (hex like QFPay's). */
export function fakeSubscriptionId(): string {
  return `sub_${randomUUID().replace(/-/g, '')}`;
}

/**
 * Creates a worker on `env` for one test; run the test body inside `worker.runUntil`. It runs the
 * suite's workflow bundle, or the one at `bundlePath` (a test's own, built with extra modules).
 */
export async function createTestWorker(
  env: TestWorkflowEnvironment,
  {
    bundlePath,
    ...options
  }: Omit<WorkerOptions, 'connection' | 'taskQueue' | 'workflowsPath' | 'workflowBundle'> & {
    taskQueue?: string;
    bundlePath?: string;
  },
): Promise<{ worker: Worker; taskQueue: string }> {
  const taskQueue = options.taskQueue ?? uniqueTaskQueue();
  const source = workflowSource();
  const worker = await Worker.create({
    ...options,
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    ...(bundlePath
      ? { workflowBundle: { codePath: bundlePath }, dataConverter: source.dataConverter }
      : source),
  });
  return { worker, taskQueue };
}

/**
 * Gives the enclosing test file one time-skipping environment, and terminates after each test
 * the workflows it registered with `track` — a failing test leaves none running, so its worker
 * stops at once.
 */
export function useTimeSkipping(options: { serverPerTest?: boolean } = {}): {
  readonly env: TestWorkflowEnvironment;
  track(handle: WorkflowHandle): void;
} {
  let env: TestWorkflowEnvironment | undefined;
  let held: string | undefined;
  const running: WorkflowHandle[] = [];
  // With child workflows the test server leaks its time-skipping lock once their parent has
  // completed (temporalio/sdk-java#2392, #2642): later sleeps would wait in real time. Tests that
  // start children (merchant event deliveries) therefore get a server of their own.
  const start = options.serverPerTest ? beforeEach : before;
  const stop = options.serverPerTest ? afterEach : after;
  start(async () => {
    env = await startTimeSkipping();
  });
  afterEach(async () => {
    for (const handle of running.splice(0)) {
      // A failed test may leave an activity held for ever: then the run is cut off as it is.
      await terminateIdle(handle, 'test cleanup', 10_000).catch(() =>
        handle.terminate('test cleanup').catch(() => undefined),
      );
    }
    if (options.serverPerTest || !env) return;
    // A shared server must still skip time for the next test: a run that ended itself with an
    // activity in flight keeps its hold (sdk-java#1138) as a cut-off terminate does.
    const kept = await keepTimeSkipping(env);
    if (kept === 'released') console.error('time skipping was held after this test: released');
    if (kept === 'held') {
      // Every later test of the file would wait in real time until the file's limit: they fail at once instead.
      held = 'time skipping was held after an earlier test of this file, and could not be released';
      throw new Error(held);
    }
  });
  stop(async () => {
    await env?.teardown();
    env = undefined;
  });
  return {
    get env() {
      if (held) throw new Error(held);
      if (!env) throw new Error('the time-skipping environment is not started yet');
      return env;
    },
    track: (handle) => {
      running.push(handle);
    },
  };
}

/**
 * Whether `ms` of test time pass within `guardMs` of real time. With time skipping working the
 * step takes milliseconds; with the lock held it would take `ms` of real time. This is a hang
 * guard, not a speed check.
 */
export async function skipsTime(
  env: TestWorkflowEnvironment,
  ms: number,
  guardMs = 60_000,
): Promise<boolean> {
  let guard: NodeJS.Timeout | undefined;
  const held = new Promise<'held'>((done) => (guard = setTimeout(() => done('held'), guardMs)));
  const step = env.sleep(ms).then(
    () => 'skipped' as const,
    () => 'held' as const,
  );
  const outcome = await Promise.race([step, held]);
  clearTimeout(guard);
  return outcome === 'skipped';
}

/**
 * Leaves a time-skipping server skipping time, with nothing of a test in flight. A hold that a
 * run left behind (an activity or workflow task cut off, sdk-java#1138) is one lock too many on the
 * server's count, and one unlock gives it back; the step that found it held then passes as well.
 */
export async function keepTimeSkipping(
  env: TestWorkflowEnvironment,
  guardMs = 30_000,
): Promise<'skipping' | 'released' | 'held'> {
  if (await skipsTime(env, DAY, guardMs)) return 'skipping';
  await env.connection.testService?.unlockTimeSkipping({}).catch(() => undefined);
  return (await skipsTime(env, DAY, guardMs)) ? 'released' : 'held';
}

/**
 * Terminates a run once nothing of it is in flight: no activity and no workflow task. On the
 * time-skipping test server a terminate that cuts off an activity or a workflow task keeps its hold
 * on time skipping (temporalio/sdk-java#1138): every later `env.sleep` on the same server then
 * passes in about real time, and the next test's 30-day step waits until the file's limit. Use this,
 * not `handle.terminate`, on the time-skipping server. A run that has already ended is left as it is.
 */
export async function terminateIdle(
  handle: WorkflowHandle,
  reason = 'test done',
  guardMs = 60_000,
): Promise<void> {
  let ended = false;
  await until(
    `${handle.workflowId}: nothing in flight before its terminate`,
    async () => {
      const state = inFlight((await handle.fetchHistory()).events ?? []);
      ended = state === 'ended';
      return state !== 'busy';
    },
    guardMs,
  );
  if (ended) return;
  await handle.terminate(reason).catch((err: unknown) => {
    // It ended by itself between the look and the terminate (a cancel it was carrying out).
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  });
}

/**
 * Whether a run's history shows work in flight: a workflow task scheduled after the last one
 * completed, or an activity scheduled and not closed. The test server's description does not
 * report a pending workflow task, so the history is read instead.
 */
export function inFlight(events: temporal.api.history.v1.IHistoryEvent[]): 'ended' | 'busy' | 'idle' {
  const type = temporal.api.enums.v1.EventType;
  const closing = new Set<number>([
    type.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    type.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    type.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
    type.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    type.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    type.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
  ]);
  if (events.some((e) => closing.has(Number(e.eventType)))) return 'ended';
  const last = (wanted: number) =>
    Math.max(0, ...events.filter((e) => e.eventType === wanted).map((e) => Number(e.eventId)));
  if (last(type.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED) > last(type.EVENT_TYPE_WORKFLOW_TASK_COMPLETED))
    return 'busy';
  const closed = new Set(
    events.map((e) =>
      Number(
        e.activityTaskCompletedEventAttributes?.scheduledEventId ??
          e.activityTaskFailedEventAttributes?.scheduledEventId ??
          e.activityTaskTimedOutEventAttributes?.scheduledEventId ??
          e.activityTaskCanceledEventAttributes?.scheduledEventId ??
          0,
      ),
    ),
  );
  const open = events.filter(
    (e) => e.eventType === type.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED && !closed.has(Number(e.eventId)),
  );
  return open.length > 0 ? 'busy' : 'idle';
}

/**
 * With RECORD_HISTORIES=1, stores a workflow run's history under test/fixtures/histories/ for the
 * replay test (the determinism guard): binary protobuf, read back with the SDK's own classes.
 */
export async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const history = await handle.fetchHistory();
  const bytes = temporal.api.history.v1.History.encode(history).finish();
  writeFileSync(join(__dirname, '..', 'fixtures', 'histories', `${name}.binpb`), bytes);
}

/** Workflow tasks that failed (a thrown handler, a deadlock, a nondeterminism): none is allowed. Benign causes are not counted. */
export async function workflowTaskFailures(handle: WorkflowHandle): Promise<number> {
  const failed = temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED;
  const causes = temporal.api.enums.v1.WorkflowTaskFailedCause;
  // Temporal at work, not the workflow failing (as the chaos audit counts them): the server refuses
  // a task that would close the workflow while a new event waits, or a sticky queue is reset.
  const benign = new Set<number>([
    causes.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
    causes.WORKFLOW_TASK_FAILED_CAUSE_RESET_STICKY_TASK_QUEUE,
  ]);
  return ((await handle.fetchHistory()).events ?? []).filter(
    (e) => e.eventType === failed && !benign.has(Number(e.workflowTaskFailedEventAttributes?.cause ?? 0)),
  ).length;
}
