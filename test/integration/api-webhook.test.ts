/**
 * The webhook receiver against a real Temporal dev server, a real worker running the engine's
 * workflows and activities, and the QFPay emulator: a signed notification is answered `SUCCESS`
 * only once its workflow has it, duplicates are harmless, a subscription the engine never created
 * is adopted, and an unreachable Temporal makes the receiver (and readiness) answer 503.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Express } from 'express';
import request from 'supertest';
import { appMetrics, buildApp } from '../../src/api/app';
import {
  ErrorResponseSchema,
  SubscriptionViewSchema,
  type SubscriptionViewResponse,
} from '../../src/api/schemas';
import type { Config } from '../../src/config';
import type { QfpayClient } from '../../src/gateways/qfpay/client';
import { signNotification } from '../../src/gateways/qfpay/signing';
import { formatQfpayNaiveTime } from '../../src/gateways/qfpay/time';
import type { QfpayEmulatorHandle } from '../../src/gateways/qfpay/emulator/server';
import { WORKFLOW_TYPES, subscriptionWorkflowId } from '../../src/workflows/definitions';
import { APP_KEY, auth, useApiEngine } from '../helpers/api-engine';
import { freePort } from '../../src/dev/free-ports';
import { eventually } from '../helpers/stack';
import { EmulatorTestClient } from '../helpers/emulator-client';

interface EmulatorOrder {
  subscription_order_id: string;
  sequence_no: number;
  status: string;
  txamt: number;
  txcurrcd: string;
  paid_at: string | null;
  attempts: Array<{ syssn: string | null }>;
}

/** Creates a customer, a monthly product, a card token and a subscription at the emulator. */
async function emulatorSubscription(qfpayEmulator: QfpayEmulatorHandle, qfpay: QfpayClient) {
  const customer = await qfpay.createCustomer({ name: 'Ada Lovelace', email: 'ada@example.com' });
  const product = await qfpay.createProduct({
    name: 'Gold',
    type: 'recurring',
    txamt: 9900,
    txcurrcd: 'HKD',
    interval: 'monthly',
    interval_count: 1,
  });
  const tokenId = await new EmulatorTestClient(qfpayEmulator.url).createToken(
    customer.customer_id,
    '4000000000001091',
  );
  const created = await qfpay.createSubscription({
    customer_id: customer.customer_id,
    token_id: tokenId,
    products: [{ product_id: product.product_id }],
  });
  const view = (await (
    await fetch(`${qfpayEmulator.url}/_emulator/subscriptions/${created.subscription_id}`)
  ).json()) as {
    orders: EmulatorOrder[];
    state: string;
  };
  return {
    subscriptionId: created.subscription_id,
    customerId: customer.customer_id,
    orders: view.orders,
    state: view.state,
  };
}

/** The `subscription_payment` notification QFPay would send for an order. */
function paymentNotification(subscriptionId: string, customerId: string, order: EmulatorOrder): string {
  return JSON.stringify({
    notify_type: 'subscription_payment',
    subscription_id: subscriptionId,
    subscription_order_id: order.subscription_order_id,
    respcd: order.status === 'PAID' ? '0000' : '1205',
    respmsg: 'success',
    syssn: order.attempts.at(-1)?.syssn ?? '20250131120000020000000001',
    txdtm: formatQfpayNaiveTime(order.paid_at ? Date.parse(order.paid_at) : Date.now(), '+08:00'),
    txamt: String(order.txamt),
    txcurrcd: order.txcurrcd,
    customer_id: customerId,
    current_iteration: String(order.sequence_no),
  });
}

function postSigned(app: Express, body: string) {
  return request(app)
    .post('/webhooks/qfpay')
    .set('content-type', 'application/json')
    .set('X-QF-SIGN', signNotification(body, APP_KEY))
    .send(body);
}

async function subscriptionView(app: Express, subscriptionId: string): Promise<SubscriptionViewResponse> {
  const res = await request(app).get(`/v1/subscriptions/${subscriptionId}`).set(auth);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return SubscriptionViewSchema.parse(res.body);
}

void describe('QFPay webhook on a real Temporal dev server', () => {
  const engine = useApiEngine('api-webhook');
  let env: TestWorkflowEnvironment;
  let qfpayEmulator: QfpayEmulatorHandle;
  let config: Config;
  let qfpay: QfpayClient;
  let app: Express;
  let deadConnection: Connection;
  let deadApp: Express;

  before(async () => {
    ({ env, qfpayEmulator, config, qfpay, app } = engine);

    // The same API, but its Temporal is a port nobody listens on.
    deadConnection = Connection.lazy({ address: `127.0.0.1:${await freePort()}` });
    deadApp = buildApp({
      config,
      temporal: new Client({ connection: deadConnection }),
      qfpay,
      logger: engine.logger,
      timeouts: { temporalMs: 500, readinessMs: 300 },
    });
  });

  after(async () => {
    await deadConnection?.close();
  });

  void it('answers SUCCESS to a signed subscription_payment, and its workflow shows the payment', async () => {
    const sub = await emulatorSubscription(qfpayEmulator, qfpay);
    const order = sub.orders[0];
    assert.ok(
      order && order.status === 'PAID',
      `the emulator charged the first order: ${JSON.stringify(sub.orders)}`,
    );

    const res = await postSigned(app, paymentNotification(sub.subscriptionId, sub.customerId, order));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, 'SUCCESS');

    const description = await env.client.workflow
      .getHandle(subscriptionWorkflowId(sub.subscriptionId))
      .describe();
    assert.equal(description.type, WORKFLOW_TYPES.subscription);
    assert.equal(description.taskQueue, config.TEMPORAL_TASK_QUEUE);

    const view = await eventually('the payment in the subscription view', async () => {
      const v = await subscriptionView(app, sub.subscriptionId);
      return v.recent_orders.some((o) => o.order_id === order.subscription_order_id && o.status === 'PAID')
        ? v
        : undefined;
    });
    assert.equal(view.workflow_id, subscriptionWorkflowId(sub.subscriptionId));
    assert.equal(view.origin, 'adopted');
    assert.equal(appMetrics(app).webhookCount('subscription_payment', 'accepted'), 1);
  });

  void it('answers SUCCESS to the same notification twice and keeps one order', async () => {
    const sub = await emulatorSubscription(qfpayEmulator, qfpay);
    const order = sub.orders[0];
    assert.ok(order);
    const body = paymentNotification(sub.subscriptionId, sub.customerId, order);

    const first = await postSigned(app, body);
    const second = await postSigned(app, body);
    assert.equal(first.text, 'SUCCESS');
    assert.equal(second.status, 200);
    assert.equal(second.text, 'SUCCESS');

    const view = await eventually('the payment in the subscription view', async () => {
      const v = await subscriptionView(app, sub.subscriptionId);
      return v.recent_orders.some((o) => o.order_id === order.subscription_order_id) ? v : undefined;
    });
    const orders = view.recent_orders.filter((o) => o.order_id === order.subscription_order_id);
    assert.equal(orders.length, 1);
    assert.equal(orders[0]?.status, 'PAID');
    assert.equal(orders[0]?.failures, 0);
  });

  void it('adopts a subscription the engine never created: a state notification starts its workflow, which learns the rest from QFPay', async () => {
    const sub = await emulatorSubscription(qfpayEmulator, qfpay);
    const handle = env.client.workflow.getHandle(subscriptionWorkflowId(sub.subscriptionId));
    await assert.rejects(handle.describe(), /not found/i);

    const body = JSON.stringify({
      notify_type: 'subscription',
      subscription_id: sub.subscriptionId,
      state: sub.state,
      sysdtm: formatQfpayNaiveTime(Date.now() - 1_000, '+08:00'),
    });
    const res = await postSigned(app, body);
    assert.equal(res.text, 'SUCCESS');

    const view = await eventually('the adopted subscription synced with QFPay', async () => {
      const v = await subscriptionView(app, sub.subscriptionId);
      return v.customer_id === sub.customerId ? v : undefined;
    });
    assert.equal(view.origin, 'adopted');
    assert.equal(view.state, sub.state);
    assert.equal((await handle.describe()).status.name, 'RUNNING');
  });

  void it('answers 503 (not SUCCESS) when Temporal is unreachable, so QFPay retries', async () => {
    const body = JSON.stringify({
      notify_type: 'subscription',
      subscription_id: 'sub_00000000000000000000000000000001',
      state: 'ACTIVE',
      sysdtm: '2025-01-31 12:00:00',
    });
    const res = await postSigned(deadApp, body);
    assert.equal(res.status, 503, res.text);
    assert.equal(ErrorResponseSchema.parse(res.body).error.code, 'temporal_unavailable');
    assert.equal(appMetrics(deadApp).webhookCount('subscription', 'temporal_unavailable'), 1);
  });

  void it('is ready while Temporal answers, and answers 503 on /readyz when it does not', async () => {
    const ready = await request(app).get('/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ready', temporal: 'ok' });
    const notReady = await request(deadApp).get('/readyz');
    assert.equal(notReady.status, 503);
    assert.deepEqual(notReady.body, { status: 'unavailable', temporal: 'unavailable' });
    assert.equal((await request(deadApp).get('/healthz')).status, 200);
  });
});
