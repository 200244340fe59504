import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DAY, HOUR, useTestEmulator } from '../helpers/emulator-client';

const iso = (ms: number) => new Date(ms).toISOString();
const FEB_15 = Date.parse('2025-02-15T02:00:00Z');
const MAR_15 = Date.parse('2025-03-15T02:00:00Z');

interface ChargeData {
  subscription_id: string;
  subscription_order_id: string;
  respcd: string;
  state: string;
  syssn?: string;
  txamt?: number;
}

describe('emulator manual charge (/subscription/v1/charge)', () => {
  const t = useTestEmulator();

  /** A monthly subscription whose 2nd cycle failed and whose QFPay retries are exhausted: UNPAID. */
  async function unpaid() {
    const s = await t.client.subscribe();
    await t.client.setCharges(s.tokenId, 'decline');
    await t.client.advance({ to: iso(FEB_15 + 10 * DAY) });
    assert.equal((await t.client.inspect(s.subscriptionId)).state, 'UNPAID');
    return s;
  }

  const charge = (subscriptionId: string, orderId?: string) =>
    t.client.call<ChargeData>('/subscription/v1/charge', {
      subscription_id: subscriptionId,
      ...(orderId !== undefined && { subscription_order_id: orderId }),
    });

  it('pays the latest failed order before the next billing time: order PAID, state ACTIVE', async () => {
    const { subscriptionId, tokenId } = await unpaid();
    await t.client.setCharges(tokenId, 'approve');
    const { status, body } = await charge(subscriptionId);
    assert.equal(status, 200);
    assert.equal(body.respcd, '0000');
    assert.equal(body.data.subscription_order_id, `sub_ord_${subscriptionId.slice(4)}_0002`);
    assert.equal(body.data.respcd, '0000');
    assert.equal(body.data.state, 'ACTIVE');
    assert.equal(body.data.txamt, 300);
    const truth = await t.client.inspect(subscriptionId);
    assert.equal(truth.state, 'ACTIVE');
    assert.equal(truth.orders[1]?.status, 'PAID');
    assert.equal(truth.orders[1]?.trigger_by, 'manual');
    assert.deepEqual(truth.orders[1]?.attempts.at(-1), {
      at: iso(FEB_15 + 10 * DAY),
      trigger: 'manual',
      kind: 'manual',
      approved: true,
      respcd: '0000',
      respmsg: 'success',
      syssn: truth.orders[1]?.attempts.at(-1)?.syssn,
      txamt: 300,
      txcurrcd: 'HKD',
    });
    const list = await t.client.ok<Record<string, unknown>[]>('/subscription/billing_order/v1/list', {
      subscription_id: subscriptionId,
    });
    assert.equal(list[1]?.trigger_by, 'manual');
    assert.equal(list[1]?.status, 'PAID');
    await t.emulator.settle();
    assert.deepEqual(t.receiver.states(subscriptionId), ['ACTIVE', 'PAST_DUE', 'UNPAID', 'ACTIVE']);
    // The plan goes on: the next cycle is billed as usual.
    await t.client.advance({ to: iso(MAR_15) });
    assert.equal((await t.client.inspect(subscriptionId)).orders[2]?.status, 'PAID');
  });

  it('pays a PAST_DUE order and cancels QFPay’s pending retries', async () => {
    const { subscriptionId, tokenId } = await t.client.subscribe({
      product: { interval: 'hours', interval_count: 10 },
    });
    await t.client.setCharges(tokenId, 'decline');
    await t.client.advance({ ms: 10 * HOUR });
    await t.client.setCharges(tokenId, 'approve');
    const { body } = await charge(subscriptionId);
    assert.equal(body.data.state, 'ACTIVE');
    await t.client.advance({ ms: 9 * HOUR });
    const truth = await t.client.inspect(subscriptionId);
    assert.deepEqual(
      truth.orders[1]?.attempts.map((a) => a.kind),
      ['cycle', 'manual'],
    );
    assert.equal(truth.pending_retry, null);
  });

  it('pays an INCOMPLETE first order: ACTIVE (COMPLETED when it was the only cycle)', async () => {
    for (const [total, expected] of [
      [undefined, 'ACTIVE'],
      [1, 'COMPLETED'],
    ] as const) {
      const customerId = await t.client.createCustomer();
      const tokenId = await t.client.createToken(customerId);
      await t.client.setCharges(tokenId, 'decline');
      const productId = await t.client.createProduct();
      const created = await t.client.ok<{ subscription_id: string; state: string }>(
        '/subscription/v1/create',
        {
          customer_id: customerId,
          token_id: tokenId,
          products: [{ product_id: productId }],
          total_billing_cycles: total,
        },
      );
      assert.equal(created.state, 'INCOMPLETE');
      await t.client.setCharges(tokenId, 'approve');
      const { body } = await charge(created.subscription_id);
      assert.equal(body.data.state, expected);
    }
  });

  it('cancels the plan when the payment succeeds at or after the order’s next billing time', async () => {
    const { subscriptionId, tokenId } = await unpaid();
    const failedOrder = `sub_ord_${subscriptionId.slice(4)}_0002`;
    // The third cycle, at 15 March, fails too; the second order's deadline has passed.
    await t.client.advance({ to: iso(MAR_15) });
    assert.equal((await t.client.inspect(subscriptionId)).state, 'PAST_DUE');
    await t.client.setCharges(tokenId, 'approve');
    const { body } = await charge(subscriptionId, failedOrder);
    assert.equal(body.respcd, '0000');
    assert.equal(body.data.subscription_order_id, failedOrder);
    assert.equal(body.data.state, 'CANCELLED');
    const truth = await t.client.inspect(subscriptionId);
    assert.equal(truth.state, 'CANCELLED');
    assert.equal(truth.orders[1]?.status, 'PAID');
    assert.equal(truth.orders[1]?.attempts.at(-1)?.at, iso(MAR_15));
    assert.equal(truth.orders[1]?.deadline, iso(MAR_15));
    await t.emulator.settle();
    assert.equal(t.receiver.states(subscriptionId).at(-1), 'CANCELLED');
  });

  it('keeps the state when the manual payment fails, and records the attempt', async () => {
    const { subscriptionId } = await unpaid();
    const { status, body } = await charge(subscriptionId);
    assert.equal(status, 200);
    assert.equal(body.respcd, '1205');
    assert.equal(body.data.respcd, '1205');
    assert.equal(body.data.state, 'UNPAID');
    const truth = await t.client.inspect(subscriptionId);
    assert.equal(truth.state, 'UNPAID');
    assert.equal(truth.orders[1]?.status, 'FAILED');
    assert.deepEqual(
      truth.orders[1]?.attempts.map((a) => [a.trigger, a.respcd]),
      [
        ['auto', '1205'],
        ['auto', '1205'],
        ['auto', '1205'],
        ['manual', '1205'],
      ],
    );
    await t.emulator.settle();
    const payments = t.receiver.payloads('subscription_payment', subscriptionId);
    assert.equal(payments.at(-1)?.respcd, '1205');
    assert.deepEqual(t.receiver.states(subscriptionId), ['ACTIVE', 'PAST_DUE', 'UNPAID']);
  });

  it('answers 1104 where a manual charge is not allowed, without charging', async () => {
    const active = await t.client.subscribe();
    assert.equal((await charge(active.subscriptionId)).body.respcd, '1104');
    const trial = await t.client.subscribe({ subscription: { start_time: '2025-02-01 10:00:00' } });
    assert.equal((await charge(trial.subscriptionId)).body.respcd, '1104');
    const completed = await t.client.subscribe({ subscription: { total_billing_cycles: 1 } });
    assert.equal((await charge(completed.subscriptionId)).body.respcd, '1104');
    const { subscriptionId } = await unpaid();
    const paidOrder = `sub_ord_${subscriptionId.slice(4)}_0001`;
    assert.equal((await charge(subscriptionId, paidOrder)).body.respcd, '1104');
    assert.equal((await charge(subscriptionId)).body.respcd, '1205');
    for (const id of [active.subscriptionId, trial.subscriptionId, completed.subscriptionId]) {
      assert.ok(
        (await t.client.inspect(id)).orders.every((o) => o.attempts.every((a) => a.trigger === 'auto')),
      );
    }
    assert.equal((await t.client.call('/subscription/v1/charge', {})).body.respcd, '1104');
  });

  it('logs every charge attempt with its time, trigger and result', async () => {
    const { subscriptionId, tokenId } = await unpaid();
    await t.client.setCharges(tokenId, 'approve');
    await charge(subscriptionId);
    const log = await t.client.control<{ data: Record<string, unknown>[] }>(
      'GET',
      `/charges?subscription_id=${subscriptionId}`,
    );
    assert.deepEqual(
      log.body.data.map((c) => [c.sequence_no, c.trigger, c.kind, c.approved]),
      [
        [1, 'auto', 'cycle', true],
        [2, 'auto', 'cycle', false],
        [2, 'auto', 'retry', false],
        [2, 'auto', 'retry', false],
        [2, 'manual', 'manual', true],
      ],
    );
    const times = log.body.data.map((c) => Date.parse(String(c.at)));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
    );
  });
});
