/**
 * The benchmark's fake subscriptions, recorded at the emulator as their notifications are sent,
 * are what the engine's real sync activity finds over HTTP: the subscription ACTIVE with the
 * orders paid so far and a next billing time ahead, so an adopted one stays open like a real one
 * instead of ending as not found.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { recordAtEmulator } from '../../bench/emulator-records';
import {
  BENCH_SCHEDULE,
  benchBillingTime,
  benchNotification,
  fakeSubscriptionId,
} from '../../bench/notifications';
import { billingAfter } from '../../src/domain/lifecycle/billing-interval';
import type { SyncResult } from '../../src/activities/contracts';
import { createQfpayActivities } from '../../src/gateways/qfpay/activities';
import { QfpayClient } from '../../src/gateways/qfpay/client';
import {
  TEST_APP_CODE,
  TEST_APP_KEY,
  startTestEmulator,
  type TestEmulator,
} from '../helpers/emulator-client';

describe('the bench records its fake subscriptions at the emulator', () => {
  let t: TestEmulator;
  before(async () => {
    t = await startTestEmulator();
  });
  after(async () => {
    await t?.close();
  });

  function sync(subscriptionId: string, options: { sinceSequence?: number } = {}): Promise<SyncResult> {
    const client = new QfpayClient({
      baseUrl: t.emulator.url,
      appCode: TEST_APP_CODE,
      appKey: TEST_APP_KEY,
      timeoutMs: 5_000,
    });
    const activities = createQfpayActivities({
      client,
      timeOffset: '+08:00',
      now: () => t.emulator.clock.now(),
    });
    return new MockActivityEnvironment().run(
      activities.syncSubscription,
      subscriptionId,
      options,
    ) as Promise<SyncResult>;
  }

  it('a subscription no notification named is not found; one that was is found, with each payment sent so far', async () => {
    const ids = [fakeSubscriptionId(), fakeSubscriptionId()];
    const store = t.emulator.emulator.store;
    assert.equal((await sync(ids[0]!)).found, false);

    // Round 0 reports each subscription ACTIVE; rounds 1 and 2 pay cycles 1 and 2 (round-robin).
    const sent = [0, 1, 2, 3, 4, 5].map((i) => benchNotification(ids, i, TEST_APP_KEY));
    for (const n of sent.slice(0, 4)) recordAtEmulator(store, n);
    const now = Date.now();

    const first = await sync(ids[0]!);
    assert.ok(first.found);
    assert.equal(first.fact.remote.state, 'ACTIVE');
    assert.equal(first.fact.remote.completedCycles, 1);
    assert.deepEqual(
      (first.fact.orders ?? []).map((o) => [o.orderId, o.sequenceNo, o.status]),
      [[sent[2]!.orderId, 1, 'PAID']],
    );
    // The plan's schedule, a day ahead: the next billing is the cycle after the one paid, as the
    // engine reckons it from the payment, and none falls due during a run.
    assert.deepEqual(first.fact.remote.schedule, BENCH_SCHEDULE);
    assert.equal(first.fact.remote.nextBillingTime, benchBillingTime(2));
    assert.equal(billingAfter(BENCH_SCHEDULE, benchBillingTime(1)), benchBillingTime(2));
    assert.ok(benchBillingTime(1) > now + 12 * 3_600_000, 'the first billing well ahead');

    // The next payment, recorded twice (a duplicate notification), shows once.
    recordAtEmulator(store, sent[4]!);
    recordAtEmulator(store, sent[4]!);
    const again = await sync(ids[0]!, { sinceSequence: 1 });
    assert.ok(again.found);
    assert.equal(again.fact.remote.completedCycles, 2);
    assert.deepEqual((again.fact.orders ?? []).map((o) => o.sequenceNo).sort(), [1, 2]);
    const payment = sent[4]!.fact;
    assert.ok(payment.kind === 'payment');
    const row = (again.fact.orders ?? []).find((o) => o.sequenceNo === 2);
    assert.equal(row?.orderId, payment.orderId);
    assert.equal(row?.at, payment.at, 'charged when the notification says');
  });
});
