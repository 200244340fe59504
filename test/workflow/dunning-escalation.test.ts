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
import { snapshotQuery, type SubscriptionView } from '../../src/workflows/definitions';
import {
  DAY,
  EngineDouble,
  HOUR,
  MINUTE,
  advance,
  assertChargedAt,
  failingSubscription,
  startWith,
} from '../helpers/dunning-scenario';
import { createTestWorker, useTimeSkipping } from '../helpers/temporal';

const timeSkipping = useTimeSkipping({ serverPerTest: true });

describe('dunning escalation (time-skipping server)', () => {
  it('escalates when every attempt fails, then applies the final action (cancel)', async () => {
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription(timeSkipping.env);
    qfpay.chargeScript = [{ outcome: 'failed' }, { outcome: 'failed' }, { outcome: 'failed' }];
    const engine = new EngineDouble();
    const { worker, taskQueue } = await createTestWorker(timeSkipping.env, {
      activities: { ...qfpay.activities(), ...engine.activities() },
    });
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
    const engine = new EngineDouble();
    const { worker, taskQueue } = await createTestWorker(timeSkipping.env, {
      activities: { ...qfpay.activities(), ...engine.activities() },
    });
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
      await handle.terminate('test done');
    });
  });
});
