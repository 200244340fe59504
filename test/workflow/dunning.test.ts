/**
 * Dunning episodes on the time-skipping test server: a failed order is charged again on the
 * policy's schedule, every attempt strictly before the next billing time minus the margin; any
 * success ends the episode; a cancel stops it; a worker restart in the middle still makes each
 * remaining attempt once and on time. (Exhaustion and escalation: dunning-escalation.test.ts.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  SEARCH_ATTRIBUTES,
  cancelUpdate,
  factSignal,
  snapshotQuery,
  type SubscriptionView,
} from '../../src/workflows/definitions';
import {
  DAY,
  EngineDouble,
  HOUR,
  MINUTE,
  advance,
  assertChargedAt,
  chargeTimes,
  failingSubscription,
  scenarioWorker,
  startWith,
} from '../helpers/dunning-scenario';
import { orderId } from '../helpers/qfpay-doubles';
import { createTestWorker, recordHistory, useTimeSkipping, terminateIdle } from '../helpers/temporal';

const timeSkipping = useTimeSkipping();

describe('dunning (time-skipping server)', () => {
  it('recovers a failed order on the second attempt, on schedule, and closes the episode', async () => {
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription(timeSkipping.env);
    qfpay.chargeScript = [{ outcome: 'failed', respcd: '1205' }, { outcome: 'succeeded' }];
    const { worker, taskQueue } = await scenarioWorker(timeSkipping.env, qfpay);
    await worker.runUntil(async () => {
      const handle = await startWith(timeSkipping, taskQueue, subscriptionId);
      await advance(timeSkipping.env, clock, MINUTE);
      const failedAt = await failCycle2(handle);
      await advance(timeSkipping.env, clock, 2 * DAY);
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
      // What the dunning report lists the subscription by: the episode's close.
      const described = await handle.describe();
      assert.equal(
        described.typedSearchAttributes.get(SEARCH_ATTRIBUTES.dunningActivityAt),
        episode?.closedAt,
      );
      await advance(timeSkipping.env, clock, 5 * DAY);
      assert.equal(qfpay.count('chargeOrder'), 2, 'no charge after recovery');
      // The run of the marker with the report's attribute (the one before it: subscription-dunning-recovered).
      await recordHistory(handle, 'subscription-dunning-recovered-report');
      await terminateIdle(handle);
    });
  });

  it('ends the episode without another charge when a success notification arrives between attempts', async () => {
    const { subscriptionId, clock, qfpay, failCycle2, payCycle2 } = await failingSubscription(
      timeSkipping.env,
    );
    qfpay.chargeScript = [{ outcome: 'failed' }];
    const { worker, taskQueue } = await scenarioWorker(timeSkipping.env, qfpay);
    await worker.runUntil(async () => {
      const handle = await startWith(timeSkipping, taskQueue, subscriptionId);
      await advance(timeSkipping.env, clock, MINUTE);
      await failCycle2(handle);
      await advance(timeSkipping.env, clock, 2 * HOUR); // attempt 1 made and failed
      assert.equal(qfpay.count('chargeOrder'), 1);
      // QFPay's own retry (or the customer) paid the order.
      await payCycle2(handle);
      await advance(timeSkipping.env, clock, 4 * DAY);
      assert.equal(qfpay.count('chargeOrder'), 1, 'no further charge');
      const view = await handle.query(snapshotQuery);
      assert.equal(view.dunning.history.at(-1)?.outcome, 'recovered');
      assert.equal(view.snapshot.state, 'ACTIVE');
      await terminateIdle(handle);
    });
  });

  it('stops at once when the merchant cancels in the middle of an episode', async () => {
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription(timeSkipping.env);
    qfpay.chargeScript = [{ outcome: 'failed' }, { outcome: 'failed' }, { outcome: 'failed' }];
    const { worker, taskQueue, engine } = await scenarioWorker(timeSkipping.env, qfpay);
    const view: SubscriptionView = await worker.runUntil(async () => {
      const handle = await startWith(timeSkipping, taskQueue, subscriptionId);
      await advance(timeSkipping.env, clock, MINUTE);
      await failCycle2(handle);
      await advance(timeSkipping.env, clock, 2 * HOUR);
      assert.equal(qfpay.count('chargeOrder'), 1);
      await handle.executeUpdate(cancelUpdate, { args: [{}] });
      const result: SubscriptionView = await handle.result();
      await advance(timeSkipping.env, clock, 4 * DAY);
      return result;
    });
    assert.equal(qfpay.count('chargeOrder'), 1, 'the attempts after the cancel were never made');
    assert.equal(view.snapshot.state, 'CANCELLED');
    assert.equal(view.dunning.history.at(-1)?.outcome, 'stopped');
    assert.equal(engine.escalations.length, 0);
  });

  it('places one attempt as late as is safe when no offset fits (an hourly cycle)', async () => {
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription(timeSkipping.env, HOUR);
    qfpay.chargeScript = [{ outcome: 'succeeded' }];
    const { worker, taskQueue } = await scenarioWorker(timeSkipping.env, qfpay);
    await worker.runUntil(async () => {
      const handle = await startWith(timeSkipping, taskQueue, subscriptionId, {
        safetyMargin: '10m',
        minAttemptWindow: '5m',
      });
      await advance(timeSkipping.env, clock, MINUTE);
      const failedAt = await failCycle2(handle);
      await advance(timeSkipping.env, clock, HOUR - 2 * MINUTE);
      // The first offset (1h) does not fit before next billing − 10 min: one attempt at the last
      // safe moment, less a minute for a late wake-up.
      assertChargedAt(qfpay, [failedAt + HOUR - 10 * MINUTE - 5 * MINUTE - MINUTE]);
      await terminateIdle(handle);
    });
  });

  it('never lets a retry of a charge reach QFPay after the latest start (deadline − minimum window)', async () => {
    // Found by the full chaos run: the charge activity's own retries (after QFPay's 429s) were
    // bounded by the deadline, not by the latest start, so one was sent 0.8 s before the deadline
    // and, answered "processing", landed inside the safety margin.
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription(
      timeSkipping.env,
      2 * HOUR,
    );
    // Refusals (429) for longer than the 15 s the attempt starts before the latest start, then
    // QFPay would take the charge.
    qfpay.chargeScript = [
      ...Array.from({ length: 6 }, () => ({ outcome: 'rate_limited' as const })),
      { outcome: 'succeeded' },
    ];
    const { worker, taskQueue } = await scenarioWorker(timeSkipping.env, qfpay);
    await worker.runUntil(async () => {
      const handle = await startWith(timeSkipping, taskQueue, subscriptionId, {
        attemptOffsets: ['5h'],
        safetyMargin: '1h',
        minAttemptWindow: '30s',
        escalation: [],
        finalAction: 'leave_to_qfpay',
      });
      await advance(timeSkipping.env, clock, MINUTE);
      const failedAt = await failCycle2(handle);
      const latestStart = failedAt + 2 * HOUR - HOUR - 30_000;
      await advance(timeSkipping.env, clock, 2 * HOUR);
      const tries = qfpay.calls.filter((c) => c.name === 'chargeOrder');
      assert.ok(tries.length >= 6, `the activity retried: ${tries.length} tries`);
      assert.ok(tries[0]!.at < latestStart, 'the first try inside the window');
      for (const c of qfpay.charged) {
        assert.ok(
          c.at < latestStart,
          `a charge reached QFPay at ${new Date(c.at).toISOString()}, after the latest start ${new Date(latestStart).toISOString()}`,
        );
      }
      await terminateIdle(handle);
    });
  });

  it('a charge with no answer (5xx) in a short plan is judged by the next attempt, which still runs and pays', async () => {
    // Found by a merchant: about 75 s from failure to deadline; after one 5xx the engine confirmed
    // for minutes (its whole window) and attempt 2 never began.
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription(timeSkipping.env, 90_000);
    qfpay.chargeScript = [{ outcome: 'server_error' }, { outcome: 'succeeded' }];
    const { worker, taskQueue } = await scenarioWorker(timeSkipping.env, qfpay);
    await worker.runUntil(async () => {
      const handle = await startWith(timeSkipping, taskQueue, subscriptionId, {
        attemptOffsets: ['10s', '40s'],
        safetyMargin: '15s',
        minAttemptWindow: '3s',
        escalation: [],
        finalAction: 'leave_to_qfpay',
      });
      await advance(timeSkipping.env, clock, MINUTE);
      const failedAt = await failCycle2(handle);
      await advance(timeSkipping.env, clock, 75_000);
      const charges = chargeTimes(qfpay);
      assert.equal(charges.length, 2, `charges at ${charges.map((t) => (t - failedAt) / 1000).join(', ')} s`);
      assert.ok(charges[1]! >= failedAt + 40_000 && charges[1]! <= failedAt + 90_000 - 15_000 - 3_000);
      const view = await handle.query(snapshotQuery);
      assert.equal(view.dunning.history.at(-1)?.outcome, 'recovered');
      assert.deepEqual(
        view.dunning.history.at(-1)?.attempts.map((a) => a.result),
        ['error', 'succeeded'],
      );
      await terminateIdle(handle);
    });
  });

  it('keeps its schedule across a worker restart: each remaining attempt once and on time', async () => {
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription(timeSkipping.env);
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
      const h = await startWith(timeSkipping, first.taskQueue, subscriptionId);
      await advance(timeSkipping.env, clock, MINUTE);
      failedAt = await failCycle2(h);
      await advance(timeSkipping.env, clock, 2 * HOUR);
      return h;
    });
    assert.equal(qfpay.count('chargeOrder'), 1);
    // The worker is gone for a while (less than the next attempt's offset), then a new one starts.
    await advance(timeSkipping.env, clock, 6 * HOUR);
    const second = await createTestWorker(timeSkipping.env, {
      taskQueue: first.taskQueue,
      activities: { ...qfpay.activities(), ...engine.activities() },
    });
    await second.worker.runUntil(async () => {
      await advance(timeSkipping.env, clock, 4 * DAY);
      const view = await handle.query(snapshotQuery);
      assert.equal(view.dunning.history.at(-1)?.attempts.length, 3);
      await terminateIdle(handle);
    });
    assertChargedAt(qfpay, [failedAt + HOUR, failedAt + DAY, failedAt + 3 * DAY]);
  });

  it('closes the episode as lost when a new billing cycle starts before the order is recovered', async () => {
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription(timeSkipping.env, 3 * DAY);
    qfpay.chargeScript = [{ outcome: 'failed' }, { outcome: 'failed' }];
    const { worker, taskQueue } = await scenarioWorker(timeSkipping.env, qfpay);
    await worker.runUntil(async () => {
      const handle = await startWith(timeSkipping, taskQueue, subscriptionId, {
        attemptOffsets: ['1h', '2d'],
      });
      await advance(timeSkipping.env, clock, MINUTE);
      await failCycle2(handle);
      await advance(timeSkipping.env, clock, 2 * HOUR);
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
      await advance(timeSkipping.env, clock, 3 * DAY);
      const view = await handle.query(snapshotQuery);
      assert.equal(view.dunning.history.at(-1)?.outcome, 'lost');
      assert.equal(qfpay.count('chargeOrder'), 1, 'no charge for the lost order');
    });
  });
});
