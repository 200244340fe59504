/**
 * The subscription workflow on the time-skipping test server, with the QFPay activities replaced
 * by an in-memory double: a 12-cycle plan to COMPLETED, a lost notification recovered by
 * reconciliation, the merchant's updates with their validators, and continue-as-new.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import {
  WORKFLOW_TYPES,
  cancelUpdate,
  changePaymentTokenUpdate,
  changeTotalBillingCyclesUpdate,
  chargeNowUpdate,
  factSignal,
  reconcileSignal,
  snapshotQuery,
  subscriptionWorkflowId,
  syncNowUpdate,
  type SubscriptionView,
  type SubscriptionWorkflowInput,
} from '../../src/workflows/definitions';
import type { Fact } from '../../src/domain/lifecycle/lifecycle';
import { type FakeQfpay, orderId, paidOnceQfpay } from '../helpers/qfpay-doubles';
import { Gate, until } from '../helpers/gate';
import { temporal } from '@temporalio/proto';
import {
  createTestWorker,
  recordHistory,
  fakeSubscriptionId,
  useTimeSkipping,
  terminateIdle,
  inFlight,
} from '../helpers/temporal';
import { MINUTE, DAY } from '../../src/domain/duration';

const CYCLE = 30 * DAY;
const { EventType } = temporal.api.enums.v1;

const timeSkipping = useTimeSkipping();

/** A fresh subscription that QFPay reports ACTIVE after its first paid cycle. */
async function activeSubscription(totalBillingCycles: number | null) {
  const subscriptionId = fakeSubscriptionId();
  const t0 = await timeSkipping.env.currentTimeMs();
  const clock = { now: t0 };
  const qfpay = paidOnceQfpay(subscriptionId, t0, {
    totalBillingCycles,
    cycleMs: CYCLE,
    now: () => clock.now,
  });
  return { subscriptionId, t0, clock, qfpay };
}

async function start(
  taskQueue: string,
  subscriptionId: string,
  options: SubscriptionWorkflowInput['options'] = {},
): Promise<WorkflowHandle> {
  const handle = await timeSkipping.env.client.workflow.start(WORKFLOW_TYPES.subscription, {
    workflowId: subscriptionWorkflowId(subscriptionId),
    taskQueue,
    args: [{ subscriptionId, origin: 'adopted', options: { reconcileGraceMs: 15 * MINUTE, ...options } }],
  });
  timeSkipping.track(timeSkipping.env.client.workflow.getHandle(handle.workflowId));
  return handle;
}

async function advance(clock: { now: number }, ms: number): Promise<void> {
  await timeSkipping.env.sleep(ms);
  clock.now = await timeSkipping.env.currentTimeMs();
}

function payment(subscriptionId: string, sequenceNo: number, succeeded: boolean, at: number): Fact {
  return {
    kind: 'payment',
    subscriptionId,
    orderId: orderId(subscriptionId, sequenceNo),
    sequenceNo,
    succeeded,
    respcd: succeeded ? '0000' : '1205',
    amount: 9900,
    currency: 'HKD',
    syssn: `${subscriptionId}-${sequenceNo}-${succeeded ? 'ok' : 'ko'}`,
    at,
    source: 'notification',
  };
}

/** Moves the double's QFPay to "cycle n was billed at `at`" (as QFPay's query would show it). */
function billCycle(qfpay: FakeQfpay, n: number, at: number, paid: boolean): void {
  const { remote, orders } = qfpay.state;
  const total = remote.totalBillingCycles;
  const completed = remote.completedCycles + (paid ? 1 : 0);
  const done = paid && total !== null && completed >= total;
  qfpay.state.orders = [
    ...orders,
    {
      orderId: orderId(qfpay.subscriptionId, n),
      sequenceNo: n,
      status: paid ? 'PAID' : 'FAILED',
      respcd: paid ? '0000' : '1205',
      at,
    },
  ];
  qfpay.state.remote = {
    ...remote,
    state: done ? 'COMPLETED' : paid ? 'ACTIVE' : 'PAST_DUE',
    completedCycles: completed,
    lastBillingTime: at,
    nextBillingTime: done ? undefined : at + CYCLE,
  };
}

async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof WorkflowUpdateFailedError, `expected an update rejection, got ${String(err)}`);
    return (err.cause as Error | undefined)?.message ?? err.message;
  }
  assert.fail('the update was accepted');
}

describe('subscription workflow (time-skipping server)', () => {
  it('follows a 12-cycle plan from ACTIVE to COMPLETED and then ends', async () => {
    const { subscriptionId, clock, qfpay } = await activeSubscription(12);
    const { worker, taskQueue } = await createTestWorker(timeSkipping.env, {
      activities: qfpay.activities(),
    });
    const view: SubscriptionView = await worker.runUntil(async () => {
      const handle = await start(taskQueue, subscriptionId);
      for (let n = 2; n <= 12; n += 1) {
        await advance(clock, CYCLE);
        billCycle(qfpay, n, clock.now, true);
        await handle.signal(factSignal, payment(subscriptionId, n, true, clock.now));
      }
      await handle.signal(factSignal, {
        kind: 'state',
        subscriptionId,
        state: 'COMPLETED',
        at: clock.now,
        source: 'notification',
      });
      return handle.result();
    });
    assert.equal(view.snapshot.state, 'COMPLETED');
    assert.equal(view.snapshot.completedCycles, 12);
    assert.equal(view.snapshot.totalBillingCycles, 12);
    assert.ok(view.snapshot.orders.some((o) => o.sequenceNo === 12 && o.status === 'PAID'));
    assert.ok(view.snapshot.transitions.some((t) => t.to === 'COMPLETED'));
    assert.equal(qfpay.count('chargeOrder'), 0, 'a healthy plan is never charged by the engine');
  });

  it("reckons each paid cycle's next billing time on QFPay's stated schedule, asking QFPay only about a decline", async () => {
    const { subscriptionId, t0, clock, qfpay } = await activeSubscription(null);
    qfpay.state.remote = {
      ...qfpay.state.remote,
      schedule: { anchor: t0, interval: { unit: 'day', count: 30 }, offset: '+08:00' },
    };
    const { worker, taskQueue } = await createTestWorker(timeSkipping.env, {
      activities: qfpay.activities(),
    });
    await worker.runUntil(async () => {
      const handle = await start(taskQueue, subscriptionId);
      await until('adopted', async () => (await handle.query(snapshotQuery)).lastSyncAt !== null);
      for (let n = 2; n <= 6; n += 1) {
        await advance(clock, t0 + (n - 1) * CYCLE - clock.now);
        billCycle(qfpay, n, clock.now, true);
        await handle.signal(factSignal, payment(subscriptionId, n, true, clock.now));
        await until(`cycle ${n} reckoned`, async () => {
          const view = await handle.query(snapshotQuery);
          return view.snapshot.nextBillingTime === t0 + n * CYCLE;
        });
        const view = await handle.query(snapshotQuery);
        assert.equal(view.snapshot.completedCycles, n);
        assert.equal(qfpay.count('syncSubscription'), 1, `cycle ${n}: only the adoption asked QFPay`);
      }
      await advance(clock, t0 + 6 * CYCLE - clock.now);
      billCycle(qfpay, 7, clock.now, false);
      await handle.signal(factSignal, payment(subscriptionId, 7, false, clock.now));
      await until('the decline was checked with QFPay', async () => qfpay.count('syncSubscription') === 2);
      await recordHistory(handle, 'subscription-reckoned-cycles');
      await terminateIdle(handle);
    });
  });

  it('with the reconciler, keeps no timer and asks about an unpaid billing time on its signal: once per backoff step, though signals repeat', async () => {
    const { subscriptionId, clock, qfpay } = await activeSubscription(null);
    const { worker, taskQueue } = await createTestWorker(timeSkipping.env, {
      activities: qfpay.activities(),
    });
    await worker.runUntil(async () => {
      const handle = await start(taskQueue, subscriptionId, { reconciler: 'schedule' });
      await until('adopted', async () => (await handle.query(snapshotQuery)).lastSyncAt !== null);
      /** The history once every signal and answer so far is taken up: nothing in flight. */
      const settled = async () => {
        let events: Awaited<ReturnType<typeof handle.fetchHistory>>['events'] = [];
        await until('the last signal and answer taken up', async () => {
          events = (await handle.fetchHistory()).events ?? [];
          return inFlight(events) === 'idle';
        });
        return events ?? [];
      };
      const questions = async () =>
        (await settled()).filter(
          (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'syncSubscription',
        ).length;
      // Past the billing time and its 15-minute grace; QFPay has not billed the cycle yet.
      await advance(clock, CYCLE + 16 * MINUTE);
      const gate = new Gate();
      qfpay.holdSyncAnswer = () => gate.promise;
      await handle.signal(reconcileSignal);
      await until('the question reached QFPay', () => qfpay.count('syncSubscription') === 2);
      // The next sweep finds it still due (visibility lags) and signals again while it asks.
      await handle.signal(reconcileSignal);
      qfpay.holdSyncAnswer = undefined;
      gate.open();
      assert.equal(await questions(), 2, 'the adoption and one question about the billing time');
      // Another signal before the next step of the backoff (twice the grace) asks nothing.
      await handle.signal(reconcileSignal);
      assert.equal(await questions(), 2);
      // QFPay billed it late and the notification was lost: the next step's signal finds it.
      billCycle(qfpay, 2, clock.now, true);
      await advance(clock, 15 * MINUTE);
      await handle.signal(reconcileSignal);
      assert.equal(await questions(), 3);
      await until(
        'the lost payment applied',
        async () => (await handle.query(snapshotQuery)).snapshot.completedCycles === 2,
      );
      const view = await handle.query(snapshotQuery);
      assert.equal(view.snapshot.nextBillingTime, qfpay.state.remote.nextBillingTime);
      const events = await settled();
      assert.equal(events.filter((e) => e.eventType === EventType.EVENT_TYPE_TIMER_STARTED).length, 0);
      await recordHistory(handle, 'subscription-reconciler-signals');
      await terminateIdle(handle);
    });
  });

  it('recovers a lost payment notification by asking QFPay after the billing time', async () => {
    const { subscriptionId, clock, qfpay } = await activeSubscription(null);
    const { worker, taskQueue } = await createTestWorker(timeSkipping.env, {
      activities: qfpay.activities(),
    });
    await worker.runUntil(async () => {
      const handle = await start(taskQueue, subscriptionId);
      await advance(clock, CYCLE);
      const billedAt = clock.now;
      billCycle(qfpay, 2, billedAt, true); // QFPay charged cycle 2, but its notification never arrives
      const syncsBefore = qfpay.count('syncSubscription');
      let view = await handle.query(snapshotQuery);
      assert.equal(view.snapshot.completedCycles, 1);
      await advance(clock, 16 * MINUTE); // past the 15-minute grace
      view = await handle.query(snapshotQuery);
      assert.ok(qfpay.count('syncSubscription') > syncsBefore, 'the workflow asked QFPay');
      assert.equal(view.snapshot.completedCycles, 2);
      assert.equal(view.snapshot.nextBillingTime, billedAt + CYCLE);
      assert.ok(view.snapshot.orders.some((o) => o.sequenceNo === 2 && o.status === 'PAID'));
      await terminateIdle(handle);
    });
  });

  it('learns from its last query that a failed order was paid later, when that notification was lost and a later order was seen first', async () => {
    const { subscriptionId, clock, qfpay } = await activeSubscription(3);
    const { worker, taskQueue } = await createTestWorker(timeSkipping.env, {
      activities: qfpay.activities(),
    });
    const view: SubscriptionView = await worker.runUntil(async () => {
      const handle = await start(taskQueue, subscriptionId);
      await advance(clock, CYCLE);
      billCycle(qfpay, 2, clock.now, false);
      await handle.signal(factSignal, payment(subscriptionId, 2, false, clock.now));
      const failedAt = clock.now;
      await until('the failure was checked with QFPay', async () => {
        const { lastSyncAt } = await handle.query(snapshotQuery);
        return lastSyncAt !== null && lastSyncAt >= failedAt;
      });
      // QFPay's own retry pays order 2; its notification is lost. Cycle 3 is billed and reported.
      const two = qfpay.state.orders.find((o) => o.sequenceNo === 2)!;
      Object.assign(two, { status: 'PAID', respcd: '0000', at: clock.now + 1 });
      billCycle(qfpay, 3, clock.now + 2, true);
      qfpay.state.remote = { ...qfpay.state.remote, state: 'COMPLETED', completedCycles: 3 };
      qfpay.state.remote.nextBillingTime = undefined;
      await handle.signal(factSignal, payment(subscriptionId, 3, true, clock.now + 2));
      await handle.signal(factSignal, {
        kind: 'state',
        subscriptionId,
        state: 'COMPLETED',
        at: clock.now + 2,
        source: 'notification',
      });
      return handle.result();
    });
    assert.equal(view.snapshot.state, 'COMPLETED');
    assert.ok(qfpay.count('syncSubscription') >= 1, 'the mirror asked QFPay before it closed');
    assert.deepEqual(
      view.snapshot.orders.map((o) => [o.sequenceNo, o.status]),
      [
        [1, 'PAID'],
        [2, 'PAID'],
        [3, 'PAID'],
      ],
    );
  });

  it('cancels through the update, calls QFPay once, and refuses to cancel again', async () => {
    const { subscriptionId, qfpay } = await activeSubscription(null);
    const { worker, taskQueue } = await createTestWorker(timeSkipping.env, {
      activities: qfpay.activities(),
    });
    await worker.runUntil(async () => {
      const handle = await start(taskQueue, subscriptionId);
      const result = await handle.executeUpdate(cancelUpdate, { args: [{}] });
      assert.equal(result.state, 'CANCELLED');
      assert.equal((await handle.query(snapshotQuery)).snapshot.state, 'CANCELLED');
      assert.equal(qfpay.count('cancelSubscription'), 1);
      const final: SubscriptionView = await handle.result();
      assert.equal(final.snapshot.state, 'CANCELLED');
    });
  });

  it('changes the payment token and the total cycles, and rejects what the state does not allow', async () => {
    const { subscriptionId, qfpay } = await activeSubscription(6);
    const { worker, taskQueue } = await createTestWorker(timeSkipping.env, {
      activities: qfpay.activities(),
    });
    await worker.runUntil(async () => {
      const handle = await start(taskQueue, subscriptionId);
      assert.deepEqual(
        await handle.executeUpdate(changePaymentTokenUpdate, { args: [{ tokenId: 'tk_new' }] }),
        {
          tokenId: 'tk_new',
        },
      );
      assert.equal((await handle.query(snapshotQuery)).snapshot.tokenId, 'tk_new');
      assert.deepEqual(qfpay.calls.find((c) => c.name === 'updateSubscription')?.args, [
        { subscriptionId, tokenId: 'tk_new' },
      ]);
      assert.match(
        await rejection(
          handle.executeUpdate(changePaymentTokenUpdate, { args: [{ tokenId: 'not-a-token' }] }),
        ),
        /tk_/,
      );
      await handle.executeUpdate(changeTotalBillingCyclesUpdate, { args: [{ totalBillingCycles: 8 }] });
      assert.equal((await handle.query(snapshotQuery)).snapshot.totalBillingCycles, 8);
      assert.match(
        await rejection(
          handle.executeUpdate(changeTotalBillingCyclesUpdate, { args: [{ totalBillingCycles: 0 }] }),
        ),
        /positive integer/,
      );
      assert.match(
        await rejection(
          handle.executeUpdate(changeTotalBillingCyclesUpdate, { args: [{ totalBillingCycles: null }] }),
        ),
        /infinite/,
      );
      assert.match(
        await rejection(handle.executeUpdate(chargeNowUpdate, { args: [{}] })),
        /PAST_DUE, UNPAID or INCOMPLETE/,
      );
      assert.equal(qfpay.count('chargeOrder'), 0);
      await terminateIdle(handle);
    });
  });

  it('charges a failed order now through the update and the plan goes back to ACTIVE', async () => {
    const { subscriptionId, clock, qfpay } = await activeSubscription(null);
    const { worker, taskQueue } = await createTestWorker(timeSkipping.env, {
      activities: qfpay.activities(),
    });
    await worker.runUntil(async () => {
      const handle = await start(taskQueue, subscriptionId);
      await advance(clock, CYCLE);
      billCycle(qfpay, 2, clock.now, false);
      await handle.signal(factSignal, payment(subscriptionId, 2, false, clock.now));
      await handle.signal(factSignal, {
        kind: 'state',
        subscriptionId,
        state: 'PAST_DUE',
        at: clock.now,
        source: 'notification',
      });
      const result = await handle.executeUpdate(chargeNowUpdate, { args: [{}] });
      assert.equal(result.outcome, 'succeeded');
      assert.equal(result.orderId, orderId(subscriptionId, 2));
      assert.equal((await handle.query(snapshotQuery)).snapshot.state, 'ACTIVE');
      assert.equal(qfpay.count('chargeOrder'), 1);
      await handle.executeUpdate(syncNowUpdate, { args: [] });
      const view = await handle.query(snapshotQuery);
      assert.equal(view.snapshot.orders.find((o) => o.sequenceNo === 2)?.status, 'PAID');
      await terminateIdle(handle);
    });
  });

  it('continues as new at the configured event count with its state intact', async () => {
    const { subscriptionId, clock, qfpay } = await activeSubscription(null);
    const { worker, taskQueue } = await createTestWorker(timeSkipping.env, {
      activities: qfpay.activities(),
    });
    await worker.runUntil(async () => {
      const handle = await start(taskQueue, subscriptionId, { maxHistoryEvents: 60 });
      const firstRunId = (await handle.describe()).runId;
      let last: Fact | undefined;
      for (let n = 2; n <= 8; n += 1) {
        await advance(clock, CYCLE);
        billCycle(qfpay, n, clock.now, true);
        last = payment(subscriptionId, n, true, clock.now);
        await handle.signal(factSignal, last);
      }
      await advance(clock, MINUTE);
      const latest = timeSkipping.env.client.workflow.getHandle(subscriptionWorkflowId(subscriptionId));
      const view = await latest.query(snapshotQuery);
      assert.ok(view.continuedAsNew >= 1, `continued as new ${view.continuedAsNew} times`);
      assert.notEqual((await latest.describe()).runId, firstRunId);
      // The first run, which ended in continue-as-new with its state carried, for the replay guard.
      await recordHistory(
        timeSkipping.env.client.workflow.getHandle(handle.workflowId, firstRunId),
        'subscription-continue-as-new',
      );
      assert.equal(view.snapshot.completedCycles, 8);
      assert.equal(view.snapshot.state, 'ACTIVE');
      assert.equal(view.snapshot.orders.filter((o) => o.status === 'PAID').length, 8);
      // A duplicate of a fact applied before continue-as-new is still recognised.
      const before = view.snapshot.factsApplied;
      await latest.signal(factSignal, last!);
      const again = await latest.query(snapshotQuery);
      assert.equal(again.snapshot.factsApplied, before);
      await terminateIdle(latest);
    });
  });

  it('survives a QFPay outage: a failed sync is retried later, the workflow does not fail', async () => {
    const { subscriptionId, clock, qfpay } = await activeSubscription(null);
    let outage = true;
    qfpay.onSync = () => {
      if (outage) throw ApplicationFailure.nonRetryable('QFPay unreachable', 'QfpayError:network');
    };
    const { worker, taskQueue } = await createTestWorker(timeSkipping.env, {
      activities: qfpay.activities(),
    });
    await worker.runUntil(async () => {
      const handle = await start(taskQueue, subscriptionId);
      await advance(clock, 10 * MINUTE);
      const during = await handle.query(snapshotQuery);
      assert.equal(during.lastSyncAt, null, 'no sync succeeded during the outage');
      assert.ok(qfpay.count('syncSubscription') >= 2, 'the workflow kept trying');
      outage = false;
      await advance(clock, 2 * 60 * MINUTE);
      const after = await handle.query(snapshotQuery);
      assert.notEqual(after.lastSyncAt, null);
      assert.equal(after.snapshot.state, 'ACTIVE');
      assert.equal((await handle.describe()).status.name, 'RUNNING');
    });
  });
});
