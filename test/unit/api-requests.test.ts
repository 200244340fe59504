/**
 * The merchant API without Temporal: API-key authentication, request validation (400 with field
 * paths on every route, before anything reaches Temporal or QFPay), the one error shape, request
 * ids, and how Temporal's and QFPay's failures map to statuses. Temporal is a fake that records
 * what it is asked; QFPay is a `QfpayClient` whose `fetch` is scripted.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import {
  ServiceError,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import request from 'supertest';
import { appMetrics, buildApp, buildMetricsApp } from '../../src/api/app';
import { DEFAULT_API_TIMEOUTS } from '../../src/api/context';
import { SERVER_TIMEOUTS, applyServerTimeouts } from '../../src/api/main';
import {
  ApiKeyVerifier,
  constantTimeEqual,
  apiKeyIdOf,
  parseApiKeys,
  presentedApiKey,
} from '../../src/api/auth';
import { ErrorResponseSchema, SubscriptionViewSchema } from '../../src/api/schemas';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { QfpayClient } from '../../src/gateways/qfpay/client';
import type { SubscriptionView } from '../../src/workflows/definitions';
import type { LifecycleState } from '../../src/domain/lifecycle/lifecycle-table';
import { SUB, pastDue } from '../helpers/engine-states';
import { nonSnakeKeys } from '../helpers/json-keys';

const KEYS = ['merchant-key-one', 'merchant-key-two'];
const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', API_KEYS: ` ${KEYS[0]}, ,${KEYS[1]} ` });
const logger = createLogger('api-test', 'silent');
const auth = { Authorization: `Bearer ${KEYS[0]}` };

/** What the fake Temporal was asked, by method name. */
type Calls = Array<{ method: string; args: unknown[] }>;

/**
 * A stand-in for the Temporal client: records every call; `behaviour` decides the answers
 * (by default every call fails the test, so validation tests prove Temporal was never reached).
 */
/** The handle of a workflow the fake has not got: its describe answers not found. */
function noRecord(workflowId: string) {
  return {
    describe: async () => {
      throw new WorkflowNotFoundError('no such workflow', workflowId, undefined);
    },
  };
}

function fakeTemporal(behaviour: Partial<Record<string, (...args: unknown[]) => unknown>> = {}) {
  const calls: Calls = [];
  const call =
    (method: string) =>
    async (...args: unknown[]) => {
      calls.push({ method, args });
      const answer = behaviour[method];
      if (!answer) throw new Error(`unexpected Temporal call ${method}`);
      return answer(...args);
    };
  const handle = {
    query: call('query'),
    executeUpdate: call('executeUpdate'),
    describe: call('describe'),
    result: call('result'),
  };
  const client = {
    options: { namespace: 'default' },
    withDeadline: (_deadline: unknown, fn: () => Promise<unknown>) => fn(),
    workflow: {
      getHandle: (workflowId: string) => {
        calls.push({ method: 'getHandle', args: [workflowId] });
        // A customer's or product's metadata record: none, unless the test says otherwise.
        if (workflowId.startsWith('metadata-'))
          return behaviour.describeRecord ? { describe: call('describeRecord') } : noRecord(workflowId);
        return handle;
      },
      start: call('start'),
      signalWithStart: call('signalWithStart'),
    },
    workflowService: {
      listWorkflowExecutions: call('listWorkflowExecutions'),
      getSystemInfo: call('getSystemInfo'),
    },
  };
  return { client: client as unknown as Client, calls };
}

/** A QFPay client whose HTTP answers are scripted; records the paths it was asked for. */
function scriptedQfpay(
  answer: (path: string, params: URLSearchParams) => { status?: number; body: unknown },
) {
  const paths: string[] = [];
  const client = new QfpayClient({
    baseUrl: 'http://qfpay.test',
    appCode: 'app-code',
    appKey: 'app-key',
    fetch: async (url, init) => {
      const path = new URL(String(url)).pathname;
      paths.push(path);
      const { status = 200, body } = answer(path, new URLSearchParams(String(init?.body ?? '')));
      return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    },
  });
  return { client, paths };
}

/** A QFPay that has the customers cust_1 and cust_2. */
function knownCustomers() {
  return scriptedQfpay(() => ({
    body: { respcd: '0000', data: [{ customer_id: 'cust_1' }, { customer_id: 'cust_2' }] },
  }));
}

function appWith(temporal = fakeTemporal(), qfpay = scriptedQfpay(() => ({ status: 500, body: {} }))) {
  return {
    app: buildApp({ config, temporal: temporal.client, qfpay: qfpay.client, logger }),
    temporal,
    qfpay,
  };
}

/** Asserts the one error shape and returns it. */
function errorOf(res: request.Response, status: number, code: string) {
  assert.equal(res.status, status, `status ${res.status}: ${JSON.stringify(res.body)}`);
  const body = ErrorResponseSchema.parse(res.body);
  assert.equal(body.error.code, code);
  assert.equal(body.request_id, res.headers['x-request-id']);
  return body;
}

function paths(body: { error: { details?: Array<{ path: string }> } }): string[] {
  return (body.error.details ?? []).map((d) => d.path).sort();
}

void describe('API keys', () => {
  void it('refuses /v1 without a key, with a wrong key, and with a malformed Authorization header', async () => {
    const { app, temporal } = appWith();
    for (const headers of [
      {},
      { Authorization: 'Bearer not-a-key' },
      { 'X-API-Key': 'nope' },
      { Authorization: KEYS[0] },
    ]) {
      const res = await request(app)
        .get('/v1/subscriptions/sub_abc')
        .set(headers as Record<string, string>);
      const body = errorOf(res, 401, 'unauthorized');
      assert.doesNotMatch(JSON.stringify(body), /merchant-key/);
    }
    assert.deepEqual(temporal.calls, []);
  });

  void it('accepts every configured key, as a Bearer token or in X-API-Key', async () => {
    const temporal = fakeTemporal({
      listWorkflowExecutions: () => ({ executions: [], nextPageToken: null }),
    });
    const { app } = appWith(temporal);
    for (const headers of [
      { Authorization: `Bearer ${KEYS[0]}` },
      { Authorization: `bearer ${KEYS[1]}` },
      { 'X-API-Key': KEYS[1] },
    ]) {
      const res = await request(app).get('/v1/subscriptions').set(headers);
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
  });

  void it('compares in constant time through hashes, whatever the lengths', () => {
    assert.equal(constantTimeEqual('secret', 'secret'), true);
    assert.equal(constantTimeEqual('secret', 'secreT'), false);
    assert.equal(constantTimeEqual('secret', 'a much longer candidate'), false);
    assert.equal(constantTimeEqual('', ''), true);
    const verifier = new ApiKeyVerifier(parseApiKeys('a, b ,,c'));
    assert.deepEqual(parseApiKeys('a, b ,,c'), ['a', 'b', 'c']);
    assert.equal(verifier.verify('b'), true);
    assert.equal(verifier.verify('d'), false);
    assert.equal(new ApiKeyVerifier([]).verify(''), false);
  });

  void it('reads the key from Bearer or X-API-Key and derives a stable 16-hex merchant scope', () => {
    assert.equal(presentedApiKey('Bearer abc', undefined), 'abc');
    assert.equal(presentedApiKey('Basic abc', 'xyz'), 'xyz');
    assert.equal(presentedApiKey(undefined, '  '), undefined);
    assert.match(apiKeyIdOf('abc'), /^[0-9a-f]{16}$/);
    assert.equal(apiKeyIdOf('abc'), apiKeyIdOf('abc'));
    assert.notEqual(apiKeyIdOf('abc'), apiKeyIdOf('abd'));
  });

  void it('serves health and the OpenAPI document without a key, and no metrics on the public port', async () => {
    const { app } = appWith();
    assert.deepEqual((await request(app).get('/healthz').expect(200)).body, { status: 'ok' });
    assert.equal((await request(app).get('/openapi.json').expect(200)).body.openapi, '3.1.0');
    errorOf(await request(app).get('/metrics'), 404, 'not_found');
    const metrics = buildMetricsApp(appMetrics(app));
    assert.match((await request(metrics).get('/metrics').expect(200)).text, /api_http_requests_total/);
  });
});

void describe('operational limits', () => {
  void it('answers past RATE_LIMIT_PER_MINUTE per API key with 429 rate_limited and Retry-After; other keys go on', async () => {
    const limited = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      API_KEYS: KEYS.join(','),
      RATE_LIMIT_PER_MINUTE: '3',
    });
    const app = buildApp({
      config: limited,
      temporal: fakeTemporal().client,
      qfpay: scriptedQfpay(() => ({ body: {} })).client,
      logger,
    });
    for (let i = 0; i < 3; i += 1) {
      assert.equal((await request(app).get('/v1/subscriptions/bad').set(auth)).status, 400);
    }
    const refused = await request(app).get('/v1/subscriptions/bad').set(auth);
    errorOf(refused, 429, 'rate_limited');
    assert.match(String(refused.headers['retry-after']), /^\d+$/);
    assert.ok(Number(refused.headers['retry-after']) <= 60);
    const other = await request(app)
      .get('/v1/subscriptions/bad')
      .set({ Authorization: `Bearer ${KEYS[1]}` });
    assert.equal(other.status, 400, 'another API key has its own budget');
  });

  void it('labels a route by its template, the same on success and on error', async () => {
    let fail = false;
    const { app } = appWith(
      fakeTemporal({
        query: () => {
          if (fail) throw new Error('kaboom');
          return [];
        },
      }),
      knownCustomers(),
    );
    await request(app).get('/v1/customers/cust_1/tokens').set(auth).expect(200);
    fail = true;
    await request(app).get('/v1/customers/cust_2/tokens').set(auth).expect(500);
    const text = await appMetrics(app).registry.metrics();
    for (const status of ['200', '500']) {
      assert.ok(
        text.includes(
          `api_http_requests_total{method="GET",route="/v1/customers/:customerId/tokens",status="${status}"} 1`,
        ),
        text
          .split('\n')
          .filter((l) => l.startsWith('api_http_requests_total'))
          .join('\n'),
      );
    }
  });
});

void describe('request validation (nothing reaches Temporal or QFPay)', () => {
  const cases: Array<{
    name: string;
    method: 'get' | 'post' | 'put';
    url: string;
    body?: unknown;
    headers?: Record<string, string>;
    paths: string[];
  }> = [
    {
      name: 'POST /v1/customers: a bad email and an unknown field',
      method: 'post',
      url: '/v1/customers',
      body: { email: 'not-an-email', nickname: 'x' },
      paths: ['email', 'nickname'],
    },
    {
      name: 'POST /v1/products: every field wrong or missing',
      method: 'post',
      url: '/v1/products',
      body: { amount: 0, currency: 'HK', interval: 'fortnightly', interval_count: 1.5 },
      paths: ['amount', 'currency', 'interval', 'interval_count', 'name'],
    },
    {
      name: 'POST /v1/subscriptions: no Idempotency-Key',
      method: 'post',
      url: '/v1/subscriptions',
      body: { customer_id: 'cust_1', product_id: 'prod_1', token_id: 'tk_1' },
      paths: ['Idempotency-Key'],
    },
    {
      name: 'POST /v1/subscriptions: an Idempotency-Key too long',
      method: 'post',
      url: '/v1/subscriptions',
      headers: { 'Idempotency-Key': 'k'.repeat(256) },
      body: { customer_id: 'cust_1', product_id: 'prod_1', token_id: 'tk_1' },
      paths: ['Idempotency-Key'],
    },
    {
      name: 'POST /v1/subscriptions: a bad token, cycles, start time and dunning policy',
      method: 'post',
      url: '/v1/subscriptions',
      headers: { 'Idempotency-Key': 'order-1' },
      body: {
        customer_id: 'cust_1',
        product_id: 'prod_1',
        token_id: 'card',
        total_billing_cycles: 0,
        start_time: 'tomorrow',
        dunning_policy: { attempt_offsets: ['3d', '1d'], final_action: 'explode' },
      },
      paths: [
        'dunning_policy.attempt_offsets.1',
        'dunning_policy.final_action',
        'start_time',
        'token_id',
        'total_billing_cycles',
      ],
    },
    {
      name: 'POST /v1/subscriptions: both customer forms and no product',
      method: 'post',
      url: '/v1/subscriptions',
      headers: { 'Idempotency-Key': 'order-1' },
      body: { customer_id: 'cust_1', customer: { email: 'a@example.com' }, token_id: 'tk_1' },
      paths: ['customer', 'product_id'],
    },
    {
      name: 'POST /v1/subscriptions: an inline new customer with a token_id (a token needs an existing customer)',
      method: 'post',
      url: '/v1/subscriptions',
      headers: { 'Idempotency-Key': 'order-3' },
      body: { customer: { email: 'a@example.com' }, product_id: 'prod_1', token_id: 'tk_1' },
      paths: ['customer'],
    },
    {
      name: 'POST /v1/subscriptions: an inline product with a bad amount',
      method: 'post',
      url: '/v1/subscriptions',
      headers: { 'Idempotency-Key': 'order-2' },
      body: {
        customer_id: 'cust_1',
        product: { name: 'Gold', amount: -5, currency: 'HKD', interval: 'monthly', interval_count: 1 },
        token_id: 'tk_1',
      },
      paths: ['product.amount'],
    },
    {
      name: 'GET /v1/subscriptions: unknown state, quote in customer_id, limit 0, bad cursor',
      method: 'get',
      url: "/v1/subscriptions?state=BOGUS&customer_id=cust_1'%20OR%20'1'='1&limit=0&cursor=%24%24",
      paths: ['cursor', 'customer_id', 'limit', 'state'],
    },
    {
      name: 'GET /v1/subscriptions: a test_clock that is not a clock id (a quote in it)',
      method: 'get',
      url: "/v1/subscriptions?test_clock=clock_1'%20OR%20'1'='1",
      paths: ['test_clock'],
    },
    {
      name: 'GET /v1/customers: limit over 100, a cursor that is not one',
      method: 'get',
      url: '/v1/customers?limit=101&cursor=not%20a%20cursor',
      paths: ['cursor', 'limit'],
    },
    {
      name: 'GET /v1/merchant-events: the paging of before (page_size, page_token)',
      method: 'get',
      url: '/v1/merchant-events?page_size=10&page_token=abc',
      paths: ['page_size', 'page_token'],
    },
    {
      name: 'GET /v1/subscriptions/:id: not a subscription id',
      method: 'get',
      url: '/v1/subscriptions/abc',
      paths: ['subscriptionId'],
    },
    {
      name: 'GET /v1/customers/:id/tokens: not a customer id',
      method: 'get',
      url: '/v1/customers/x/tokens',
      paths: ['customerId'],
    },
    {
      name: 'POST cancel: a reason that is not text',
      method: 'post',
      url: '/v1/subscriptions/sub_1/cancel',
      body: { reason: 42 },
      paths: ['reason'],
    },
    {
      name: 'POST payment-token: a token id of the wrong form',
      method: 'post',
      url: '/v1/subscriptions/sub_1/payment-token',
      body: { token_id: 'card_123' },
      paths: ['token_id'],
    },
    {
      name: 'POST total-billing-cycles: missing',
      method: 'post',
      url: '/v1/subscriptions/sub_1/total-billing-cycles',
      body: {},
      paths: ['total_billing_cycles'],
    },
    {
      name: 'POST total-billing-cycles: zero',
      method: 'post',
      url: '/v1/subscriptions/sub_1/total-billing-cycles',
      body: { total_billing_cycles: 0 },
      paths: ['total_billing_cycles'],
    },
    {
      name: 'POST charge: an order id of the wrong form',
      method: 'post',
      url: '/v1/subscriptions/sub_1/charge',
      body: { order_id: 'ord_1' },
      paths: ['order_id'],
    },
    {
      name: 'POST resume: an unknown field',
      method: 'post',
      url: '/v1/subscriptions/sub_1/resume',
      body: { at: 'now' },
      paths: ['at'],
    },
    {
      name: 'POST sync: an unknown field',
      method: 'post',
      url: '/v1/subscriptions/sub_1/sync',
      body: { force: true },
      paths: ['force'],
    },
    {
      name: 'POST merchant-events redeliver: an unknown field',
      method: 'post',
      url: '/v1/merchant-events/evt.sub_1.payment_failed.0001/redeliver',
      body: { now: true },
      paths: ['now'],
    },
    {
      name: 'POST merchant-endpoint enable: an unknown field',
      method: 'post',
      url: '/v1/merchant-endpoint/enable',
      body: { url: 'https://example.com' },
      paths: ['url'],
    },
    {
      name: 'PUT dunning-policy: a bad duration, an unknown action and an unknown field',
      method: 'put',
      url: '/v1/subscriptions/sub_1/dunning-policy',
      body: { safety_margin: 'soon', final_action: 'explode', retries: 3 },
      paths: ['final_action', 'retries', 'safety_margin'],
    },
    {
      name: 'PUT dunning-policy: the camelCase names of before',
      method: 'put',
      url: '/v1/subscriptions/sub_1/dunning-policy',
      body: { attemptOffsets: ['1h'], finalAction: 'cancel' },
      paths: ['attemptOffsets', 'finalAction'],
    },
  ];

  for (const c of cases) {
    void it(`${c.name} → 400 naming ${c.paths.join(', ')}`, async () => {
      const { app, temporal, qfpay } = appWith();
      let req = request(app)[c.method](c.url).set(auth);
      if (c.headers) req = req.set(c.headers);
      const res = c.body === undefined ? await req : await req.send(c.body as object);
      const body = errorOf(res, 400, 'validation_error');
      assert.deepEqual(paths(body), c.paths, JSON.stringify(body.error.details));
      assert.deepEqual(temporal.calls, []);
      assert.deepEqual(qfpay.paths, []);
    });
  }

  void it('answers a malformed JSON body with 400, not 500', async () => {
    const { app, temporal } = appWith();
    const res = await request(app)
      .post('/v1/subscriptions/sub_1/cancel')
      .set(auth)
      .set('content-type', 'application/json')
      .send('{"reason": "too late",}');
    const body = errorOf(res, 400, 'validation_error');
    assert.equal(body.error.message, 'malformed JSON body');
    assert.deepEqual(temporal.calls, []);
  });

  void it('answers a JSON body that is not an object with 400', async () => {
    const { app } = appWith();
    errorOf(await request(app).post('/v1/products').set(auth).send([1, 2]), 400, 'validation_error');
  });

  void it('answers a body that is not JSON (text/plain, no Content-Type) with 415 naming Content-Type', async () => {
    const { app, temporal, qfpay } = appWith();
    for (const type of ['text/plain', 'application/x-www-form-urlencoded']) {
      const res = await request(app).post('/v1/products').set(auth).type(type).send('name=hello');
      const body = errorOf(res, 415, 'validation_error');
      assert.deepEqual(paths(body), ['Content-Type'], type);
      assert.match(body.error.details?.[0]?.message ?? '', /application\/json/);
    }
    const untyped = await request(app)
      .post('/v1/subscriptions/sub_1/cancel')
      .set(auth)
      .set('content-type', '')
      .send(Buffer.from('{}'));
    errorOf(untyped, 415, 'validation_error');
    assert.deepEqual(temporal.calls, []);
    assert.deepEqual(qfpay.paths, []);
  });

  for (const path of [
    '/v1/subscriptions/%E0%A4%A',
    '/v1/customers/%C0/tokens',
    '/v1/subscriptions/creations/%ZZ',
  ]) {
    void it(`answers malformed percent-encoding in ${path} with 400, not 500`, async () => {
      const { app, temporal } = appWith();
      const body = errorOf(await request(app).get(path).set(auth), 400, 'validation_error');
      assert.deepEqual(paths(body), ['(path)']);
      assert.deepEqual(temporal.calls, []);
    });
  }

  for (const [route, wrap] of [
    ['/v1/customers', (address: unknown) => ({ name: 'Deep', billing_address: address })],
    [
      '/v1/subscriptions',
      (address: unknown) => ({
        customer: { billing_address: address },
        product_id: 'prod_1',
        token_id: 'tk_1',
      }),
    ],
  ] as const) {
    void it(`answers JSON nested 5,000 levels deep on ${route} with 400 naming where`, async () => {
      const { app, temporal, qfpay } = appWith();
      const deep = `{"a":`.repeat(5000) + '1' + '}'.repeat(5000);
      const res = await request(app)
        .post(route)
        .set(auth)
        .set('idempotency-key', 'deep-1')
        .set('content-type', 'application/json')
        .send(JSON.stringify(wrap('__DEEP__')).replace('"__DEEP__"', deep));
      const body = errorOf(res, 400, 'validation_error');
      assert.match(paths(body)[0] ?? '', /billing_address(\.a)+$/);
      assert.deepEqual(temporal.calls, []);
      assert.deepEqual(qfpay.paths, []);
    });
  }

  void it('answers a body over the limit with 413', async () => {
    const { app } = appWith();
    const res = await request(app)
      .post('/v1/customers')
      .set(auth)
      .send({ name: 'x'.repeat(200_000) });
    errorOf(res, 413, 'validation_error');
  });
});

void describe('the error shape and request ids', () => {
  void it('answers an unknown route with 404 in the one shape', async () => {
    const { app } = appWith();
    const body = errorOf(await request(app).get('/nowhere'), 404, 'not_found');
    assert.match(body.error.message, /GET \/nowhere/);
  });

  void it("echoes the caller's X-Request-Id and replaces an unsafe one", async () => {
    const { app } = appWith();
    const mine = await request(app).get('/healthz').set('X-Request-Id', 'req-42.abc');
    assert.equal(mine.headers['x-request-id'], 'req-42.abc');
    const unsafe = await request(app).get('/healthz').set('X-Request-Id', 'a b\tc');
    assert.match(String(unsafe.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    const fresh = await request(app).get('/nowhere');
    assert.match(String(fresh.headers['x-request-id']), /^[0-9a-f-]{36}$/);
    assert.equal(fresh.body.request_id, fresh.headers['x-request-id']);
  });

  void it('answers an unexpected exception with 500 internal, without its message or stack', async () => {
    const temporal = fakeTemporal({
      query: () => {
        throw new TypeError('kaboom at secret.ts:12');
      },
    });
    const { app } = appWith(temporal, knownCustomers());
    const res = await request(app).get('/v1/customers/cust_1/tokens').set(auth);
    const body = errorOf(res, 500, 'internal');
    assert.doesNotMatch(JSON.stringify(body), /kaboom|secret\.ts|at /);
  });

  void it('answers Temporal being unreachable with 503 temporal_unavailable', async () => {
    const grpcUnavailable = Object.assign(new Error('14 UNAVAILABLE: No connection established'), {
      code: 14,
      details: 'No connection established',
      metadata: {},
    });
    const temporal = fakeTemporal({
      query: () => {
        throw new ServiceError('Failed to query Workflow', { cause: grpcUnavailable });
      },
    });
    const res = await request(appWith(temporal).app).get('/v1/subscriptions/sub_1').set(auth);
    errorOf(res, 503, 'temporal_unavailable');
  });

  void it('answers FAILED_PRECONDITION (an update with no worker) with 503 and Retry-After', async () => {
    const failedPrecondition = Object.assign(new Error('9 FAILED_PRECONDITION: no poller'), {
      code: 9,
      details: 'no poller',
      metadata: {},
    });
    const temporal = fakeTemporal({
      executeUpdate: () => {
        throw new ServiceError('Failed to run update', { cause: failedPrecondition });
      },
    });
    const res = await request(appWith(temporal).app).post('/v1/subscriptions/sub_1/sync').set(auth);
    errorOf(res, 503, 'temporal_unavailable');
    assert.match(String(res.headers['retry-after']), /^\d+$/);
  });

  void it('answers a cursor this API did not sign with 400 naming cursor, before Temporal sees it', async () => {
    const { app, temporal } = appWith();
    // The layout of a real cursor (version byte, MAC, Temporal's token) with a MAC anyone could compute before.
    const forged = Buffer.concat([Buffer.from([1]), Buffer.alloc(16, 7), Buffer.from('temporal')]).toString(
      'base64url',
    );
    const res = await request(app).get(`/v1/subscriptions?cursor=${forged}`).set(auth);
    const body = errorOf(res, 400, 'validation_error');
    assert.deepEqual(paths(body), ['cursor']);
    assert.match(body.error.details?.[0]?.message ?? '', /next_cursor/);
    assert.deepEqual(temporal.calls, []);
  });

  void it('names the snake_case field for a camelCase one the API took before', async () => {
    const { app } = appWith();
    const res = await request(app)
      .post('/v1/subscriptions')
      .set(auth)
      .set('Idempotency-Key', 'camel-1')
      .send({
        customer_id: 'cust_1',
        product_id: 'prod_1',
        token_id: 'tk_1',
        dunning_policy: { attemptOffsets: ['1h'], safetyMargin: '2h', nonRetryableRespcds: [] },
      });
    const body = errorOf(res, 400, 'validation_error');
    assert.deepEqual(body.error.details, [
      { path: 'dunning_policy.attemptOffsets', message: 'unknown field: it is attempt_offsets (snake_case)' },
      { path: 'dunning_policy.safetyMargin', message: 'unknown field: it is safety_margin (snake_case)' },
      {
        path: 'dunning_policy.nonRetryableRespcds',
        message: 'unknown field: it is non_retryable_respcds (snake_case)',
      },
    ]);
    const paging = errorOf(
      await request(app).get('/v1/customers?page=2&page_size=10').set(auth),
      400,
      'validation_error',
    );
    assert.deepEqual(paging.error.details, [
      {
        path: 'page',
        message: 'unknown field: lists are paged with limit and cursor (the next_cursor of a page)',
      },
      { path: 'page_size', message: 'unknown field: it is limit' },
    ]);
  });

  void it('answers a subscription whose workflow does not exist with 404', async () => {
    const temporal = fakeTemporal({
      query: () => {
        throw new WorkflowNotFoundError('workflow not found', 'qfpay-subscription:sub_1', undefined);
      },
    });
    const body = errorOf(
      await request(appWith(temporal).app).get('/v1/subscriptions/sub_1').set(auth),
      404,
      'not_found',
    );
    assert.match(body.error.message, /sub_1/);
    assert.equal(temporal.calls.find((c) => c.method === 'getHandle')?.args[0], 'qfpay-subscription:sub_1');
  });

  void it("answers an update its validator rejected with 409 and the validator's message", async () => {
    const temporal = fakeTemporal({
      executeUpdate: () => {
        throw new WorkflowUpdateFailedError(
          'Workflow Update failed',
          ApplicationFailure.create({
            message: 'subscription is already CANCELLED; there is nothing to cancel',
          }),
        );
      },
    });
    const res = await request(appWith(temporal).app).post('/v1/subscriptions/sub_1/cancel').set(auth);
    const body = errorOf(res, 409, 'conflict');
    assert.equal(body.error.message, 'subscription is already CANCELLED; there is nothing to cancel');
  });

  void it('answers an update a gateway could not carry out (no answer, busy) with 503 gateway_unavailable', async () => {
    const temporal = fakeTemporal({
      executeUpdate: () => {
        throw new WorkflowUpdateFailedError(
          'Workflow Update failed',
          ApplicationFailure.create({
            type: 'GatewayUnavailable',
            message: 'qorepay did not pause: no answer (the call timed out)',
            nonRetryable: true,
          }),
        );
      },
    });
    const res = await request(appWith(temporal).app).post('/v1/subscriptions/sub_1/pause').set(auth).send({});
    const body = errorOf(res, 503, 'gateway_unavailable');
    assert.match(body.error.message, /qorepay did not pause: no answer/);
  });

  void it("maps QFPay's refusal inside an update to the QFPay status, with the respcd", async () => {
    const temporal = fakeTemporal({
      executeUpdate: () => {
        throw new WorkflowUpdateFailedError(
          'Workflow Update failed',
          ApplicationFailure.create({
            type: 'QfpayError:not_found',
            message: 'QFPay /subscription/v1/cancel failed with respcd 1268',
            nonRetryable: true,
            details: [
              { kind: 'permanent', reason: 'not_found', respcd: '1268', respmsg: 'order does not exist' },
            ],
          }),
        );
      },
    });
    const res = await request(appWith(temporal).app).post('/v1/subscriptions/sub_1/cancel').set(auth);
    const body = errorOf(res, 404, 'not_found');
    assert.ok(body.error.details?.some((d) => d.path === 'qfpay.respcd' && d.message.startsWith('1268')));
  });
});

void describe('HTTP methods: a known path with a method it does not serve', () => {
  for (const c of [
    { method: 'delete', url: '/v1/subscriptions/sub_1', allow: 'GET, HEAD' },
    { method: 'put', url: '/v1/customers/cust_1', allow: 'GET, HEAD, PATCH, DELETE' },
    { method: 'get', url: '/v1/subscriptions/sub_1/cancel', allow: 'POST' },
    { method: 'patch', url: '/v1/subscriptions', allow: 'GET, HEAD, POST' },
    { method: 'get', url: '/webhooks/qfpay', allow: 'POST' },
    { method: 'post', url: '/openapi.json', allow: 'GET, HEAD' },
  ] as const) {
    void it(`${c.method.toUpperCase()} ${c.url} → 405 with Allow: ${c.allow}`, async () => {
      const { app, temporal, qfpay } = appWith();
      const res = await request(app)[c.method](c.url).set(auth);
      const body = errorOf(res, 405, 'method_not_allowed');
      assert.equal(res.headers.allow, c.allow);
      assert.match(body.error.message, new RegExp(`${c.method.toUpperCase()} .* allows ${c.allow}`));
      assert.deepEqual(temporal.calls, []);
      assert.deepEqual(qfpay.paths, []);
    });
  }

  void it('still answers an unknown path with 404, and an unauthenticated /v1 request with 401', async () => {
    const { app } = appWith();
    errorOf(await request(app).delete('/v1/nowhere').set(auth), 404, 'not_found');
    errorOf(await request(app).delete('/v1/subscriptions/sub_1'), 401, 'unauthorized');
  });
});

/** A subscription view as the workflow's query answers it, in `state`, with a next billing time. */
function viewIn(state: LifecycleState): SubscriptionView {
  const s = pastDue();
  return {
    subscriptionId: SUB,
    workflowId: `qfpay-subscription:${SUB}`,
    gateway: 'qfpay',
    snapshot: { ...s.snapshot, state },
    dunning: { policy: s.policy, episode: null, history: [] },
    billingPausedByMerchant: false,
    billingPause: null,
    origin: 'created',
    continuedAsNew: 0,
    lastSyncAt: s.lastSyncAt,
    pendingCharge: null,
  };
}

void describe('the subscription view', () => {
  for (const state of ['CANCELLED', 'COMPLETED', 'INCOMPLETE_EXPIRED'] as const) {
    void it(`shows no next_billing_time once the subscription has ended (${state})`, async () => {
      const view = viewIn(state);
      assert.notEqual(
        view.snapshot.nextBillingTime,
        null,
        'the workflow still holds the last one QFPay gave',
      );
      const { app } = appWith(fakeTemporal({ query: () => view }));
      const res = await request(app).get(`/v1/subscriptions/${SUB}`).set(auth);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(SubscriptionViewSchema.parse(res.body).next_billing_time, null);
    });
  }

  void it('writes every field in snake_case, the dunning policy included', async () => {
    const view = viewIn('PAST_DUE');
    const { app } = appWith(fakeTemporal({ query: () => view }));
    const res = await request(app).get(`/v1/subscriptions/${SUB}`).set(auth);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(nonSnakeKeys(res.body), []);
    assert.deepEqual(res.body.dunning.policy, {
      attempt_offsets: view.dunning.policy.attemptOffsets,
      safety_margin: view.dunning.policy.safetyMargin,
      min_attempt_window: view.dunning.policy.minAttemptWindow,
      escalation: view.dunning.policy.escalation,
      final_action: view.dunning.policy.finalAction,
      non_retryable_respcds: view.dunning.policy.nonRetryableRespcds,
    });
  });

  void it('shows the next_billing_time of a subscription that goes on (PAST_DUE)', async () => {
    const view = viewIn('PAST_DUE');
    const { app } = appWith(fakeTemporal({ query: () => view }));
    const res = await request(app).get(`/v1/subscriptions/${SUB}`).set(auth);
    assert.equal(
      SubscriptionViewSchema.parse(res.body).next_billing_time,
      new Date(view.snapshot.nextBillingTime!).toISOString(),
    );
  });
});

void describe('a gateway that is not configured', () => {
  const notConfigured = () =>
    ApplicationFailure.create({
      type: 'GatewayNotConfigured',
      message: 'gateway qorepay is not configured in this worker',
    });

  void it('answers an update that met it with 503 gateway_unavailable', async () => {
    const temporal = fakeTemporal({
      executeUpdate: () => {
        throw new WorkflowUpdateFailedError('Workflow Update failed', notConfigured());
      },
    });
    const res = await request(appWith(temporal).app)
      .post('/v1/subscriptions/qorepay:tpl~client/sync')
      .set(auth);
    const body = errorOf(res, 503, 'gateway_unavailable');
    assert.match(body.error.message, /qorepay is not configured/);
  });

  void it('answers a creation that failed on it with 503 gateway_unavailable, as the route does up front', async () => {
    let memo: unknown;
    const temporal = fakeTemporal({
      start: (_type, options) => {
        memo = (options as { memo: unknown }).memo;
        return temporal.client.workflow.getHandle('creation');
      },
      describe: () => ({ memo, status: { name: 'FAILED' } }),
      result: () => {
        throw new WorkflowFailedError(
          'Workflow execution failed',
          new ActivityFailure(
            'activity failed',
            'createOnGateway',
            '1',
            RetryState.TIMEOUT,
            undefined,
            notConfigured(),
          ),
          RetryState.NON_RETRYABLE_FAILURE,
        );
      },
    });
    const res = await request(appWith(temporal).app)
      .post('/v1/subscriptions')
      .set(auth)
      .set('Idempotency-Key', 'not-configured-1')
      .send({ customer_id: 'cust_1', product_id: 'prod_1', token_id: 'tk_1' });
    errorOf(res, 503, 'gateway_unavailable');

    const unconfigured = await request(appWith().app)
      .post('/v1/gateways/qorepay/subscriptions')
      .set(auth)
      .set('Idempotency-Key', 'not-configured-2')
      .send({});
    errorOf(unconfigured, 503, 'gateway_unavailable');
  });
});

void describe("a customer's payment tokens", () => {
  const customers = (found: string[]) =>
    scriptedQfpay((path) => {
      assert.equal(path, '/customer/v1/query');
      return { body: { respcd: '0000', data: found.map((customer_id) => ({ customer_id })) } };
    });

  void it('answers 404 for a customer QFPay does not have, as GET /v1/customers/{id} does', async () => {
    const { app, temporal } = appWith(fakeTemporal(), customers([]));
    const body = errorOf(
      await request(app).get('/v1/customers/cust_unknown/tokens').set(auth),
      404,
      'not_found',
    );
    assert.match(body.error.message, /cust_unknown/);
    errorOf(await request(app).get('/v1/customers/cust_unknown').set(auth), 404, 'not_found');
    assert.deepEqual(
      temporal.calls.filter((c) => c.method === 'query'),
      [],
    );
  });

  void it('answers an empty list for a customer QFPay has but never reported a token for', async () => {
    const temporal = fakeTemporal({
      query: () => {
        throw new WorkflowNotFoundError('workflow not found', 'qfpay-customer-tokens:cust_known', undefined);
      },
    });
    const { app } = appWith(temporal, customers(['cust_known']));
    const res = await request(app).get('/v1/customers/cust_known/tokens').set(auth);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { data: [], next_cursor: null });
  });
});

void describe('lists: one shape, { data, next_cursor }, paged by limit and cursor', () => {
  /** A QFPay holding `records` and answering its query page by page, as it does (no total). */
  function qfpayWith(path: string, records: Array<Record<string, unknown>>) {
    const asked: Array<{ page: number; pageSize: number }> = [];
    const qfpay = scriptedQfpay((at, params) => {
      assert.equal(at, path);
      const page = Number(params.get('page'));
      const pageSize = Number(params.get('page_size'));
      asked.push({ page, pageSize });
      const from = (page - 1) * pageSize;
      return { body: { respcd: '0000', data: records.slice(from, from + pageSize) } };
    });
    return { qfpay, asked };
  }

  async function listed(app: Parameters<typeof request>[0], url: string) {
    const res = await request(app).get(url).set(auth);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(Object.keys(res.body).sort(), ['data', 'next_cursor']);
    assert.deepEqual(nonSnakeKeys(res.body), []);
    return res.body as { data: Array<Record<string, unknown>>; next_cursor: string | null };
  }

  void it("pages QFPay's customers by cursor, whatever the limit of each page; a cursor of another list is a 400", async () => {
    const ids = ['cust_a1', 'cust_a2', 'cust_a3', 'cust_a4', 'cust_a5'];
    const { qfpay, asked } = qfpayWith(
      '/customer/v1/query',
      ids.map((customer_id) => ({ customer_id, email: 'ada@example.com' })),
    );
    const { app } = appWith(fakeTemporal(), qfpay);

    const seen: string[][] = [];
    let url: string | undefined = '/v1/customers?email=ada@example.com&limit=2';
    while (url !== undefined) {
      const page = await listed(app, url);
      seen.push(page.data.map((c) => String(c.customer_id)));
      url =
        page.next_cursor === null
          ? undefined
          : `/v1/customers?email=ada@example.com&limit=2&cursor=${page.next_cursor}`;
    }
    assert.deepEqual(seen, [['cust_a1', 'cust_a2'], ['cust_a3', 'cust_a4'], ['cust_a5']]);
    assert.deepEqual(
      asked.map((a) => [a.page, a.pageSize]),
      [
        [1, 2],
        [2, 2],
        [3, 2],
      ],
    );

    // A cursor is a position: the next page may have another size.
    const first = await listed(app, '/v1/customers?email=ada@example.com&limit=2');
    const wider = await listed(
      app,
      `/v1/customers?email=ada@example.com&limit=3&cursor=${first.next_cursor}`,
    );
    assert.deepEqual(
      wider.data.map((c) => c.customer_id),
      ['cust_a3', 'cust_a4', 'cust_a5'],
    );
    assert.ok(wider.next_cursor, 'a full page: QFPay may have more');
    const end = await listed(app, `/v1/customers?email=ada@example.com&limit=3&cursor=${wider.next_cursor}`);
    assert.deepEqual(end, { data: [], next_cursor: null });

    // A cursor pages only through the list (and filters) it came from.
    for (const url of [
      `/v1/customers?email=grace@example.com&limit=2&cursor=${first.next_cursor}`,
      `/v1/products?limit=2&cursor=${first.next_cursor}`,
      `/v1/customers?cursor=${first.next_cursor!.slice(0, -2)}`,
    ]) {
      const before = asked.length;
      const body = errorOf(await request(app).get(url).set(auth), 400, 'validation_error');
      assert.deepEqual(paths(body), ['cursor'], url);
      assert.equal(asked.length, before, 'QFPay was not asked');
    }
  });

  void it("pages QFPay's products by cursor, in the same shape", async () => {
    const { qfpay } = qfpayWith(
      '/product/v1/query',
      ['prod_p1', 'prod_p2'].map((product_id) => ({
        product_id,
        name: 'Gold',
        txamt: 9900,
        txcurrcd: 'HKD',
        interval: 'monthly',
        interval_count: 1,
      })),
    );
    const { app } = appWith(fakeTemporal(), qfpay);
    const page = await listed(app, '/v1/products?limit=5');
    assert.deepEqual(
      page.data.map((p) => [p.product_id, p.amount]),
      [
        ['prod_p1', 9900],
        ['prod_p2', 9900],
      ],
    );
    assert.equal(page.next_cursor, null);
  });

  void it("pages subscriptions with Temporal's page token inside the cursor", async () => {
    const tokens: unknown[] = [];
    const temporal = fakeTemporal({
      listWorkflowExecutions: (req) => {
        const { nextPageToken, pageSize } = req as { nextPageToken?: Uint8Array; pageSize: number };
        tokens.push([nextPageToken ? Buffer.from(nextPageToken).toString() : null, pageSize]);
        return { executions: [], nextPageToken: nextPageToken ? null : Buffer.from('page-2') };
      },
    });
    const { app } = appWith(temporal);
    const first = await listed(app, '/v1/subscriptions?state=ACTIVE&limit=7');
    assert.deepEqual(first.data, []);
    assert.ok(first.next_cursor);
    const second = await listed(app, `/v1/subscriptions?state=ACTIVE&limit=3&cursor=${first.next_cursor}`);
    assert.deepEqual(second, { data: [], next_cursor: null });
    assert.deepEqual(tokens, [
      [null, 7],
      ['page-2', 3],
    ]);
    const otherFilter = errorOf(
      await request(app).get(`/v1/subscriptions?state=PAST_DUE&cursor=${first.next_cursor}`).set(auth),
      400,
      'validation_error',
    );
    assert.deepEqual(paths(otherFilter), ['cursor']);
  });

  void it('lists the subscriptions of one test clock by its search attribute', async () => {
    const queries: string[] = [];
    const temporal = fakeTemporal({
      listWorkflowExecutions: (req) => {
        queries.push((req as { query: string }).query);
        return { executions: [], nextPageToken: null };
      },
    });
    const { app } = appWith(temporal);
    const clock = 'clock_3f2a9c0d1b7e4a5c6d8e9f01';
    assert.deepEqual(await listed(app, `/v1/subscriptions?test_clock=${clock}&state=ACTIVE`), {
      data: [],
      next_cursor: null,
    });
    assert.deepEqual(queries, [
      `WorkflowType = 'subscriptionWorkflow' AND ExecutionStatus != 'ContinuedAsNew' AND SubscriptionState = 'ACTIVE' AND TestClock = '${clock}'`,
    ]);
  });

  void it("pages a customer's payment tokens", async () => {
    const records = [1, 2, 3].map((n) => ({
      tokenId: `tk_${n}`,
      customerId: 'cust_known',
      event: 'NEW',
      cardMasked: `520000******109${n}`,
      receivedAt: Date.UTC(2027, 0, n),
      at: Date.UTC(2027, 0, n),
    }));
    const { app } = appWith(
      fakeTemporal({ query: () => records }),
      qfpayWith('/customer/v1/query', [{ customer_id: 'cust_known' }]).qfpay,
    );
    const first = await listed(app, '/v1/customers/cust_known/tokens?limit=2');
    assert.deepEqual(
      first.data.map((t) => t.token_id),
      ['tk_1', 'tk_2'],
    );
    const rest = await listed(app, `/v1/customers/cust_known/tokens?limit=2&cursor=${first.next_cursor}`);
    assert.deepEqual(
      rest.data.map((t) => [t.token_id, t.card_masked]),
      [['tk_3', '520000******1093']],
    );
    assert.equal(rest.next_cursor, null);
  });

  void it('lists the gateways with snake_case capabilities', async () => {
    const { app } = appWith();
    const page = await listed(app, '/v1/gateways');
    assert.equal(page.next_cursor, null);
    const qfpay = page.data.find((g) => g.name === 'qfpay') as { capabilities: Record<string, unknown> };
    assert.equal(qfpay.capabilities.manual_charge, true);
    assert.equal(qfpay.capabilities.change_token, true);
    const madfintech = page.data.find((g) => g.name === 'madfintech') as {
      capabilities: Record<string, unknown>;
    };
    assert.equal(madfintech.capabilities.manual_charge, false);
    assert.equal(typeof madfintech.capabilities.recovery_ends_after_ms, 'number');
    const two = await listed(app, '/v1/gateways?limit=2');
    assert.equal(two.data.length, 2);
    const rest = await listed(app, `/v1/gateways?limit=2&cursor=${two.next_cursor}`);
    assert.deepEqual(
      [...two.data, ...rest.data].map((g) => g.name),
      page.data.map((g) => g.name),
    );
  });
});

void describe('customers and products at QFPay', () => {
  void it('creates a customer (201) and maps its fields', async () => {
    const qfpay = scriptedQfpay(() => ({
      body: { respcd: '0000', data: { customer_id: 'cust_new1', name: 'Ada', email: 'ada@example.com' } },
    }));
    const res = await request(appWith(undefined, qfpay).app)
      .post('/v1/customers')
      .set(auth)
      .send({ name: 'Ada', email: 'ada@example.com' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.customer_id, 'cust_new1');
    assert.deepEqual(qfpay.paths, ['/customer/v1/create']);
  });

  void it('creates a recurring product (201) in minor units', async () => {
    const qfpay = scriptedQfpay(() => ({ body: { respcd: '0000', data: { product_id: 'prod_new1' } } }));
    const res = await request(appWith(undefined, qfpay).app)
      .post('/v1/products')
      .set(auth)
      .send({ name: 'Gold', amount: 9900, currency: 'hkd', interval: 'monthly', interval_count: 1 });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(res.body, {
      product_id: 'prod_new1',
      name: 'Gold',
      amount: 9900,
      currency: 'HKD',
      interval: 'monthly',
      interval_count: 1,
      metadata: {},
    });
  });

  void it("maps QFPay's answers: parameter error → 400, not found → 404, busy → 503, with the respcd", async () => {
    const cases = [
      { answer: { body: { respcd: '1104', respmsg: 'param error' } }, status: 400, code: 'validation_error' },
      { answer: { body: { respcd: '1268', respmsg: 'no such thing' } }, status: 404, code: 'not_found' },
      { answer: { body: { respcd: '1297', respmsg: 'bank busy' } }, status: 503, code: 'qfpay_error' },
      { answer: { status: 502, body: {} }, status: 503, code: 'qfpay_error' },
      { answer: { body: { respcd: '1108', respmsg: 'sign error' } }, status: 502, code: 'qfpay_error' },
    ];
    for (const c of cases) {
      const qfpay = scriptedQfpay(() => c.answer);
      const res = await request(appWith(undefined, qfpay).app)
        .post('/v1/customers')
        .set(auth)
        .send({ name: 'Ada' });
      const body = errorOf(res, c.status, c.code);
      const respcd = (c.answer.body as { respcd?: string }).respcd;
      if (respcd)
        assert.ok(body.error.details?.some((d) => d.path === 'qfpay.respcd' && d.message.startsWith(respcd)));
    }
  });
});

void describe('HTTP server time limits', () => {
  void it('sets headers, request and keep-alive timeouts explicitly, not to Node defaults', () => {
    const server = createServer();
    const defaults = {
      headersTimeout: server.headersTimeout,
      requestTimeout: server.requestTimeout,
      keepAliveTimeout: server.keepAliveTimeout,
    };
    applyServerTimeouts(server);
    assert.deepEqual(
      {
        headersTimeout: server.headersTimeout,
        requestTimeout: server.requestTimeout,
        keepAliveTimeout: server.keepAliveTimeout,
      },
      SERVER_TIMEOUTS,
    );
    assert.notEqual(server.headersTimeout, defaults.headersTimeout);
    assert.notEqual(server.requestTimeout, defaults.requestTimeout);
    assert.ok(SERVER_TIMEOUTS.requestTimeout > DEFAULT_API_TIMEOUTS.updateMs, 'an update can finish');
  });
});
