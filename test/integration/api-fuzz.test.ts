/**
 * Property-based HTTP fuzzing of the whole API (fast-check) against a real Temporal dev server, a
 * real worker and the QFPay emulator: broken percent-encoding, control characters and huge ids in
 * paths and query strings, JSON nested thousands of levels deep, bodies whose bytes do not match
 * their Content-Encoding, wrong content types, and signed webhook notifications with hostile ids.
 * Whatever arrives, the answer is never a 5xx.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import request from 'supertest';
import { signNotification } from '../../src/gateways/qfpay/signing';
import { APP_KEY, auth, useApiEngine } from '../helpers/api-engine';

/** Requests sent per property (a fixed seed, so a failure replays). */
const RUNS = 400;
const SEED = 20261128;

/** A path segment a client might send: valid ids, broken percent-encoding, controls, huge. */
const segment = fc.oneof(
  fc.constantFrom('sub_0f1e2d3c4b5a6978', 'cust_8c1f2a9b', 'sub_ord_0f1e_0002', 'tk_1', ''),
  fc.string({ maxLength: 40 }).map(encodeURIComponent),
  fc
    .array(
      fc.oneof(
        fc.constantFrom('%', '%Z', '%E0%A4%A', '%C0', '%00', '%0A', '%FF', '%%', '%2F'),
        fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEFZ'), maxLength: 4 }),
      ),
      {
        maxLength: 6,
      },
    )
    .map((parts) => parts.join('')),
  fc.integer({ min: 129, max: 6000 }).map((n) => `sub_${'a'.repeat(n)}`),
  fc.string({ unit: 'binary', maxLength: 20 }).map((s) => encodeURIComponent(s)),
);

const ROUTES: Array<{ method: 'get' | 'post' | 'put'; path: (s: string) => string }> = [
  { method: 'get', path: (s) => `/v1/subscriptions/${s}` },
  { method: 'post', path: (s) => `/v1/subscriptions/${s}/cancel` },
  { method: 'post', path: (s) => `/v1/subscriptions/${s}/sync` },
  { method: 'post', path: (s) => `/v1/subscriptions/${s}/charge` },
  { method: 'post', path: (s) => `/v1/subscriptions/${s}/payment-token` },
  { method: 'post', path: (s) => `/v1/subscriptions/${s}/total-billing-cycles` },
  { method: 'put', path: (s) => `/v1/subscriptions/${s}/dunning-policy` },
  { method: 'get', path: (s) => `/v1/customers/${s}/tokens` },
  { method: 'get', path: (s) => `/v1/subscriptions/creations/${s}` },
  { method: 'get', path: (s) => `/v1/subscriptions?customer_id=${s}&cursor=${s}` },
  { method: 'get', path: (s) => `/v1/customers?email=${s}&cursor=${s}` },
  { method: 'get', path: (s) => `/v1/subscriptions/${s}/orders?limit=${s}&cursor=${s}` },
  { method: 'get', path: (s) => `/v1/events/${s}` },
  { method: 'get', path: (s) => `/v1/events?created_after=${s}&created_before=${s}&type=${s}&cursor=${s}` },
  { method: 'post', path: () => '/v1/subscriptions' },
  { method: 'post', path: () => '/v1/customers' },
  { method: 'post', path: () => '/v1/products' },
];

/** JSON nested `depth` levels inside a field the schemas accept as free-form. */
const deepJson = fc
  .integer({ min: 1, max: 6000 })
  .map((depth) => `{"billing_address":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)},"name":"x"}`);

/** A body as bytes, with the headers that describe it (truthfully or not). */
const body = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => ({ bytes: JSON.stringify(v), type: 'application/json' })),
  deepJson.map((bytes) => ({ bytes, type: 'application/json' })),
  fc.string({ maxLength: 200 }).map((bytes) => ({ bytes, type: 'application/json' })),
  fc.uint8Array({ maxLength: 200 }).map((b) => ({ bytes: Buffer.from(b), type: 'application/json' })),
  fc.record({
    bytes: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    type: fc.constant('application/json'),
    encoding: fc.constantFrom('gzip', 'deflate', 'br', 'compress', 'identity'),
  }),
  fc.record({
    bytes: fc.string({ maxLength: 100 }),
    type: fc.constantFrom(
      'text/plain',
      'application/xml',
      'multipart/form-data; boundary=x',
      'application/json; charset=latin1',
      '',
    ),
  }),
);

const idempotencyKey = fc.oneof(fc.string({ maxLength: 300 }), fc.constant(undefined));

describe('HTTP fuzzing: no input yields a 5xx', () => {
  const engine = useApiEngine('api-fuzz');
  let sent = 0;

  it('merchant routes: hostile paths, bodies, encodings and content types', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ROUTES),
        segment,
        body,
        idempotencyKey,
        async (route, s, b, key) => {
          let req = request(engine.app)[route.method](route.path(s)).set(auth);
          if (b.type) req = req.set('content-type', b.type);
          if ('encoding' in b && b.encoding) req = req.set('content-encoding', b.encoding);
          if (key !== undefined && /^[\t\x20-\x7e]*$/.test(key)) req = req.set('idempotency-key', key);
          const res = await req.send(b.bytes);
          sent += 1;
          assert.ok(
            res.status < 500,
            `${route.method.toUpperCase()} ${route.path(s).slice(0, 120)} → ${res.status} ${res.text.slice(0, 200)}`,
          );
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it('webhook: signed notifications with hostile ids and fields, and unsigned garbage', async () => {
    const id = fc.oneof(
      fc.constantFrom('sub_0f1e2d3c4b5a6978', 'sub_ord_0f1e2d3c4b5a6978_0002'),
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.integer({ min: 129, max: 6000 }).map((n) => `sub_${'b'.repeat(n)}`),
      fc.string({ maxLength: 10 }).map((s) => `sub_${s}\u0000`),
    );
    const notification = fc.record({
      notify_type: fc.constantFrom('subscription', 'subscription_payment', 'payment_token', 'other'),
      subscription_id: id,
      subscription_order_id: id,
      tokenid: id,
      customer_id: id,
      state: fc.constantFrom('ACTIVE', 'PAST_DUE', 'CANCELLED', '\u0000', ''),
      respcd: fc.constantFrom('0000', '1205', ''),
      sysdtm: fc.constantFrom('2025-01-31 12:00:00', 'not a time', ''),
      event: fc.constantFrom('NEW', 'MATCH'),
    });
    await fc.assert(
      fc.asyncProperty(notification, fc.boolean(), async (n, signed) => {
        const raw = JSON.stringify(n);
        let req = request(engine.app).post('/webhooks/qfpay').set('content-type', 'application/json');
        if (signed) req = req.set('X-QF-SIGN', signNotification(raw, APP_KEY));
        const res = await req.send(raw);
        sent += 1;
        assert.ok(res.status < 500, `${raw.slice(0, 200)} → ${res.status} ${res.text.slice(0, 200)}`);
      }),
      { numRuns: RUNS, seed: SEED },
    );
    process.stdout.write(`# fuzzed ${sent} requests, 0 answered 5xx\n`);
  });
});
