/**
 * Phase 4: what a subscription costs in workflow history. Real subscriptions at the emulator
 * (minute billing, frozen clock moved by the benchmark, notifications on to the API's webhook):
 * events and encoded bytes per happy billing cycle and per dunning episode, and after how many
 * cycles a subscription continues-as-new, predicted from those figures and checked with a run at
 * a low `maxHistoryEvents`.
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import {
  WORKFLOW_TYPES,
  snapshotQuery,
  subscriptionWorkflowId,
  syncNowUpdate,
  type SubscriptionView,
  type SubscriptionWorkflowInput,
} from '../../src/workflows/definitions';
import { DEFAULT_DUNNING_POLICY, mergePolicy } from '../../src/workflows/dunning';
import { adoptedInput } from '../notifications';
import { sleep } from '../stats';
import type { BenchStack } from '../stack';
import { MINUTE } from '../../src/workflows/duration';

/** The workflow's default continue-as-new threshold (`maxHistoryEvents`). */
export const DEFAULT_MAX_HISTORY_EVENTS = 10_000;

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
  /** Cycles before continue-as-new at the default threshold: (threshold − start) / per cycle. */
  predictedCyclesAtDefault: number;
  lowThreshold: { maxHistoryEvents: number; predictedCycle: number; observedCycle: number | null };
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

async function sandboxPost(stack: BenchStack, path: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${stack.sandbox.url}${path}`, {
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
  opts: { cycles: number; lowThreshold: number },
): Promise<HistoryResult> {
  const { sandbox, qfpay, client } = stack;
  // The failed cycle must fall a little after real now, so the dunning attempts (real timers, a
  // few seconds after the failure) run at once; happy cycles may run ahead of real time.
  sandbox.reset({ nowMs: Date.now() - 54_000, frozen: true });
  sandbox.setFaults({ notificationsEnabled: false });
  sandbox.setNotifyUrl(`${stack.apiUrl}/webhooks/qfpay`);
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
      const token = (await sandboxPost(stack, '/_sandbox/tokens', {
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
    const happyId = await start(happy.subscriptionId, {});
    const dunningId = await start(dunning.subscriptionId, {
      policy: mergePolicy(DEFAULT_DUNNING_POLICY, {
        attemptOffsets: ['1s', '2s'],
        safetyMargin: '15s',
        minAttemptWindow: '1s',
        escalation: [],
        finalAction: 'leave_to_qfpay',
      }),
    });
    const cappedId = await start(capped.subscriptionId, {
      options: { merchantEvents: false, maxHistoryEvents: opts.lowThreshold },
    });
    sandbox.setFaults({ notificationsEnabled: true });

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
    await sandboxPost(stack, `/_sandbox/tokens/${dunning.tokenId}/behaviour`, {
      charges: 'decline',
      respcd: '1205',
    });
    await sandbox.advance({ ms: MINUTE });
    const closed = await until(
      stack,
      dunningId,
      'dunning episode closed',
      (v) => v.dunning.episode === null && v.dunning.history.length > 0,
      60_000,
    );
    const dunningEnd = await historySize(client, dunningId);
    await qfpay.cancelSubscription({ subscription_id: dunning.subscriptionId });

    const sizes: HistorySize[] = [happyStart];
    let happyHistory: History = {};
    let observedCycle: number | null = null;
    for (let cycle = 2; cycle <= opts.cycles + 1; cycle += 1) {
      if (cycle > 2) await sandbox.advance({ ms: MINUTE });
      await until(stack, happyId, `happy cycle ${cycle}`, paid(cycle));
      const cappedView = await until(stack, cappedId, `capped cycle ${cycle}`, paid(cycle));
      if (observedCycle === null && cappedView.continuedAsNew > 0) observedCycle = cycle;
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
    const updateBytes = await updateResultBytes(client, happyId);
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
      perDunningEpisode: {
        events: dunningEnd.events - dunningStart.events,
        bytes: dunningEnd.bytes - dunningStart.bytes,
      },
      dunningAttempts: closed.dunning.history.at(-1)?.attempts.length ?? 0,
      predictedCyclesAtDefault: Math.floor(
        (DEFAULT_MAX_HISTORY_EVENTS - happyStart.events) / perCycle.events,
      ),
      lowThreshold: { maxHistoryEvents: opts.lowThreshold, predictedCycle, observedCycle },
    };
  } finally {
    sandbox.setFaults({ notificationsEnabled: false });
    sandbox.setNotifyUrl(undefined);
  }
}
