/**
 * The merchant routes beyond creation, against a real Temporal dev server, a real worker and the
 * QFPay emulator over HTTP (sending its signed notifications to the API's webhook): customers and
 * products (read, list, update, delete), a subscription's orders with every attempt, its schedule
 * checked against the emulator's own billing, the plan change, and the merchant's pause.
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Express } from 'express';
import request from 'supertest';
import {
  CustomerListSchema,
  CustomerSchema,
  DeletedSchema,
  ErrorResponseSchema,
  OrderListSchema,
  ProductListSchema,
  ProductSchema,
  ScheduleSchema,
  SubscriptionViewSchema,
  type OrderListResponse,
} from '../../src/api/schemas';
import type { QfpayClient } from '../../src/gateways/qfpay/client';
import type { QfpayEmulatorHandle } from '../../src/gateways/qfpay/emulator/server';
import { auth, useApiEngine } from '../helpers/api-engine';
import { EmulatorTestClient } from '../helpers/emulator-client';
import { eventually } from '../helpers/stack';
import { nonSnakeKeys } from '../helpers/json-keys';

/** QFPay reports times to the second. */
const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);

void describe('merchant routes on a real Temporal dev server and the QFPay emulator', () => {
  const engine = useApiEngine('api-merchant-routes');
  let app: Express;
  let qfpay: QfpayClient;
  let qfpayEmulator: QfpayEmulatorHandle;

  let server: Server | undefined;
  let emulator: EmulatorTestClient;

  before(async () => {
    ({ app, qfpay, qfpayEmulator } = engine);
    emulator = new EmulatorTestClient(qfpayEmulator.url);
    // QFPay's notifications reach the API's webhook over HTTP, as in production.
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    qfpayEmulator.setNotifyUrl(`http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/qfpay`);
  });
  after(async () => {
    qfpayEmulator?.setNotifyUrl(undefined);
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  /** A subscription created through the API for a new customer with an approving card. */
  async function subscribe(product: { amount?: number; quantity?: number } = {}) {
    const customer = await qfpay.createCustomer({ name: 'Subscriber' });
    const tokenId = await emulator.createToken(customer.customer_id, '5200000000001096');
    const productId = await createProduct(`Monthly ${Date.now()}`, product.amount ?? 4900);
    const res = await request(app)
      .post('/v1/subscriptions')
      .set(auth)
      .set('Idempotency-Key', `sub-${productId}`)
      .send({
        customer_id: customer.customer_id,
        product_id: productId,
        token_id: tokenId,
        ...(product.quantity === undefined ? {} : { quantity: product.quantity }),
      });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const subscriptionId = (res.body as { result: { subscription_id: string } }).result.subscription_id;
    return { subscriptionId, tokenId, productId, customerId: customer.customer_id };
  }

  /** Moves the emulator's clock to the subscription's next billing time (QFPay bills it). */
  async function billNext(subscriptionId: string): Promise<void> {
    const truth = await emulator.inspect(subscriptionId);
    assert.ok(truth.next_billing_time, `${subscriptionId} has a next billing time`);
    await emulator.advance({ to: truth.next_billing_time });
  }

  async function view(subscriptionId: string) {
    const res = await request(app).get(`/v1/subscriptions/${subscriptionId}`).set(auth);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return SubscriptionViewSchema.parse(res.body);
  }

  async function createProduct(name: string, amount = 4900) {
    const res = await request(app)
      .post('/v1/products')
      .set(auth)
      .send({ name, amount, currency: 'HKD', interval: 'monthly', interval_count: 1 });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return ProductSchema.parse(res.body).product_id;
  }

  void describe('customers', () => {
    void it('lists customers page by page, reads, updates and deletes one', async () => {
      const email = `ada-${Date.now()}@example.com`;
      const ids: string[] = [];
      for (const name of ['Ada', 'Ada', 'Ada']) {
        const res = await request(app).post('/v1/customers').set(auth).send({ name, email });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        ids.push(CustomerSchema.parse(res.body).customer_id);
      }

      // QFPay pages by number; the API by an opaque cursor, until next_cursor is null.
      const pages: string[][] = [];
      for (let cursor: string | null = ''; cursor !== null;) {
        const res: request.Response = await request(app)
          .get(`/v1/customers?email=${encodeURIComponent(email)}&limit=2${cursor ? `&cursor=${cursor}` : ''}`)
          .set(auth);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.deepEqual(Object.keys(res.body).sort(), ['data', 'next_cursor']);
        const body = CustomerListSchema.parse(res.body);
        pages.push(body.data.map((c) => c.customer_id));
        cursor = body.next_cursor;
      }
      assert.deepEqual(
        pages.map((p) => p.length),
        [2, 1],
      );
      assert.deepEqual(pages.flat().sort(), [...ids].sort());

      const updated = await request(app)
        .patch(`/v1/customers/${ids[0]}`)
        .set(auth)
        .send({ name: 'Ada Lovelace', phone: '+852 5555 0101' });
      assert.equal(updated.status, 200, JSON.stringify(updated.body));
      assert.equal(CustomerSchema.parse(updated.body).name, 'Ada Lovelace');
      // QFPay itself has the change.
      const atQfpay = await qfpay.queryCustomers({ customer_id: ids[0] });
      assert.equal(atQfpay.items[0]?.name, 'Ada Lovelace');
      assert.equal(atQfpay.items[0]?.phone, '+852 5555 0101');

      const read = await request(app).get(`/v1/customers/${ids[0]}`).set(auth);
      assert.equal(read.status, 200);
      assert.deepEqual(CustomerSchema.parse(read.body), {
        customer_id: ids[0],
        name: 'Ada Lovelace',
        email,
        phone: '+852 5555 0101',
        metadata: {},
      });

      const deleted = await request(app).delete(`/v1/customers/${ids[2]}`).set(auth);
      assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
      assert.deepEqual(DeletedSchema.parse(deleted.body), { id: ids[2], deleted: true });
      const gone = await request(app).get(`/v1/customers/${ids[2]}`).set(auth);
      assert.equal(gone.status, 404);
      assert.equal(ErrorResponseSchema.parse(gone.body).error.code, 'not_found');
    });

    void it('answers 400 naming the field for a bad change, 404 for an unknown customer', async () => {
      const empty = await request(app).patch('/v1/customers/cust_nobody0000').set(auth).send({});
      assert.equal(empty.status, 400);
      const badEmail = await request(app)
        .patch('/v1/customers/cust_nobody0000')
        .set(auth)
        .send({ email: 'x' });
      assert.equal(badEmail.status, 400);
      assert.equal(ErrorResponseSchema.parse(badEmail.body).error.details?.[0]?.path, 'email');
      const badPage = await request(app).get('/v1/customers?limit=1000').set(auth);
      assert.equal(badPage.status, 400);
      assert.equal(ErrorResponseSchema.parse(badPage.body).error.details?.[0]?.path, 'limit');
      const badCursor = await request(app).get('/v1/customers?cursor=AAAAAAAAAAAAAAAAAAAAAAAA').set(auth);
      assert.equal(badCursor.status, 400);
      assert.equal(ErrorResponseSchema.parse(badCursor.body).error.details?.[0]?.path, 'cursor');
      const unknown = await request(app).patch('/v1/customers/cust_nobody0000').set(auth).send({ name: 'N' });
      assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
      const unknownDelete = await request(app).delete('/v1/customers/cust_nobody0000').set(auth);
      assert.equal(unknownDelete.status, 404);
    });
  });

  void describe('products', () => {
    void it('lists products, renames one, deletes an unused one and refuses (409) to delete one in use', async () => {
      const name = `Plan ${Date.now()}`;
      const unused = await createProduct(name);
      const used = await createProduct(name, 9900);

      const listed = await request(app)
        .get(`/v1/products?name=${encodeURIComponent(name)}&currency=hkd`)
        .set(auth);
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      assert.deepEqual(Object.keys(listed.body).sort(), ['data', 'next_cursor']);
      const list = ProductListSchema.parse(listed.body);
      assert.deepEqual(list.data.map((p) => p.product_id).sort(), [unused, used].sort());
      assert.equal(list.next_cursor, null);
      assert.equal(list.data.find((p) => p.product_id === used)?.amount, 9900);

      const renamed = await request(app)
        .patch(`/v1/products/${used}`)
        .set(auth)
        .send({ name: `${name} (gold)`, description: 'Gold tier' });
      assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
      const read = ProductSchema.parse((await request(app).get(`/v1/products/${used}`).set(auth)).body);
      assert.equal(read.name, `${name} (gold)`);
      assert.equal(read.description, 'Gold tier');
      assert.equal(read.amount, 9900);

      // A subscription at QFPay bills `used`.
      const customer = await qfpay.createCustomer({ name: 'Subscriber' });
      const tokenId = await new EmulatorTestClient(qfpayEmulator.url).createToken(
        customer.customer_id,
        '5200000000001096',
      );
      await qfpay.createSubscription({
        customer_id: customer.customer_id,
        token_id: tokenId,
        products: [{ product_id: used, quantity: 1 }],
      });
      const refused = await request(app).delete(`/v1/products/${used}`).set(auth);
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.match(ErrorResponseSchema.parse(refused.body).error.message, /used by subscription/);

      const deleted = await request(app).delete(`/v1/products/${unused}`).set(auth);
      assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
      const gone = await request(app).get(`/v1/products/${unused}`).set(auth);
      assert.equal(gone.status, 404);
      const still = await request(app).get(`/v1/products/${used}`).set(auth);
      assert.equal(still.status, 200);
    });

    void it('refuses a price change (QFPay fixes it) and an empty change with 400', async () => {
      const id = await createProduct(`Fixed ${Date.now()}`);
      const price = await request(app).patch(`/v1/products/${id}`).set(auth).send({ amount: 1 });
      assert.equal(price.status, 400);
      const empty = await request(app).patch(`/v1/products/${id}`).set(auth).send({});
      assert.equal(empty.status, 400);
    });
  });

  void describe('subscriptions', () => {
    void it('pages through 30 orders newest first, each with every attempt as the emulator made them', async () => {
      const { subscriptionId, tokenId } = await subscribe();
      for (let cycle = 2; cycle <= 30; cycle += 1) {
        if (cycle === 5) await emulator.setCharges(tokenId, 'decline', '1205');
        await billNext(subscriptionId);
        if (cycle === 5) {
          // The engine learns the failure from the notifications, then charges by hand.
          await emulator.setCharges(tokenId, 'approve');
          await eventually('PAST_DUE seen by the engine', async () =>
            (await view(subscriptionId)).state === 'PAST_DUE' ? true : undefined,
          );
          const charged = await request(app)
            .post(`/v1/subscriptions/${subscriptionId}/charge`)
            .set(auth)
            .send({});
          assert.equal(charged.status, 200, JSON.stringify(charged.body));
        }
      }
      const truth = await emulator.inspect(subscriptionId);
      assert.equal(truth.orders.length, 30);

      const pages: OrderListResponse[] = [];
      await eventually(
        'every attempt reported',
        async () => {
          pages.length = 0;
          for (let cursor: string | null = ''; cursor !== null;) {
            const res: request.Response = await request(app)
              .get(`/v1/subscriptions/${subscriptionId}/orders?limit=12${cursor ? `&cursor=${cursor}` : ''}`)
              .set(auth);
            assert.equal(res.status, 200, JSON.stringify(res.body));
            assert.deepEqual(Object.keys(res.body).sort(), ['data', 'next_cursor']);
            assert.deepEqual(nonSnakeKeys(res.body), []);
            const body = OrderListSchema.parse(res.body);
            pages.push(body);
            cursor = body.next_cursor;
          }
          const orders = pages.flatMap((p) => p.data);
          const attempts = orders.reduce((n, o) => n + o.attempts.length, 0);
          const expected = truth.orders.reduce((n, o) => n + o.attempts.length, 0);
          return attempts === expected ? true : undefined;
        },
        60_000,
      );
      assert.deepEqual(
        pages.map((p) => p.data.length),
        [12, 12, 6],
      );
      const orders = pages.flatMap((p) => p.data);
      assert.deepEqual(
        orders.map((o) => o.sequence_no),
        Array.from({ length: 30 }, (_, i) => 30 - i),
      );
      for (const order of orders) {
        const real = truth.orders.find((o) => o.subscription_order_id === order.order_id)!;
        assert.equal(order.status, real.status);
        assert.equal(seconds(order.billing_time!), seconds(real.billing_time));
        assert.deepEqual(
          order.attempts.map((a) => [seconds(a.at), a.trigger_by, a.respcd, a.amount, a.syssn]),
          real.attempts.map((a) => [seconds(a.at), a.trigger, a.respcd, a.txamt, a.syssn]),
          `attempts of ${order.order_id}`,
        );
      }
      const fifth = orders.find((o) => o.sequence_no === 5)!;
      assert.ok(fifth.attempts.length >= 2);
      assert.equal(fifth.attempts[0]?.trigger_by, 'auto');
      assert.equal(fifth.attempts[0]?.succeeded, false);
      assert.equal(fifth.attempts.at(-1)?.trigger_by, 'manual');
      assert.equal(fifth.attempts.at(-1)?.succeeded, true);

      const missing = await request(app).get('/v1/subscriptions/sub_unknown0000000000/orders').set(auth);
      assert.equal(missing.status, 404);
    });

    void it('previews the next billings as QFPay then bills them (calendar months from the anchor)', async () => {
      const { subscriptionId } = await subscribe({ amount: 2500, quantity: 2 });
      const res = await request(app).get(`/v1/subscriptions/${subscriptionId}/schedule?count=6`).set(auth);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const schedule = ScheduleSchema.parse(res.body);
      assert.equal(schedule.billings.length, 6);
      assert.deepEqual(
        schedule.billings.map((b) => [b.cycle, b.amount, b.currency]),
        [2, 3, 4, 5, 6, 7].map((cycle) => [cycle, 5000, 'HKD']),
      );
      assert.equal(schedule.dunning, null);
      for (let i = 0; i < 6; i += 1) await billNext(subscriptionId);
      const truth = await emulator.inspect(subscriptionId);
      assert.deepEqual(
        truth.orders.slice(1, 7).map((o) => seconds(o.billing_time)),
        schedule.billings.map((b) => seconds(b.at)),
      );
      const tooMany = await request(app)
        .get(`/v1/subscriptions/${subscriptionId}/schedule?count=37`)
        .set(auth);
      assert.equal(tooMany.status, 400);
    });

    void it('changes the quantity from the next cycle: the current order, even charged again, keeps its amount', async () => {
      const { subscriptionId, tokenId, productId } = await subscribe({ amount: 1000 });
      await emulator.setCharges(tokenId, 'decline', '1205');
      await billNext(subscriptionId);
      await eventually('PAST_DUE seen by the engine', async () =>
        (await view(subscriptionId)).state === 'PAST_DUE' ? true : undefined,
      );
      const changed = await request(app)
        .post(`/v1/subscriptions/${subscriptionId}/products`)
        .set(auth)
        .send({ products: [{ product_id: productId, quantity: 3 }] });
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
      assert.deepEqual(SubscriptionViewSchema.parse(changed.body).product_ids, [productId]);
      const [row] = (await qfpay.querySubscriptions({ subscription_id: subscriptionId })).items;
      assert.deepEqual(row?.products, [{ product_id: productId, quantity: 3 }]);

      await emulator.setCharges(tokenId, 'approve');
      const charged = await request(app)
        .post(`/v1/subscriptions/${subscriptionId}/charge`)
        .set(auth)
        .send({});
      assert.equal(charged.status, 200, JSON.stringify(charged.body));
      await billNext(subscriptionId);
      const truth = await emulator.inspect(subscriptionId);
      const [first, second, third] = truth.orders;
      assert.equal(first?.attempts.at(-1)?.txamt, 1000);
      assert.equal(second?.status, 'PAID');
      assert.ok(
        second?.attempts.every((a) => a.txamt === 1000),
        'the failed cycle keeps its amount',
      );
      assert.equal(third?.attempts[0]?.txamt, 3000);

      const bad = await request(app)
        .post(`/v1/subscriptions/${subscriptionId}/products`)
        .set(auth)
        .send({ products: [{ product_id: productId, quantity: 0 }] });
      assert.equal(bad.status, 400);
      await request(app).post(`/v1/subscriptions/${subscriptionId}/cancel`).set(auth).send({}).expect(200);
      const ended = await request(app)
        .post(`/v1/subscriptions/${subscriptionId}/products`)
        .set(auth)
        .send({ products: [{ product_id: productId, quantity: 1 }] });
      assert.equal(ended.status, 409, JSON.stringify(ended.body));
    });

    void it('refuses (409) a plan in another currency than the subscription’s; QFPay keeps the plan', async () => {
      const { subscriptionId, productId } = await subscribe();
      const usd = await qfpay.createProduct({
        name: `Monthly USD ${Date.now()}`,
        type: 'recurring',
        txamt: 4900,
        txcurrcd: 'USD',
        interval: 'monthly',
        interval_count: 1,
      });
      const refused = await request(app)
        .post(`/v1/subscriptions/${subscriptionId}/products`)
        .set(auth)
        .send({ products: [{ product_id: usd.product_id, quantity: 1 }] });
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      const body = ErrorResponseSchema.parse(refused.body);
      assert.equal(body.error.code, 'conflict');
      assert.match(body.error.message, /HKD/);
      assert.match(body.error.message, /USD/);
      assert.deepEqual(
        body.error.details?.map((d) => d.path),
        ['products.0.product_id'],
      );
      const [row] = (await qfpay.querySubscriptions({ subscription_id: subscriptionId })).items;
      assert.deepEqual(row?.products, [{ product_id: productId, quantity: 1 }]);
      assert.deepEqual((await view(subscriptionId)).product_ids, [productId]);
    });

    void it('refuses a pause (QFPay cannot), and holds the engine’s dunning: no manual charge while held, 409 for a release with no hold, until ends it', async () => {
      const { subscriptionId, tokenId } = await subscribe();
      const notHeld = await request(app)
        .post(`/v1/subscriptions/${subscriptionId}/dunning/release`)
        .set(auth);
      assert.equal(notHeld.status, 409);
      assert.match(ErrorResponseSchema.parse(notHeld.body).error.message, /not held/);

      await emulator.setCharges(tokenId, 'decline', '1205');
      await billNext(subscriptionId);
      await eventually('PAST_DUE seen by the engine', async () =>
        (await view(subscriptionId)).state === 'PAST_DUE' ? true : undefined,
      );
      // QFPay would go on charging the card: the pause is refused, and says what to do instead.
      const paused = await request(app).post(`/v1/subscriptions/${subscriptionId}/pause`).set(auth).send({});
      assert.equal(paused.status, 409, JSON.stringify(paused.body));
      assert.match(
        ErrorResponseSchema.parse(paused.body).error.message,
        /cannot pause billing.*dunning\/hold/s,
      );

      const held = await request(app)
        .post(`/v1/subscriptions/${subscriptionId}/dunning/hold`)
        .set(auth)
        .send({});
      assert.equal(held.status, 200, JSON.stringify(held.body));
      const heldView = SubscriptionViewSchema.parse(held.body);
      assert.equal(heldView.billing_pause, null, 'QFPay goes on billing');
      assert.equal(heldView.dunning_hold?.by, 'merchant');
      assert.equal(heldView.dunning_hold?.until, null);
      assert.deepEqual(heldView.dunning.episode?.schedule ?? [], []);

      const refused = await request(app)
        .post(`/v1/subscriptions/${subscriptionId}/charge`)
        .set(auth)
        .send({});
      assert.equal(refused.status, 409);
      assert.match(ErrorResponseSchema.parse(refused.body).error.message, /paused/);
      const schedule = ScheduleSchema.parse(
        (await request(app).get(`/v1/subscriptions/${subscriptionId}/schedule`).set(auth)).body,
      );
      assert.equal(schedule.billing_paused, true);

      const released = await request(app)
        .post(`/v1/subscriptions/${subscriptionId}/dunning/release`)
        .set(auth);
      assert.equal(released.status, 200, JSON.stringify(released.body));
      assert.equal(SubscriptionViewSchema.parse(released.body).dunning_hold, null);

      const past = await request(app)
        .post(`/v1/subscriptions/${subscriptionId}/dunning/hold`)
        .set(auth)
        .send({ until: new Date(Date.now() - 60_000).toISOString() });
      assert.equal(past.status, 400);
      assert.equal(ErrorResponseSchema.parse(past.body).error.details?.[0]?.path, 'until');

      const until = new Date(Date.now() + 2_000).toISOString();
      const timed = await request(app)
        .post(`/v1/subscriptions/${subscriptionId}/dunning/hold`)
        .set(auth)
        .send({ until });
      assert.equal(timed.status, 200, JSON.stringify(timed.body));
      assert.equal(SubscriptionViewSchema.parse(timed.body).dunning_hold?.until, until);
      // The workflow's durable timer ends the hold.
      await eventually('the hold ended at until', async () =>
        (await view(subscriptionId)).dunning_hold === null ? true : undefined,
      );
    });
  });
});
