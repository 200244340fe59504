/**
 * A merchant event whose delivery start Temporal refused, on a test clock (dev server). The
 * refusal is a fault of Temporal's, in real time: the retry must not wait for the clock, which may
 * never move again (an advance that has reached its target leaves the clock standing). The
 * workflow code is bundled with `test/helpers/refuse-early-event-starts.ts`, which refuses every
 * delivery start of a run's first seconds.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import {
  clockStatusQuery,
  factSignal,
  syncNowUpdate,
  testClockTimeSignal,
} from '../../src/workflows/definitions';
import type { MerchantEvent } from '../../src/events/merchant-events';
import { REFUSED_EARLY_START, REFUSED_FOR_MS } from '../helpers/refuse-early-event-starts';
import { until } from '../helpers/gate';
import {
  CLOCK_START,
  EngineDouble,
  HOUR,
  cycle2Failed,
  failingSubscriptionOnClock,
  startWith,
} from '../helpers/dunning-scenario';
import type { FakeQfpay } from '../helpers/qfpay-doubles';
import { useRefusingDevServer } from '../helpers/refused-starts';
import { createTestWorker, testDataConverter, workflowTaskFailures } from '../helpers/temporal';

/** The dev server; the event ids whose delivery start was refused, in order. */
const server = useRefusingDevServer(
  require.resolve('../helpers/refuse-early-event-starts'),
  REFUSED_EARLY_START,
);
const { refusals } = server;

/**
 * A run of the second test below, recorded by the engine before the retry in real time (commit
 * ad2c697), for the replay test: recording it again with today's engine would lose what it guards.
 * Its folder keeps it from the generic replay test, whose workflow code has no refusing interceptor.
 */
const RECORDED = 'refused-event-starts/clock-moved-past-refused-start';

/** The clock's start (see {@link CLOCK_START}). */
const C0 = CLOCK_START;

async function withWorker(
  qfpay: FakeQfpay,
  engine: EngineDouble,
  body: (taskQueue: string) => Promise<void>,
) {
  const { worker, taskQueue } = await createTestWorker(server.env, {
    bundlePath: server.bundlePath,
    activities: { ...qfpay.activities(), ...engine.activities() },
  });
  await worker.runUntil(() => body(taskQueue));
}

/** A subscription on a clock at C0 whose cycle 2 QFPay declines there: its merchant events are recorded at once. */
const onClock = () => failingSubscriptionOnClock(C0);

async function startDeclined(taskQueue: string, { subscriptionId, failCycle2 }: ReturnType<typeof onClock>) {
  const handle = await startWith(
    server,
    taskQueue,
    subscriptionId,
    {},
    { testClock: 'clock_refused', merchantEvents: true },
  );
  await handle.signal(testClockTimeSignal, { now: C0 });
  await failCycle2(handle);
  return handle;
}

/** Runs `body` on a declined subscription on a clock (started), with a worker, counting refusals afresh. */
async function declinedRun(
  body: (run: {
    handle: WorkflowHandle;
    engine: EngineDouble;
    scenario: ReturnType<typeof onClock>;
  }) => Promise<void>,
): Promise<void> {
  refusals.length = 0;
  const scenario = onClock();
  const engine = new EngineDouble();
  await withWorker(scenario.qfpay, engine, async (taskQueue) =>
    body({ handle: await startDeclined(taskQueue, scenario), engine, scenario }),
  );
}

/** Replays a history with the refusing workflow code, as a worker with nothing cached would. */
function replay(history: temporal.api.history.v1.IHistory): Promise<void> {
  return Worker.runReplayHistory(
    { workflowBundle: { codePath: server.bundlePath }, dataConverter: testDataConverter() },
    history,
  );
}

const declines = (engine: EngineDouble) =>
  engine.delivered.filter((e) => e.type === 'subscription.payment_failed');
const ids = (events: readonly MerchantEvent[]) => events.map((e) => e.id).sort();
const { EventType } = temporal.api.enums.v1;

/** Each delivery workflow started once in the run, and each decline reached the merchant once. */
function startedOnce(history: temporal.api.history.v1.IHistory, engine: EngineDouble) {
  const childIds = (history.events ?? [])
    .filter((e) => e.eventType === EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED)
    .map((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId);
  assert.equal(new Set(childIds).size, childIds.length, 'no delivery started twice');
  assert.deepEqual(ids(declines(engine)), [...new Set(ids(declines(engine)))], 'each decline delivered once');
}

describe('a merchant event refused its delivery start, on a test clock (dev server)', () => {
  it('is started again in real time: the merchant gets it while the clock stands still', async () => {
    await declinedRun(async ({ handle, engine }) => {
      // Nothing moves the clock from here on.
      await until('the decline reaches the merchant', () => declines(engine).length > 0, 120_000);
      assert.ok(refusals.length > 0, 'a delivery start was refused (the fault ran)');
      assert.equal((await handle.query(clockStatusQuery))?.now, C0, 'the clock stood still');
      assert.equal(await workflowTaskFailures(handle), 0);
      // A worker with nothing cached (a restart) replays the run, its real-time retry included.
      await replay(await handle.fetchHistory());
    });
  });

  it('the clock passing the retry while the real-time retry waits: each event started once', async () => {
    await declinedRun(async ({ handle, engine, scenario }) => {
      const runStart = (await handle.describe()).startTime.getTime();
      await until('a delivery start was refused', () => refusals.length > 0, 120_000);
      // Once starts go through again, the clock moves past any retry time the engine set.
      await until('the refusals’ window has passed', () => Date.now() > runStart + REFUSED_FOR_MS, 120_000);
      scenario.clock.now = C0 + HOUR / 2;
      await handle.signal(testClockTimeSignal, { now: scenario.clock.now });
      await until('the decline reaches the merchant', () => declines(engine).length > 0, 120_000);
      await until(
        'the clock’s time is taken',
        async () => (await handle.query(clockStatusQuery))?.idle === true,
      );
      startedOnce(await handle.fetchHistory(), engine);
      assert.equal(await workflowTaskFailures(handle), 0);
    });
  });

  it('a notification and a merchant update arriving while the retry waits: it still comes in real time, once', async () => {
    await declinedRun(async ({ handle, engine, scenario }) => {
      await until('a delivery start was refused', () => refusals.length > 0, 120_000);
      // While the refused start waits for its retry: QFPay's decline again (a duplicate
      // notification), then a merchant's sync, answered at once.
      await handle.signal(factSignal, cycle2Failed(scenario.subscriptionId, C0));
      const synced = await handle.executeUpdate(syncNowUpdate, { args: [] });
      assert.ok(synced, 'the sync answered');
      // Nothing moves the clock from here on.
      await until('the decline reaches the merchant', () => declines(engine).length > 0, 120_000);
      assert.equal((await handle.query(clockStatusQuery))?.now, C0, 'the clock stood still');
      const history = await handle.fetchHistory();
      const events = history.events ?? [];
      const firstStart = events.findIndex(
        (e) => e.eventType === EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
      );
      const last = (type: temporal.api.enums.v1.EventType) =>
        events.findLastIndex((e) => e.eventType === type);
      assert.ok(firstStart > 0, 'a delivery started');
      // Both came while the events waited: before any delivery started.
      assert.ok(
        last(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) < firstStart,
        'the notification came during the wait',
      );
      assert.ok(
        last(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED) < firstStart,
        'the update came during the wait',
      );
      startedOnce(history, engine);
      assert.equal(
        new Set(ids(declines(engine))).size,
        1,
        'the duplicate notification made no second decline',
      );
      assert.equal(await workflowTaskFailures(handle), 0);
      await replay(history);
    });
  });

  it('replays a run recorded before the retry in real time', async () => {
    const history = temporal.api.history.v1.History.decode(
      readFileSync(join(__dirname, '..', 'fixtures', 'histories', `${RECORDED}.binpb`)),
    );
    await replay(history);
  });
});
