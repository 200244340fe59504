/**
 * Phases 1, 2 and 6: webhook ingestion through the API against the raw Temporal ceiling
 * (signal-with-start from a client, same facts, same concurrency, same server), then convergence:
 * how long after `SUCCESS` the workflow's query shows the notification's effect.
 */
import { perItem, stackCpuPids, startCpuMeter, type CpuFigures, type CpuPids } from '../cpu';
import { recordAtEmulator } from '../emulator-records';
import { runAutocannon } from '../load';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import {
  WORKFLOW_TYPES,
  factSignal,
  snapshotQuery,
  subscriptionWorkflowId,
} from '../../src/workflows/definitions';
import { adoptedInput, notificationRun, roundNotification, type BenchNotification } from '../notifications';
import {
  perSecond,
  poolFigures,
  ratio,
  runPool,
  sleep,
  summarize,
  type LatencySummary,
  type PoolFigures,
} from '../stats';
import type { BenchStack } from '../stack';
import { BENCH_APP_KEY } from '../stack';

/**
 * Throughput and latency of one load run, and its drain. Its `errorKinds` are non-200 answers,
 * connection errors and bodies other than `SUCCESS`, by kind (for the ceiling: the
 * signal-with-start's errors).
 */
export interface LoadFigures extends PoolFigures {
  requests: number;
  /** Time after the load until the worker had applied the run's last notifications and went idle. */
  drainMs: number;
  /**
   * CPU ms per notification of each process over the load and its drain: the API (nothing for
   * the ceiling, which signals from the bench process), the worker, the Temporal server, and the
   * bench process (the load generator, and the emulator the worker's queries reach).
   */
  cpuMsPerNotification: CpuFigures;
  /**
   * Signals per workflow task in the histories of (up to 50 of) the run's subscriptions: how many
   * notifications the worker took in one task. Faster arrival batches more, and each task costs
   * the worker and the server about the same whatever it carries. Only where a subscription gets
   * several notifications (N > S).
   */
  signalsPerWorkflowTask?: number;
}

/** The figures of a load alone, before its drain and CPU. */
type LoadOnly = Omit<LoadFigures, 'drainMs' | 'cpuMsPerNotification' | 'signalsPerWorkflowTask'>;

export interface IngestionResult {
  subscriptions: number;
  notifications: number;
  concurrency: number;
  ours: LoadFigures;
  ceiling: LoadFigures;
  /** ours.throughput / ceiling.throughput */
  throughputRatio: number;
  /** ours p50 latency / ceiling p50 latency */
  latencyRatioP50: number;
  /**
   * With `--bare-webhook`: the same load on fresh subscriptions through the webhook intake served
   * without Express (`bench/bare-webhook-api.ts`), run between ours and the ceiling, and its
   * throughput over the ceiling's.
   */
  bare?: LoadFigures & { throughputRatio: number };
  convergence: ConvergenceResult;
  /**
   * The worker after the step (after a full GC): workflows in its cache and its RSS. The step
   * opened S workflows for each path (2·S, or 3·S with `--bare-webhook`), added to every earlier
   * step's.
   */
  worker: { cached: number; rssMb: number };
}

export interface ConvergenceResult {
  samples: number;
  /** ms from the webhook's `SUCCESS` until the workflow's query shows the new order. */
  latencyMs: LatencySummary;
  timeouts: number;
}

/** Whether the workflow's query shows what `n` changed. */
async function showsEffect(client: Client, n: BenchNotification): Promise<boolean> {
  const view = await client.workflow.getHandle(subscriptionWorkflowId(n.subscriptionId)).query(snapshotQuery);
  return n.orderId === undefined
    ? view.snapshot.factsApplied > 0
    : view.snapshot.orders.some((o) => o.orderId === n.orderId);
}

const EventType = temporal.api.enums.v1.EventType;

/** {@link LoadFigures.signalsPerWorkflowTask} of the subscriptions `ids` (the first 50 of them). */
async function signalsPerWorkflowTask(client: Client, ids: readonly string[]): Promise<number> {
  let signals = 0;
  let tasks = 0;
  for (const id of ids.slice(0, 50)) {
    const { events } = await client.workflow.getHandle(subscriptionWorkflowId(id)).fetchHistory();
    for (const e of events ?? []) {
      if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) signals += 1;
      else if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) tasks += 1;
    }
  }
  return tasks === 0 ? 0 : Math.round((signals / tasks) * 100) / 100;
}

/** Waits until the run's last notifications show their effect and the worker is idle. */
export async function drain(
  stack: BenchStack,
  notifications: readonly BenchNotification[],
  timeoutMs: number,
): Promise<number> {
  const started = performance.now();
  const deadline = Date.now() + timeoutMs;
  const tail = notifications.slice(-Math.min(20, notifications.length));
  for (const n of tail) {
    for (;;) {
      try {
        if (await showsEffect(stack.client, n)) break;
      } catch {
        // Not started or not processed yet.
      }
      if (Date.now() > deadline) break;
      await sleep(100);
    }
  }
  await stack.worker.idle(Math.max(1_000, deadline - Date.now()));
  return Math.round(performance.now() - started);
}

/** `notifications` posted to `/webhooks/qfpay` at `apiUrl` (default: the API's). */
export async function webhookLoad(
  stack: BenchStack,
  notifications: readonly BenchNotification[],
  concurrency: number,
  apiUrl = stack.apiUrl,
): Promise<LoadOnly> {
  let next = 0;
  let mismatches = 0;
  const { result, latencies, durationMs } = await runAutocannon({
    url: `${apiUrl}/webhooks/qfpay`,
    connections: concurrency,
    amount: notifications.length,
    timeout: 30,
    requests: [
      {
        setupRequest: (request) => {
          const n = notifications[next++ % notifications.length]!;
          recordAtEmulator(stack.qfpayEmulator.emulator.store, n);
          return {
            ...request,
            method: 'POST',
            path: '/webhooks/qfpay',
            headers: { 'content-type': 'application/json', 'x-qf-sign': n.signature },
            body: n.body,
          };
        },
        onResponse: (status, body) => {
          if (status === 200 && body !== 'SUCCESS') mismatches += 1;
        },
      },
    ],
  });
  const errorKinds: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) {
    if (code !== '200' && stat.count) errorKinds[`HTTP ${code}`] = stat.count;
  }
  // autocannon counts timeouts among `errors`.
  if (result.errors) errorKinds['connection errors or timeouts'] = result.errors;
  if (mismatches) errorKinds['200 without SUCCESS'] = mismatches;
  const errors = Object.values(errorKinds).reduce((a, b) => a + b, 0);
  const requests = latencies.length + result.errors;
  return {
    requests,
    ok: Math.max(0, result['2xx'] - mismatches),
    errors,
    errorKinds,
    durationMs: Math.round(durationMs),
    throughput: perSecond(result['2xx'], durationMs),
    latencyMs: summarize(latencies),
  };
}

async function ceilingLoad(
  stack: BenchStack,
  notifications: readonly BenchNotification[],
  concurrency: number,
): Promise<LoadOnly> {
  const { client, config } = stack;
  const run = await runPool(notifications.length, concurrency, async (i) => {
    const n = notifications[i]!;
    recordAtEmulator(stack.qfpayEmulator.emulator.store, n);
    await client.workflow.signalWithStart(WORKFLOW_TYPES.subscription, {
      workflowId: subscriptionWorkflowId(n.subscriptionId),
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      args: [adoptedInput(n.subscriptionId)],
      signal: factSignal,
      signalArgs: [n.fact],
    });
  });
  return { requests: notifications.length, ...poolFigures(run) };
}

/**
 * Convergence over `samples` notifications, one at a time on an otherwise quiet stack; `next()`
 * gives each (a new fact for a subscription that already has its workflow).
 */
export async function convergence(
  stack: BenchStack,
  next: () => BenchNotification,
  samples: number,
): Promise<ConvergenceResult> {
  const latencies: number[] = [];
  let timeouts = 0;
  // Bounded: a backlogged worker must not turn 50 samples into 50 timeouts of waiting.
  const budgetEnd = Date.now() + 90_000;
  for (let k = 0; k < samples && Date.now() < budgetEnd; k += 1) {
    const n = next();
    recordAtEmulator(stack.qfpayEmulator.emulator.store, n);
    const res = await fetch(`${stack.apiUrl}/webhooks/qfpay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-qf-sign': n.signature },
      body: n.body,
    });
    const text = await res.text();
    const acked = performance.now();
    if (res.status !== 200 || text !== 'SUCCESS') {
      timeouts += 1;
      continue;
    }
    const deadline = Date.now() + 10_000;
    for (;;) {
      const seen = await showsEffect(stack.client, n).catch(() => false);
      if (seen) {
        latencies.push(performance.now() - acked);
        break;
      }
      if (Date.now() > deadline) {
        timeouts += 1;
        break;
      }
      await sleep(2);
    }
  }
  return { samples, latencyMs: summarize(latencies), timeouts };
}

/** Each call: the next cycle of a random subscription of `subscriptionIds` (rounds sent so far: `roundsSent`). */
export function randomNextCycle(
  subscriptionIds: readonly string[],
  roundsSent: (index: number) => number,
): () => BenchNotification {
  const used = new Map<number, number>();
  return () => {
    const i = Math.floor(Math.random() * subscriptionIds.length);
    const round = (used.get(i) ?? roundsSent(i)) + 1;
    used.set(i, round);
    return roundNotification(subscriptionIds[i]!, round, BENCH_APP_KEY);
  };
}

function roundsSentFor(subscriptions: number, notifications: number): (i: number) => number {
  // Notification j went to subscription j % S in round floor(j / S): the last round sent to i.
  return (i) => Math.floor((notifications - 1 - i) / subscriptions);
}

/** One way notifications reach the workflows: how a run is loaded, and whose CPU is measured. */
interface IngestionPath {
  load: (notifications: readonly BenchNotification[]) => Promise<LoadOnly>;
  /** The processes, the API being the one this path goes through (the ceiling's sits idle). */
  pids: CpuPids;
}

/** The paths of a step, in the order they run: the webhook, without Express (`--bare-webhook`), the ceiling. */
function ingestionPaths(
  stack: BenchStack,
  concurrency: number,
): { ours: IngestionPath; bare?: IngestionPath; ceiling: IngestionPath } {
  const pids = stackCpuPids(stack);
  const { bareWebhook } = stack;
  return {
    ours: { load: (n) => webhookLoad(stack, n, concurrency), pids },
    ...(bareWebhook
      ? {
          bare: {
            load: (n) => webhookLoad(stack, n, concurrency, bareWebhook.url),
            pids: { ...pids, api: bareWebhook.pid },
          },
        }
      : {}),
    ceiling: { load: (n) => ceilingLoad(stack, n, concurrency), pids },
  };
}

/**
 * One path measured: a fresh run of `subscriptions` subscriptions loaded through it, then its
 * drain, with the CPU per notification of each process over both. The signals per workflow task
 * are read only where a subscription gets several notifications (N > S): with one each, every
 * history holds its start's task and one signal's, whatever the path.
 */
async function measurePath(
  stack: BenchStack,
  path: IngestionPath,
  opts: { subscriptions: number; notifications: number; drainTimeoutMs: number },
): Promise<{ figures: LoadFigures; subscriptionIds: string[] }> {
  const run = notificationRun(opts.subscriptions, opts.notifications, BENCH_APP_KEY);
  const cpu = startCpuMeter(path.pids);
  const load = await path.load(run.notifications);
  const drainMs = await drain(stack, run.notifications, opts.drainTimeoutMs);
  const cpuMsPerNotification = perItem(cpu(), opts.notifications);
  const batching =
    opts.notifications > opts.subscriptions
      ? { signalsPerWorkflowTask: await signalsPerWorkflowTask(stack.client, run.subscriptionIds) }
      : {};
  return {
    figures: { ...load, drainMs, cpuMsPerNotification, ...batching },
    subscriptionIds: run.subscriptionIds,
  };
}

/** The size of the warm-up: enough for every path's first contexts and JIT, whatever the first step. */
export const WARM_UP = { subscriptions: 100, notifications: 1_000 } as const;

/**
 * The first load of a fresh stack pays for its start: the worker's first workflow contexts and
 * the JIT of every process on the path (with `--phases ingestion` alone the worker spent 6.6 ms
 * per notification behind the first step's webhook against 4.2 behind its ceiling, for the same
 * workflow work). So before the first measured step each path is measured once on subscriptions
 * of its own ({@link WARM_UP}, or the first step when smaller), and its figures dropped: the
 * steps then compare the paths, not their order.
 */
export async function warmUp(
  stack: BenchStack,
  opts: { subscriptions: number; notifications: number; concurrency: number; drainTimeoutMs: number },
): Promise<void> {
  // In a step's order: ours, without Express, the ceiling (the object's keys keep it).
  for (const path of Object.values(ingestionPaths(stack, opts.concurrency))) {
    await measurePath(stack, path, opts);
  }
}

/** Ingestion (ours vs the ceiling) and convergence for `subscriptions` subscriptions. */
export async function runIngestion(
  stack: BenchStack,
  opts: {
    subscriptions: number;
    notifications: number;
    concurrency: number;
    convergenceSamples: number;
    drainTimeoutMs: number;
  },
): Promise<IngestionResult> {
  const paths = ingestionPaths(stack, opts.concurrency);
  const ours = await measurePath(stack, paths.ours, opts);
  const bare = paths.bare ? (await measurePath(stack, paths.bare, opts)).figures : undefined;
  const ceiling = (await measurePath(stack, paths.ceiling, opts)).figures;

  const conv = await convergence(
    stack,
    randomNextCycle(ours.subscriptionIds, roundsSentFor(opts.subscriptions, opts.notifications)),
    opts.convergenceSamples,
  );
  const worker = await stack.worker.status(true);
  return {
    subscriptions: opts.subscriptions,
    notifications: opts.notifications,
    concurrency: opts.concurrency,
    ours: ours.figures,
    ceiling,
    throughputRatio: ratio(ours.figures.throughput, ceiling.throughput),
    latencyRatioP50: ratio(ours.figures.latencyMs.p50, ceiling.latencyMs.p50),
    ...(bare ? { bare: { ...bare, throughputRatio: ratio(bare.throughput, ceiling.throughput) } } : {}),
    convergence: conv,
    worker: { cached: worker.numCachedWorkflows, rssMb: Math.round(worker.rssKb / 102.4) / 10 },
  };
}
