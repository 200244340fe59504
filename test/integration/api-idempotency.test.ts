/**
 * Idempotency-Key on every create, against a real Temporal dev server, a real worker and the QFPay
 * emulator: the same key returns the same customer, product or subscription whichever of the
 * merchant's API keys sends it (keys belong to the merchant, `MERCHANT_ID`), a different body with
 * the same key is 422, QFPay holds one record per key, and another merchant's same key is its own.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, it } from 'node:test';
import type { Express } from 'express';
import request from 'supertest';
import { buildApp } from '../../src/api/app';
import { CreationSchema, CustomerSchema, ErrorResponseSchema, ProductSchema } from '../../src/api/schemas';
import { loadConfig } from '../../src/config';
import { useApiEngine } from '../helpers/api-engine';
import { EmulatorTestClient } from '../helpers/emulator-client';

const KEY_A = 'merchant-key-a';
const KEY_B = 'merchant-key-b';
const as = (key: string) => ({ Authorization: `Bearer ${key}` });

void describe('Idempotency-Key on every create', () => {
  const engine = useApiEngine('api-idempotency');
  let app: Express;
  let otherMerchant: Express;

  before(() => {
    const build = (merchantId: string) =>
      buildApp({
        config: loadConfig({
          NODE_ENV: 'test',
          LOG_LEVEL: 'silent',
          API_KEYS: `${KEY_A},${KEY_B}`,
          MERCHANT_ID: merchantId,
          TEMPORAL_TASK_QUEUE: engine.config.TEMPORAL_TASK_QUEUE,
          QFPAY_BASE_URL: engine.config.QFPAY_BASE_URL,
          QFPAY_APP_KEY: engine.config.QFPAY_APP_KEY,
        }),
        temporal: engine.env.client,
        qfpay: engine.qfpay,
        logger: engine.logger,
      });
    app = build('merchant-one');
    otherMerchant = build('merchant-two');
  });

  void it('customers: the same key gives the same customer from either API key; QFPay has one', async () => {
    const key = `cust-${randomUUID()}`;
    const email = `${randomUUID()}@example.com`;
    const body = { name: 'Ada Lovelace', email, billing_address: { city: 'London' } };
    const first = await request(app)
      .post('/v1/customers')
      .set(as(KEY_A))
      .set('Idempotency-Key', key)
      .send(body);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const created = CustomerSchema.parse(first.body);
    assert.deepEqual(
      { ...created, customer_id: undefined },
      { ...body, customer_id: undefined, metadata: {} },
    );

    const retry = await request(app)
      .post('/v1/customers')
      .set(as(KEY_B))
      .set('Idempotency-Key', key)
      .send(body);
    assert.equal(retry.status, 200);
    assert.equal(retry.headers['idempotent-replayed'], 'true');
    assert.equal(CustomerSchema.parse(retry.body).customer_id, created.customer_id);

    const atQfpay = await engine.qfpay.queryCustomers({ email, page: 1, page_size: 10 });
    assert.equal(atQfpay.items.length, 1, 'one customer at QFPay');

    const changed = await request(app)
      .post('/v1/customers')
      .set(as(KEY_A))
      .set('Idempotency-Key', key)
      .send({ ...body, name: 'Someone Else' });
    assert.equal(changed.status, 422);
    assert.equal(ErrorResponseSchema.parse(changed.body).error.code, 'idempotency_mismatch');

    const elsewhere = await request(otherMerchant)
      .post('/v1/customers')
      .set(as(KEY_A))
      .set('Idempotency-Key', key)
      .send({ ...body, name: 'Someone Else' });
    assert.equal(elsewhere.status, 201, "another merchant's key space");
  });

  void it('products: the same key gives the same product; a different body is 422', async () => {
    const key = `prod-${randomUUID()}`;
    const body = {
      name: `Plan ${randomUUID()}`,
      amount: 1200,
      currency: 'HKD',
      interval: 'monthly',
      interval_count: 1,
    };
    const first = await request(app)
      .post('/v1/products')
      .set(as(KEY_A))
      .set('Idempotency-Key', key)
      .send(body);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const retry = await request(app)
      .post('/v1/products')
      .set(as(KEY_B))
      .set('Idempotency-Key', key)
      .send(body);
    assert.equal(retry.status, 200);
    assert.equal(ProductSchema.parse(retry.body).product_id, ProductSchema.parse(first.body).product_id);
    const changed = await request(app)
      .post('/v1/products')
      .set(as(KEY_A))
      .set('Idempotency-Key', key)
      .send({ ...body, amount: 1300 });
    assert.equal(changed.status, 422);
  });

  void it('subscriptions: a key is the merchant’s, so a second API key retrying it gets the same subscription', async () => {
    const customer = await engine.qfpay.createCustomer({ name: 'Grace Hopper' });
    const tokenId = await new EmulatorTestClient(engine.qfpayEmulator.url).createToken(
      customer.customer_id,
      '5200000000001096',
    );
    const body = {
      customer_id: customer.customer_id,
      product: {
        name: `Gold ${randomUUID()}`,
        amount: 990,
        currency: 'HKD',
        interval: 'monthly',
        interval_count: 1,
      },
      token_id: tokenId,
    };
    const key = `sub-${randomUUID()}`;
    const first = await request(app)
      .post('/v1/subscriptions')
      .set(as(KEY_A))
      .set('Idempotency-Key', key)
      .send(body);
    assert.ok([201, 202].includes(first.status), JSON.stringify(first.body));
    const retry = await request(app)
      .post('/v1/subscriptions')
      .set(as(KEY_B))
      .set('Idempotency-Key', key)
      .send(body);
    const replayed = CreationSchema.parse(retry.body);
    assert.equal(replayed.replayed, true);
    const status = await request(app)
      .get(`/v1/subscriptions/creations/${encodeURIComponent(key)}`)
      .set(as(KEY_B));
    assert.equal(status.status, 200);
    const unknown = await request(otherMerchant)
      .get(`/v1/subscriptions/creations/${encodeURIComponent(key)}`)
      .set(as(KEY_A));
    assert.equal(unknown.status, 404, "another merchant does not see this merchant's creation");
  });
});
