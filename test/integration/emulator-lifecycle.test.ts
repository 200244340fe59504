import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  DAY,
  HOUR,
  MINUTE,
  useTestEmulator,
  TEST_START,
  type EmulatorTestClient,
  type TestEmulator,
  startTestEmulator,
} from '../helpers/emulator-client';

const iso = (ms: number) => new Date(ms).toISOString();
/** 2025-02-15 10:00 HKT: one month after TEST_START. */
const FEB_15 = Date.parse('2025-02-15T02:00:00Z');
const MONTH_1 = FEB_15 - TEST_START;

/** A customer with a token that declines (so the first charge fails), a product, and their ids. */
async function decliningSetup(client: EmulatorTestClient, respcd?: string) {
  const customerId = await client.createCustomer();
  const tokenId = await client.createToken(customerId);
  await client.setCharges(tokenId, 'decline', respcd);
  const productId = await client.createProduct();
  return { customerId, tokenId, productId };
}

describe('emulator subscription lifecycle', () => {
  const t = useTestEmulator();

  describe('first payment', () => {
    it('charges at once when created without start_time: ACTIVE, payment then state notified', async () => {
      const { subscriptionId, state } = await t.client.subscribe();
      assert.equal(state, 'ACTIVE');
      await t.emulator.settle();
      const types = t.receiver.payloads(undefined, subscriptionId).map((p) => p.notify_type);
      assert.deepEqual(types, ['subscription_payment', 'subscription']);
      assert.deepEqual(t.receiver.states(subscriptionId), ['ACTIVE']);
      const truth = await t.client.inspect(subscriptionId);
      assert.equal(truth.orders[0]?.attempts[0]?.at, iso(TEST_START));
      assert.equal(truth.next_billing_time, iso(FEB_15));
    });

    it('charges at once when start_time is in the past', async () => {
      const { state, subscriptionId } = await t.client.subscribe({
        subscription: { start_time: '2024-12-01 10:00:00' },
      });
      assert.equal(state, 'ACTIVE');
      assert.equal((await t.client.inspect(subscriptionId)).next_billing_time, iso(FEB_15));
    });

    it('is COMPLETED at once when total_billing_cycles is 1', async () => {
      const { state, subscriptionId } = await t.client.subscribe({
        subscription: { total_billing_cycles: 1 },
      });
      assert.equal(state, 'COMPLETED');
      await t.client.advance({ ms: 90 * DAY });
      assert.equal((await t.client.inspect(subscriptionId)).orders.length, 1);
      assert.deepEqual(t.receiver.states(subscriptionId), ['COMPLETED']);
    });

    it('is INCOMPLETE when the first payment is declined', async () => {
      const { customerId, tokenId, productId } = await decliningSetup(t.client);
      const created = await t.client.ok<{ subscription_id: string; state: string }>(
        '/subscription/v1/create',
        {
          customer_id: customerId,
          token_id: tokenId,
          products: [{ product_id: productId }],
        },
      );
      assert.equal(created.state, 'INCOMPLETE');
      await t.emulator.settle();
      const payment = t.receiver.payloads('subscription_payment', created.subscription_id)[0];
      assert.equal(payment?.respcd, '1205');
      assert.equal('card_scheme' in (payment ?? {}), false);
      assert.deepEqual(t.receiver.states(created.subscription_id), ['INCOMPLETE']);
      // No QFPay retries for a first payment.
      await t.client.advance({ ms: MONTH_1 - 1 });
      assert.equal((await t.client.inspect(created.subscription_id)).orders[0]?.attempts.length, 1);
    });

    it('expires INCOMPLETE at the next billing time without charging again: INCOMPLETE_EXPIRED', async () => {
      const { customerId, tokenId, productId } = await decliningSetup(t.client);
      const { subscription_id: id } = await t.client.ok<{ subscription_id: string }>(
        '/subscription/v1/create',
        {
          customer_id: customerId,
          token_id: tokenId,
          products: [{ product_id: productId }],
        },
      );
      await t.client.setCharges(tokenId, 'approve');
      await t.client.advance({ ms: MONTH_1 - 1 });
      assert.equal((await t.client.queryRow(id)).state, 'INCOMPLETE');
      await t.client.advance({ ms: 1 });
      const truth = await t.client.inspect(id);
      assert.equal(truth.state, 'INCOMPLETE_EXPIRED');
      assert.equal(truth.orders.length, 1);
      assert.equal(truth.next_billing_time, null);
      assert.equal(truth.history.at(-1)?.at, iso(FEB_15));
      assert.deepEqual(t.receiver.states(id), ['INCOMPLETE', 'INCOMPLETE_EXPIRED']);
      await t.client.advance({ ms: 365 * DAY });
      assert.equal((await t.client.inspect(id)).orders.length, 1);
    });
  });

  describe('trial', () => {
    it('is TRIAL until start_time, then takes the first payment: ACTIVE', async () => {
      const { subscriptionId, state } = await t.client.subscribe({
        subscription: { start_time: '2025-01-22 10:00:00' },
      });
      assert.equal(state, 'TRIAL');
      const row = await t.client.queryRow(subscriptionId);
      assert.equal(row.next_billing_time, '2025-01-22T02:00:00Z');
      assert.equal(row.start_time, '2025-01-22T02:00:00Z');
      assert.equal(row.completed_billing_iteration, 0);
      await t.client.advance({ ms: 7 * DAY - 1 });
      assert.equal((await t.client.inspect(subscriptionId)).orders.length, 0);
      await t.client.advance({ ms: 1 });
      const truth = await t.client.inspect(subscriptionId);
      assert.equal(truth.state, 'ACTIVE');
      assert.equal(truth.orders[0]?.attempts[0]?.at, iso(TEST_START + 7 * DAY));
      assert.equal(truth.next_billing_time, iso(Date.parse('2025-02-22T02:00:00Z')));
      assert.deepEqual(t.receiver.states(subscriptionId), ['TRIAL', 'ACTIVE']);
    });

    it('goes from TRIAL to INCOMPLETE when the first payment is declined at trial end', async () => {
      const { subscriptionId, tokenId } = await t.client.subscribe({
        subscription: { start_time: '2025-01-22 10:00:00' },
      });
      await t.client.setCharges(tokenId, 'decline');
      await t.client.advance({ ms: 7 * DAY });
      assert.equal((await t.client.inspect(subscriptionId)).state, 'INCOMPLETE');
      assert.deepEqual(t.receiver.states(subscriptionId), ['TRIAL', 'INCOMPLETE']);
    });

    it('moves the trial end with an update of start_time', async () => {
      const { subscriptionId } = await t.client.subscribe({
        subscription: { start_time: '2025-01-22 10:00:00' },
      });
      await t.client.ok('/subscription/v1/update', {
        subscription_id: subscriptionId,
        start_time: '2025-01-16 10:00:00',
      });
      await t.client.advance({ ms: DAY });
      const truth = await t.client.inspect(subscriptionId);
      assert.equal(truth.state, 'ACTIVE');
      assert.equal(truth.orders[0]?.attempts[0]?.at, iso(TEST_START + DAY));
    });
  });

  describe('recurring billing', () => {
    it('charges every cycle while ACTIVE, notifying the payment but no state change', async () => {
      const { subscriptionId } = await t.client.subscribe();
      await t.client.advance({ ms: MONTH_1 });
      const truth = await t.client.inspect(subscriptionId);
      assert.equal(truth.state, 'ACTIVE');
      assert.equal(truth.orders[1]?.status, 'PAID');
      assert.equal(truth.orders[1]?.attempts[0]?.at, iso(FEB_15));
      assert.deepEqual(t.receiver.states(subscriptionId), ['ACTIVE']);
      const payments = t.receiver.payloads('subscription_payment', subscriptionId);
      assert.deepEqual(
        payments.map((p) => p.current_iteration),
        ['1', '2'],
      );
    });

    it('bills a year of a monthly plan in one advance, in order, on the calendar day', async () => {
      const { subscriptionId } = await t.client.subscribe();
      const result = await t.client.advance({ to: '2026-01-15T02:00:00Z' });
      assert.equal(result.now, '2026-01-15T02:00:00.000Z');
      const truth = await t.client.inspect(subscriptionId);
      assert.equal(truth.orders.length, 13);
      assert.equal(truth.completed_billing_iteration, 13);
      truth.orders.forEach((order, i) => {
        assert.equal(order.sequence_no, i + 1);
        assert.equal(
          order.subscription_order_id,
          `sub_ord_${subscriptionId.slice(4)}_${String(i + 1).padStart(4, '0')}`,
        );
        assert.equal(order.attempts.length, 1);
        assert.equal(order.attempts[0]?.at, iso(Date.UTC(2025, i, 15, 2)));
      });
      assert.equal(truth.next_billing_time, '2026-02-15T02:00:00.000Z');
      const iterations = t.receiver
        .payloads('subscription_payment', subscriptionId)
        .map((p) => p.current_iteration);
      assert.deepEqual(
        iterations,
        Array.from({ length: 13 }, (_, i) => String(i + 1)),
      );
    });

    it("bills a minutes plan (as QFPay's sandbox does) every interval_count minutes", async () => {
      const { subscriptionId } = await t.client.subscribe({
        product: { interval: 'minutes', interval_count: 5 },
      });
      await t.client.advance({ ms: HOUR });
      const truth = await t.client.inspect(subscriptionId);
      assert.equal(truth.orders.length, 13);
      assert.equal(truth.orders[12]?.attempts[0]?.at, iso(TEST_START + HOUR));
    });

    it('is COMPLETED when the paid cycles reach total_billing_cycles, and bills no more', async () => {
      const { subscriptionId } = await t.client.subscribe({ subscription: { total_billing_cycles: 3 } });
      await t.client.advance({ ms: 365 * DAY });
      const truth = await t.client.inspect(subscriptionId);
      assert.equal(truth.state, 'COMPLETED');
      assert.equal(truth.orders.length, 3);
      assert.equal(truth.next_billing_time, null);
      assert.equal(truth.history.at(-1)?.at, iso(Date.UTC(2025, 2, 15, 2)));
      assert.deepEqual(t.receiver.states(subscriptionId), ['ACTIVE', 'COMPLETED']);
    });
  });

  describe('failed recurring payments', () => {
    it('goes PAST_DUE on a failed cycle, retries at 1/10 and 2/10 of the interval, then UNPAID', async () => {
      const { subscriptionId, tokenId } = await t.client.subscribe({
        product: { interval: 'hours', interval_count: 10 },
      });
      await t.client.setCharges(tokenId, 'decline', '1294');
      await t.client.advance({ ms: 10 * HOUR });
      let truth = await t.client.inspect(subscriptionId);
      assert.equal(truth.state, 'PAST_DUE');
      assert.equal(truth.pending_retry?.at, iso(TEST_START + 11 * HOUR));
      await t.client.advance({ ms: HOUR });
      truth = await t.client.inspect(subscriptionId);
      assert.equal(truth.state, 'PAST_DUE');
      assert.equal(truth.retry_attempts, 1);
      await t.client.advance({ ms: HOUR });
      truth = await t.client.inspect(subscriptionId);
      assert.equal(truth.state, 'UNPAID');
      assert.equal(truth.retry_attempts, 2);
      assert.equal(truth.pending_retry, null);
      const attempts = truth.orders[1]?.attempts ?? [];
      assert.deepEqual(
        attempts.map((a) => [a.at, a.kind, a.trigger, a.respcd]),
        [
          [iso(TEST_START + 10 * HOUR), 'cycle', 'auto', '1294'],
          [iso(TEST_START + 11 * HOUR), 'retry', 'auto', '1294'],
          [iso(TEST_START + 12 * HOUR), 'retry', 'auto', '1294'],
        ],
      );
      const row = await t.client.queryRow(subscriptionId);
      assert.equal(row.last_billing_status, 'FAILED');
      assert.equal(row.retry_attempts, 2);
      assert.deepEqual(t.receiver.states(subscriptionId), ['ACTIVE', 'PAST_DUE', 'UNPAID']);
      // No further QFPay retry before the next cycle.
      await t.client.advance({ ms: 8 * HOUR - 1 });
      assert.equal((await t.client.inspect(subscriptionId)).orders[1]?.attempts.length, 3);
    });

    it('goes back to ACTIVE when a QFPay retry succeeds', async () => {
      const { subscriptionId, tokenId } = await t.client.subscribe({
        product: { interval: 'hours', interval_count: 10 },
      });
      await t.client.setCharges(tokenId, 'decline');
      await t.client.advance({ ms: 10 * HOUR });
      await t.client.setCharges(tokenId, 'approve');
      await t.client.advance({ ms: HOUR });
      const truth = await t.client.inspect(subscriptionId);
      assert.equal(truth.state, 'ACTIVE');
      assert.equal(truth.orders[1]?.status, 'PAID');
      assert.equal(truth.pending_retry, null);
      assert.deepEqual(t.receiver.states(subscriptionId), ['ACTIVE', 'PAST_DUE', 'ACTIVE']);
    });

    it('goes from UNPAID to ACTIVE when the next cycle is paid; the older order stays FAILED', async () => {
      const { subscriptionId, tokenId } = await t.client.subscribe();
      await t.client.setCharges(tokenId, 'decline');
      await t.client.advance({ ms: MONTH_1 + 10 * DAY });
      assert.equal((await t.client.inspect(subscriptionId)).state, 'UNPAID');
      await t.client.setCharges(tokenId, 'approve');
      await t.client.advance({ to: '2025-03-15T02:00:00Z' });
      const truth = await t.client.inspect(subscriptionId);
      assert.equal(truth.state, 'ACTIVE');
      assert.deepEqual(
        truth.orders.map((o) => o.status),
        ['PAID', 'FAILED', 'PAID'],
      );
      assert.equal(truth.completed_billing_iteration, 2);
      assert.deepEqual(t.receiver.states(subscriptionId), ['ACTIVE', 'PAST_DUE', 'UNPAID', 'ACTIVE']);
    });

    it('goes from UNPAID back to PAST_DUE when the next cycle fails too', async () => {
      const { subscriptionId, tokenId } = await t.client.subscribe();
      await t.client.setCharges(tokenId, 'decline');
      await t.client.advance({ to: '2025-03-15T02:00:00Z' });
      const truth = await t.client.inspect(subscriptionId);
      assert.equal(truth.state, 'PAST_DUE');
      assert.equal(truth.orders.length, 3);
      assert.equal(truth.pending_retry?.subscription_order_id, truth.orders[2]?.subscription_order_id);
    });

    it('completes only after total_billing_cycles payments succeed, billing past a failed cycle', async () => {
      const { subscriptionId, tokenId } = await t.client.subscribe({
        subscription: { total_billing_cycles: 2 },
      });
      await t.client.setCharges(tokenId, 'decline');
      await t.client.advance({ ms: MONTH_1 + 10 * DAY });
      assert.equal((await t.client.inspect(subscriptionId)).state, 'UNPAID');
      await t.client.setCharges(tokenId, 'approve');
      await t.client.advance({ to: '2025-03-15T02:00:00Z' });
      const truth = await t.client.inspect(subscriptionId);
      assert.equal(truth.state, 'COMPLETED');
      assert.deepEqual(
        truth.orders.map((o) => o.status),
        ['PAID', 'FAILED', 'PAID'],
      );
    });
  });

  describe('pause and resume (emulator-only)', () => {
    it('bills nothing while PAUSED and bills again after resume', async () => {
      const { subscriptionId } = await t.client.subscribe();
      const paused = await t.client.control<{ state: string }>(
        'POST',
        `/subscriptions/${subscriptionId}/pause`,
      );
      assert.equal(paused.body.state, 'PAUSED');
      await t.client.advance({ to: '2025-03-20T02:00:00Z' });
      let truth = await t.client.inspect(subscriptionId);
      assert.equal(truth.orders.length, 1);
      assert.equal(truth.next_billing_time, '2025-04-15T02:00:00.000Z');
      const resumed = await t.client.control<{ state: string }>(
        'POST',
        `/subscriptions/${subscriptionId}/resume`,
      );
      assert.equal(resumed.body.state, 'ACTIVE');
      await t.client.advance({ to: '2025-04-15T02:00:00Z' });
      truth = await t.client.inspect(subscriptionId);
      assert.equal(truth.orders.length, 2);
      assert.equal(truth.orders[1]?.billing_time, '2025-04-15T02:00:00.000Z');
      assert.deepEqual(t.receiver.states(subscriptionId), ['ACTIVE', 'PAUSED', 'ACTIVE']);
    });

    it('refuses to pause what is not ACTIVE or resume what is not PAUSED (409), and unknown ids (404)', async () => {
      const { subscriptionId } = await t.client.subscribe();
      assert.equal((await t.client.control('POST', `/subscriptions/${subscriptionId}/resume`)).status, 409);
      await t.client.ok('/subscription/v1/cancel', { subscription_id: subscriptionId });
      assert.equal((await t.client.control('POST', `/subscriptions/${subscriptionId}/pause`)).status, 409);
      assert.equal((await t.client.control('POST', '/subscriptions/sub_nope/pause')).status, 404);
    });
  });

  describe('cancel', () => {
    /** Puts a new subscription in `state`. */
    async function subscriptionIn(state: string): Promise<string> {
      const hourly = { product: { interval: 'hours', interval_count: 10 } };
      switch (state) {
        case 'TRIAL':
          return (
            await t.client.subscribe({ ...hourly, subscription: { start_time: '2025-02-01 10:00:00' } })
          ).subscriptionId;
        case 'INCOMPLETE': {
          const { customerId, tokenId, productId } = await decliningSetup(t.client);
          return (
            await t.client.ok<{ subscription_id: string }>('/subscription/v1/create', {
              customer_id: customerId,
              token_id: tokenId,
              products: [{ product_id: productId }],
            })
          ).subscription_id;
        }
        case 'ACTIVE':
          return (await t.client.subscribe(hourly)).subscriptionId;
        case 'PAUSED': {
          const { subscriptionId } = await t.client.subscribe(hourly);
          await t.client.control('POST', `/subscriptions/${subscriptionId}/pause`);
          return subscriptionId;
        }
        default: {
          const { subscriptionId, tokenId } = await t.client.subscribe(hourly);
          await t.client.setCharges(tokenId, 'decline');
          await t.client.advance({ ms: state === 'PAST_DUE' ? 10 * HOUR : 12 * HOUR });
          return subscriptionId;
        }
      }
    }

    for (const state of ['TRIAL', 'INCOMPLETE', 'ACTIVE', 'PAST_DUE', 'UNPAID', 'PAUSED']) {
      it(`cancels from ${state}: CANCELLED, and nothing is charged afterwards`, async () => {
        const id = await subscriptionIn(state);
        assert.equal((await t.client.inspect(id)).state, state);
        const before = (await t.client.inspect(id)).orders.reduce((n, o) => n + o.attempts.length, 0);
        const cancelled = await t.client.ok<{ state: string }>('/subscription/v1/cancel', {
          subscription_id: id,
        });
        assert.equal(cancelled.state, 'CANCELLED');
        await t.client.advance({ ms: 400 * DAY });
        const truth = await t.client.inspect(id);
        assert.equal(truth.state, 'CANCELLED');
        assert.equal(
          truth.orders.reduce((n, o) => n + o.attempts.length, 0),
          before,
        );
        assert.equal(t.receiver.states(id).at(-1), 'CANCELLED');
      });
    }

    it('answers 1104 when cancelling a subscription that has already ended', async () => {
      const completed = await t.client.subscribe({ subscription: { total_billing_cycles: 1 } });
      const active = await t.client.subscribe();
      await t.client.ok('/subscription/v1/cancel', { subscription_id: active.subscriptionId });
      const { customerId, tokenId, productId } = await decliningSetup(t.client);
      const incomplete = await t.client.ok<{ subscription_id: string }>('/subscription/v1/create', {
        customer_id: customerId,
        token_id: tokenId,
        products: [{ product_id: productId }],
      });
      await t.client.advance({ ms: MONTH_1 });
      for (const id of [completed.subscriptionId, active.subscriptionId, incomplete.subscription_id]) {
        const { body } = await t.client.call('/subscription/v1/cancel', { subscription_id: id });
        assert.equal(body.respcd, '1104');
      }
      assert.equal((await t.client.inspect(incomplete.subscription_id)).state, 'INCOMPLETE_EXPIRED');
    });
  });

  it('records the state history with times and reasons', async () => {
    const { subscriptionId } = await t.client.subscribe();
    await t.client.advance({ ms: 5 * MINUTE });
    await t.client.ok('/subscription/v1/cancel', { subscription_id: subscriptionId });
    const truth = await t.client.inspect(subscriptionId);
    assert.deepEqual(
      truth.history.map((h) => [h.at, h.from, h.to]),
      [
        [iso(TEST_START), null, 'ACTIVE'],
        [iso(TEST_START + 5 * MINUTE), 'ACTIVE', 'CANCELLED'],
      ],
    );
  });
});

describe('emulator without QFPay retries', () => {
  let t: TestEmulator;
  before(async () => {
    t = await startTestEmulator({ retryFractions: [] });
  });
  after(async () => {
    await t.close();
  });

  it('stays PAST_DUE until the next cycle, and a paid next cycle makes it ACTIVE', async () => {
    const { subscriptionId, tokenId } = await t.client.subscribe();
    await t.client.setCharges(tokenId, 'decline');
    await t.client.advance({ ms: MONTH_1 + 20 * DAY });
    let truth = await t.client.inspect(subscriptionId);
    assert.equal(truth.state, 'PAST_DUE');
    assert.equal(truth.orders[1]?.attempts.length, 1);
    await t.client.setCharges(tokenId, 'approve');
    await t.client.advance({ to: '2025-03-15T02:00:00Z' });
    truth = await t.client.inspect(subscriptionId);
    assert.equal(truth.state, 'ACTIVE');
    assert.deepEqual(t.receiver.states(subscriptionId), ['ACTIVE', 'PAST_DUE', 'ACTIVE']);
  });
});
