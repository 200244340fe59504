/**
 * A merchant's day through the engine's HTTP API alone, every part real (the API listening on a
 * port, a worker, the QFPay emulator sending signed notifications), on the time-skipping test
 * server so that a dunning hold's `until` passes without waiting: list and update a customer, list
 * products and delete an unused one, page through a subscription's 30 orders, change its
 * quantity, be refused a pause (QFPay cannot pause), hold and release its dunning (the second hold
 * ends by itself at `until`), and read its
 * next 6 billing times. The emulator's own record is the reference for what QFPay did.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CustomerListSchema,
  CustomerSchema,
  OrderListSchema,
  ProductListSchema,
  ProductSchema,
  ScheduleSchema,
  SubscriptionViewSchema,
} from '../../src/api/schemas';
import { emulatorStartMs } from '../helpers/emulator-start';
import { eventually, startStack, type Stack } from '../helpers/stack';
import { HOUR } from '../../src/domain/duration';

/** QFPay reports times to the second. */
const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);

let stack: Stack;
before(async () => {
  const startTime = emulatorStartMs();
  stack = await startStack(startTime === undefined ? {} : { startTime }, {}, { timeSkipping: true });
});
after(async () => {
  await stack?.close();
});

interface Truth {
  state: string;
  next_billing_time: string | null;
  orders: { sequence_no: number; billing_time: string; attempts: { txamt: number }[] }[];
}

void describe('the merchant API end to end (time-skipping server)', () => {
  void it('does everything a merchant reaches for, through the API alone', async () => {
    const api = stack.api;
    const stamp = Date.now();

    // 1. Customers: create two, list them, update one.
    const email = `merchant-${stamp}@example.com`;
    const customers: string[] = [];
    for (const name of ['Ada', 'Grace']) {
      const res = await api('POST', '/v1/customers', { name, email });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      customers.push(CustomerSchema.parse(res.body).customer_id);
    }
    const listed = await api('GET', `/v1/customers?email=${encodeURIComponent(email)}`);
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.deepEqual(
      CustomerListSchema.parse(listed.body)
        .data.map((c) => c.customer_id)
        .sort(),
      [...customers].sort(),
    );
    const customerId = customers[0]!;
    const updated = await api('PATCH', `/v1/customers/${customerId}`, { name: 'Ada Lovelace' });
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    assert.equal(
      CustomerSchema.parse((await api('GET', `/v1/customers/${customerId}`)).body).name,
      'Ada Lovelace',
    );

    // 2. Products: create two, list them, delete the unused one.
    const productName = `Plan ${stamp}`;
    const products: string[] = [];
    for (const amount of [3000, 9900]) {
      const res = await api('POST', '/v1/products', {
        name: productName,
        amount,
        currency: 'HKD',
        interval: 'monthly',
        interval_count: 1,
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      products.push(ProductSchema.parse(res.body).product_id);
    }
    const [used, unused] = products as [string, string];
    const productList = ProductListSchema.parse(
      (await api('GET', `/v1/products?name=${encodeURIComponent(productName)}`)).body,
    );
    assert.deepEqual(productList.data.map((p) => p.product_id).sort(), [...products].sort());
    assert.equal((await api('DELETE', `/v1/products/${unused}`)).status, 200);
    assert.equal((await api('GET', `/v1/products/${unused}`)).status, 404);

    // A card (QFPay's Payment Element makes it in the browser; the emulator's API here).
    const token = await stack.emulator('POST', '/_emulator/tokens', {
      customer_id: customerId,
      card_number: '5200000000001096',
    });
    const created = await api(
      'POST',
      '/v1/subscriptions',
      { customer_id: customerId, product_id: used, token_id: token.token_id },
      { 'Idempotency-Key': `e2e-merchant-${stamp}` },
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const subscriptionId: string = created.body.result.subscription_id;
    const truth = (): Promise<Truth> => stack.emulator('GET', `/_emulator/subscriptions/${subscriptionId}`);
    const view = async () =>
      SubscriptionViewSchema.parse((await api('GET', `/v1/subscriptions/${subscriptionId}`)).body);

    // 3. 29 more months billed by QFPay; page through the 30 orders, newest first.
    for (let cycle = 2; cycle <= 30; cycle += 1) {
      await stack.emulator('POST', '/_emulator/clock/advance', { to: (await truth()).next_billing_time });
    }
    const seen: number[] = [];
    for (let cursor: string | null = ''; cursor !== null;) {
      const res = await api(
        'GET',
        `/v1/subscriptions/${subscriptionId}/orders?limit=10${cursor ? `&cursor=${cursor}` : ''}`,
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const body = OrderListSchema.parse(res.body);
      assert.ok(body.data.length <= 10);
      for (const order of body.data) assert.ok(order.attempts.length >= 1, `attempts of ${order.order_id}`);
      seen.push(...body.data.map((o) => o.sequence_no));
      cursor = body.next_cursor;
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 30 }, (_, i) => 30 - i),
    );

    // 4. Quantity 1 → 2: the next cycle bills twice the price.
    const changed = await api('POST', `/v1/subscriptions/${subscriptionId}/products`, {
      products: [{ product_id: used, quantity: 2 }],
    });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    await stack.emulator('POST', '/_emulator/clock/advance', { to: (await truth()).next_billing_time });
    const afterChange = await truth();
    assert.equal(afterChange.orders.at(-1)?.attempts[0]?.txamt, 6000);
    assert.equal(afterChange.orders.at(-2)?.attempts[0]?.txamt, 3000);

    // 5. A pause: QFPay cannot pause (it would go on charging the card), so it is refused and says
    // what to do instead; nothing changes, no event. The engine's own dunning hold works: by hand,
    // then one that ends by itself at `until`.
    const paused = await api('POST', `/v1/subscriptions/${subscriptionId}/pause`, {});
    assert.equal(paused.status, 409, JSON.stringify(paused.body));
    assert.match(paused.body.error.message, /qfpay cannot pause billing: it would go on charging the card/);
    assert.match(paused.body.error.message, /dunning\/hold/);
    assert.equal((await view()).billing_pause, null);
    assert.equal((await api('POST', `/v1/subscriptions/${subscriptionId}/resume`)).status, 409);

    const held = await api('POST', `/v1/subscriptions/${subscriptionId}/dunning/hold`, {});
    assert.equal(held.status, 200, JSON.stringify(held.body));
    const heldView = SubscriptionViewSchema.parse(held.body);
    assert.equal(heldView.dunning_hold?.by, 'merchant');
    assert.equal(heldView.billing_pause, null, 'billing is not paused: QFPay goes on billing');
    const released = await api('POST', `/v1/subscriptions/${subscriptionId}/dunning/release`);
    assert.equal(released.status, 200, JSON.stringify(released.body));
    assert.equal(SubscriptionViewSchema.parse(released.body).dunning_hold, null);

    const until = new Date(Date.now() + 6 * HOUR).toISOString();
    const timed = await api('POST', `/v1/subscriptions/${subscriptionId}/dunning/hold`, { until });
    assert.equal(timed.status, 200, JSON.stringify(timed.body));
    assert.equal(SubscriptionViewSchema.parse(timed.body).dunning_hold?.until, until);
    // Workflow time jumps past `until`; the workflow's durable timer ends the hold.
    await stack.env.sleep(7 * HOUR);
    await eventually('the hold ended at until', async () =>
      (await view()).dunning_hold === null ? true : undefined,
    );

    // 6. The next 6 billing times, at the price times the new quantity.
    const scheduled = await api('GET', `/v1/subscriptions/${subscriptionId}/schedule?count=6`);
    assert.equal(scheduled.status, 200, JSON.stringify(scheduled.body));
    const schedule = ScheduleSchema.parse(scheduled.body);
    assert.equal(schedule.billings.length, 6);
    assert.ok(schedule.billings.every((b) => b.amount === 6000 && b.currency === 'HKD'));
    assert.equal(seconds(schedule.billings[0]!.at), seconds((await truth()).next_billing_time!));
    // QFPay bills them as previewed.
    for (let i = 0; i < 6; i += 1) {
      await stack.emulator('POST', '/_emulator/clock/advance', { to: (await truth()).next_billing_time });
    }
    const billed = (await truth()).orders.slice(-6);
    assert.deepEqual(
      billed.map((o) => seconds(o.billing_time)),
      schedule.billings.map((b) => seconds(b.at)),
    );
  });
});
