/**
 * Test harness on `@temporalio/testing` and the real Temporal binaries: a time-skipping
 * environment (Java test server) and a local dev-server environment (Temporal CLI), the workflow
 * bundle built once per run, and unique task queues and ids per test.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, afterEach, before } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { DataConverter } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { devServerExecutable, testServerExecutable } from '../../src/dev/temporal-binaries';
import { DEVELOPMENT_DEFAULTS } from '../../src/config';
import { WORKFLOWS_PATH } from '../../src/dev/workflow-bundle';
import { engineDataConverter } from '../../src/temporal/data-converter';
import { ALL_SEARCH_ATTRIBUTE_KEYS } from '../../src/workflows/definitions';

/**
 * The engine's data converter with the default (development) keys, as every test's configuration
 * has them: tests run with encrypted payloads, like production.
 */
export function testDataConverter(): DataConverter {
  return engineDataConverter({ PAYLOAD_ENCRYPTION_KEYS: DEVELOPMENT_DEFAULTS.PAYLOAD_ENCRYPTION_KEYS });
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

/** A time-skipping environment on the Java test server, with the engine's search attributes. */
export async function startTimeSkipping(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: testServerExecutable() },
    client: { dataConverter: testDataConverter() },
  });
  // The test server refuses undeclared search attributes, like a real cluster: declare them.
  const { IndexedValueType } = temporal.api.enums.v1;
  const types = {
    KEYWORD: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    DATETIME: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    INT: IndexedValueType.INDEXED_VALUE_TYPE_INT,
  } as const;
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(
      ALL_SEARCH_ATTRIBUTE_KEYS.map((key) => [key.name, types[key.type as keyof typeof types]]),
    ),
  });
  return env;
}

/** A local environment on the Temporal CLI's dev server, with the engine's search attributes. */
export async function startDevServer(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  return TestWorkflowEnvironment.createLocal({
    client: { dataConverter: testDataConverter() },
    server: {
      executable: devServerExecutable(),
      searchAttributes: ALL_SEARCH_ATTRIBUTE_KEYS,
      ip: '127.0.0.1',
    },
  });
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

/** Creates a worker on `env` for one test; run the test body inside `worker.runUntil`. */
export async function createTestWorker(
  env: TestWorkflowEnvironment,
  options: Omit<WorkerOptions, 'connection' | 'taskQueue' | 'workflowsPath' | 'workflowBundle'> & {
    taskQueue?: string;
  },
): Promise<{ worker: Worker; taskQueue: string }> {
  const taskQueue = options.taskQueue ?? uniqueTaskQueue();
  const worker = await Worker.create({
    ...options,
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    ...workflowSource(),
  });
  return { worker, taskQueue };
}

/**
 * Gives the enclosing test file one time-skipping environment, and terminates after each test
 * the workflows it registered with `track` — a failing test leaves none running, so its worker
 * stops at once.
 */
export function useTimeSkipping(): {
  readonly env: TestWorkflowEnvironment;
  track(handle: WorkflowHandle): void;
} {
  let env: TestWorkflowEnvironment | undefined;
  const running: WorkflowHandle[] = [];
  before(async () => {
    env = await startTimeSkipping();
  });
  afterEach(async () => {
    for (const handle of running.splice(0)) await handle.terminate('test cleanup').catch(() => undefined);
  });
  after(async () => {
    await env?.teardown();
  });
  return {
    get env() {
      if (!env) throw new Error('the time-skipping environment is not started yet');
      return env;
    },
    track: (handle) => {
      running.push(handle);
    },
  };
}
