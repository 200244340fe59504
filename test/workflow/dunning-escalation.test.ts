/**
 * Exhausted dunning episodes on the time-skipping test server: escalation steps go out as merchant
 * events (each delivered by its own child workflow, never inline), then the final action runs,
 * only while the order is still unpaid and the subscription has not ended.
 *
 * Every test here gets a test server of its own: child workflows leak the server's time-skipping
 * lock once their parent completes (see `useTimeSkipping`).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  cancelUpdate,
  snapshotQuery,
  type MerchantEvent,
  type SubscriptionView,
} from '../../src/workflows/definitions';
import {
  DAY,
  EngineDouble,
  HOUR,
  MINUTE,
  advance,
  assertChargedAt,
  failingSubscription,
  scenarioWorker,
  startWith,
} from '../helpers/dunning-scenario';
import { Gate, until } from '../helpers/gate';
import { useTimeSkipping, workflowTaskFailures, terminateIdle } from '../helpers/temporal';

const timeSkipping = useTimeSkipping({ serverPerTest: true });

describe('dunning escalation (time-skipping server)', () => {
  it('escalates when every attempt fails, then applies the final action (cancel)', async () => {
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription(timeSkipping.env);
    qfpay.chargeScript = [{ outcome: 'failed' }, { outcome: 'failed' }, { outcome: 'failed' }];
    const { worker, taskQueue, engine } = await scenarioWorker(timeSkipping.env, qfpay);
    const view: SubscriptionView = await worker.runUntil(async () => {
      const handle = await startWith(
        timeSkipping,
        taskQueue,
        subscriptionId,
        { finalAction: 'cancel' },
        { merchantEvents: true },
      );
      await advance(timeSkipping.env, clock, MINUTE);
      const failedAt = await failCycle2(handle);
      const result = await handle.result();
      // Each step is its own delivery workflow: they arrive in any order.
      assert.deepEqual((await engine.escalated(2)).sort(), ['notify_customer', 'notify_operations']);
      assertChargedAt(qfpay, [failedAt + HOUR, failedAt + DAY, failedAt + 3 * DAY]);
      return result;
    });
    assert.equal(qfpay.count('cancelSubscription'), 1);
    assert.equal(view.snapshot.state, 'CANCELLED');
    assert.equal(view.dunning.history.at(-1)?.outcome, 'exhausted');
  });

  it('makes no attempt when the failure is too close to the next billing time, and escalates', async () => {
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription(
      timeSkipping.env,
      90 * MINUTE,
    );
    const { worker, taskQueue, engine } = await scenarioWorker(timeSkipping.env, qfpay);
    await worker.runUntil(async () => {
      // margin 2h > 90 min to the next billing
      const handle = await startWith(timeSkipping, taskQueue, subscriptionId, {}, { merchantEvents: true });
      await advance(timeSkipping.env, clock, MINUTE);
      await failCycle2(handle);
      await advance(timeSkipping.env, clock, HOUR);
      assert.equal(qfpay.count('chargeOrder'), 0, 'a charge now would land after the deadline');
      const view = await handle.query(snapshotQuery);
      assert.equal(view.dunning.history.at(-1)?.outcome, 'exhausted');
      assert.equal(view.dunning.history.at(-1)?.schedule.length, 0);
      // Each step is its own delivery workflow: they arrive in any order.
      assert.deepEqual((await engine.escalated(2)).sort(), ['notify_customer', 'notify_operations']);
      await terminateIdle(handle);
    });
  });

  it('a merchant cancel while the escalation deliveries are held: nothing waits for them, the workflow ends CANCELLED', async () => {
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription(timeSkipping.env);
    qfpay.chargeScript = [{ outcome: 'failed' }, { outcome: 'failed' }, { outcome: 'failed' }];
    const engine = new EngineDouble();
    // Only the escalation steps are held: a delivery activity in progress stops the test server
    // from skipping time (its clock then runs in real time), so the test brings the clock just
    // past the last attempt first.
    const held = new Gate();
    engine.holdDelivery = (event) =>
      event.type === 'subscription.dunning_exhausted' ? held.promise : undefined;
    const { worker, taskQueue } = await scenarioWorker(timeSkipping.env, qfpay, engine);
    // The gate opens however the body ends: a held delivery would keep the worker from stopping,
    // and a failed assertion would wait at the file's limit instead of failing.
    await worker.runUntil(async () => {
      try {
        await heldEscalations();
      } finally {
        held.open();
      }
    });
    async function heldEscalations() {
      const handle = await startWith(timeSkipping, taskQueue, subscriptionId, {}, { merchantEvents: true });
      await advance(timeSkipping.env, clock, MINUTE);
      const failedAt = await failCycle2(handle);
      // In two sleeps: the long one ends before the last attempt, while nothing is held; the hold
      // begins with the exhaustion, inside the short one. A sleep that runs (or is sent again)
      // while the hold stops time skipping then costs seconds of real time, never days.
      await advance(timeSkipping.env, clock, failedAt + 3 * DAY - 10_000 - clock.now);
      assert.equal(engine.escalations.length, 0);
      await advance(timeSkipping.env, clock, failedAt + 3 * DAY + 5_000 - clock.now);
      // On a busy machine the last attempt's answer may land just after the sleep.
      await until(
        'the episode exhausted',
        async () => (await handle.query(snapshotQuery)).dunning.history.at(-1)?.outcome === 'exhausted',
      );
      // The escalation deliveries are still held; the merchant cancels.
      assert.equal(engine.escalations.length, 0);
      assert.equal((await handle.executeUpdate(cancelUpdate, { args: [{}] })).state, 'CANCELLED');
      const view: SubscriptionView = await handle.result();
      assert.equal(view.snapshot.state, 'CANCELLED');
      assert.equal(await workflowTaskFailures(handle), 0);
      held.open();
      await engine.waitFor(() => engine.delivered.some((e) => e.type === 'subscription.ended'));
      assert.deepEqual((await engine.escalated(2)).sort(), ['notify_customer', 'notify_operations']);
      assert.equal(engine.delivered.filter((e) => e.type === 'subscription.ended').length, 1);
    }
  });

  it('the final action asks QFPay first and does not cancel an order paid meanwhile', async () => {
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription(timeSkipping.env);
    qfpay.chargeScript = [{ outcome: 'failed' }, { outcome: 'failed' }, { outcome: 'failed' }];
    // Right after the last attempt was declined, the customer paid (and the notification was lost).
    qfpay.afterCharge = (answered) => {
      if (answered !== 3) return;
      qfpay.state.orders = qfpay.state.orders.map((o) =>
        o.sequenceNo === 2 ? { ...o, status: 'PAID', respcd: '0000', at: qfpay.now() } : o,
      );
      qfpay.state.remote = { ...qfpay.state.remote, state: 'ACTIVE', completedCycles: 2 };
    };
    const { worker, taskQueue } = await scenarioWorker(timeSkipping.env, qfpay);
    await worker.runUntil(async () => {
      const handle = await startWith(timeSkipping, taskQueue, subscriptionId, { finalAction: 'cancel' });
      await advance(timeSkipping.env, clock, MINUTE);
      await failCycle2(handle);
      await advance(timeSkipping.env, clock, 4 * DAY);
      const view = await handle.query(snapshotQuery);
      assert.equal(qfpay.count('chargeOrder'), 3);
      assert.equal(qfpay.count('cancelSubscription'), 0, 'the paid plan was not cancelled');
      assert.equal(view.snapshot.state, 'ACTIVE');
      assert.equal(view.dunning.history.at(-1)?.outcome, 'recovered');
      assert.equal(view.dunning.history.at(-1)?.finalAction?.status, 'skipped');
      await terminateIdle(handle);
    });
  });

  it('reports every fact of a cancelled subscription once: its last payment failure, the change, and the end', async () => {
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription(timeSkipping.env);
    const { worker, taskQueue, engine } = await scenarioWorker(timeSkipping.env, qfpay);
    await worker.runUntil(async () => {
      const handle = await startWith(timeSkipping, taskQueue, subscriptionId, {}, { merchantEvents: true });
      await advance(timeSkipping.env, clock, MINUTE);
      // The failure notifications and the merchant's cancel arrive together.
      const failing = failCycle2(handle);
      const cancelling = handle.executeUpdate(cancelUpdate, { args: [{}] });
      await Promise.all([failing, cancelling]);
      await handle.result();
      // Each event has its own delivery workflow, so they arrive in any order: wait for all three.
      const cancelledChange = (e: MerchantEvent) =>
        e.type === 'subscription.state_changed' && (e.data as { to: string }).to === 'CANCELLED';
      await engine.waitFor(() => engine.delivered.some((e) => e.type === 'subscription.ended'));
      await engine.waitFor(() => engine.delivered.some((e) => e.type === 'subscription.payment_failed'));
      await engine.waitFor(() => engine.delivered.some(cancelledChange));
      const ids = engine.delivered.map((e) => e.id);
      assert.equal(new Set(ids).size, ids.length, 'no event twice');
      const types = engine.delivered.map((e) => e.type);
      assert.equal(types.filter((t) => t === 'subscription.ended').length, 1);
      assert.equal(types.filter((t) => t === 'subscription.payment_failed').length, 1);
      assert.equal(engine.delivered.filter(cancelledChange).length, 1);
    });
  });
});
