import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  QfpayClient,
  paginate,
  type QfpayClientOptions,
  type QfpayRequestEvent,
} from '../../src/gateways/qfpay/client';
import { QfpayError } from '../../src/gateways/qfpay/errors';
import { parseSignType, signRequest } from '../../src/gateways/qfpay/signing';
import { freePort } from '../../src/dev/free-ports';

const APP_CODE = 'test-app-code';
const APP_KEY = 'test-app-key-0123';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  form: Record<string, string>;
  /** Recomputed from the received form body with the shared key. */
  expectedSign: string;
}

type Handler = (req: Received, res: ServerResponse) => void;

const ok = (data: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ respcd: '0000', respmsg: 'success', resperr: 'success', data, ...extra });

function reply(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body);
}

/** A fake QFPay host: records each request and answers with the current test's handler. */
class ScriptedQfpay {
  readonly received: Received[] = [];
  handler: Handler = (_req, res) => reply(res, 200, ok({}));
  private readonly server: Server;
  private readonly held = new Set<ServerResponse>();

  constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
        const signType = parseSignType(req.headers['x-qf-signtype'] as string | undefined) ?? 'MD5';
        const received: Received = {
          path: req.url ?? '',
          headers: req.headers,
          form,
          expectedSign: signRequest(form, APP_KEY, signType),
        };
        this.received.push(received);
        this.held.add(res);
        res.on('close', () => this.held.delete(res));
        this.handler(received, res);
      });
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get last(): Received {
    const r = this.received.at(-1);
    assert.ok(r, 'no request received');
    return r;
  }

  async stop(): Promise<void> {
    for (const res of this.held) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function rejection(promise: Promise<unknown>): Promise<QfpayError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof QfpayError, `expected QfpayError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to fail');
}

const fake = new ScriptedQfpay();
let baseUrl = '';
const events: QfpayRequestEvent[] = [];

function client(options: Partial<QfpayClientOptions> = {}): QfpayClient {
  return new QfpayClient({
    baseUrl,
    appCode: APP_CODE,
    appKey: APP_KEY,
    timeoutMs: 2_000,
    onRequest: (e) => events.push(e),
    ...options,
  });
}

void before(async () => {
  baseUrl = await fake.start();
});
void after(async () => {
  await fake.stop();
});
void beforeEach(() => {
  fake.received.length = 0;
  events.length = 0;
  fake.handler = (_req, res) => reply(res, 200, ok({}));
});

function assertSignedForm(received: Received, path: string, form: Record<string, string>): void {
  assert.equal(received.path, path);
  assert.deepEqual(received.form, form);
  assert.equal(received.headers['x-qf-appcode'], APP_CODE);
  assert.equal(received.headers['x-qf-sign'], received.expectedSign, 'signature over the received form');
  assert.equal(received.headers['x-qf-signtype'], undefined, 'MD5 is signalled by the header being absent');
  assert.match(String(received.headers['content-type']), /^application\/x-www-form-urlencoded/);
  assert.equal(JSON.stringify(received.headers).includes(APP_KEY), false, 'the app key is never sent');
}

void describe('request shapes: one signed form POST per method', () => {
  void it('createCustomer sends the billing address as a JSON string', async () => {
    fake.handler = (_r, res) => reply(res, 200, ok({ customer_id: 'cust_1' }));
    const customer = await client().createCustomer({
      name: 'Chan Tai Man',
      email: 'chan@example.com',
      phone: '',
      billing_address: { city: 'Hong Kong', line1: '1 Queen’s Road' },
    });
    assert.equal(customer.customer_id, 'cust_1');
    assertSignedForm(fake.last, '/customer/v1/create', {
      name: 'Chan Tai Man',
      email: 'chan@example.com',
      billing_address: '{"city":"Hong Kong","line1":"1 Queen’s Road"}',
    });
  });

  void it('updateCustomer', async () => {
    fake.handler = (_r, res) => reply(res, 200, ok({ customer_id: 'cust_1', rowAffected: '1' }));
    const result = await client().updateCustomer({ customer_id: 'cust_1', phone: '+852 1234 5678' });
    assert.equal(result.rowAffected, 1);
    assertSignedForm(fake.last, '/customer/v1/update', { customer_id: 'cust_1', phone: '+852 1234 5678' });
  });

  void it('queryCustomers returns a page', async () => {
    fake.handler = (_r, res) =>
      reply(
        res,
        200,
        ok([{ customer_id: 'cust_1', email: 'a@b.c', billing_address: '{"city":"HK"}' }], { page: 2 }),
      );
    const page = await client().queryCustomers({ email: 'a@b.c', page: 2, page_size: 5 });
    assert.equal(page.page, 2);
    assert.equal(page.pageSize, 5);
    assert.deepEqual(page.items[0]?.billing_address, { city: 'HK' });
    assertSignedForm(fake.last, '/customer/v1/query', { email: 'a@b.c', page: '2', page_size: '5' });
  });

  void it('deleteCustomer', async () => {
    fake.handler = (_r, res) => reply(res, 200, ok({ customer_id: 'cust_1', rowDeleted: 1 }));
    assert.equal((await client().deleteCustomer({ customer_id: 'cust_1' })).rowDeleted, 1);
    assertSignedForm(fake.last, '/customer/v1/delete', { customer_id: 'cust_1' });
  });

  void it('createProduct', async () => {
    fake.handler = (_r, res) => reply(res, 200, ok({ product_id: 'prod_1' }));
    const product = await client().createProduct({
      name: 'Gold plan',
      type: 'recurring',
      txamt: 300,
      txcurrcd: 'HKD',
      interval: 'monthly',
      interval_count: 1,
    });
    assert.equal(product.product_id, 'prod_1');
    assertSignedForm(fake.last, '/product/v1/create', {
      name: 'Gold plan',
      type: 'recurring',
      txamt: '300',
      txcurrcd: 'HKD',
      interval: 'monthly',
      interval_count: '1',
    });
  });

  void it('updateProduct', async () => {
    fake.handler = (_r, res) => reply(res, 200, ok({ product_id: 'prod_1', rowAffected: 1 }));
    await client().updateProduct({ product_id: 'prod_1', description: 'now with more gold' });
    assertSignedForm(fake.last, '/product/v1/update', {
      product_id: 'prod_1',
      description: 'now with more gold',
    });
  });

  void it('queryProducts reads numbers sent as strings', async () => {
    fake.handler = (_r, res) =>
      reply(
        res,
        200,
        ok(
          [
            {
              product_id: 'prod_1',
              name: 'Gold',
              txamt: '300',
              txcurrcd: 'HKD',
              interval_count: '1',
              extra: 'x',
            },
          ],
          {
            page: '1',
            page_size: '10',
          },
        ),
      );
    const page = await client().queryProducts({ txcurrcd: 'HKD' });
    assert.deepEqual(page.items[0], {
      product_id: 'prod_1',
      name: 'Gold',
      txamt: 300,
      txcurrcd: 'HKD',
      interval_count: 1,
      extra: 'x',
    });
    assert.equal(page.page, 1);
    assert.equal(page.pageSize, 10);
    assertSignedForm(fake.last, '/product/v1/query', { txcurrcd: 'HKD' });
  });

  void it('deleteProduct', async () => {
    fake.handler = (_r, res) => reply(res, 200, ok({ product_id: 'prod_1', rowDeleted: 1 }));
    await client().deleteProduct({ product_id: 'prod_1' });
    assertSignedForm(fake.last, '/product/v1/delete', { product_id: 'prod_1' });
  });

  void it('createSubscription writes start_time in Hong Kong time and omits infinite total_billing_cycles', async () => {
    fake.handler = (_r, res) => reply(res, 200, ok({ subscription_id: 'sub_1', state: 'INCOMPLETE' }));
    const created = await client().createSubscription({
      customer_id: 'cust_1',
      token_id: 'tk_1',
      products: [{ product_id: 'prod_1', quantity: 1 }],
      total_billing_cycles: null,
      start_time: new Date(Date.UTC(2020, 4, 14, 4, 32, 56)),
    });
    assert.equal(created.subscription_id, 'sub_1');
    assert.equal(created.state, 'INCOMPLETE');
    assert.equal(created.total_billing_cycles, null);
    assertSignedForm(fake.last, '/subscription/v1/create', {
      customer_id: 'cust_1',
      token_id: 'tk_1',
      products: '[{"product_id":"prod_1","quantity":1}]',
      start_time: '2020-05-14 12:32:56',
    });
  });

  void it('createSubscription accepts start_time as epoch ms, ISO-8601 or a naive string', async () => {
    fake.handler = (_r, res) => reply(res, 200, ok({ subscription_id: 'sub_1' }));
    const base = { customer_id: 'cust_1', token_id: 'tk_1', products: [{ product_id: 'prod_1' }] };
    for (const start_time of [
      Date.UTC(2020, 4, 14, 4, 32, 56),
      '2020-05-14T04:32:56Z',
      '2020-05-14 12:32:56',
    ]) {
      await client().createSubscription({ ...base, start_time, total_billing_cycles: 12 });
      assert.equal(fake.last.form.start_time, '2020-05-14 12:32:56');
      assert.equal(fake.last.form.total_billing_cycles, '12');
    }
  });

  void it('updateSubscription', async () => {
    fake.handler = (_r, res) => reply(res, 200, ok({ subscription_id: 'sub_1', rowAffected: 1 }));
    await client().updateSubscription({
      subscription_id: 'sub_1',
      token_id: 'tk_2',
      total_billing_cycles: 6,
    });
    assertSignedForm(fake.last, '/subscription/v1/update', {
      subscription_id: 'sub_1',
      token_id: 'tk_2',
      total_billing_cycles: '6',
    });
  });

  void it('querySubscriptions sends subscription_id (not the seed typo) and normalises both iteration names', async () => {
    fake.handler = (_r, res) =>
      reply(
        res,
        200,
        ok([
          {
            subscription_id: 'sub_1',
            customer_id: 'cust_1',
            token_id: 'tk_1',
            products: [{ product_id: 'prod_1', quantity: 1 }],
            total_billing_cycles: null,
            state: 'ACTIVE',
            next_billing_time: '2024-11-21T11:13:06Z',
            last_billing_time: '2024-11-21T11:12:06Z',
            completed_iteration: '1',
            retry_attempts: '0',
            last_billing_status: 'SUCCESS',
            is_available: 1,
          },
          {
            subscription_id: 'sub_2',
            state: 'PAST_DUE',
            products: '[{"product_id":"prod_1","quantity":"2"}]',
            total_billing_cycles: '3',
            completed_billing_iteration: 2,
            last_billing_time: '',
          },
        ]),
      );
    const page = await client().querySubscriptions({ subscription_id: 'sub_1', state: 'ACTIVE' });
    assertSignedForm(fake.last, '/subscription/v1/query', { subscription_id: 'sub_1', state: 'ACTIVE' });
    const [first, second] = page.items;
    assert.ok(first && second);
    assert.equal(first.completed_billing_iteration, 1);
    assert.equal('completed_iteration' in first, false);
    assert.equal(first.retry_attempts, 0);
    assert.equal(first.total_billing_cycles, null);
    assert.equal(first.next_billing_time, '2024-11-21T11:13:06Z');
    assert.equal(second.completed_billing_iteration, 2);
    assert.equal(second.total_billing_cycles, 3);
    assert.deepEqual(second.products, [{ product_id: 'prod_1', quantity: 2 }]);
    assert.equal(second.last_billing_time, '');
  });

  void it('cancelSubscription accepts a null data', async () => {
    fake.handler = (_r, res) => reply(res, 200, ok(null));
    assert.deepEqual(await client().cancelSubscription({ subscription_id: 'sub_1' }), {});
    assertSignedForm(fake.last, '/subscription/v1/cancel', { subscription_id: 'sub_1' });
  });

  void it('chargeSubscription', async () => {
    fake.handler = (_r, res) =>
      reply(res, 200, ok({ subscription_order_id: 'sub_ord_1_0002', txamt: '300', syssn: '2024' }));
    const charged = await client().chargeSubscription({
      subscription_id: 'sub_1',
      subscription_order_id: 'sub_ord_1_0002',
    });
    assert.equal(charged.txamt, 300);
    assertSignedForm(fake.last, '/subscription/v1/charge', {
      subscription_id: 'sub_1',
      subscription_order_id: 'sub_ord_1_0002',
    });
  });

  void it('listBillingOrders tolerates the extra fields and derives a missing sequence_no', async () => {
    fake.handler = (_r, res) =>
      reply(
        res,
        200,
        ok([
          {
            subscription_order_id: 'sub_1_x_0001',
            subscription_id: 'sub_1',
            trigger_by: 'auto',
            sequence_no: '1',
            status: 'FAILED',
            respcd: '1205',
            txamt: '300',
            charged_at: '2024-04-24 15:19:37',
          },
          { subscription_order_id: 'sub_ord_1_0002', subscription_id: 'sub_1', trigger_by: 'manual' },
        ]),
      );
    const page = await client().listBillingOrders({ subscription_id: 'sub_1', page_size: 100 });
    assert.equal(page.items[0]?.sequence_no, 1);
    assert.equal(page.items[0]?.txamt, 300);
    assert.equal(page.items[0]?.status, 'FAILED');
    assert.equal(page.items[1]?.sequence_no, 2);
    assertSignedForm(fake.last, '/subscription/billing_order/v1/list', {
      subscription_id: 'sub_1',
      page_size: '100',
    });
  });

  void it('signs with SHA256 and says so in X-QF-SIGNTYPE when configured', async () => {
    fake.handler = (_r, res) => reply(res, 200, ok({ subscription_id: 'sub_1' }));
    await client({ signType: 'SHA256' }).cancelSubscription({ subscription_id: 'sub_1' });
    assert.equal(fake.last.headers['x-qf-signtype'], 'SHA256');
    assert.match(String(fake.last.headers['x-qf-sign']), /^[0-9A-F]{64}$/);
    assert.equal(fake.last.headers['x-qf-sign'], fake.last.expectedSign);
  });

  void it('keeps a path prefix in the base URL', async () => {
    fake.handler = (_r, res) => reply(res, 200, ok({ subscription_id: 'sub_1' }));
    await client({ baseUrl: `${baseUrl}/qfpay/` }).cancelSubscription({ subscription_id: 'sub_1' });
    assert.equal(fake.last.path, '/qfpay/subscription/v1/cancel');
  });
});

void describe('respcd classes through the client', () => {
  const cases: Array<[string, string, string]> = [
    ['1205', 'transient', 'try_later'],
    ['1297', 'transient', 'bank_busy'],
    ['1143', 'pending', 'pending'],
    ['1298', 'pending', 'pending'],
    ['1108', 'permanent', 'signature'],
    ['1104', 'permanent', 'validation'],
    ['1268', 'permanent', 'not_found'],
    ['1201', 'permanent', 'declined'],
    ['1260', 'permanent', 'already_paid'],
    ['7777', 'permanent', 'unknown'],
  ];
  for (const [respcd, kind, reason] of cases) {
    void it(`respcd ${respcd} rejects as ${kind} ${reason}`, async () => {
      fake.handler = (_r, res) =>
        reply(res, 200, JSON.stringify({ respcd, respmsg: `message ${respcd}`, resperr: 'err', data: {} }));
      const err = await rejection(client().chargeSubscription({ subscription_id: 'sub_1' }));
      assert.equal(err.kind, kind);
      assert.equal(err.reason, reason);
      assert.equal(err.respcd, respcd);
      assert.equal(err.respmsg, `message ${respcd}`);
      assert.equal(err.resperr, 'err');
      assert.equal(err.httpStatus, 200);
      assert.equal(err.endpoint, '/subscription/v1/charge');
      assert.deepEqual(events.at(-1), {
        endpoint: '/subscription/v1/charge',
        durationMs: events.at(-1)?.durationMs,
        outcome: kind,
        reason,
        respcd,
        httpStatus: 200,
      });
    });
  }
});

void describe('HTTP and body faults', () => {
  void it('HTTP 429 is transient rate_limited and keeps Retry-After', async () => {
    fake.handler = (_r, res) => reply(res, 429, '{"respcd":"1100"}', { 'retry-after': '2' });
    const err = await rejection(client().queryCustomers());
    assert.equal(err.kind, 'transient');
    assert.equal(err.reason, 'rate_limited');
    assert.equal(err.httpStatus, 429);
    assert.equal(err.retryAfterMs, 2000);
    assert.equal(err.retryable, true);
  });

  void it('HTTP 500 with an HTML body is transient server_error', async () => {
    fake.handler = (_r, res) => reply(res, 500, '<html>oops</html>', { 'content-type': 'text/html' });
    const err = await rejection(client().queryCustomers());
    assert.equal(err.kind, 'transient');
    assert.equal(err.reason, 'server_error');
    assert.equal(err.httpStatus, 500);
  });

  void it('HTTP 503 is transient server_error', async () => {
    fake.handler = (_r, res) => reply(res, 503, '');
    assert.equal((await rejection(client().queryCustomers())).reason, 'server_error');
  });

  void it('HTTP 400 is permanent http_error, with the respcd it carried', async () => {
    fake.handler = (_r, res) => reply(res, 400, JSON.stringify({ respcd: '1104', respmsg: 'bad param' }));
    const err = await rejection(client().queryCustomers());
    assert.equal(err.kind, 'permanent');
    assert.equal(err.reason, 'http_error');
    assert.equal(err.respcd, '1104');
    assert.equal(err.respmsg, 'bad param');
  });

  void it('a 200 whose body is not JSON is permanent bad_response with the SyntaxError as cause', async () => {
    fake.handler = (_r, res) => reply(res, 200, '<html>maintenance</html>', { 'content-type': 'text/html' });
    const err = await rejection(client().queryCustomers());
    assert.equal(err.kind, 'permanent');
    assert.equal(err.reason, 'bad_response');
    assert.ok(err.cause instanceof SyntaxError);
  });

  void it('a 200 without respcd is permanent bad_response', async () => {
    fake.handler = (_r, res) => reply(res, 200, JSON.stringify({ data: [] }));
    assert.equal((await rejection(client().queryCustomers())).reason, 'bad_response');
  });

  void it('data that fails its schema is permanent bad_response with the zod issues as cause', async () => {
    fake.handler = (_r, res) =>
      reply(res, 200, ok([{ subscription_id: 'sub_1', state: 'ACTIVE', retry_attempts: 'x' }]));
    const err = await rejection(client().querySubscriptions());
    assert.equal(err.reason, 'bad_response');
    const cause = err.cause as { name?: string; issues?: Array<{ path: unknown[] }> };
    assert.equal(cause.name, 'ZodError');
    assert.deepEqual(cause.issues?.[0]?.path, [0, 'retry_attempts']);
  });

  void it('a created subscription without subscription_id is permanent bad_response', async () => {
    fake.handler = (_r, res) => reply(res, 200, ok({ state: 'ACTIVE' }));
    const err = await rejection(
      client().createSubscription({ customer_id: 'c', token_id: 't', products: [{ product_id: 'p' }] }),
    );
    assert.equal(err.reason, 'bad_response');
  });
});

void describe('timeouts and connection failures', () => {
  void it(
    'a response slower than the timeout fails transient timeout without waiting for it',
    { timeout: 10_000 },
    async () => {
      let held: ServerResponse | undefined;
      // Never answers on its own: if the client waited for it, this test would hit its own timeout.
      fake.handler = (_r, res) => {
        held = res;
      };
      const err = await rejection(
        client({ timeoutMs: 100 }).chargeSubscription({ subscription_id: 'sub_1' }),
      );
      assert.equal(err.kind, 'transient');
      assert.equal(err.reason, 'timeout');
      assert.equal(err.retryable, true);
      assert.equal(held?.writableEnded, false, 'the server had not answered when the client gave up');
      assert.equal(fake.received.length, 1, 'the request did reach the server');
      assert.equal(events.at(-1)?.outcome, 'transient');
      assert.equal(events.at(-1)?.reason, 'timeout');
    },
  );

  void it('a per-call timeout overrides the client default', { timeout: 10_000 }, async () => {
    fake.handler = () => undefined;
    const err = await rejection(client({ timeoutMs: 60_000 }).queryCustomers({}, { timeoutMs: 50 }));
    assert.equal(err.reason, 'timeout');
  });

  void it('a body that starts but never finishes is a timeout too', { timeout: 10_000 }, async () => {
    fake.handler = (_r, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"respcd":"0000","data":[');
    };
    const err = await rejection(client({ timeoutMs: 100 }).queryCustomers());
    assert.equal(err.reason, 'timeout');
  });

  void it(
    "a caller's abort rejects with the caller's reason, not a QfpayError",
    { timeout: 10_000 },
    async () => {
      fake.handler = () => undefined;
      const controller = new AbortController();
      const reason = new Error('activity cancelled');
      const call = client().queryCustomers({}, { signal: controller.signal });
      setImmediate(() => controller.abort(reason));
      await assert.rejects(call, (err) => err === reason);
      assert.equal(events.at(-1)?.outcome, 'aborted');
    },
  );

  void it('a refused connection is transient network', async () => {
    const port = await freePort();
    const err = await rejection(client({ baseUrl: `http://127.0.0.1:${port}` }).queryCustomers());
    assert.equal(err.kind, 'transient');
    assert.equal(err.reason, 'network');
    assert.ok(err.cause instanceof Error);
  });

  void it('an injected fetch is used, and its failures are network errors', async () => {
    const failing: typeof fetch = () => Promise.reject(new TypeError('fetch failed'));
    const err = await rejection(client({ fetch: failing }).queryCustomers());
    assert.equal(err.reason, 'network');
    assert.equal(fake.received.length, 0);
  });
});

void describe('client-side validation', () => {
  void it('refuses page_size above 100 before sending anything', async () => {
    const err = await rejection(client().listBillingOrders({ subscription_id: 'sub_1', page_size: 101 }));
    assert.equal(err.kind, 'permanent');
    assert.equal(err.reason, 'validation');
    assert.match(err.message, /page_size must be an integer from 1 to 100/);
    assert.equal(fake.received.length, 0);
  });

  void it('refuses a page below 1, a fractional amount and an unreadable start_time', async () => {
    await rejection(client().queryProducts({ page: 0 }));
    await rejection(client().createProduct({ name: 'x', txamt: 3.5, txcurrcd: 'HKD' }));
    const err = await rejection(
      client().createSubscription({ customer_id: 'c', token_id: 't', products: [], start_time: 'tomorrow' }),
    );
    assert.match(err.message, /start_time/);
    assert.equal(fake.received.length, 0);
  });

  void it('refuses bad construction options', () => {
    assert.throws(() => client({ baseUrl: 'not a url' }), TypeError);
    assert.throws(() => client({ appKey: '' }), TypeError);
    assert.throws(() => client({ timeoutMs: 0 }), TypeError);
    assert.throws(() => client({ timeOffset: '8h' }), TypeError);
  });

  void it('does not expose the app key on the client object', () => {
    const c = client();
    assert.equal(JSON.stringify(c).includes(APP_KEY), false);
    assert.equal(Object.values(c).includes(APP_KEY), false);
  });
});

void describe('pagination', () => {
  void it('walks three pages with the iterator until the short page', async () => {
    const orders = Array.from({ length: 5 }, (_, i) => ({
      subscription_order_id: `sub_ord_1_000${i + 1}`,
      subscription_id: 'sub_1',
      trigger_by: 'auto',
      sequence_no: String(i + 1),
    }));
    fake.handler = (r, res) => {
      const page = Number(r.form.page);
      const size = Number(r.form.page_size);
      reply(
        res,
        200,
        ok(orders.slice((page - 1) * size, page * size), { page: String(page), page_size: String(size) }),
      );
    };
    const c = client();
    const seen: number[] = [];
    for await (const order of paginate(
      (page, page_size) => c.listBillingOrders({ subscription_id: 'sub_1', page, page_size }),
      { pageSize: 2 },
    )) {
      seen.push(order.sequence_no);
    }
    assert.deepEqual(seen, [1, 2, 3, 4, 5]);
    assert.deepEqual(
      fake.received.map((r) => [r.form.page, r.form.page_size]),
      [
        ['1', '2'],
        ['2', '2'],
        ['3', '2'],
      ],
    );
    for (const r of fake.received) assert.equal(r.headers['x-qf-sign'], r.expectedSign);
  });

  void it('stops after an empty page, and after maxPages', async () => {
    const calls: number[] = [];
    const full = async (page: number) => {
      calls.push(page);
      return [page, page];
    };
    const items: number[] = [];
    for await (const item of paginate(full, { pageSize: 2, maxPages: 3 })) items.push(item);
    assert.deepEqual(items, [1, 1, 2, 2, 3, 3]);

    const empty: number[] = [];
    for await (const item of paginate(async () => [] as number[], { pageSize: 2 })) empty.push(item);
    assert.deepEqual(empty, []);
  });

  void it('trusts the page size QFPay says it used over the one asked for', async () => {
    const pages = [[1, 2], [3, 4], [5]];
    const calls: number[] = [];
    const items: number[] = [];
    for await (const item of paginate(
      async (page) => {
        calls.push(page);
        return { items: pages[page - 1] ?? [], page, pageSize: 2 };
      },
      { pageSize: 100 },
    )) {
      items.push(item);
    }
    assert.deepEqual(items, [1, 2, 3, 4, 5]);
    assert.deepEqual(calls, [1, 2, 3]);
  });
});
