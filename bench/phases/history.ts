/**
 * Phase 4: what a subscription costs in workflow history. Real subscriptions at the emulator
 * (minute billing, frozen clock moved by the benchmark, notifications on to the API's webhook):
 * events and encoded bytes per happy billing cycle and per dunning episode, and after how many
 * cycles a subscription continues-as-new, predicted from those figures and checked with a run at
 * a low `maxHistoryEvents`.
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import {
  WORKFLOW_TYPES,
  snapshotQuery,
  subscriptionWorkflowId,
  syncNowUpdate,
  type SubscriptionView,
  type SubscriptionWorkflowInput,
} from '../../src/workflows/definitions';
import { DEFAULT_DUNNING_POLICY, mergePolicy } from '../../src/domain/episode/dunning';
import { NEW_SUBSCRIPTION_MAX_HISTORY_EVENTS } from '../../src/domain/engine-state';
import { cloudActions, type ActionCount } from '../cloud-cost';
import { ADOPTED_OPTIONS, adoptedInput } from '../notifications';
import { fitLine, sleep, summarize } from '../stats';
import type { BenchStack } from '../stack';
import { MINUTE } from '../../src/domain/duration';

/** The continue-as-new threshold (`maxHistoryEvents`) the API gives a new subscription. */
export const DEFAULT_MAX_HISTORY_EVENTS = NEW_SUBSCRIPTION_MAX_HISTORY_EVENTS;
/** The workflow task timeout the engine runs with (Temporal's default): a replay must fit in it. */
export const WORKFLOW_TASK_TIMEOUT_MS = 10_000;

export interface HistorySize {
  events: number;
  bytes: number;
}

export interface HistoryResult {
  /** After adoption and the first (paid) cycle's sync. */
  start: HistorySize;
  /** Average over `cycles` happy cycles. */
  perCycle: HistorySize;
  /** Bytes of the first and of the last measured cycle (the synced order list grows). */
  cycleBytesFirst: number;
  cycleBytesLast: number;
  cycles: number;
  /** The events of the last measured cycle by type, in the order they first appear: count and encoded bytes. */
  cycleEventTypes: Record<string, { events: number; bytes: number }>;
  /**
   * An update's result, as stored in history: the encoded payloads of the last update's
   * completion (a sync-now on the happy subscription, after its measured cycles).
   */
  updateResultBytes: number;
  /** A failed cycle, two declined manual charges and the episode's close (exhausted). */
  perDunningEpisode: HistorySize;
  dunningAttempts: number;
  /**
   * Temporal Cloud actions (bench/cloud-cost.ts) of the adoption and first paid cycle, of the
   * last happy cycle (a happy month on a monthly plan) and of the dunning episode.
   */
  cloudActions: { start: ActionCount; cycle: ActionCount; dunningEpisode: ActionCount };
  /**
   * The cost of a cache miss: the happy subscription's history cut at cycle ends, replayed by a
   * replay worker with the engine's bundle and codec (median of `rounds` rounds, after a warm-up),
   * and the time to fetch the whole history from the server.
   */
  replay: {
    points: { events: number; bytes: number; replayMs: number }[];
    rounds: number;
    fetchMs: number;
    /** The slope of a line through the points. */
    msPerEvent: number;
    /** The line at the default continue-as-new threshold: the longest replay a default subscription needs. */
    projectedAtThresholdMs: number;
    /** That projection over the workflow task timeout (the ceiling: 1). */
    ofTaskTimeout: number;
  };
  /** Cycles before continue-as-new at the default threshold: (threshold − start) / per cycle. */
  predictedCyclesAtDefault: number;
  lowThreshold: {
    maxHistoryEvents: number;
    predictedCycle: number;
    observedCycle: number | null;
    /**
     * What a continue-as-new costs: the continued run's history before its first cycle (its start,
     * with the carried state and the patch markers of a new run), or null when none was observed.
     */
    continuedStart: HistorySize | null;
  };
}

type History = temporal.api.history.v1.IHistory;

function sizeOf(history: History): HistorySize {
  return {
    events: history.events?.length ?? 0,
    bytes: temporal.api.history.v1.History.encode(history).finish().length,
  };
}

async function historySize(client: Client, workflowId: string): Promise<HistorySize> {
  return sizeOf(await client.workflow.getHandle(workflowId).fetchHistory());
}

function replayFigures(
  points: HistoryResult['replay']['points'],
  rounds: number,
  fetchMs: number,
): HistoryResult['replay'] {
  const { slope, intercept } = fitLine(points.map((p) => ({ x: p.events, y: p.replayMs })));
  const projected = intercept + slope * DEFAULT_MAX_HISTORY_EVENTS;
  return {
    points,
    rounds,
    fetchMs,
    msPerEvent: Math.round(slope * 1000) / 1000,
    projectedAtThresholdMs: Math.round(projected),
    ofTaskTimeout: Math.round((projected / WORKFLOW_TASK_TIMEOUT_MS) * 1000) / 1000,
  };
}

/** Where the replay worker finds the workflows and how it decodes payloads. */
export type ReplaySource = Pick<ReplayWorkerOptions, 'workflowBundle' | 'workflowsPath' | 'dataConverter'>;

/**
 * Replays each history `rounds` times in one replay worker (after one warm-up replay that loads
 * the bundle) and returns the median milliseconds per history: from handing the history over to
 * its result, i.e. what a worker spends rebuilding an evicted workflow from its history.
 */
async function replayMs(source: ReplaySource, histories: History[], rounds: number): Promise<number[]> {
  const order = [0, ...Array.from({ length: rounds }, () => histories.map((_, i) => i)).flat()];
  const times: number[][] = histories.map(() => []);
  let handedAt = 0;
  async function* feed() {
    for (const i of order) {
      handedAt = performance.now();
      yield { workflowId: 'bench-replay', history: histories[i]! };
    }
  }
  let k = 0;
  for await (const result of Worker.runReplayHistories(source, feed())) {
    const elapsed = performance.now() - handedAt;
    if (result.error) throw new Error(`history phase: replay failed: ${result.error.message}`);
    if (k > 0) times[order[k]!]!.push(elapsed);
    k += 1;
  }
  return times.map((t) => Math.round(summarize(t).p50 * 10) / 10);
}

/**
 * The events of a history from event `from` (0-based) on: by type, count and bytes; and how many
 * events follow the last workflow task's start (that task's completion and commands).
 */
function cycleProfile(
  history: History,
  from: number,
): { byType: HistoryResult['cycleEventTypes']; afterLastTaskStart: number } {
  const { EventType } = temporal.api.enums.v1;
  const events = history.events?.slice(from) ?? [];
  const byType: HistoryResult['cycleEventTypes'] = {};
  for (const event of events) {
    const name = EventType[event.eventType ?? 0] ?? String(event.eventType);
    const type = name.replace(/^EVENT_TYPE_/, '');
    const seen = byType[type] ?? { events: 0, bytes: 0 };
    const bytes = temporal.api.history.v1.HistoryEvent.encode(event).finish().length;
    byType[type] = { events: seen.events + 1, bytes: seen.bytes + bytes };
  }
  const lastStart = events.findLastIndex((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED);
  return { byType, afterLastTaskStart: lastStart < 0 ? 0 : events.length - 1 - lastStart };
}

/** Runs a sync-now update on `workflowId`; the bytes of its result in the update's completion event. */
async function updateResultBytes(client: Client, workflowId: string): Promise<number> {
  const handle = client.workflow.getHandle(workflowId);
  await handle.executeUpdate(syncNowUpdate, { args: [] });
  const history = await handle.fetchHistory();
  const completed = history.events?.filter((e) => e.workflowExecutionUpdateCompletedEventAttributes).at(-1);
  const success = completed?.workflowExecutionUpdateCompletedEventAttributes?.outcome?.success;
  return success ? temporal.api.common.v1.Payloads.encode(success).finish().length : Number.NaN;
}

async function view(client: Client, workflowId: string): Promise<SubscriptionView | undefined> {
  try {
    return await client.workflow.getHandle(workflowId).query(snapshotQuery);
  } catch {
    return undefined;
  }
}

/** Polls until `done(view)` holds, then until the worker is idle (bounded). */
async function until(
  stack: BenchStack,
  workflowId: string,
  what: string,
  done: (v: SubscriptionView) => boolean,
  timeoutMs = 60_000,
): Promise<SubscriptionView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await view(stack.client, workflowId);
    if (v && done(v)) {
      await stack.worker.idle(10_000);
      return (await view(stack.client, workflowId)) ?? v;
    }
    if (Date.now() > deadline) throw new Error(`history phase: ${what} not reached within ${timeoutMs} ms`);
    await sleep(50);
  }
}

async function emulatorPost(stack: BenchStack, path: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${stack.qfpayEmulator.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`emulator ${path}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}

/**
 * Runs the history measurements.
 * @param cycles happy cycles to average over (at least 2)
 * @param lowThreshold `maxHistoryEvents` of the subscription that checks the prediction
 */
export async function runHistory(
  stack: BenchStack,
  opts: { cycles: number; lowThreshold: number; replay: ReplaySource; replayRounds: number },
): Promise<HistoryResult> {
  const { qfpayEmulator, qfpay, client } = stack;
  // The failed cycle must fall a little after real now, so the dunning attempts (real timers, a
  // few seconds after the failure) run at once; happy cycles may run ahead of real time.
  qfpayEmulator.reset({ nowMs: Date.now() - 54_000, frozen: true });
  qfpayEmulator.setFaults({ notificationsEnabled: false });
  qfpayEmulator.setNotifyUrl(`${stack.apiUrl}/webhooks/qfpay`);
  try {
    const product = await qfpay.createProduct({
      name: 'Bench per minute',
      type: 'recurring',
      txamt: 500,
      txcurrcd: 'HKD',
      interval: 'minutes',
      interval_count: 1,
    });
    const subscribe = async (name: string) => {
      const customer = await qfpay.createCustomer({ name, email: `${name}@example.com` });
      const token = (await emulatorPost(stack, '/_emulator/tokens', {
        customer_id: customer.customer_id,
        card_number: '5200000000001096',
      })) as { token_id: string };
      const sub = await qfpay.createSubscription({
        customer_id: customer.customer_id,
        token_id: token.token_id,
        products: [{ product_id: product.product_id }],
      });
      return { subscriptionId: sub.subscription_id, tokenId: token.token_id };
    };
    const happy = await subscribe('bench-happy');
    const dunning = await subscribe('bench-dunning');
    const capped = await subscribe('bench-capped');

    const start = async (subscriptionId: string, extra: Partial<SubscriptionWorkflowInput>) => {
      await client.workflow.start(WORKFLOW_TYPES.subscription, {
        workflowId: subscriptionWorkflowId(subscriptionId),
        taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
        args: [adoptedInput(subscriptionId, extra)],
      });
      return subscriptionWorkflowId(subscriptionId);
    };
    // The happy and the dunning subscription keep one run (the per-cycle and per-episode figures are
    // of one history); the capped one continues as new, at the low bound.
    const oneRun = { options: { ...ADOPTED_OPTIONS, maxHistoryEvents: 10_000 } };
    const happyId = await start(happy.subscriptionId, oneRun);
    const dunningId = await start(dunning.subscriptionId, {
      ...oneRun,
      policy: mergePolicy(DEFAULT_DUNNING_POLICY, {
        attemptOffsets: ['1s', '2s'],
        safetyMargin: '15s',
        minAttemptWindow: '1s',
        escalation: [],
        finalAction: 'leave_to_gateway',
      }),
    });
    const cappedId = await start(capped.subscriptionId, {
      options: { ...ADOPTED_OPTIONS, maxHistoryEvents: opts.lowThreshold },
    });
    qfpayEmulator.setFaults({ notificationsEnabled: true });

    const paid = (n: number) => (v: SubscriptionView) =>
      v.snapshot.state === 'ACTIVE' &&
      v.snapshot.completedCycles === n &&
      v.snapshot.nextBillingTime !== null;
    await until(stack, happyId, 'happy adopted', paid(1));
    await until(stack, dunningId, 'dunning adopted', paid(1));
    await until(stack, cappedId, 'capped adopted', paid(1));
    const happyStart = await historySize(client, happyId);
    const dunningStart = await historySize(client, dunningId);
    const cappedStart = await historySize(client, cappedId);

    // Cycle 2: paid for two, declined for the third (which opens a dunning episode).
    await emulatorPost(stack, `/_emulator/tokens/${dunning.tokenId}/behaviour`, {
      charges: 'decline',
      respcd: '1205',
    });
    await qfpayEmulator.advance({ ms: MINUTE });
    const closed = await until(
      stack,
      dunningId,
      'dunning episode closed',
      (v) => v.dunning.episode === null && v.dunning.history.length > 0,
      60_000,
    );
    const dunningHistory = await client.workflow.getHandle(dunningId).fetchHistory();
    const dunningEnd = sizeOf(dunningHistory);
    await qfpay.cancelSubscription({ subscription_id: dunning.subscriptionId });

    const sizes: HistorySize[] = [happyStart];
    let happyHistory: History = {};
    let observedCycle: number | null = null;
    let continuedStart: HistorySize | null = null;
    for (let cycle = 2; cycle <= opts.cycles + 1; cycle += 1) {
      if (cycle > 2) await qfpayEmulator.advance({ ms: MINUTE });
      await until(stack, happyId, `happy cycle ${cycle}`, paid(cycle));
      const cappedView = await until(stack, cappedId, `capped cycle ${cycle}`, paid(cycle));
      if (observedCycle === null && cappedView.continuedAsNew > 0) {
        observedCycle = cycle;
        continuedStart = sizeOf(await client.workflow.getHandle(cappedId).fetchHistory());
      }
      happyHistory = await client.workflow.getHandle(happyId).fetchHistory();
      sizes.push(sizeOf(happyHistory));
    }
    const deltas = sizes
      .slice(1)
      .map((s, i) => ({ events: s.events - sizes[i]!.events, bytes: s.bytes - sizes[i]!.bytes }));
    const avg = (k: keyof HistorySize) =>
      Math.round((deltas.reduce((a, d) => a + d[k], 0) / deltas.length) * 10) / 10;
    const perCycle = { events: avg('events'), bytes: avg('bytes') };
    const profile = cycleProfile(happyHistory, sizes.at(-2)!.events);
    const fetchStarted = performance.now();
    await client.workflow.getHandle(happyId).fetchHistory();
    const fetchMs = Math.round((performance.now() - fetchStarted) * 10) / 10;
    const updateBytes = await updateResultBytes(client, happyId);
    const events = happyHistory.events ?? [];
    // The history as it stood at the end of the adoption and of some cycles, the last included.
    const cuts = [...new Set([0, 1, 2, 5, 10, 20, 30, 40, sizes.length - 1])].filter((i) => i < sizes.length);
    const cutHistories = cuts.map((i) => ({ events: events.slice(0, sizes[i]!.events) }));
    const replayed = await replayMs(opts.replay, cutHistories, opts.replayRounds);
    // Continue-as-new is decided in a workflow task, from the length the history had when that
    // task started. A cycle's last task starts `afterLastTaskStart` events before the cycle ends,
    // so the first cycle n with start + (n − 1) · perCycle − afterLastTaskStart ≥ threshold.
    const lastTaskAt = perCycle.events - profile.afterLastTaskStart;
    const predictedCycle =
      2 + Math.max(0, Math.ceil((opts.lowThreshold - cappedStart.events - lastTaskAt) / perCycle.events));
    return {
      start: happyStart,
      perCycle,
      cycleBytesFirst: deltas[0]?.bytes ?? Number.NaN,
      cycleBytesLast: deltas.at(-1)?.bytes ?? Number.NaN,
      cycles: deltas.length,
      cycleEventTypes: profile.byType,
      updateResultBytes: updateBytes,
      cloudActions: {
        start: cloudActions(events.slice(0, happyStart.events)),
        cycle: cloudActions(events.slice(sizes.at(-2)!.events)),
        dunningEpisode: cloudActions((dunningHistory.events ?? []).slice(dunningStart.events)),
      },
      replay: replayFigures(
        cuts.map((i, j) => ({ events: sizes[i]!.events, bytes: sizes[i]!.bytes, replayMs: replayed[j]! })),
        opts.replayRounds,
        fetchMs,
      ),
      perDunningEpisode: {
        events: dunningEnd.events - dunningStart.events,
        bytes: dunningEnd.bytes - dunningStart.bytes,
      },
      dunningAttempts: closed.dunning.history.at(-1)?.attempts.length ?? 0,
      predictedCyclesAtDefault: Math.floor(
        (DEFAULT_MAX_HISTORY_EVENTS - happyStart.events) / perCycle.events,
      ),
      lowThreshold: { maxHistoryEvents: opts.lowThreshold, predictedCycle, observedCycle, continuedStart },
    };
  } finally {
    qfpayEmulator.setFaults({ notificationsEnabled: false });
    qfpayEmulator.setNotifyUrl(undefined);
  }
}
