/**
 * The reconciler (issue 31, lever 2) on the dev server, with its real Temporal Schedule and the
 * real visibility query: a subscription whose run has it keeps no timer for its billing time. A
 * paid cycle moves none; a billing time that passed unpaid is asked about when the Schedule's
 * sweep finds its `ReconcileAt` passed, and a subscription not due is left alone by that sweep.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { createReconcilerActivities } from '../../src/activities/reconciler';
import type { ReconcileSweep } from '../../src/activities/contracts';
import { DAY, MINUTE } from '../../src/domain/duration';
import { ensureReconcilerSchedule, reconcilerScheduleId } from '../../src/temporal/reconciler-schedule';
import {
  SEARCH_ATTRIBUTES,
  WORKFLOW_TYPES,
  factSignal,
  snapshotQuery,
  subscriptionWorkflowId,
} from '../../src/workflows/definitions';
import { until } from '../helpers/gate';
import { FakeQfpay, orderId } from '../helpers/qfpay-doubles';
import { createTestWorker, fakeSubscriptionId, startDevServer } from '../helpers/temporal';

const { EventType } = temporal.api.enums.v1;

/** An ACTIVE subscription at the double, cycle 1 paid at `paidAt`, billing daily from then. */
function activeAt(paidAt: number, nextBillingTime: number): FakeQfpay {
  const subscriptionId = fakeSubscriptionId();
  return new FakeQfpay(
    subscriptionId,
    {
      found: true,
      orders: [
        { orderId: orderId(subscriptionId, 1), sequenceNo: 1, status: 'PAID', respcd: '0000', at: paidAt },
      ],
      remote: {
        state: 'ACTIVE',
        customerId: 'cust_reconciler',
        totalBillingCycles: null,
        completedCycles: 1,
        nextBillingTime,
        lastBillingTime: paidAt,
        schedule: { anchor: nextBillingTime - DAY, interval: { unit: 'day', count: 1 }, offset: '+08:00' },
      },
    },
    () => Date.now(),
    false,
  );
}

/**
 * Makes the double's first answer (the adoption's query) state a billing time `inMs` after it, on
 * its daily schedule: the time is then the answer's own, however long the adoption took.
 */
function billsAfterAdoption(qfpay: FakeQfpay, inMs: number): { billing: () => number } {
  let billing = Number.NaN;
  const previous = qfpay.onSync;
  qfpay.onSync = (state, n) => {
    if (n === 1) {
      billing = Date.now() + inMs;
      state.remote = {
        ...state.remote,
        nextBillingTime: billing,
        schedule: { anchor: billing - DAY, interval: { unit: 'day', count: 1 }, offset: '+08:00' },
      };
    }
    previous?.(state, n);
  };
  return { billing: () => billing };
}

/** The names of the signals a run received, and whether it ever started a timer. */
async function historyOf(handle: WorkflowHandle): Promise<{ signals: string[]; timers: number }> {
  const { events } = await handle.fetchHistory();
  return {
    signals: (events ?? [])
      .filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
      .map((e) => e.workflowExecutionSignaledEventAttributes?.signalName ?? ''),
    timers: (events ?? []).filter((e) => e.eventType === EventType.EVENT_TYPE_TIMER_STARTED).length,
  };
}

describe("the reconciler's Schedule on the dev server", () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await startDevServer();
  });
  after(async () => {
    await env?.teardown();
  });

  /** Adopts `qfpay`'s subscription (an ACTIVE notification) on `taskQueue`, with the reconciler. */
  async function adopt(taskQueue: string, qfpay: FakeQfpay, graceMs: number): Promise<WorkflowHandle> {
    const { subscriptionId } = qfpay;
    const handle = await env.client.workflow.signalWithStart(WORKFLOW_TYPES.subscription, {
      workflowId: subscriptionWorkflowId(subscriptionId),
      taskQueue,
      args: [
        {
          subscriptionId,
          origin: 'adopted',
          options: { reconcileGraceMs: graceMs, reconciler: 'schedule', merchantEvents: false },
        },
      ],
      signal: factSignal,
      signalArgs: [
        { kind: 'state', subscriptionId, state: 'ACTIVE', at: Date.now(), source: 'notification' },
      ],
    });
    await until('adopted', async () => (await handle.query(snapshotQuery)).lastSyncAt !== null);
    return handle;
  }

  it('moves no timer for a paid cycle: its next billing time is reckoned, and ReconcileAt follows it', async () => {
    const now = Date.now();
    const qfpay = activeAt(now - DAY, now + DAY);
    const { billing } = billsAfterAdoption(qfpay, 1_000);
    const grace = 15 * MINUTE;
    const { worker, taskQueue } = await createTestWorker(env, { activities: qfpay.activities() });
    await worker.runUntil(async () => {
      const handle = await adopt(taskQueue, qfpay, grace);
      const due = billing();
      const reconcileAt = async () =>
        (await handle.describe()).typedSearchAttributes.get(SEARCH_ATTRIBUTES.reconcileAt)?.getTime();
      assert.equal(await reconcileAt(), due + grace, 'listed at its billing time plus the grace');
      // QFPay bills cycle 2 at its billing time and notifies.
      await until('the billing time', () => Date.now() > due);
      await handle.signal(factSignal, qfpay.payCycle(2, due, due + DAY));
      await until('cycle 2 reckoned', async () => {
        const view = await handle.query(snapshotQuery);
        return view.snapshot.nextBillingTime === due + DAY && view.snapshot.completedCycles === 2;
      });
      assert.equal(await reconcileAt(), due + DAY + grace, 'moved with the billing time, in the same upsert');
      assert.equal(qfpay.count('syncSubscription'), 1, 'only the adoption asked QFPay');
      assert.deepEqual(await historyOf(handle), { signals: ['qfpayFact', 'qfpayFact'], timers: 0 });
      await handle.terminate('test done');
    });
  });

  it("asks about a billing time that passed unpaid when the Schedule's sweep finds it, and leaves one not due alone", async () => {
    const now = Date.now();
    const grace = 1_000;
    // QFPay billed cycle 2 of `due` at its billing time, and the notification was lost.
    const due = activeAt(now - DAY, now + DAY);
    due.onSync = (state, n) => {
      if (n >= 2 && state.remote.completedCycles < 2) due.payCycle(2, billing(), billing() + DAY);
    };
    // Its billing time, 5 s after the adoption's answer: only the sweep can notice it has passed.
    const { billing } = billsAfterAdoption(due, 5_000);
    const notDue = activeAt(now, now + DAY);
    const reconciler = createReconcilerActivities({ client: env.client });
    const routes = { due, notDue };
    // One worker for both subscriptions: each call goes to the double of its subscription.
    const activities = Object.fromEntries(
      Object.keys(due.activities()).map((name) => [
        name,
        (input: unknown, ...rest: unknown[]) => {
          const id = typeof input === 'string' ? input : (input as { subscriptionId: string }).subscriptionId;
          const double = id === due.subscriptionId ? routes.due : routes.notDue;
          return (double.activities() as unknown as Record<string, (...args: unknown[]) => unknown>)[name]!(
            input,
            ...rest,
          );
        },
      ]),
    );
    const { worker, taskQueue } = await createTestWorker(env, {
      activities: { ...activities, ...reconciler },
    });
    await worker.runUntil(async () => {
      const quiet = await adopt(taskQueue, notDue, grace);
      const handle = await adopt(taskQueue, due, grace);
      assert.equal(await ensureReconcilerSchedule(env.client, { taskQueue, everyMs: 1_000 }), 'created');
      assert.equal(await ensureReconcilerSchedule(env.client, { taskQueue, everyMs: 1_000 }), 'updated');
      try {
        await until(
          'the lost payment reconciled',
          async () => (await handle.query(snapshotQuery)).snapshot.completedCycles === 2,
        );
        const view = await handle.query(snapshotQuery);
        assert.equal(view.snapshot.nextBillingTime, billing() + DAY);
        const asked = due.calls.filter((c) => c.name === 'syncSubscription')[1];
        assert.ok(
          asked && asked.at >= billing() + grace,
          'asked once the billing time and its grace had passed',
        );
        const history = await historyOf(handle);
        assert.ok(history.signals.includes('reconcile'), "woken by the reconciler's signal");
        assert.equal(history.timers, 0, 'no timer of its own');
        // Every sweep that ran listed the due subscription only; the one not due was never woken.
        const sweeps = await completedSweeps(taskQueue, (s) => s.some((sweep) => sweep.signalled > 0));
        assert.ok(
          sweeps.every((sweep) => sweep.due <= 1 && sweep.gone === 0),
          JSON.stringify(sweeps),
        );
        assert.deepEqual((await historyOf(quiet)).signals, ['qfpayFact']);
        assert.equal(notDue.count('syncSubscription'), 1);
      } finally {
        await env.client.schedule.getHandle(reconcilerScheduleId(taskQueue)).delete();
        await handle.terminate('test done');
        await quiet.terminate('test done');
      }
    });
  });

  /** The results of the reconciler's completed sweeps on `taskQueue`, once `enough` holds for them. */
  async function completedSweeps(
    taskQueue: string,
    enough: (sweeps: ReconcileSweep[]) => boolean,
  ): Promise<ReconcileSweep[]> {
    let sweeps: ReconcileSweep[] = [];
    await until('a completed sweep', async () => {
      sweeps = [];
      const query = `WorkflowType = '${WORKFLOW_TYPES.reconciler}' AND TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Completed'`;
      for await (const run of env.client.workflow.list({ query })) {
        sweeps.push(
          await env.client.workflow
            .getHandle<() => Promise<ReconcileSweep>>(run.workflowId, run.runId)
            .result(),
        );
      }
      return enough(sweeps);
    });
    return sweeps;
  }
});
