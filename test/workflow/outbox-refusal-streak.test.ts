/**
 * Merchant events whose delivery starts Temporal refused (dev server, real time). The workflow
 * code is bundled with `test/helpers/refuse-first-event-starts.ts`: the first start in a run of
 * every delivery is refused, the second goes through.
 *
 * The backoff between flushes grows only while starts keep being refused. A flush that hands the
 * waiting events over and is refused the fresh ones recorded meanwhile shows Temporal takes starts
 * again: the fresh ones are tried after the first backoff. Before, the streak kept counting, and
 * a subscription with steady events reached waits of many minutes (the chaos run of 2026-12-07
 * ended with 42 events of one subscription still held).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { syncNowUpdate } from '../../src/workflows/definitions';
import { afterFlush } from '../../src/domain/events/flush';
import type { EngineState } from '../../src/domain/engine-state';
import { REFUSED_START } from '../../chaos/refuse-event-starts';
import { Gate, until } from '../helpers/gate';
import { EngineDouble, failingSubscriptionAt, startWith } from '../helpers/dunning-scenario';
import { useRefusingDevServer } from '../helpers/refused-starts';
import { createTestWorker, testDataConverter, workflowTaskFailures } from '../helpers/temporal';

const server = useRefusingDevServer(require.resolve('../helpers/refuse-first-event-starts'), REFUSED_START);
const { refusals } = server;

const { EventType } = temporal.api.enums.v1;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const ms = (d: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
  Number(d?.seconds ?? 0) * 1000 + Math.round((d?.nanos ?? 0) / 1e6);

/** The first backoff after a refused flush, as the engine reckons it. */
function firstBackoff(): number {
  const waiting = { outbox: [{ id: 'evt.x' }], sentEventIds: [] } as unknown as EngineState;
  return afterFlush(waiting, { handedOver: [], notStarted: ['evt.x'] }, 0).flushRetryAt!;
}

/** The timers started after history event `index` (their durations, in ms). */
function timersAfter(events: HistoryEvent[], index: number): number[] {
  return events
    .slice(index + 1)
    .filter((e) => e.eventType === EventType.EVENT_TYPE_TIMER_STARTED)
    .map((e) => ms(e.timerStartedEventAttributes?.startToFireTimeout as never));
}

/** Whether the history has a sync activity scheduled and, started before it, no timer still pending. */
function syncHeldPastRetry(events: HistoryEvent[], syncsBefore: number): boolean {
  const syncs = events.flatMap((e, i) =>
    e.activityTaskScheduledEventAttributes?.activityType?.name === 'syncSubscription' ? [i] : [],
  );
  const sync = syncs[syncsBefore];
  if (sync === undefined) return false;
  const pending = new Set<string>();
  for (const e of events) {
    if (e.eventType === EventType.EVENT_TYPE_TIMER_STARTED && events.indexOf(e) < sync)
      pending.add(String(e.eventId));
    const closed =
      e.timerFiredEventAttributes?.startedEventId ?? e.timerCanceledEventAttributes?.startedEventId;
    if (closed !== undefined && closed !== null) pending.delete(String(closed));
  }
  return pending.size === 0;
}

describe('merchant events refused their delivery start (dev server)', () => {
  it('a flush that hands events over and is refused fresh ones tries those after the first backoff', async () => {
    refusals.length = 0;
    const t0 = Date.now();
    const scenario = failingSubscriptionAt(t0);
    const { subscriptionId, qfpay } = scenario;
    const engine = new EngineDouble();
    const { worker, taskQueue } = await createTestWorker(server.env, {
      bundlePath: server.bundlePath,
      activities: { ...qfpay.activities(), ...engine.activities() },
    });
    await worker.runUntil(async () => {
      const handle = await startWith(server, taskQueue, subscriptionId, {}, { merchantEvents: true });
      // QFPay declines cycle 2: its events are recorded, and their starts refused.
      scenario.clock.now = Date.now();
      await scenario.failCycle2(handle);
      await until('the decline’s delivery starts were refused', () => refusals.length > 0, 120_000);
      const declined = new Set(refusals);

      // A merchant's sync holds the loop until the retry's timer has fired; QFPay's recovery
      // arrives meanwhile, so the retry's flush hands the decline's events over and is refused the
      // recovery's, fresh.
      const answer = new Gate();
      qfpay.holdSyncAnswer = () => answer.promise;
      const syncsBefore = (((await handle.fetchHistory()).events ?? []) as HistoryEvent[]).filter(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'syncSubscription',
      ).length;
      const sync = handle.executeUpdate(syncNowUpdate, { args: [] });
      await until('the sync is asked', () => qfpay.count('syncSubscription') > syncsBefore, 120_000);
      await scenario.payCycle2(handle, Date.now());
      await until(
        'the retry’s timer fired while the sync was held',
        async () => syncHeldPastRetry((await handle.fetchHistory()).events ?? [], syncsBefore),
        120_000,
      );
      qfpay.holdSyncAnswer = undefined;
      answer.open();
      await sync;

      // Every event reaches the merchant, once.
      await until(
        'the recovery reaches the merchant',
        () => engine.delivered.some((e) => e.type === 'subscription.payment_succeeded'),
        180_000,
      );
      const recovered = refusals.filter((id) => !declined.has(id));
      assert.ok(recovered.length > 0, 'the recovery’s starts were refused too');
      await until(
        'every refused event is delivered',
        () => refusals.every((id) => engine.delivered.some((e) => e.id === id)),
        120_000,
      );
      const deliveredIds = engine.delivered.map((e) => e.id);
      assert.equal(new Set(deliveredIds).size, deliveredIds.length, 'each event delivered once');

      // The flush that handed the decline's events over (the first start that went through) was
      // refused the recovery's: the next retry waits the first backoff, not a grown one.
      const events = (await handle.fetchHistory()).events ?? [];
      const firstStart = events.findIndex(
        (e) => e.eventType === EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
      );
      assert.ok(firstStart > 0);
      const startedIds = events.flatMap((e) =>
        e.eventType === EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
          ? [e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId]
          : [],
      );
      assert.ok(
        [...declined].every((id) => startedIds.includes(`merchant-event:${id}`)),
        'the decline’s events were started',
      );
      const [nextRetry] = timersAfter(events, firstStart);
      assert.equal(nextRetry, firstBackoff(), 'the recovery’s retry waits the first backoff');
      assert.equal(await workflowTaskFailures(handle), 0);
      await Worker.runReplayHistory(
        { workflowBundle: { codePath: server.bundlePath }, dataConverter: testDataConverter() },
        { events },
      );
    });
  });
});
