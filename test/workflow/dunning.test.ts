/**
 * Dunning episodes on the time-skipping test server: a failed order is charged again on the
 * policy's schedule, every attempt strictly before the next billing time minus the margin; any
 * success ends the episode; exhaustion escalates and applies the final action; a cancel stops it;
 * a worker restart in the middle still makes each remaining attempt once and on time.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { EngineActivities } from '../../src/activities/contracts';
import {
  WORKFLOW_TYPES,
  cancelUpdate,
  factSignal,
  snapshotQuery,
  subscriptionWorkflowId,
  type MerchantEvent,
  type SubscriptionView,
} from '../../src/workflows/definitions';
import { DEFAULT_DUNNING_POLICY, mergePolicy, type DunningPolicyOverride } from '../../src/workflows/dunning';
import type { Fact } from '../../src/workflows/lifecycle';
import { FakeQfpay, orderId } from '../helpers/qfpay-doubles';
import { createTestWorker, fakeSubscriptionId, useTimeSkipping } from '../helpers/temporal';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const CYCLE = 30 * DAY;

const timeSkipping = useTimeSkipping();

class EngineDouble {
  readonly escalations: Array<{ step: string; event: MerchantEvent }> = [];
  activities(): EngineActivities & {
    deliverMerchantEvent: (e: MerchantEvent) => Promise<{ status: number; delivered: boolean }>;
  } {
    return {
      handOverSubscription: async () => {},
      runEscalationStep: async (input) => {
        this.escalations.push(input);
        return { delivered: true };
      },
      deliverMerchantEvent: async () => ({ status: 200, delivered: true }),
    };
  }
}

/**
 * An ACTIVE subscription whose cycle 2 charge fails `failAfter` after the test starts, with the
 * next billing time `nextBillingIn` after the failure.
 */
async function failingSubscription(nextBillingIn = CYCLE) {
  const subscriptionId = fakeSubscriptionId();
  const t0 = await timeSkipping.env.currentTimeMs();
  const clock = { now: t0 };
  const qfpay = new FakeQfpay(
    subscriptionId,
    {
      found: true,
      orders: [
        {
          orderId: orderId(subscriptionId, 1),
          sequenceNo: 1,
          status: 'PAID',
          respcd: '0000',
          at: t0 - CYCLE,
        },
      ],
      remote: {
        state: 'ACTIVE',
        customerId: 'cust_dunning',
        tokenId: 'tk_1',
        totalBillingCycles: null,
        completedCycles: 1,
        nextBillingTime: t0,
        lastBillingTime: t0 - CYCLE,
      },
    },
    () => clock.now,
  );
  /** QFPay fails cycle 2 now; the next billing time moves `nextBillingIn` ahead. */
  const failCycle2 = async (handle: WorkflowHandle) => {
    const at = clock.now;
    qfpay.state.orders = [
      ...qfpay.state.orders,
      { orderId: orderId(subscriptionId, 2), sequenceNo: 2, status: 'FAILED', respcd: '1205', at },
    ];
    qfpay.state.remote = {
      ...qfpay.state.remote,
      state: 'PAST_DUE',
      lastBillingTime: at,
      nextBillingTime: at + nextBillingIn,
    };
    const failed: Fact = {
      kind: 'payment',
      subscriptionId,
      orderId: orderId(subscriptionId, 2),
      sequenceNo: 2,
      succeeded: false,
      respcd: '1205',
      syssn: `${subscriptionId}-2-ko`,
      at,
      source: 'notification',
    };
    await handle.signal(factSignal, failed);
    await handle.signal(factSignal, {
      kind: 'state',
      subscriptionId,
      state: 'PAST_DUE',
      at,
      source: 'notification',
    });
    return at;
  };
  return { subscriptionId, t0, clock, qfpay, failCycle2 };
}

async function startWith(taskQueue: string, subscriptionId: string, override: DunningPolicyOverride = {}) {
  timeSkipping.track(timeSkipping.env.client.workflow.getHandle(subscriptionWorkflowId(subscriptionId)));
  return timeSkipping.env.client.workflow.start(WORKFLOW_TYPES.subscription, {
    workflowId: subscriptionWorkflowId(subscriptionId),
    taskQueue,
    args: [
      {
        subscriptionId,
        origin: 'adopted' as const,
        policy: mergePolicy(DEFAULT_DUNNING_POLICY, override),
        options: { reconcileGraceMs: 15 * MINUTE },
      },
    ],
  });
}

async function advance(clock: { now: number }, ms: number): Promise<void> {
  await timeSkipping.env.sleep(ms);
  clock.now = await timeSkipping.env.currentTimeMs();
}

function chargeTimes(qfpay: FakeQfpay): number[] {
  return qfpay.calls.filter((c) => c.name === 'chargeOrder').map((c) => c.at);
}

/** The charges happened at these times (to within the few ms a workflow task takes). */
function assertChargedAt(qfpay: FakeQfpay, expected: number[]): void {
  const actual = chargeTimes(qfpay);
  assert.equal(
    actual.length,
    expected.length,
    `charges at ${actual.map((t) => new Date(t).toISOString()).join(', ')}`,
  );
  actual.forEach((t, i) => {
    const want = expected[i]!;
    assert.ok(
      t >= want && t - want < 2_000,
      `charge ${i + 1} at ${new Date(t).toISOString()}, expected ${new Date(want).toISOString()}`,
    );
  });
}

describe('dunning (time-skipping server)', () => {
  it('recovers a failed order on the second attempt, on schedule, and closes the episode', async () => {
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription();
    qfpay.chargeScript = [{ outcome: 'failed', respcd: '1205' }, { outcome: 'succeeded' }];
    const engine = new EngineDouble();
    const { worker, taskQueue } = await createTestWorker(timeSkipping.env, {
      activities: { ...qfpay.activities(), ...engine.activities() },
    });
    await worker.runUntil(async () => {
      const handle = await startWith(taskQueue, subscriptionId);
      await advance(clock, MINUTE);
      const failedAt = await failCycle2(handle);
      await advance(clock, 2 * DAY);
      const view = await handle.query(snapshotQuery);
      assertChargedAt(qfpay, [failedAt + HOUR, failedAt + DAY]);
      assert.equal(view.snapshot.state, 'ACTIVE');
      assert.equal(view.dunning.episode, null);
      const episode = view.dunning.history.at(-1);
      assert.equal(episode?.outcome, 'recovered');
      assert.equal(episode?.attempts.length, 2);
      assert.deepEqual(
        episode?.attempts.map((a) => a.result),
        ['failed', 'succeeded'],
      );
      await advance(clock, 5 * DAY);
      assert.equal(qfpay.count('chargeOrder'), 2, 'no charge after recovery');
      await handle.terminate('test done');
    });
  });

  it('escalates when every attempt fails, then applies the final action (cancel)', async () => {
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription();
    qfpay.chargeScript = [{ outcome: 'failed' }, { outcome: 'failed' }, { outcome: 'failed' }];
    const engine = new EngineDouble();
    const { worker, taskQueue } = await createTestWorker(timeSkipping.env, {
      activities: { ...qfpay.activities(), ...engine.activities() },
    });
    const view: SubscriptionView = await worker.runUntil(async () => {
      const handle = await startWith(taskQueue, subscriptionId, { finalAction: 'cancel' });
      await advance(clock, MINUTE);
      const failedAt = await failCycle2(handle);
      await advance(clock, 4 * DAY);
      assertChargedAt(qfpay, [failedAt + HOUR, failedAt + DAY, failedAt + 3 * DAY]);
      return handle.result();
    });
    assert.deepEqual(
      engine.escalations.map((e) => e.step),
      ['notify_customer', 'notify_operations'],
    );
    assert.ok(engine.escalations.every((e) => e.event.type === 'subscription.dunning_exhausted'));
    assert.equal(qfpay.count('cancelSubscription'), 1);
    assert.equal(view.snapshot.state, 'CANCELLED');
    assert.equal(view.dunning.history.at(-1)?.outcome, 'exhausted');
  });

  it('ends the episode without another charge when a success notification arrives between attempts', async () => {
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription();
    qfpay.chargeScript = [{ outcome: 'failed' }];
    const engine = new EngineDouble();
    const { worker, taskQueue } = await createTestWorker(timeSkipping.env, {
      activities: { ...qfpay.activities(), ...engine.activities() },
    });
    await worker.runUntil(async () => {
      const handle = await startWith(taskQueue, subscriptionId);
      await advance(clock, MINUTE);
      await failCycle2(handle);
      await advance(clock, 2 * HOUR); // attempt 1 made and failed
      assert.equal(qfpay.count('chargeOrder'), 1);
      // QFPay's own retry (or the customer) paid the order.
      qfpay.state.orders = qfpay.state.orders.map((o) =>
        o.sequenceNo === 2 ? { ...o, status: 'PAID', respcd: '0000' } : o,
      );
      qfpay.state.remote = { ...qfpay.state.remote, state: 'ACTIVE', completedCycles: 2 };
      await handle.signal(factSignal, {
        kind: 'payment',
        subscriptionId,
        orderId: orderId(subscriptionId, 2),
        sequenceNo: 2,
        succeeded: true,
        respcd: '0000',
        syssn: `${subscriptionId}-2-ok`,
        at: clock.now,
        source: 'notification',
      });
      await advance(clock, 4 * DAY);
      assert.equal(qfpay.count('chargeOrder'), 1, 'no further charge');
      const view = await handle.query(snapshotQuery);
      assert.equal(view.dunning.history.at(-1)?.outcome, 'recovered');
      assert.equal(view.snapshot.state, 'ACTIVE');
      await handle.terminate('test done');
    });
  });

  it('stops at once when the merchant cancels in the middle of an episode', async () => {
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription();
    qfpay.chargeScript = [{ outcome: 'failed' }, { outcome: 'failed' }, { outcome: 'failed' }];
    const engine = new EngineDouble();
    const { worker, taskQueue } = await createTestWorker(timeSkipping.env, {
      activities: { ...qfpay.activities(), ...engine.activities() },
    });
    const view: SubscriptionView = await worker.runUntil(async () => {
      const handle = await startWith(taskQueue, subscriptionId);
      await advance(clock, MINUTE);
      await failCycle2(handle);
      await advance(clock, 2 * HOUR);
      assert.equal(qfpay.count('chargeOrder'), 1);
      await handle.executeUpdate(cancelUpdate, { args: [{ reason: 'customer left' }] });
      const result: SubscriptionView = await handle.result();
      await advance(clock, 4 * DAY);
      return result;
    });
    assert.equal(qfpay.count('chargeOrder'), 1, 'the attempts after the cancel were never made');
    assert.equal(view.snapshot.state, 'CANCELLED');
    assert.equal(view.dunning.history.at(-1)?.outcome, 'stopped');
    assert.equal(engine.escalations.length, 0);
  });

  it('makes no attempt when the failure is too close to the next billing time, and escalates', async () => {
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription(90 * MINUTE);
    const engine = new EngineDouble();
    const { worker, taskQueue } = await createTestWorker(timeSkipping.env, {
      activities: { ...qfpay.activities(), ...engine.activities() },
    });
    await worker.runUntil(async () => {
      const handle = await startWith(taskQueue, subscriptionId); // margin 2h > 90 min to the next billing
      await advance(clock, MINUTE);
      await failCycle2(handle);
      await advance(clock, HOUR);
      assert.equal(qfpay.count('chargeOrder'), 0, 'a charge now would land after the deadline');
      const view = await handle.query(snapshotQuery);
      assert.equal(view.dunning.history.at(-1)?.outcome, 'exhausted');
      assert.equal(view.dunning.history.at(-1)?.schedule.length, 0);
      assert.deepEqual(
        engine.escalations.map((e) => e.step),
        ['notify_customer', 'notify_operations'],
      );
      await handle.terminate('test done');
    });
  });

  it('places one attempt as late as is safe when no offset fits (hourly sandbox cycle)', async () => {
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription(HOUR);
    qfpay.chargeScript = [{ outcome: 'succeeded' }];
    const engine = new EngineDouble();
    const { worker, taskQueue } = await createTestWorker(timeSkipping.env, {
      activities: { ...qfpay.activities(), ...engine.activities() },
    });
    await worker.runUntil(async () => {
      const handle = await startWith(taskQueue, subscriptionId, {
        safetyMargin: '10m',
        minAttemptWindow: '5m',
      });
      await advance(clock, MINUTE);
      const failedAt = await failCycle2(handle);
      await advance(clock, HOUR - 2 * MINUTE);
      // The first offset (1h) does not fit before next billing − 10 min: one attempt at the last safe moment.
      assertChargedAt(qfpay, [failedAt + HOUR - 10 * MINUTE - 5 * MINUTE]);
      await handle.terminate('test done');
    });
  });

  it('keeps its schedule across a worker restart: each remaining attempt once and on time', async () => {
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription();
    qfpay.chargeScript = [{ outcome: 'failed' }, { outcome: 'failed' }, { outcome: 'failed' }];
    const engine = new EngineDouble();
    // No workflow cache, so no sticky queue the dead worker would hold: the next worker rebuilds
    // the workflow from its history, as after a crash.
    const first = await createTestWorker(timeSkipping.env, {
      maxCachedWorkflows: 0,
      activities: { ...qfpay.activities(), ...engine.activities() },
    });
    let failedAt = 0;
    const handle = await first.worker.runUntil(async () => {
      const h = await startWith(first.taskQueue, subscriptionId);
      await advance(clock, MINUTE);
      failedAt = await failCycle2(h);
      await advance(clock, 2 * HOUR);
      return h;
    });
    assert.equal(qfpay.count('chargeOrder'), 1);
    // The worker is gone for a while (less than the next attempt's offset), then a new one starts.
    await advance(clock, 6 * HOUR);
    const second = await createTestWorker(timeSkipping.env, {
      taskQueue: first.taskQueue,
      activities: { ...qfpay.activities(), ...engine.activities() },
    });
    await second.worker.runUntil(async () => {
      await advance(clock, 4 * DAY);
      const view = await handle.query(snapshotQuery);
      assert.equal(view.dunning.history.at(-1)?.attempts.length, 3);
      await handle.terminate('test done');
    });
    assertChargedAt(qfpay, [failedAt + HOUR, failedAt + DAY, failedAt + 3 * DAY]);
  });

  it('closes the episode as lost when a new billing cycle starts before the order is recovered', async () => {
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription(3 * DAY);
    qfpay.chargeScript = [{ outcome: 'failed' }, { outcome: 'failed' }];
    const engine = new EngineDouble();
    const { worker, taskQueue } = await createTestWorker(timeSkipping.env, {
      activities: { ...qfpay.activities(), ...engine.activities() },
    });
    await worker.runUntil(async () => {
      const handle = await startWith(taskQueue, subscriptionId, { attemptOffsets: ['1h', '2d'] });
      await advance(clock, MINUTE);
      await failCycle2(handle);
      await advance(clock, 2 * HOUR);
      assert.equal(qfpay.count('chargeOrder'), 1);
      // QFPay billed cycle 3 (e.g. the merchant moved the billing date): order 2 can no longer be charged.
      await handle.signal(factSignal, {
        kind: 'payment',
        subscriptionId,
        orderId: orderId(subscriptionId, 3),
        sequenceNo: 3,
        succeeded: true,
        respcd: '0000',
        syssn: `${subscriptionId}-3-ok`,
        at: clock.now,
        source: 'notification',
      });
      await advance(clock, 3 * DAY);
      const view = await handle.query(snapshotQuery);
      assert.equal(view.dunning.history.at(-1)?.outcome, 'lost');
      assert.equal(qfpay.count('chargeOrder'), 1, 'no charge for the lost order');
    });
  });
});
