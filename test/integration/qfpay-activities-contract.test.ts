/**
 * One contract, two implementations: every scenario runs against the real QFPay activities talking
 * to the emulator over HTTP, and against the in-memory double the workflow tests use. The double
 * must answer as the real activities do (no outcome the real ones never give), so a workflow test
 * on the double proves something about the engine.
 *
 * It covers what deadline-safe charging relies on: a charge retried after it went through looks
 * first and does not charge again; a charge with no answer (a 5xx before QFPay processed it, or a
 * timeout after) is `unknown`, and a later look tells whether it happened; QFPay's "processing"
 * is `pending`; a charge past its window is not sent; and a sync reads only the newest orders.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { ChargeOutcome, QfpayActivities } from '../../src/activities/contracts';
import { createQfpayActivities } from '../../src/gateways/qfpay/activities';
import { QfpayClient } from '../../src/gateways/qfpay/client';
import { formatQfpayNaiveTime } from '../../src/gateways/qfpay/time';
import { FakeQfpay, orderId } from '../helpers/qfpay-doubles';
import { billingAfter } from '../../src/domain/lifecycle/billing-interval';
import {
  DAY,
  TEST_APP_CODE,
  TEST_APP_KEY,
  startTestEmulator,
  type TestEmulator,
} from '../helpers/emulator-client';

type Fault = 'server_error' | 'timeout_after_decline' | 'timeout_after_approve' | 'processing';

/** What a scenario needs of a QFPay: the activities, and a way to set it up and to read its record. */
interface World {
  activities: QfpayActivities;
  /** A subscription whose cycle 1 was paid and cycle 2 declined (PAST_DUE). */
  failedCycle(): Promise<{ subscriptionId: string; orderId: string; nextBillingTime: number }>;
  /** How the card answers the next charges. */
  card(approves: boolean): Promise<void>;
  /** What goes wrong with the next charge only. */
  fault(kind: Fault): Promise<void>;
  /** QFPay finishes a charge it answered "processing". */
  settle(): Promise<void>;
  /** Manual charges QFPay recorded for the subscription. */
  manualCharges(subscriptionId: string): Promise<number>;
  /** A product billing on the subscription's interval. */
  product(): Promise<string>;
  now(): number;
}

/** Runs an activity as Temporal would (attempt 1, or a retry). */
function run<A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  return new MockActivityEnvironment().run(fn, ...args) as Promise<R>;
}

// ---- the emulator, over HTTP ------------------------------------------------------------------

async function emulatorWorld(t: TestEmulator): Promise<World> {
  const client = new QfpayClient({
    baseUrl: t.emulator.url,
    appCode: TEST_APP_CODE,
    appKey: TEST_APP_KEY,
    timeoutMs: 1_000,
  });
  const now = () => t.emulator.clock.now();
  const activities = createQfpayActivities({ client, timeOffset: '+08:00', now });
  let token = '';
  const clearFaults = () =>
    t.emulator.setFaults({ serverErrorRate: 0, timeoutRate: 0, pendingChargeRate: 0, endpoints: null });
  return {
    activities,
    now,
    async failedCycle() {
      const s = await t.client.subscribe();
      token = s.tokenId;
      await t.client.setCharges(token, 'decline', '1205');
      await t.emulator.advance({ ms: 31 * DAY });
      const truth = await t.client.inspect(s.subscriptionId);
      assert.equal(truth.state, 'PAST_DUE');
      const row = await t.client.queryRow(s.subscriptionId);
      return {
        subscriptionId: s.subscriptionId,
        orderId: orderId(s.subscriptionId, 2),
        nextBillingTime: Date.parse(String(row.next_billing_time)),
      };
    },
    card: (approves) =>
      t.client.setCharges(token, approves ? 'approve' : 'decline', approves ? undefined : '1205'),
    async fault(kind) {
      const only = { endpoints: ['/subscription/v1/charge'] };
      if (kind === 'server_error') t.emulator.setFaults({ ...only, serverErrorRate: 1 });
      if (kind === 'processing')
        t.emulator.setFaults({ ...only, pendingChargeRate: 1, pendingChargeDelayMs: 60_000 });
      if (kind === 'timeout_after_decline' || kind === 'timeout_after_approve') {
        await t.client.setCharges(
          token,
          kind === 'timeout_after_approve' ? 'approve' : 'decline',
          kind === 'timeout_after_approve' ? undefined : '1205',
        );
        t.emulator.setFaults({ ...only, timeoutRate: 1, timeoutMs: 5_000, timeoutProcesses: true });
      }
      // The fault is for the next charge only: the scenario lifts it once that call returned.
      pendingClear = clearFaults;
    },
    async settle() {
      await t.emulator.advance({ ms: 120_000 });
    },
    async manualCharges(subscriptionId) {
      const reply = await t.client.control<{ data?: Array<{ trigger: string }> }>(
        'GET',
        `/charges?subscription_id=${subscriptionId}`,
      );
      return (reply.body.data ?? []).filter((c) => c.trigger === 'manual').length;
    },
    product: () => t.client.createProduct({ name: 'Second plan', txamt: 500 }),
  };
}
let pendingClear: (() => void) | undefined;

// ---- the double, in memory --------------------------------------------------------------------

function doubleWorld(): World {
  let clock = Date.parse('2025-01-15T02:00:00Z');
  let fake: FakeQfpay | undefined;
  let approves = false;
  let nextFault: Fault | undefined;
  const world: World = {
    get activities() {
      return fake!.activities();
    },
    now: () => clock,
    async failedCycle() {
      const subscriptionId = `sub_${Math.random().toString(16).slice(2)}contract`;
      const failedAt = clock;
      fake = new FakeQfpay(
        subscriptionId,
        {
          found: true,
          orders: [
            {
              orderId: orderId(subscriptionId, 1),
              sequenceNo: 1,
              status: 'PAID',
              respcd: '0000',
              at: failedAt - 30 * DAY,
            },
            {
              orderId: orderId(subscriptionId, 2),
              sequenceNo: 2,
              status: 'FAILED',
              respcd: '1205',
              at: failedAt,
            },
          ],
          remote: {
            state: 'PAST_DUE',
            totalBillingCycles: null,
            completedCycles: 1,
            nextBillingTime: failedAt + 30 * DAY,
            lastBillingTime: failedAt,
          },
        },
        () => clock,
        false,
      );
      fake.beforeCharge = async () => {
        const fault = nextFault;
        nextFault = undefined;
        if (fault === 'server_error') fake!.chargeScript = [{ outcome: 'server_error' }];
        else if (fault === 'processing') fake!.chargeScript = [{ outcome: 'pending' }];
        else if (fault === 'timeout_after_decline')
          fake!.chargeScript = [{ outcome: 'timeout_after', then: 'failed' }];
        else if (fault === 'timeout_after_approve')
          fake!.chargeScript = [{ outcome: 'timeout_after', then: 'succeeded' }];
        else fake!.chargeScript = [{ outcome: approves ? 'succeeded' : 'failed' }];
      };
      return { subscriptionId, orderId: orderId(subscriptionId, 2), nextBillingTime: failedAt + 30 * DAY };
    },
    async card(a) {
      approves = a;
    },
    async fault(kind) {
      nextFault = kind;
    },
    async settle() {
      clock += 120_000;
      fake!.settleOrder(orderId(fake!.subscriptionId, 2), true);
    },
    async manualCharges() {
      return fake!.charged.length;
    },
    async product() {
      return `prod_${Math.random().toString(16).slice(2)}`;
    },
  };
  return world;
}

// ---- the scenarios ----------------------------------------------------------------------------

function scenarios(name: string, world: () => World): void {
  void describe(`QFPay activities contract: ${name}`, () => {
    const charge = (w: World, subscriptionId: string, order: string, notAfter = w.now() + DAY) =>
      run(w.activities.chargeOrder, { subscriptionId, orderId: order, notAfter }) as Promise<ChargeOutcome>;
    const afterCall = () => {
      pendingClear?.();
      pendingClear = undefined;
    };

    void it('a sync reads the failed order and the next billing time; from a sequence on, only newer orders, newest first', async () => {
      const w = world();
      const { subscriptionId, nextBillingTime } = await w.failedCycle();
      const all = await run(w.activities.syncSubscription, subscriptionId, { sinceSequence: 1 });
      assert.ok(all.found);
      assert.equal(all.fact.remote.state, 'PAST_DUE');
      assert.equal(all.fact.remote.nextBillingTime, nextBillingTime);
      assert.deepEqual(
        all.fact.orders?.map((o) => [o.sequenceNo, o.status]),
        [
          [2, 'FAILED'],
          [1, 'PAID'],
        ],
      );
      const newer = await run(w.activities.syncSubscription, subscriptionId, { sinceSequence: 2 });
      assert.ok(newer.found);
      assert.deepEqual(
        newer.fact.orders?.map((o) => o.sequenceNo),
        [2],
      );
    });

    void it('a change of products is taken, and the next sync reads the new products', async () => {
      const w = world();
      const { subscriptionId } = await w.failedCycle();
      const productId = await w.product();
      const changed = await run(w.activities.updateSubscription, {
        subscriptionId,
        products: [{ productId, quantity: 2 }],
      });
      assert.equal(typeof changed.at, 'number');
      const synced = await run(w.activities.syncSubscription, subscriptionId, {});
      assert.ok(synced.found);
      assert.deepEqual(synced.fact.remote.productIds, [productId]);
    });

    void it('a declined charge is failed, with its respcd, and QFPay recorded one charge', async () => {
      const w = world();
      const s = await w.failedCycle();
      await w.card(false);
      const outcome = await charge(w, s.subscriptionId, s.orderId);
      assert.equal(outcome.outcome, 'failed');
      assert.equal(outcome.respcd, '1205');
      // The attempt QFPay made, as its notification names it: one fact, not two.
      assert.equal(typeof outcome.syssn, 'string');
      assert.equal(outcome.atFromQfpay, true);
      assert.equal(await w.manualCharges(s.subscriptionId), 1);
    });

    void it('a charge retried after it went through looks first: succeeded, and not charged again', async () => {
      const w = world();
      const s = await w.failedCycle();
      await w.card(true);
      assert.equal((await charge(w, s.subscriptionId, s.orderId)).outcome, 'succeeded');
      const retried = await charge(w, s.subscriptionId, s.orderId);
      assert.equal(retried.outcome, 'succeeded');
      assert.equal(retried.alreadyPaid, true);
      assert.equal(await w.manualCharges(s.subscriptionId), 1, 'charged once');
    });

    void it('a charge tried again after its first try’s answer was lost past a decline: that decline answers it, one charge at QFPay', async () => {
      const w = world();
      const s = await w.failedCycle();
      await w.card(false);
      // The first try sends the charge, QFPay declines it, and the try's worker is lost before
      // the answer reaches the workflow: what the try recorded before sending is all that is left.
      const first = new MockActivityEnvironment({ attempt: 1 });
      let recorded: unknown;
      first.on('heartbeat', (details: unknown) => (recorded = details));
      const input = { subscriptionId: s.subscriptionId, orderId: s.orderId, notAfter: w.now() + DAY };
      const lost = (await first.run(w.activities.chargeOrder, input)) as ChargeOutcome;
      assert.equal(lost.outcome, 'failed');
      assert.notEqual(recorded, undefined, 'the try recorded the order before sending');
      const retried = (await new MockActivityEnvironment({ attempt: 2, heartbeatDetails: recorded }).run(
        w.activities.chargeOrder,
        input,
      )) as ChargeOutcome;
      assert.equal(retried.outcome, 'failed');
      assert.equal(retried.respcd, lost.respcd);
      assert.equal(retried.syssn, lost.syssn, 'the same attempt: one fact, one event');
      assert.equal(await w.manualCharges(s.subscriptionId), 1, 'charged once');
    });

    void it('a 5xx before QFPay processed the charge: unknown, and a look finds no attempt since', async () => {
      const w = world();
      const s = await w.failedCycle();
      await w.card(true);
      await w.fault('server_error');
      const sentAt = w.now();
      const outcome = await charge(w, s.subscriptionId, s.orderId);
      afterCall();
      assert.equal(outcome.outcome, 'unknown');
      assert.ok(outcome.orderBefore);
      const look = await run(w.activities.confirmCharge, {
        subscriptionId: s.subscriptionId,
        orderId: s.orderId,
        sentAt,
        orderBefore: outcome.orderBefore,
      });
      assert.deepEqual(look, { status: 'unknown' });
      assert.equal(await w.manualCharges(s.subscriptionId), 0);
    });

    for (const [fault, status] of [
      ['timeout_after_decline', 'failed'],
      ['timeout_after_approve', 'paid'],
    ] as const) {
      void it(`a timeout after QFPay processed the charge: unknown, and a look finds it ${status}`, async () => {
        const w = world();
        const s = await w.failedCycle();
        await w.fault(fault);
        const sentAt = w.now();
        const outcome = await charge(w, s.subscriptionId, s.orderId);
        afterCall();
        assert.equal(outcome.outcome, 'unknown');
        const look = await run(w.activities.confirmCharge, {
          subscriptionId: s.subscriptionId,
          orderId: s.orderId,
          sentAt,
          orderBefore: outcome.orderBefore,
        });
        assert.equal(look.status, status);
        assert.equal(await w.manualCharges(s.subscriptionId), 1);
      });
    }

    void it('QFPay answers "processing": pending; once it settles, a look finds it paid', async () => {
      const w = world();
      const s = await w.failedCycle();
      await w.card(true);
      await w.fault('processing');
      const sentAt = w.now();
      const outcome = await charge(w, s.subscriptionId, s.orderId);
      afterCall();
      assert.equal(outcome.outcome, 'pending');
      await w.settle();
      const look = await run(w.activities.confirmCharge, {
        subscriptionId: s.subscriptionId,
        orderId: s.orderId,
        sentAt,
        orderBefore: outcome.orderBefore,
      });
      assert.equal(look.status, 'paid');
    });

    void it('a charge whose window has closed is not sent', async () => {
      const w = world();
      const s = await w.failedCycle();
      await w.card(true);
      const outcome = await charge(w, s.subscriptionId, s.orderId, w.now() - 1);
      assert.equal(outcome.outcome, 'not_sent');
      assert.equal(await w.manualCharges(s.subscriptionId), 0);
    });
  });
}

let t: TestEmulator;
let emulator: World | undefined;

/** The real QFPay activities against the shared emulator, on its clock. */
function emulatorActivities(): QfpayActivities {
  const client = new QfpayClient({ baseUrl: t.emulator.url, appCode: TEST_APP_CODE, appKey: TEST_APP_KEY });
  return createQfpayActivities({ client, timeOffset: '+08:00', now: () => t.emulator.clock.now() });
}

void describe('QFPay activities: one contract for the real ones and the double', () => {
  before(async () => {
    t = await startTestEmulator({ retryFractions: [] });
    emulator = await emulatorWorld(t);
  });
  after(async () => {
    await t?.close();
  });

  scenarios('the real activities against the emulator over HTTP', () => {
    if (!emulator) throw new Error('not started');
    return emulator;
  });
  scenarios('the in-memory double', doubleWorld);

  void describe('the billing schedule a sync states', () => {
    const plans: [string, Record<string, string | number>, number][] = [
      ['monthly, from the 31st of a month', { interval: 'monthly', interval_count: 1 }, 14],
      ['every 2 months', { interval: 'monthly', interval_count: 2 }, 7],
      ['yearly, from February 29th', { interval: 'yearly', interval_count: 1 }, 5],
      ['every 90 minutes (the sandbox units)', { interval: 'minutes', interval_count: 90 }, 10],
    ];
    for (const [name, product, cycles] of plans) {
      void it(`is the one the emulator bills on: ${name}`, async () => {
        const activities = emulatorActivities();
        // The first billing on a month end (a leap day for the yearly plan), in QFPay's region time.
        const now = t.emulator.clock.now();
        const year = new Date(now).getUTCFullYear() + 1;
        const local = name.startsWith('yearly')
          ? Date.UTC(2028 + 4 * Math.max(0, Math.ceil((year - 2028) / 4)), 1, 29, 9)
          : Date.UTC(year, 0, 31, 9);
        const start = local - 8 * 3_600_000;
        const s = await t.client.subscribe({
          product,
          subscription: { start_time: formatQfpayNaiveTime(start) },
        });
        await t.emulator.advance({ ms: start - now + 1_000 });
        for (let cycle = 1; cycle <= cycles; cycle += 1) {
          const before = await run(activities.syncSubscription, s.subscriptionId);
          assert.ok(before.found);
          const { schedule, nextBillingTime, state } = before.fact.remote;
          assert.equal(state, 'ACTIVE', `cycle ${cycle}`);
          assert.ok(
            schedule && nextBillingTime !== undefined,
            `cycle ${cycle}: a schedule and a next billing time`,
          );
          assert.equal(schedule.anchor, start);
          const reckoned = billingAfter(schedule, nextBillingTime);
          await t.emulator.advance({ ms: nextBillingTime - t.emulator.clock.now() + 1_000 });
          const after = await run(activities.syncSubscription, s.subscriptionId);
          assert.ok(after.found);
          assert.equal(after.fact.remote.completedCycles, cycle + 1, `cycle ${cycle + 1} was billed`);
          assert.equal(
            after.fact.remote.nextBillingTime,
            reckoned,
            `cycle ${cycle + 1}: QFPay's next billing ${new Date(after.fact.remote.nextBillingTime ?? 0).toISOString()}`,
          );
        }
      });
    }
  });

  void describe('order pages', () => {
    void it('a sync of a plan with more than 1,000 orders sees its newest order', async () => {
      const s = await t.client.subscribe({ product: { interval: 'minutes', interval_count: 1 } });
      await t.emulator.advance({ ms: 1_030 * 60_000 });
      const activities = emulatorActivities();
      const adopted = await run(activities.syncSubscription, s.subscriptionId);
      assert.ok(adopted.found);
      const newest = adopted.fact.remote.completedCycles;
      assert.ok(newest > 1_000, `${newest} cycles`);
      assert.equal(adopted.fact.orders?.[0]?.sequenceNo, newest, 'the newest order first');
      const since = await run(activities.syncSubscription, s.subscriptionId, { sinceSequence: newest - 2 });
      assert.ok(since.found);
      assert.deepEqual(
        since.fact.orders?.map((o) => o.sequenceNo),
        [newest, newest - 1, newest - 2],
      );
    });
  });
});
