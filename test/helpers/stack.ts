/**
 * The whole engine in one test process, every part real: a Temporal dev server, a worker running
 * the engine's workflows and activities, the HTTP API listening on a port, and the QFPay emulator
 * sending signed notifications to the API's webhook over HTTP.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { startReconciler } from '../../src/temporal/reconciler-schedule';
import type { Worker } from '@temporalio/worker';
import { createActivities, createQfpayClient } from '../../src/activities';
import { buildApp } from '../../src/api/app';
import { loadConfig, type Config } from '../../src/config';
import { createLogger } from '../../src/logger';
import type { GatewayEmulatorHandle, GatewayEnv } from '../../src/gateways/port';
import { splitSubscriptionId } from '../../src/domain/gateway-profile';
import { GATEWAY_MODULES, gatewayModule } from '../../src/gateways/registry';
import { qfpayVariables } from '../../src/gateways/qfpay/settings';
import { signNotification } from '../../src/gateways/qfpay/signing';
import {
  startQfpayEmulator,
  type QfpayEmulatorHandle,
  type QfpayEmulatorOptions,
} from '../../src/gateways/qfpay/emulator/server';
import { EmulatorTestClient } from './emulator-client';
import { createTestWorker, startDevServer, startTimeSkipping, uniqueTaskQueue } from './temporal';

export const API_KEY = 'e2e-api-key';
export const APP_CODE = 'e2e-app-code';
export const APP_KEY = 'e2e-app-key';

export interface Stack {
  env: TestWorkflowEnvironment;
  qfpayEmulator: QfpayEmulatorHandle;
  config: Config;
  apiUrl: string;
  /** The in-process worker (none with `options.worker: false`). */
  worker: Worker | undefined;
  /** An authenticated JSON call to the engine's API. */
  api(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any }>;
  /** The emulator's own inspection API (its truth). */
  emulator(method: string, path: string, body?: unknown): Promise<any>;
  /** Posts a raw notification body to the engine's webhook, signed with `appKey`. */
  postNotification(body: string, appKey?: string): Promise<{ status: number; text: string }>;
  /** The emulators of the gateways behind the port (with `options.gateways`), by name. */
  gateways: Record<string, { url: string; env: GatewayEnv }>;
  close(): Promise<void>;
}

/**
 * Starts the whole engine.
 * @param options.timeSkipping run on the time-skipping test server instead of the dev server
 *   (workflow time jumps only while the test sleeps through `env.sleep`)
 * @param options.gatewayStartMs where the gateways' emulators' clocks start (default: the real now)
 * @param options.worker false: no worker in this process (the test runs its own on
 *   `config.TEMPORAL_TASK_QUEUE`, e.g. in a process it can kill)
 */
export async function startStack(
  emulatorOptions: QfpayEmulatorOptions = {},
  env?: Record<string, string>,
  options: { timeSkipping?: boolean; gateways?: boolean; gatewayStartMs?: number; worker?: boolean } = {},
): Promise<Stack> {
  const temporal = options.timeSkipping ? await startTimeSkipping() : await startDevServer();
  const qfpayEmulator = await startQfpayEmulator({ appCode: APP_CODE, appKey: APP_KEY, ...emulatorOptions });
  const config = loadConfig({
    QFPAY_BASE_URL: qfpayEmulator.url,
    QFPAY_APP_CODE: APP_CODE,
    QFPAY_APP_KEY: APP_KEY,
    API_KEYS: API_KEY,
    // Tests poll the API as fast as they like; the limit itself is tested on its own.
    RATE_LIMIT_PER_MINUTE: '1000000',
    TEMPORAL_TASK_QUEUE: uniqueTaskQueue('e2e'),
    TEMPORAL_NAMESPACE: temporal.namespace ?? 'default',
    // The time-skipping test server stops skipping time for a child workflow once its parent
    // continues as new (sdk-java#1540): its subscriptions, which start merchant-event deliveries,
    // keep one run here. Continue-as-new is tested on the dev server and in the workflow tier.
    ...(options.timeSkipping ? { MAX_HISTORY_EVENTS: '10000' } : {}),
    // The test server has no Schedules: there its subscriptions keep a reconcile timer each.
    ...(options.timeSkipping ? { RECONCILER: 'timer' } : {}),
    ...env,
  });
  const logger = createLogger('e2e', process.env.LOG_LEVEL ?? 'silent');
  // Filled once the gateways' emulators run (they need the API's URL; the API needs their keys).
  // QFPay's variables (its emulator above) are the config's; the other gateways' come from theirs.
  const gatewayEnv: GatewayEnv = qfpayVariables(config);
  const worker =
    options.worker === false
      ? undefined
      : (
          await createTestWorker(temporal, {
            taskQueue: config.TEMPORAL_TASK_QUEUE,
            activities: createActivities({ config, client: temporal.client, logger, gatewayEnv }),
          })
        ).worker;
  const running = worker?.run();
  // What the worker's start does (worker.ts): the reconciler's Schedule on this task queue.
  await startReconciler(temporal.client, config);
  const app = buildApp({
    config,
    temporal: temporal.client,
    qfpay: createQfpayClient(config, logger),
    logger,
    gatewayEnv,
  });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  qfpayEmulator.setNotifyUrl(`${apiUrl}/webhooks/qfpay`);
  const emulators: Array<GatewayEmulatorHandle & { name: string; env: GatewayEnv }> = [];
  if (options.gateways) {
    for (const module of GATEWAY_MODULES) {
      if (module.configured(gatewayEnv)) continue;
      const emulator = await module.startEmulator({
        port: 0,
        notifyUrl: `${apiUrl}/webhooks/${module.name}`,
        ...(options.gatewayStartMs === undefined ? {} : { startMs: options.gatewayStartMs }),
      });
      emulators.push({ name: module.name, ...emulator });
      Object.assign(gatewayEnv, emulator.env);
    }
  }

  async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const res = await fetch(`${apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  }

  async function emulator(method: string, path: string, body?: unknown) {
    const res = await fetch(`${qfpayEmulator.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    assert.ok(res.ok, `emulator ${method} ${path}: HTTP ${res.status} ${await res.clone().text()}`);
    return res.json() as Promise<any>;
  }

  async function postNotification(body: string, appKey = APP_KEY) {
    const res = await fetch(`${apiUrl}/webhooks/qfpay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-qf-sign': signNotification(body, appKey) },
      body,
    });
    return { status: res.status, text: await res.text() };
  }

  return {
    env: temporal,
    qfpayEmulator,
    config,
    apiUrl,
    worker,
    api,
    emulator,
    postNotification,
    gateways: Object.fromEntries(emulators.map((e) => [e.name, { url: e.url, env: e.env }])),
    async close() {
      qfpayEmulator.setNotifyUrl(undefined);
      await Promise.allSettled(emulators.map((e) => e.close()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections?.();
      worker?.shutdown();
      await running;
      await qfpayEmulator.close();
      await temporal.teardown();
    },
  };
}

/** Polls `probe` until it returns a value (bounded, so a broken engine fails instead of hanging). */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      assert.fail(
        `${what}: not within ${timeoutMs} ms${last ? ` (last: ${last instanceof Error ? last.message : String(last)})` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * A QFPay subscription billed every minute (the shortest cycle QFPay's sandbox allows), for tests
 * that run QFPay's billing in real time: a customer with a card token, the product, and the
 * subscription with a dunning policy that fits a minute (15 s margin, 3 s attempt window).
 */
export async function minuteSubscription(
  stack: Stack,
  name: string,
  policy: {
    attempt_offsets: string[];
    final_action: 'cancel' | 'leave_to_gateway' | 'leave_to_qfpay' | 'pause_billing';
  },
): Promise<{ subscriptionId: string; tokenId: string }> {
  const customer = await stack.api('POST', '/v1/customers', { name, email: `${name}@example.com` });
  assert.equal(customer.status, 201, JSON.stringify(customer.body));
  const token = await stack.emulator('POST', '/_emulator/tokens', {
    customer_id: customer.body.customer_id,
    card_number: '5200000000001096',
  });
  const product = await stack.api('POST', '/v1/products', {
    name: `${name} per minute`,
    amount: 500,
    currency: 'HKD',
    interval: 'minutes',
    interval_count: 1,
  });
  assert.equal(product.status, 201, JSON.stringify(product.body));
  const created = await stack.api(
    'POST',
    '/v1/subscriptions',
    {
      customer_id: customer.body.customer_id,
      product_id: product.body.product_id,
      token_id: token.token_id,
      dunning_policy: { ...policy, safety_margin: '15s', min_attempt_window: '3s', escalation: [] },
    },
    { 'idempotency-key': `minute-subscription-${name}` },
  );
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return { subscriptionId: created.body.result.subscription_id, tokenId: token.token_id };
}

/** A test clock made through the merchant API, frozen at `frozenTime`, ready; its id. */
export async function clockThroughApi(stack: Stack, frozenTime: number, name: string): Promise<string> {
  const made = await stack.api('POST', '/v1/test_clocks', {
    frozen_time: new Date(frozenTime).toISOString(),
    name,
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  assert.equal(made.body.status, 'ready');
  assert.equal(made.body.frozen_time, new Date(frozenTime).toISOString());
  return made.body.test_clock_id;
}

/** A subscription made through the merchant API, and where its records live at the emulator. */
export interface ApiSubscription {
  /** The emulator's world it lives in (its clock's, or the main one), e.g. to set its card's answers. */
  world: EmulatorTestClient;
  customerId: string;
  tokenId: string;
  subscriptionId: string;
  workflowId: string;
}

/**
 * A customer with a card, a monthly product and a subscription, made through the merchant API on
 * test clock `testClock` (or on none, in the emulator's main world).
 */
export async function subscribeThroughApi(
  stack: Stack,
  name: string,
  testClock?: string,
): Promise<ApiSubscription> {
  const onClock = testClock === undefined ? {} : { test_clock: testClock };
  const main = new EmulatorTestClient(stack.qfpayEmulator.url, APP_CODE, APP_KEY);
  const world = testClock === undefined ? main : main.onClock(testClock);
  const customer = await stack.api('POST', '/v1/customers', {
    name,
    email: `${name.toLowerCase()}-clock@example.com`,
    ...onClock,
  });
  assert.equal(customer.status, 201, JSON.stringify(customer.body));
  const product = await stack.api(
    'POST',
    '/v1/products',
    {
      name: `${name}'s plan`,
      amount: 4200,
      currency: 'HKD',
      interval: 'monthly',
      interval_count: 1,
      ...onClock,
    },
    { 'idempotency-key': `product-${name}-${testClock ?? 'none'}` },
  );
  assert.equal(product.status, 201, JSON.stringify(product.body));
  const tokenId = await world.createToken(customer.body.customer_id);
  const created = await stack.api(
    'POST',
    '/v1/subscriptions',
    {
      customer_id: customer.body.customer_id,
      product_id: product.body.product_id,
      token_id: tokenId,
      ...onClock,
    },
    { 'idempotency-key': `subscription-${name}-${testClock ?? 'none'}` },
  );
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return {
    world,
    customerId: customer.body.customer_id,
    tokenId,
    subscriptionId: created.body.result.subscription_id,
    workflowId: created.body.result.workflow_id,
  };
}

/** The next billing time the gateway reports for the engine's subscription `id`, if it has one. */
export async function nextBillingAt(stack: Stack, id: string): Promise<number | undefined> {
  const { gateway, gatewayId } = splitSubscriptionId(id);
  const emulator = stack.gateways[gateway];
  assert.ok(emulator, `${gateway} has an emulator in this stack`);
  const truth = await gatewayModule(gateway)!.adapter(emulator.env).sync(gatewayId);
  assert.ok(truth.found, `${id} at ${gateway}`);
  return truth.fact.remote.nextBillingTime ?? undefined;
}

/** Moves a gateway emulator's clock to `at` (a time before its now leaves it where it is). */
export async function advanceGatewayClock(stack: Stack, gateway: string, at: number): Promise<void> {
  const emulator = stack.gateways[gateway];
  assert.ok(emulator, `${gateway} has an emulator in this stack`);
  const call = async (path: string, body?: unknown) => {
    const res = await fetch(`${emulator.url}/_emulator${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    assert.equal(res.status, 200, `${gateway} ${path}: ${res.status}`);
    return (await res.json()) as { now: number };
  };
  const { now } = await call('/clock');
  await call('/clock/advance', { ms: Math.max(0, at - now) });
}

/**
 * Moves a gateway emulator's clock to the next billing time that the gateway reports for the
 * engine's subscription `id` (not by a number of days: months differ in length). Returns it.
 */
export async function advanceToNextBilling(stack: Stack, id: string): Promise<number> {
  const next = await nextBillingAt(stack, id);
  assert.ok(next !== undefined, `${id}: its gateway reports a next billing time`);
  await advanceGatewayClock(stack, splitSubscriptionId(id).gateway, next);
  return next;
}
