/**
 * Phase 7: throughput with a large population of open subscriptions. The growth steps of
 * ingestion send a first notification to every subscription, so their figure at S is mostly the
 * cost of adopting S new workflows. This phase asks the question a merchant with 100,000
 * subscriptions has: with P subscriptions already open, how fast does the engine apply a batch
 * of payments spread over all of them?
 *
 * For each size P (ascending), first **growth**: the population is brought up to P by the bulk
 * path, in chunks, each chunk drained before the next. Then **the measure**: N payment
 * notifications through the webhook, each the next cycle of a different random subscription of
 * the population, timed until the worker has applied them all (applied/s = N / (load + drain)),
 * and convergence samples on the same population. Beyond the worker's cache most of those
 * subscriptions are evicted, so a payment to one replays its history first; that is what
 * production at that size pays.
 *
 * The bulk path: a subscription's adoption by signal-with-start from the bench (the ceiling's
 * path), with its QFPay record written at the emulator. It costs the server and the worker what
 * the webhook's adoption costs them (a start, the first sync, two workflow tasks, the
 * search-attribute upserts, the reconcile timer); it skips the API's HTTP hop and signature check,
 * which ingestion measures at 3–5 ms of CPU per notification, and QFPay's own creation calls,
 * which creation measures.
 */
import { perItem, stackCpuPids, startCpuMeter, type CpuFigures } from '../cpu';
import { recordAtEmulator } from '../emulator-records';
import { adoptedInput, fakeSubscriptionId, roundNotification, stateFact } from '../notifications';
import { ratio, runPool, sleep, spreadPicks, type LatencySummary } from '../stats';
import type { BenchStack } from '../stack';
import { BENCH_APP_KEY } from '../stack';
import { WORKFLOW_TYPES, factSignal, subscriptionWorkflowId } from '../../src/workflows/definitions';
import { convergence, drain, webhookLoad, type ConvergenceResult } from './ingestion';

/** How the population grew to this step's size. */
export interface GrowthFigures {
  /** Subscriptions adopted by this step. */
  added: number;
  durationMs: number;
  /** Adopted subscriptions per second, over the chunks' loads and drains. */
  perSecond: number;
  cpuMsPerAdoption: CpuFigures;
  errors: number;
  /** The worker while the population grew: the largest RSS and cache seen (sampled, no GC). */
  workerMaxRssMb: number;
  workerMaxCached: number;
  /** `cluster` only: PostgreSQL's growth per adopted subscription, KB. */
  databaseKbPerSubscription?: number;
}

/** N payments spread over the population. */
export interface PopulationMeasure {
  notifications: number;
  /** Subscriptions the payments went to (distinct while N ≤ P). */
  subscriptionsTouched: number;
  /** Webhook answers per second during the load. */
  acceptedPerSecond: number;
  latencyMs: LatencySummary;
  errors: number;
  loadMs: number;
  drainMs: number;
  /** Notifications applied per second: N / (load + drain). */
  appliedPerSecond: number;
  cpuMsPerNotification: CpuFigures;
}

export interface PopulationStep {
  population: number;
  growth: GrowthFigures;
  measure: PopulationMeasure;
  convergence: ConvergenceResult;
  /** The worker after the step, after a full GC. */
  worker: { cached: number; rssMb: number };
}

export interface PopulationResult {
  concurrency: number;
  notifications: number;
  steps: PopulationStep[];
  /** applied/s at the largest population over applied/s at the smallest. */
  appliedRatio: number;
  /** The same for the webhook's answers per second. */
  acceptedRatio: number;
}

const mb = (kb: number) => Math.round((kb / 1024) * 10) / 10;
const round1 = (v: number) => Math.round(v * 10) / 10;

/** Samples the worker's RSS and cache every `everyMs` until stopped; the largest seen. */
function sampleWorker(stack: BenchStack, everyMs: number): () => { maxRssKb: number; maxCached: number } {
  let maxRssKb = 0;
  let maxCached = 0;
  let running = true;
  void (async () => {
    while (running) {
      try {
        const s = await stack.worker.status();
        maxRssKb = Math.max(maxRssKb, s.rssKb);
        maxCached = Math.max(maxCached, s.numCachedWorkflows);
      } catch {
        // A busy worker may answer late; the next sample counts.
      }
      await sleep(everyMs);
    }
  })();
  return () => {
    running = false;
    return { maxRssKb, maxCached };
  };
}

/** Brings the population from `ids.length` up to `size`, chunk by chunk. */
async function grow(
  stack: BenchStack,
  ids: string[],
  size: number,
  opts: { concurrency: number; chunk: number; drainTimeoutMs: number; log: (m: string) => void },
): Promise<GrowthFigures> {
  const added = size - ids.length;
  const dbBefore = await stack.databaseBytes?.();
  const sampler = sampleWorker(stack, 5_000);
  const cpu = startCpuMeter(stackCpuPids(stack));
  const started = performance.now();
  let errors = 0;
  while (ids.length < size) {
    const count = Math.min(opts.chunk, size - ids.length);
    const chunk = Array.from({ length: count }, fakeSubscriptionId);
    const run = await runPool(count, opts.concurrency, async (i) => {
      const subscriptionId = chunk[i]!;
      const fact = stateFact(subscriptionId, 'ACTIVE', Date.now());
      recordAtEmulator(stack.qfpayEmulator.emulator.store, { subscriptionId, fact });
      await stack.client.workflow.signalWithStart(WORKFLOW_TYPES.subscription, {
        workflowId: subscriptionWorkflowId(subscriptionId),
        taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
        args: [adoptedInput(subscriptionId)],
        signal: factSignal,
        signalArgs: [fact],
      });
    });
    errors += [...run.errors.values()].reduce((a, b) => a + b, 0);
    // The chunk's last adoptions applied and the worker idle: the next chunk starts on no backlog.
    const tail = chunk.slice(-20).map((id) => roundNotification(id, 0, BENCH_APP_KEY));
    await drain(stack, tail, Math.max(opts.drainTimeoutMs, count * 200));
    ids.push(...chunk);
    const seconds = (performance.now() - started) / 1000;
    opts.log(
      `population: ${ids.length} open, ${round1((ids.length - (size - added)) / seconds)} adoptions/s so far`,
    );
  }
  const durationMs = Math.round(performance.now() - started);
  const cpuMs = perItem(cpu(), added);
  const seen = sampler();
  const dbAfter = await stack.databaseBytes?.();
  return {
    added,
    durationMs,
    perSecond: round1(added / (durationMs / 1000)),
    cpuMsPerAdoption: cpuMs,
    errors,
    workerMaxRssMb: mb(seen.maxRssKb),
    workerMaxCached: seen.maxCached,
    ...(dbBefore !== undefined && dbAfter !== undefined && added > 0
      ? { databaseKbPerSubscription: round1((dbAfter - dbBefore) / 1024 / added) }
      : {}),
  };
}

/** N payments, each the next cycle of a random subscription of the population, through the webhook. */
async function measure(
  stack: BenchStack,
  ids: readonly string[],
  rounds: Map<string, number>,
  opts: { notifications: number; concurrency: number; drainTimeoutMs: number },
): Promise<PopulationMeasure> {
  // Distinct subscriptions while N ≤ P.
  const picks = spreadPicks(ids, opts.notifications);
  const notifications = picks.map((id) => {
    const round = (rounds.get(id) ?? 0) + 1;
    rounds.set(id, round);
    return roundNotification(id, round, BENCH_APP_KEY);
  });
  const cpu = startCpuMeter(stackCpuPids(stack));
  const started = performance.now();
  const load = await webhookLoad(stack, notifications, opts.concurrency);
  await drain(stack, notifications, Math.max(opts.drainTimeoutMs, opts.notifications * 200));
  // From the first request until all are applied: the load ends at its last response, and the
  // worker's work from then on (autocannon's wait for its tick included) is the drain.
  const totalMs = performance.now() - started;
  const drainMs = Math.round(totalMs - load.durationMs);
  const cpuMs = perItem(cpu(), opts.notifications);
  return {
    notifications: opts.notifications,
    subscriptionsTouched: new Set(picks).size,
    acceptedPerSecond: load.throughput,
    latencyMs: load.latencyMs,
    errors: load.errors,
    loadMs: load.durationMs,
    drainMs,
    appliedPerSecond: round1(load.ok / (totalMs / 1000)),
    cpuMsPerNotification: cpuMs,
  };
}

/** The population phase at `sizes` (ascending), e.g. [1000, 100000]. */
export async function runPopulation(
  stack: BenchStack,
  opts: {
    sizes: number[];
    notifications: number;
    concurrency: number;
    convergenceSamples: number;
    drainTimeoutMs: number;
    /** Adoptions per chunk of the growth. */
    chunk: number;
    log: (message: string) => void;
  },
): Promise<PopulationResult> {
  const ids: string[] = [];
  const rounds = new Map<string, number>();
  const steps: PopulationStep[] = [];
  for (const size of [...opts.sizes].sort((a, b) => a - b)) {
    opts.log(`population: growing to ${size} subscriptions`);
    const growth = await grow(stack, ids, size, opts);
    opts.log(`population: ${opts.notifications} payments over ${size} subscriptions`);
    const measured = await measure(stack, ids, rounds, opts);
    const conv = await convergence(
      stack,
      () => {
        const id = ids[Math.floor(Math.random() * ids.length)]!;
        const round = (rounds.get(id) ?? 0) + 1;
        rounds.set(id, round);
        return roundNotification(id, round, BENCH_APP_KEY);
      },
      opts.convergenceSamples,
    );
    const worker = await stack.worker.status(true);
    const step: PopulationStep = {
      population: size,
      growth,
      measure: measured,
      convergence: conv,
      worker: { cached: worker.numCachedWorkflows, rssMb: mb(worker.rssKb) },
    };
    steps.push(step);
    // On stderr as it comes: a run stopped before its end keeps its finished steps.
    opts.log(`population step ${JSON.stringify(step)}`);
  }
  const first = steps[0]!;
  const last = steps.at(-1)!;
  return {
    concurrency: opts.concurrency,
    notifications: opts.notifications,
    steps,
    appliedRatio: ratio(last.measure.appliedPerSecond, first.measure.appliedPerSecond),
    acceptedRatio: ratio(last.measure.acceptedPerSecond, first.measure.acceptedPerSecond),
  };
}
