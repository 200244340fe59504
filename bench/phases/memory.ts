/**
 * Phase 5: the worker's memory with 1k and 5k open subscription workflows in its cache. A
 * dedicated worker child (its own task queue, `maxCachedWorkflows` above the largest size)
 * adopts fake subscriptions; memory is read after a full GC: VmRSS from /proc (every isolate,
 * workflow threads included) and the main thread's V8 heap. Run once with the engine's workflows
 * and once with the floor (`bench/floor/workflows.ts`, a workflow that only waits), so the cost
 * per subscription can be read against the SDK's own cost per cached workflow.
 */
import { WORKFLOW_TYPES, factSignal, subscriptionWorkflowId } from '../../src/workflows/definitions';
import { recordAtEmulator } from '../emulator-records';
import { adoptedInput, fakeSubscriptionId, stateFact } from '../notifications';
import { runPool, sleep } from '../stats';
import type { BenchStack } from '../stack';
import { startWorkerProcess } from '../worker-process';
import type { WorkerChildStatus, WorkerTuning } from '../worker-protocol';

export interface MemoryPoint {
  workflows: number;
  cached: number;
  rssMb: number;
  heapUsedMb: number;
  /** Time for the worker to adopt this step's new workflows (start, sync, cache). */
  loadMs: number;
}

export interface MemoryResult {
  /** `engine`: the engine's workflows; `floor`: the smallest workflow that stays cached. */
  workflow: 'engine' | 'floor';
  maxCachedWorkflows: number;
  baseline: MemoryPoint;
  points: MemoryPoint[];
  /** RSS growth per cached subscription workflow between the baseline and each point, KiB. */
  kbPerSubscription: number[];
}

const mb = (kb: number) => Math.round((kb / 1024) * 10) / 10;

function point(workflows: number, s: WorkerChildStatus, loadMs: number): MemoryPoint {
  return {
    workflows,
    cached: s.numCachedWorkflows,
    rssMb: mb(s.rssKb),
    heapUsedMb: mb(s.heapUsedKb),
    loadMs,
  };
}

/** Measures with `sizes` (ascending, e.g. [1000, 5000]) open workflows. */
export async function runMemory(
  stack: BenchStack,
  opts: {
    sizes: number[];
    concurrency: number;
    tuning?: WorkerTuning;
    timeoutMs: number;
    workflow: MemoryResult['workflow'];
    /** The workflow bundle to run; default the stack's. */
    bundlePath?: string;
  },
): Promise<MemoryResult> {
  const top = Math.max(...opts.sizes);
  const maxCachedWorkflows = top + 100;
  const taskQueue = `bench-memory-${opts.workflow}-${Date.now().toString(36)}`;
  const worker = await startWorkerProcess(
    stack.workerEnv(taskQueue, {
      WORKER_MAX_CACHED_WORKFLOWS: String(maxCachedWorkflows),
      ...(opts.bundlePath ? { WORKFLOW_BUNDLE_PATH: opts.bundlePath } : {}),
      // The floor's bundle has no reconciler to run: its worker keeps no reconciler Schedule.
      ...(opts.workflow === 'floor' ? { RECONCILER: 'timer' } : {}),
    }),
    opts.tuning,
    // Workflow isolates share one heap limit; the SDK sizes its default cache from it.
    [`--max-old-space-size=${Math.max(4096, Math.ceil(top * 3))}`],
  );
  try {
    await worker.idle(5_000);
    const baselineStatus = await worker.status(true);
    const baseline = point(0, baselineStatus, 0);
    const points: MemoryPoint[] = [];
    let open = 0;
    for (const size of opts.sizes) {
      const started = performance.now();
      const add = size - open;
      const run = await runPool(add, opts.concurrency, async () => {
        const subscriptionId = fakeSubscriptionId();
        const fact = stateFact(subscriptionId, 'ACTIVE', Date.now());
        recordAtEmulator(stack.qfpayEmulator.emulator.store, { subscriptionId, fact });
        await stack.client.workflow.signalWithStart(WORKFLOW_TYPES.subscription, {
          workflowId: subscriptionWorkflowId(subscriptionId),
          taskQueue,
          args: [adoptedInput(subscriptionId)],
          signal: factSignal,
          signalArgs: [fact],
        });
      });
      if (run.errors.size > 0) throw new Error(`memory phase: ${[...run.errors.keys()].join('; ')}`);
      open = size;
      const deadline = Date.now() + opts.timeoutMs;
      for (;;) {
        const s = await worker.status();
        if (s.numCachedWorkflows >= size && s.inFlightActivations === 0 && s.inFlightActivities === 0) break;
        if (Date.now() > deadline) break;
        await sleep(200);
      }
      await worker.idle(30_000);
      const loadMs = Math.round(performance.now() - started);
      points.push(point(size, await worker.status(true), loadMs));
    }
    return {
      workflow: opts.workflow,
      maxCachedWorkflows,
      baseline,
      points,
      kbPerSubscription: points.map((p) => Math.round(((p.rssMb - baseline.rssMb) * 1024) / p.workflows)),
    };
  } finally {
    await worker.stop();
  }
}
