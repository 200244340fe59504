/**
 * The QFPay webhook receiver without Temporal: the signature is checked on the raw bytes before
 * anything else (401, nothing signalled), malformed or undocumented notifications are 400s, and a
 * good notification becomes exactly the signal-with-start the architecture prescribes, answered
 * with `SUCCESS` only after Temporal took it. Temporal is a fake that records the calls.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ServiceError, type Client } from '@temporalio/client';
import request from 'supertest';
import { appMetrics, buildApp } from '../../src/api/app';
import { QFPAY_PROFILE } from '../../src/domain/gateway-profile';
import { maskCardNumber } from '../../src/gateways/qfpay/webhook';
import { ErrorResponseSchema } from '../../src/api/schemas';
import { loadConfig, type Config } from '../../src/config';
import { createLogger } from '../../src/logger';
import { QfpayClient } from '../../src/gateways/qfpay/client';
import { signNotification } from '../../src/gateways/qfpay/signing';
import { DEFAULT_DUNNING_POLICY } from '../../src/domain/episode/dunning';
import type { Fact, PaymentTokenRecord, SubscriptionWorkflowInput } from '../../src/workflows/definitions';
import { SEED_SUBSCRIPTION_PAYMENT } from '../fixtures/seed-notifications';
import { NEW_SUBSCRIPTION_MAX_HISTORY_EVENTS } from '../../src/domain/engine-state';
import { WEBHOOK_BODY_LIMIT_BYTES } from '../../src/api/routes/webhooks';

const APP_KEY = 'webhook-test-app-key';
const baseConfig = loadConfig({
  NODE_ENV: 'test',
  LOG_LEVEL: 'silent',
  QFPAY_APP_KEY: APP_KEY,
  TEMPORAL_TASK_QUEUE: 'webhook-unit-queue',
});
const logger = createLogger('api-test', 'silent');
const NOW = Date.UTC(2025, 0, 31, 4, 0, 0);

interface SignalWithStartCall {
  workflowType: string;
  options: {
    workflowId: string;
    taskQueue: string;
    args: unknown[];
    signal: { name: string };
    signalArgs: unknown[];
  };
}

function fakeTemporal(fail?: () => never) {
  const signals: SignalWithStartCall[] = [];
  const client = {
    withDeadline: (_deadline: unknown, fn: () => Promise<unknown>) => fn(),
    workflow: {
      signalWithStart: async (workflowType: string, options: SignalWithStartCall['options']) => {
        if (fail) fail();
        signals.push({ workflowType, options });
        return {};
      },
    },
  };
  return { client: client as unknown as Client, signals };
}

const qfpay = new QfpayClient({
  baseUrl: 'http://qfpay.test',
  appCode: 'c',
  appKey: 'k',
  fetch: () => assert.fail('QFPay called'),
});

function appWith(temporal = fakeTemporal(), config: Config = baseConfig) {
  return buildApp({ config, temporal: temporal.client, qfpay, logger, now: () => NOW });
}

/** Posts a notification; `signature` null sends no X-QF-SIGN. */
function post(
  app: ReturnType<typeof appWith>,
  body: string,
  signature: string | null = signNotification(body, APP_KEY),
) {
  const req = request(app).post('/webhooks/qfpay').set('content-type', 'application/json');
  return (signature === null ? req : req.set('X-QF-SIGN', signature)).send(body);
}

const paymentNotification = (subscriptionId = 'sub_0f1e2d3c4b5a69788796a5b4c3d2e1f0', respcd = '0000') =>
  JSON.stringify({
    notify_type: 'subscription_payment',
    subscription_id: subscriptionId,
    subscription_order_id: `sub_ord_${subscriptionId.slice(4)}_0002`,
    respcd,
    respmsg: respcd === '0000' ? 'success' : 'insufficient balance',
    syssn: '20250131120000020000015704',
    txdtm: '2025-01-31 12:00:00',
    txamt: '9900',
    txcurrcd: 'HKD',
    customer_id: 'cust_a9c0bcf2717f4786a10e5f8f2',
    current_iteration: '2',
  });

void describe('webhook signature', () => {
  for (const [name, signature] of [
    ['missing', null],
    ['garbage', 'NOT-A-SIGNATURE'],
    ['made with another key', signNotification(paymentNotification(), 'some-other-key')],
    [
      'for another body',
      signNotification(paymentNotification('sub_ffffffffffffffffffffffffffffffff'), APP_KEY),
    ],
  ] as const) {
    void it(`refuses a ${name} X-QF-SIGN with 401 invalid_signature and signals nothing`, async () => {
      const temporal = fakeTemporal();
      const app = appWith(temporal);
      const res = await post(app, paymentNotification(), signature);
      assert.equal(res.status, 401);
      const body = ErrorResponseSchema.parse(res.body);
      assert.equal(body.error.code, 'invalid_signature');
      assert.deepEqual(temporal.signals, []);
      assert.equal(appMetrics(app).webhookCount('qfpay:notification', 'invalid_signature'), 1);
    });
  }

  void it('verifies the exact bytes: the same JSON re-serialised does not match', async () => {
    const temporal = fakeTemporal();
    const original = paymentNotification();
    const reformatted = JSON.stringify(JSON.parse(original), null, 2);
    const res = await post(appWith(temporal), reformatted, signNotification(original, APP_KEY));
    assert.equal(res.status, 401);
    assert.deepEqual(temporal.signals, []);
  });

  void it('accepts unsigned notifications only when QFPAY_VERIFY_NOTIFICATIONS is false', async () => {
    const temporal = fakeTemporal();
    const config = loadConfig({
      NODE_ENV: 'test',
      QFPAY_APP_KEY: APP_KEY,
      QFPAY_VERIFY_NOTIFICATIONS: 'false',
    });
    const res = await post(appWith(temporal, config), paymentNotification(), null);
    assert.equal(res.status, 200);
    assert.equal(temporal.signals.length, 1);
  });
});

void describe('webhook parsing', () => {
  void it("answers the seed's own sample (trailing comma), signed correctly, with 400 and signals nothing", async () => {
    const temporal = fakeTemporal();
    const app = appWith(temporal);
    const res = await post(app, SEED_SUBSCRIPTION_PAYMENT);
    assert.equal(res.status, 400);
    const body = ErrorResponseSchema.parse(res.body);
    assert.equal(body.error.code, 'validation_error');
    assert.match(body.error.message, /not valid JSON/);
    assert.deepEqual(temporal.signals, []);
    assert.equal(appMetrics(app).webhookCount('qfpay:notification', 'malformed'), 1);
  });

  void it('answers an unknown notify_type with 400 naming notify_type', async () => {
    const temporal = fakeTemporal();
    const res = await post(appWith(temporal), JSON.stringify({ notify_type: 'refund', syssn: '1' }));
    assert.equal(res.status, 400);
    const body = ErrorResponseSchema.parse(res.body);
    assert.ok(
      body.error.details?.some((d) => d.path === 'notify_type'),
      JSON.stringify(body),
    );
    assert.deepEqual(temporal.signals, []);
  });

  void it('answers a payment notification without its order id with 400 naming the field', async () => {
    const body = JSON.parse(paymentNotification()) as Record<string, unknown>;
    delete body.subscription_order_id;
    const res = await post(appWith(), JSON.stringify(body));
    assert.equal(res.status, 400);
    assert.ok(
      ErrorResponseSchema.parse(res.body).error.details?.some((d) => d.path === 'subscription_order_id'),
    );
  });

  void it('answers a state the engine does not know with 400 and the reason', async () => {
    const temporal = fakeTemporal();
    const app = appWith(temporal);
    const notification = JSON.stringify({
      notify_type: 'subscription',
      subscription_id: 'sub_0f1e2d3c4b5a69788796a5b4c3d2e1f0',
      state: 'FROZEN',
      sysdtm: '2025-01-31 12:00:00',
    });
    const res = await post(app, notification);
    assert.equal(res.status, 400);
    assert.match(ErrorResponseSchema.parse(res.body).error.message, /unknown subscription state "FROZEN"/);
    assert.deepEqual(temporal.signals, []);
    assert.equal(appMetrics(app).webhookCount('subscription', 'rejected'), 1);
  });

  void it('reads a body up to WEBHOOK_BODY_LIMIT_BYTES, and answers one byte more with 413, signalling nothing', async () => {
    const temporal = fakeTemporal();
    const app = appWith(temporal);
    const padded = (size: number) => {
      const base = paymentNotification();
      return `${base.slice(0, -1)},"pad":"${'x'.repeat(size - base.length - 9)}"}`;
    };
    const atLimit = padded(WEBHOOK_BODY_LIMIT_BYTES);
    assert.equal(Buffer.byteLength(atLimit), WEBHOOK_BODY_LIMIT_BYTES);
    // At the limit the body is read: its signature (made for another body) is what refuses it.
    assert.equal((await post(app, atLimit, signNotification(paymentNotification(), APP_KEY))).status, 401);
    const over = padded(WEBHOOK_BODY_LIMIT_BYTES + 1);
    const res = await post(app, over);
    assert.equal(res.status, 413, JSON.stringify(res.body));
    assert.deepEqual(temporal.signals, []);
  });

  void it('answers an empty body with 400', async () => {
    const res = await post(appWith(), '');
    assert.equal(res.status, 400);
  });

  for (const encoding of ['gzip', 'deflate']) {
    void it(`answers a body that does not inflate (Content-Encoding: ${encoding}) with 400, unauthenticated`, async () => {
      const temporal = fakeTemporal();
      const res = await request(appWith(temporal))
        .post('/webhooks/qfpay')
        .set('content-type', 'application/json')
        .set('content-encoding', encoding)
        .send(Buffer.from('these bytes are not compressed'));
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(ErrorResponseSchema.parse(res.body).error.code, 'validation_error');
      assert.equal(temporal.signals.length, 0);
    });
  }

  for (const [name, subscriptionId] of [
    ['5,000 characters long', `sub_${'a'.repeat(4996)}`],
    ['with a NUL character', 'sub_0f1e2d3c\u0000'],
    ['with a newline', 'sub_0f1e2d3c\nX-Injected: 1'],
    ['without the sub_ prefix', '0f1e2d3c4b5a6978'],
  ]) {
    void it(`answers a signed notification whose subscription_id is ${name} with 400, signalling nothing`, async () => {
      const temporal = fakeTemporal();
      const app = appWith(temporal);
      const body = JSON.stringify({
        notify_type: 'subscription',
        subscription_id: subscriptionId,
        state: 'ACTIVE',
        sysdtm: '2025-01-31 12:00:00',
      });
      const res = await post(app, body);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      const error = ErrorResponseSchema.parse(res.body).error;
      assert.deepEqual(
        error.details?.map((d) => d.path),
        ['subscription_id'],
      );
      assert.equal(temporal.signals.length, 0);
      assert.equal(appMetrics(app).webhookCount('qfpay:notification', 'malformed'), 1);
    });
  }

  void it('answers a payment notification whose order id carries a control character with 400', async () => {
    const temporal = fakeTemporal();
    const body = paymentNotification().replace('_0002"', '_0002\\u0007"');
    const res = await post(appWith(temporal), body);
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.deepEqual(
      ErrorResponseSchema.parse(res.body).error.details?.map((d) => d.path),
      ['subscription_order_id'],
    );
    assert.equal(temporal.signals.length, 0);
  });
});

void describe('webhook signalling', () => {
  void it("signals-with-start the subscription's workflow with the payment fact, then answers SUCCESS", async () => {
    const temporal = fakeTemporal();
    const app = appWith(temporal);
    const res = await post(app, paymentNotification());
    assert.equal(res.status, 200);
    assert.equal(res.text, 'SUCCESS');
    assert.match(String(res.headers['content-type']), /^text\/plain/);

    assert.equal(temporal.signals.length, 1);
    const [call] = temporal.signals;
    assert.equal(call?.workflowType, 'subscriptionWorkflow');
    assert.equal(call?.options.workflowId, 'qfpay-subscription:sub_0f1e2d3c4b5a69788796a5b4c3d2e1f0');
    assert.equal(call?.options.taskQueue, 'webhook-unit-queue');
    assert.equal(call?.options.signal.name, 'qfpayFact');
    const input = call?.options.args[0] as SubscriptionWorkflowInput;
    assert.deepEqual(input, {
      subscriptionId: 'sub_0f1e2d3c4b5a69788796a5b4c3d2e1f0',
      origin: 'adopted',
      policy: DEFAULT_DUNNING_POLICY,
      options: {
        merchantEvents: false,
        maxHistoryEvents: NEW_SUBSCRIPTION_MAX_HISTORY_EVENTS,
        reconciler: 'schedule',
      },
      // Adopted like every gateway's subscription: with the profile it begins with.
      gateway: QFPAY_PROFILE,
    });
    const fact = call?.options.signalArgs[0] as Fact;
    assert.equal(fact.kind, 'payment');
    assert.ok(fact.kind === 'payment');
    assert.equal(fact.orderId, 'sub_ord_0f1e2d3c4b5a69788796a5b4c3d2e1f0_0002');
    assert.equal(fact.sequenceNo, 2);
    assert.equal(fact.succeeded, true);
    assert.equal(fact.amount, 9900);
    assert.equal(fact.at, Date.UTC(2025, 0, 31, 4, 0, 0)); // 12:00 at +08:00
    assert.equal(appMetrics(app).webhookCount('subscription_payment', 'accepted'), 1);
  });

  void it('signals every duplicate too (the workflow dedups) and answers SUCCESS each time', async () => {
    const temporal = fakeTemporal();
    const app = appWith(temporal);
    const body = paymentNotification(undefined, '1201');
    assert.equal((await post(app, body)).text, 'SUCCESS');
    assert.equal((await post(app, body)).text, 'SUCCESS');
    assert.equal(temporal.signals.length, 2);
    assert.deepEqual(temporal.signals[0]?.options.signalArgs, temporal.signals[1]?.options.signalArgs);
  });

  void it("records a payment token with the customer's tokens workflow, card masked", async () => {
    const temporal = fakeTemporal();
    const body = JSON.stringify({
      notify_type: 'payment_token',
      tokenid: 'tk_6a699aae75094caeb066f988daa32de',
      event: 'NEW',
      respcd: '0000',
      cardcd: '5200000000001096',
      card_scheme: 'ECMC_DEBIT',
      token_expiry_date: '2027-04-30 00:00:00',
      sysdtm: '2025-01-31 12:00:00',
      customer_id: 'cust_a9c0bcf2717f4786a10e5f8f2',
    });
    const res = await post(appWith(temporal), body);
    assert.equal(res.text, 'SUCCESS');
    const [call] = temporal.signals;
    assert.equal(call?.workflowType, 'customerTokensWorkflow');
    assert.equal(call?.options.workflowId, 'qfpay-customer-tokens:cust_a9c0bcf2717f4786a10e5f8f2');
    assert.equal(call?.options.signal.name, 'paymentToken');
    assert.deepEqual(call?.options.args, [{ customerId: 'cust_a9c0bcf2717f4786a10e5f8f2' }]);
    const record = call?.options.signalArgs[0] as PaymentTokenRecord;
    assert.equal(record.cardMasked, '520000******1096');
    assert.doesNotMatch(JSON.stringify(call), /5200000000001096/);
    assert.equal(record.receivedAt, NOW);
  });

  void it('keeps a token without customer_id under _unassigned, and ignores a failed tokenisation', async () => {
    const temporal = fakeTemporal();
    const app = appWith(temporal);
    const token = {
      notify_type: 'payment_token',
      tokenid: 'tk_1',
      event: 'NEW',
      respcd: '0000',
      cardcd: '5200****1096',
    };
    assert.equal((await post(app, JSON.stringify(token))).text, 'SUCCESS');
    assert.equal(temporal.signals[0]?.options.workflowId, 'qfpay-customer-tokens:_unassigned');
    assert.equal(
      (temporal.signals[0]?.options.signalArgs[0] as PaymentTokenRecord).cardMasked,
      '5200****1096',
    );
    assert.equal((await post(app, JSON.stringify({ ...token, respcd: '1205' }))).text, 'SUCCESS');
    assert.equal(temporal.signals.length, 1);
    assert.equal(appMetrics(app).webhookCount('payment_token', 'ignored'), 1);
  });

  void it('answers 503 when Temporal does not take the signal, so QFPay sends it again', async () => {
    const unavailable = Object.assign(new Error('14 UNAVAILABLE: connect ECONNREFUSED'), {
      code: 14,
      details: '',
      metadata: {},
    });
    const temporal = fakeTemporal(() => {
      throw new ServiceError('Failed to signalWithStart Workflow', { cause: unavailable });
    });
    const app = appWith(temporal);
    const res = await post(app, paymentNotification());
    assert.equal(res.status, 503);
    assert.equal(ErrorResponseSchema.parse(res.body).error.code, 'temporal_unavailable');
    assert.notEqual(res.text, 'SUCCESS');
    assert.equal(appMetrics(app).webhookCount('subscription_payment', 'temporal_unavailable'), 1);
  });
});

void describe('maskCardNumber', () => {
  void it('keeps the first 6 and last 4 digits of a full number and keeps QFPay-masked numbers as they are', () => {
    assert.equal(maskCardNumber('4000000000001091'), '400000******1091');
    assert.equal(maskCardNumber('4000 0000 0000 1091'), '400000******1091');
    assert.equal(maskCardNumber('5200****1096'), '5200****1096');
    assert.equal(maskCardNumber('1096'), '****');
    assert.equal(maskCardNumber(''), undefined);
    assert.equal(maskCardNumber(undefined), undefined);
  });
});
