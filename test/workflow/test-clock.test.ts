/**
 * A subscription on a test clock, on the dev server (a clock needs no time skipping: nothing of it
 * waits on Temporal's time) with the QFPay double living in the clock's world: it decides with the clock's time, sets no Temporal timer, and acts when the
 * clock's signal passes its wake time, however much or little real time goes by. One on no clock
 * ignores the clock's signal and keeps its timers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { defineSearchAttributeKey } from '@temporalio/common';
import { createEngineActivities } from '../../src/activities/engine';
import { TEST_CLOCK_ATTRIBUTE_PATCH } from '../../src/workflows/visibility';
import {
  SEARCH_ATTRIBUTES,
  WORKFLOW_TYPES,
  advanceTestClockUpdate,
  clockStatusQuery,
  factSignal,
  handoverSignal,
  snapshotQuery,
  subscriptionWorkflowId,
  testClockQuery,
  testClockTimeSignal,
  testClockWorkflowId,
} from '../../src/workflows/definitions';
import type { ClockStatus } from '../../src/domain/clock/test-clock';
import { orderId, type FakeQfpay } from '../helpers/qfpay-doubles';
import { createTestClockActivities } from '../../src/activities/test-clocks';
import type { TestClockActivities } from '../../src/activities/contracts';
import { Gate, until } from '../helpers/gate';
import {
  CYCLE,
  EngineDouble,
  HOUR,
  MINUTE,
  DAY,
  createdFact,
  cycle2Failed,
  CLOCK_START,
  failingSubscriptionOnClock,
  startWith,
} from '../helpers/dunning-scenario';
import { createTestWorker, startDevServer, workflowTaskFailures } from '../helpers/temporal';

const { EventType } = temporal.api.enums.v1;
let env: TestWorkflowEnvironment;
const started: WorkflowHandle[] = [];
before(async () => {
  env = await startDevServer();
});
after(async () => {
  await Promise.allSettled(started.map((h) => h.terminate('test file done')));
  await env?.teardown();
});

/** The clock's start (see {@link CLOCK_START}). */
const C0 = CLOCK_START;

/** A subscription whose cycle 2 QFPay fails at `c0` (the clock's C0); QFPay lives in the clock's world. */
function onClock(c0 = C0) {
  const { subscriptionId, clock: world, qfpay, failCycle2 } = failingSubscriptionOnClock(c0);
  qfpay.chargeScript = [{ outcome: 'failed' }, { outcome: 'failed' }];
  return { subscriptionId, world, qfpay, failCycle2 };
}

/** Runs `body` while a worker with the QFPay double (and the engine's other activities) runs. */
async function withWorker(
  qfpay: FakeQfpay,
  body: (taskQueue: string) => Promise<void>,
  more: Partial<TestClockActivities> = {},
): Promise<void> {
  const { worker, taskQueue } = await createTestWorker(env, {
    activities: { ...qfpay.activities(), ...new EngineDouble().activities(), ...more },
  });
  await worker.runUntil(() => body(taskQueue));
}

function start(
  taskQueue: string,
  subscriptionId: string,
  testClock?: string,
  maxHistoryEvents?: number,
): Promise<WorkflowHandle> {
  const server = { env, track: (handle: WorkflowHandle) => void started.push(handle) };
  return startWith(server, taskQueue, subscriptionId, {}, { testClock, maxHistoryEvents });
}

/** Waits until the subscription has nothing to do at clock time `at`, and returns its status. */
async function idleAt(handle: WorkflowHandle, at: number): Promise<ClockStatus> {
  let status: ClockStatus | null = null;
  await until(`idle at ${new Date(at).toISOString()}`, async () => {
    status = await handle.query(clockStatusQuery);
    return status !== null && status.idle && status.now === at;
  });
  return status!;
}

/** The patches the workflow's runs recorded (the SDK lists them in `TemporalChangeVersion`). */
const patchesOf = async (handle: WorkflowHandle): Promise<string[]> =>
  (await handle.describe()).typedSearchAttributes.get(
    defineSearchAttributeKey('TemporalChangeVersion', 'KEYWORD_LIST'),
  ) ?? [];

const timersStarted = async (handle: WorkflowHandle) =>
  ((await handle.fetchHistory()).events ?? []).filter(
    (e) => e.eventType === EventType.EVENT_TYPE_TIMER_STARTED,
  ).length;

describe('a subscription on a test clock (dev server)', () => {
  it('charges a declined cycle when the clock passes the attempt’s time, judged in clock time, with no timer', async () => {
    const { subscriptionId, world, qfpay, failCycle2 } = onClock();
    await withWorker(qfpay, async (taskQueue) => {
      const handle = await start(taskQueue, subscriptionId, 'clock_t');
      await handle.signal(testClockTimeSignal, { now: C0 });
      await failCycle2(handle);
      // The first attempt is an hour after the failure, in the clock's time.
      const waiting = await idleAt(handle, C0);
      assert.equal(waiting.testClock, 'clock_t');
      assert.equal(waiting.wakeAt, C0 + HOUR);
      assert.equal(qfpay.count('chargeOrder'), 0);

      world.now = C0 + 30 * MINUTE;
      await handle.signal(testClockTimeSignal, { now: world.now });
      assert.equal((await idleAt(handle, world.now)).wakeAt, C0 + HOUR, 'not yet');
      assert.equal(qfpay.count('chargeOrder'), 0);

      world.now = C0 + HOUR;
      await handle.signal(testClockTimeSignal, { now: world.now });
      const after = await idleAt(handle, world.now);
      assert.equal(qfpay.count('chargeOrder'), 1, 'the attempt, once the clock reached it');
      assert.equal(qfpay.charged.length, 1, 'sent to QFPay: its window judged in clock time');
      assert.equal(after.wakeAt, C0 + DAY, 'the next attempt, a day after the failure');
      const view = await handle.query(snapshotQuery);
      assert.deepEqual(view.testClock, { id: 'clock_t', now: C0 + HOUR });
      assert.equal(view.dunning.episode?.attempts.length, 1);
      assert.equal(view.dunning.episode?.attempts[0]?.startedAt, C0 + HOUR, 'recorded in clock time');

      // An older time changes nothing: the clock only moves forward.
      await handle.signal(testClockTimeSignal, { now: C0 });
      assert.equal((await idleAt(handle, C0 + HOUR)).now, C0 + HOUR);

      assert.equal(await timersStarted(handle), 0, 'no Temporal timer on a clock');
      assert.equal(await workflowTaskFailures(handle), 0);
      await handle.terminate('test done');
    });
  });

  it('a notification from the clock’s world moves its time to the notification’s', async () => {
    const { subscriptionId, world, qfpay, failCycle2 } = onClock();
    await withWorker(qfpay, async (taskQueue) => {
      const handle = await start(taskQueue, subscriptionId, 'clock_t');
      await handle.signal(testClockTimeSignal, { now: C0 - DAY });
      world.now = C0 + 5 * MINUTE;
      await failCycle2(handle);
      await idleAt(handle, C0 + 5 * MINUTE);
      const view = await handle.query(snapshotQuery);
      assert.equal(view.dunning.episode?.openedAt, C0 + 5 * MINUTE, 'the episode opened in clock time');
      await handle.terminate('test done');
    });
  });

  it('continue-as-new carries the clock and its time: the new run goes on at the clock’s time', async () => {
    const { subscriptionId, world, qfpay, failCycle2 } = onClock();
    await withWorker(qfpay, async (taskQueue) => {
      const handle = await start(taskQueue, subscriptionId, 'clock_t', 40);
      await handle.signal(testClockTimeSignal, { now: C0 });
      await failCycle2(handle);
      const firstRun = (await handle.describe()).runId;
      // Each step of the clock is a signal and a workflow task: the history reaches its bound.
      for (let i = 1; i <= 30 && (await handle.describe()).runId === firstRun; i += 1) {
        world.now = C0 + i * MINUTE;
        await handle.signal(testClockTimeSignal, { now: world.now });
        await idleAt(handle, world.now);
      }
      assert.notEqual((await handle.describe()).runId, firstRun, 'it continued as new');
      const carried = await idleAt(handle, world.now);
      assert.deepEqual([carried.testClock, carried.wakeAt], ['clock_t', C0 + HOUR]);
      const { typedSearchAttributes } = await handle.describe();
      assert.equal(
        typedSearchAttributes.get(SEARCH_ATTRIBUTES.testClock),
        'clock_t',
        'still listed by its clock',
      );
      world.now = C0 + HOUR;
      await handle.signal(testClockTimeSignal, { now: world.now });
      await idleAt(handle, world.now);
      assert.equal(qfpay.charged.length, 1, 'the new run charges at the clock’s time');
      assert.equal(await timersStarted(handle), 0);
      await handle.terminate('test done');
    });
  });

  it('one a notification started before its creation’s handover is listed by its clock once the handover names it', async () => {
    const { subscriptionId, qfpay } = onClock();
    await withWorker(qfpay, async (taskQueue) => {
      // Started as the webhook adopts a subscription: on no clock, no `TestClock`.
      const handle = await start(taskQueue, subscriptionId);
      const testClockOf = async () =>
        (await handle.describe()).typedSearchAttributes.get(SEARCH_ATTRIBUTES.testClock);
      await until('the first task done', async () => (await handle.query(snapshotQuery)).lastSyncAt !== null);
      assert.equal(await testClockOf(), undefined);
      await handle.signal(handoverSignal, {
        options: { testClock: 'clock_h' },
        fact: createdFact(subscriptionId, 'ACTIVE', C0),
      });
      await until('the handover named its clock', async () => (await testClockOf()) === 'clock_h');
      assert.equal((await handle.query(snapshotQuery)).testClock?.id, 'clock_h');
      assert.ok((await patchesOf(handle)).includes(TEST_CLOCK_ATTRIBUTE_PATCH), 'written under its patch');
      assert.equal(await workflowTaskFailures(handle), 0);
      await handle.terminate('test done');
    });
  });

  it('one the creation’s handover starts is listed by its clock from its start: the workflow writes nothing for it', async () => {
    const { subscriptionId, qfpay } = onClock();
    await withWorker(qfpay, async (taskQueue) => {
      const engine = createEngineActivities({ client: env.client, taskQueue });
      const outcome = await engine.handOverSubscription(
        { subscriptionId, origin: 'created', options: { testClock: 'clock_s' } },
        { options: { testClock: 'clock_s' }, fact: createdFact(subscriptionId, 'ACTIVE', C0) },
      );
      assert.equal(outcome, 'handed_over');
      const handle = env.client.workflow.getHandle(subscriptionWorkflowId(subscriptionId));
      started.push(handle);
      const [first] = (await handle.fetchHistory()).events ?? [];
      const atStart = first?.workflowExecutionStartedEventAttributes?.searchAttributes?.indexedFields ?? {};
      assert.ok(SEARCH_ATTRIBUTES.testClock.name in atStart, 'in the start event');
      await until('the first task done', async () => (await handle.query(snapshotQuery)).lastSyncAt !== null);
      const { typedSearchAttributes } = await handle.describe();
      assert.equal(typedSearchAttributes.get(SEARCH_ATTRIBUTES.testClock), 'clock_s');
      assert.ok(!(await patchesOf(handle)).includes(TEST_CLOCK_ATTRIBUTE_PATCH), 'no patch marker');
      assert.equal(await workflowTaskFailures(handle), 0);
      await handle.terminate('test done');
    });
  });

  it('one on no clock ignores the clock’s signal, answers no clock status, and keeps its timers', async () => {
    // In real time (the server's): a failure now, with its attempts ahead.
    const { subscriptionId, qfpay, failCycle2 } = onClock(Date.now());
    qfpay.worldClock = undefined;
    await withWorker(qfpay, async (taskQueue) => {
      const handle = await start(taskQueue, subscriptionId);
      await handle.signal(testClockTimeSignal, { now: C0 });
      await failCycle2(handle);
      await until('a timer for the first attempt', async () => (await timersStarted(handle)) > 0);
      assert.equal(await handle.query(clockStatusQuery), null);
      assert.equal((await handle.query(snapshotQuery)).testClock, undefined);
      const { typedSearchAttributes } = await handle.describe();
      assert.equal(typedSearchAttributes.get(SEARCH_ATTRIBUTES.testClock), undefined);
      await handle.terminate('test done');
    });
  });

  it('a worker with no cache answers the clock as the run is, when the run stands at its history bound', async () => {
    /** The run, stepped a minute at a time; its history length after the setup and each step. */
    const drive = async (handle: WorkflowHandle, world: { now: number }, steps: number) => {
      const lengths: number[] = [];
      for (let i = 1; i <= steps; i += 1) {
        world.now = C0 + i * MINUTE;
        await handle.signal(testClockTimeSignal, { now: world.now });
        await idleAt(handle, world.now);
        lengths.push((await handle.describe()).historyLength);
      }
      return lengths;
    };
    /**
     * A run that stands exactly at its bound: a first run shows where the history stands after
     * each step (each is one signal and one task), and the second run's bound is the length its
     * history has after four steps, so it decided to wait before its last task completed and is
     * idle at the bound, not continued. On a busy machine a run can differ from its probe by an
     * event (a task timed out and tried again): it then continued before its bound, and is set up
     * again (the assertion after the loop is the precondition, kept).
     */
    const atBound = async () => {
      const probe = onClock();
      let lengths: number[] = [];
      await withWorker(probe.qfpay, async (taskQueue) => {
        const handle = await start(taskQueue, probe.subscriptionId, 'clock_t', 10_000);
        await handle.signal(testClockTimeSignal, { now: C0 });
        await probe.failCycle2(handle);
        await idleAt(handle, C0);
        lengths = await drive(handle, probe.world, 6);
        await handle.terminate('probe done');
      });
      const bound = lengths[3]!;
      const run = onClock();
      let handle!: WorkflowHandle;
      const first = await createTestWorker(env, {
        activities: { ...run.qfpay.activities(), ...new EngineDouble().activities() },
      });
      await first.worker.runUntil(async () => {
        handle = await start(first.taskQueue, run.subscriptionId, 'clock_t', bound);
        await handle.signal(testClockTimeSignal, { now: C0 });
        await run.failCycle2(handle);
        await idleAt(handle, C0);
        await drive(handle, run.world, 4);
      });
      return { ...run, handle, bound, taskQueue: first.taskQueue };
    };
    let set = await atBound();
    for (let again = 1; again < 3 && (await set.handle.describe()).historyLength !== set.bound; again += 1) {
      await set.handle.terminate('not at its bound; set up again');
      set = await atBound();
    }
    const { handle, bound, world, qfpay } = set;
    assert.equal((await handle.describe()).historyLength, bound, 'at its bound, not continued');
    // Another worker, with nothing cached, replays the run to answer: it must see it idle too.
    const second = await createTestWorker(env, {
      taskQueue: set.taskQueue,
      activities: { ...qfpay.activities(), ...new EngineDouble().activities() },
    });
    await second.worker.runUntil(async () => {
      const status = await handle.query(clockStatusQuery);
      assert.deepEqual([status?.idle, status?.now], [true, C0 + 4 * MINUTE]);
      // The clock's next time comes: the run continues as new and goes on at it.
      world.now = C0 + 5 * MINUTE;
      await handle.signal(testClockTimeSignal, { now: world.now });
      await idleAt(handle, world.now);
    });
    await handle.terminate('test done');
  });

  it('the clock’s signal and a notification arriving during its charge: one charge, the clock’s latest time, no lost fact', async () => {
    const { subscriptionId, world, qfpay, failCycle2 } = onClock();
    const gate = new Gate();
    qfpay.beforeCharge = () => (qfpay.count('chargeOrder') === 1 ? gate.promise : Promise.resolve());
    await withWorker(qfpay, async (taskQueue) => {
      const handle = await start(taskQueue, subscriptionId, 'clock_t');
      await handle.signal(testClockTimeSignal, { now: C0 });
      await failCycle2(handle);
      await idleAt(handle, C0);
      // The clock reaches the first attempt: the charge goes to QFPay and is held there.
      world.now = C0 + HOUR;
      await handle.signal(testClockTimeSignal, { now: world.now });
      await until('the charge is at QFPay', () => qfpay.count('chargeOrder') === 1);
      // Meanwhile the clock moves on, and QFPay's notification of the failure comes again.
      world.now = C0 + 2 * HOUR;
      await handle.signal(testClockTimeSignal, { now: world.now });
      await handle.signal(factSignal, cycle2Failed(subscriptionId, C0));
      gate.open();
      const after = await idleAt(handle, C0 + 2 * HOUR);
      assert.equal(qfpay.count('chargeOrder'), 1, 'one charge: the later time did not make a second');
      assert.equal(after.wakeAt, C0 + DAY, 'the next attempt, a day after the failure, in clock time');
      const view = await handle.query(snapshotQuery);
      assert.deepEqual(view.testClock, { id: 'clock_t', now: C0 + 2 * HOUR });
      assert.equal(view.dunning.episode?.attempts.length, 1);
      assert.equal(
        view.dunning.episode?.attempts[0]?.startedAt,
        C0 + HOUR,
        'started at the clock’s time then',
      );
      assert.equal(view.snapshot.state, 'PAST_DUE');
      assert.equal(await workflowTaskFailures(handle), 0);
      await handle.terminate('test done');
    });
  });

  it('a handler in the same activation as its joining of the clock: the clock’s time is kept, the join made once', async () => {
    const { subscriptionId, qfpay } = onClock();
    await withWorker(qfpay, async (taskQueue) => {
      // Its first workflow task carries the clock's time with the start: the handler runs while
      // the workflow makes its join (a signal to a clock that does not exist here: logged, not fatal).
      const handle = await env.client.workflow.signalWithStart(WORKFLOW_TYPES.subscription, {
        workflowId: subscriptionWorkflowId(subscriptionId),
        taskQueue,
        args: [
          { subscriptionId, origin: 'created', options: { testClock: 'clock_absent', merchantEvents: true } },
        ],
        signal: testClockTimeSignal,
        signalArgs: [{ now: C0 }],
      });
      started.push(handle);
      await handle.signal(handoverSignal, { fact: createdFact(subscriptionId, 'ACTIVE', C0), clockNow: C0 });
      const status = await idleAt(handle, C0);
      assert.equal(status.testClock, 'clock_absent');
      const history = (await handle.fetchHistory()).events ?? [];
      const joins = history.filter(
        (e) => e.eventType === EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
      );
      assert.equal(joins.length, 1, 'joined once');
      assert.equal(await workflowTaskFailures(handle), 0);
      await handle.terminate('test done');
    });
  });
});

/**
 * The clock's gateway world for one subscription, as the emulator's would be: it bills each cycle
 * when the clock reaches its billing time (`declines`: the cycles it declines) and notifies it;
 * the notification of a charge the engine made goes out on the world's next move or look, as the
 * emulator delivers it after the call. `looks` counts the members' readings per clock time.
 */
function worldOf(qfpay: FakeQfpay, world: { now: number }, handle: () => WorkflowHandle, declines: number[]) {
  const due = () => qfpay.state.remote.nextBillingTime ?? null;
  const read = () => ({ nowMs: world.now, nextDueMs: due(), processed: 0 });
  const payment = (n: number, paid: boolean, at: number, syssn: string) =>
    handle().signal(factSignal, {
      kind: 'payment',
      subscriptionId: qfpay.subscriptionId,
      orderId: orderId(qfpay.subscriptionId, n),
      sequenceNo: n,
      succeeded: paid,
      respcd: paid ? '0000' : '1205',
      syssn,
      at,
      source: 'notification',
    });
  let notified = 0;
  return {
    readTestClockWorld: () => Promise.resolve(read()),
    async advanceTestClockWorld(_id: string, to: number) {
      let processed = 0;
      for (const charge of qfpay.charged.slice(notified)) {
        const order = qfpay.state.orders.find((o) => o.orderId === charge.orderId)!;
        await payment(order.sequenceNo, charge.approved, charge.at, order.syssn ?? `charge-${notified}`);
        notified += 1;
        processed += 1;
      }
      for (let at = due(); at !== null && at <= to; at = due()) {
        world.now = Math.max(world.now, at);
        const n = Math.max(...qfpay.state.orders.map((o) => o.sequenceNo)) + 1;
        const paid = !declines.includes(n);
        qfpay.state.orders = [
          ...qfpay.state.orders,
          {
            orderId: orderId(qfpay.subscriptionId, n),
            sequenceNo: n,
            status: paid ? 'PAID' : 'FAILED',
            respcd: paid ? '0000' : '1205',
            at,
          },
        ];
        const { remote } = qfpay.state;
        qfpay.state.remote = {
          ...remote,
          state: paid ? 'ACTIVE' : 'PAST_DUE',
          completedCycles: remote.completedCycles + (paid ? 1 : 0),
          lastBillingTime: at,
          nextBillingTime: at + CYCLE,
        };
        await payment(n, paid, at, `${qfpay.subscriptionId}-${n}`);
        processed += 1;
      }
      world.now = Math.max(world.now, to);
      return { ...read(), processed };
    },
  };
}

describe('a test clock’s advance (dev server)', () => {
  it('steps through everything due in time order, in one call: the dunning attempts before the next billing', async () => {
    const { subscriptionId, world, qfpay } = onClock();
    qfpay.chargeScript = [{ outcome: 'failed' }, { outcome: 'succeeded' }];
    world.now = C0 - MINUTE;
    let member: WorkflowHandle | undefined;
    const real = createTestClockActivities({
      client: env.client,
      emulatorUrls: () => ['http://unused.invalid'],
    });
    const looks = new Map<number, number>();
    const members: Pick<TestClockActivities, 'readTestClockMembers'> = {
      readTestClockMembers(ids, options) {
        if (options?.idleAt !== undefined) looks.set(options.idleAt, (looks.get(options.idleAt) ?? 0) + 1);
        return real.readTestClockMembers(ids, options);
      },
    };
    await withWorker(
      qfpay,
      async (taskQueue) => {
        const clockId = `clock_${subscriptionId}`;
        const clock = await env.client.workflow.start(WORKFLOW_TYPES.testClock, {
          workflowId: testClockWorkflowId(clockId),
          taskQueue,
          args: [{ id: clockId, name: 'advance test', frozenTime: C0 - MINUTE }],
        });
        started.push(clock);
        // The subscription joins its clock by itself, and gets the clock's time from it.
        member = await start(taskQueue, subscriptionId, clockId);
        await idleAt(member, C0 - MINUTE);
        assert.deepEqual((await clock.query(testClockQuery)).members, [member.workflowId]);

        const target = C0 + 40 * DAY;
        const begun = await clock.executeUpdate(advanceTestClockUpdate, { args: [{ to: target }] });
        assert.equal(begun.status, 'advancing');
        await until('the advance ended', async () => (await clock.query(testClockQuery)).status === 'ready');
        const done = await clock.query(testClockQuery);
        assert.equal(done.now, target);

        // The attempts an hour and a day after the decline, both before cycle 3's billing.
        assert.deepEqual(
          qfpay.charged.map((c) => [c.at, c.approved]),
          [
            [C0 + HOUR, false],
            [C0 + DAY, true],
          ],
        );
        const cycle3 = qfpay.state.orders.find((o) => o.sequenceNo === 3);
        assert.equal(cycle3?.at, C0 + CYCLE, 'cycle 3 billed at its time, after the recovery');
        const view = await member.query(snapshotQuery);
        assert.equal(view.snapshot.state, 'ACTIVE');
        assert.equal(view.snapshot.completedCycles, 3);
        assert.equal(view.testClock?.now, target);
        assert.ok(done.steps >= 4, `steps: ${done.steps}`);
        // The charge's notification went out after the charge: the step read its members again
        // before it ended, so that they were done with it at the attempt's time.
        assert.ok((looks.get(C0 + HOUR) ?? 0) >= 2, `looks at the attempt's time: ${looks.get(C0 + HOUR)}`);
        assert.equal(await timersStarted(member), 0);
        assert.equal(await workflowTaskFailures(member), 0);
      },
      { ...members, ...worldOf(qfpay, world, () => member!, [2]) },
    );
  });
});
