/**
 * The QFPay client against the emulator over real HTTP, so the two agree with each other:
 * signature failure, every respcd class (success, transient, pending, permanent), pagination,
 * and a timeout — the faults switched on at run time through the emulator's fault API.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { QfpayClient, paginate } from '../../src/gateways/qfpay/client';
import { isQfpayError, type QfpayError } from '../../src/gateways/qfpay/errors';
import { startQfpayEmulator, type QfpayEmulatorHandle } from '../../src/gateways/qfpay/emulator/server';
import { EmulatorTestClient } from '../helpers/emulator-client';

const APP_CODE = 'client-code';
const APP_KEY = 'client-key';
let emulator: QfpayEmulatorHandle;
let client: QfpayClient;

before(async () => {
  emulator = await startQfpayEmulator({ appCode: APP_CODE, appKey: APP_KEY, frozen: true });
  client = new QfpayClient({ baseUrl: emulator.url, appCode: APP_CODE, appKey: APP_KEY, timeoutMs: 2_000 });
});
afterEach(() => {
  emulator.setFaults({
    serverErrorRate: 0,
    rateLimitRate: 0,
    timeoutRate: 0,
    pendingChargeRate: 0,
    endpoints: null,
  });
});
after(async () => {
  await emulator?.close();
});

async function failure(promise: Promise<unknown>): Promise<QfpayError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(isQfpayError(err), `expected a QfpayError, got ${String(err)}`);
    return err;
  }
  assert.fail('the call succeeded');
}

async function subscriptionWithCard(cardNumber: string) {
  const customer = await client.createCustomer({ name: 'Client Test', email: 'client@example.com' });
  const product = await client.createProduct({
    name: `Plan ${Math.random()}`,
    type: 'recurring',
    txamt: 2500,
    txcurrcd: 'HKD',
    interval: 'monthly',
    interval_count: 1,
  });
  const tokenId = await new EmulatorTestClient(emulator.url).createToken(customer.customer_id, cardNumber);
  const sub = await client.createSubscription({
    customer_id: customer.customer_id,
    token_id: tokenId,
    products: [{ product_id: product.product_id }],
  });
  return {
    customerId: customer.customer_id,
    tokenId,
    subscriptionId: sub.subscription_id,
    sub,
  };
}

describe('QfpayClient against the emulator', () => {
  it('succeeds with a signed request (MD5 and SHA256)', async () => {
    const created = await client.createCustomer({ name: 'Ada', billing_address: { city: 'Hong Kong' } });
    assert.match(created.customer_id, /^cust_[0-9a-f]{32}$/);
    const sha = new QfpayClient({
      baseUrl: emulator.url,
      appCode: APP_CODE,
      appKey: APP_KEY,
      signType: 'SHA256',
    });
    const page = await sha.queryCustomers({ customer_id: created.customer_id });
    assert.equal(page.items[0]?.name, 'Ada');
  });

  it('gets a permanent signature error (1108) with the wrong key', async () => {
    const wrong = new QfpayClient({ baseUrl: emulator.url, appCode: APP_CODE, appKey: 'not-the-key' });
    const err = await failure(wrong.createCustomer({ name: 'Eve' }));
    assert.equal(err.respcd, '1108');
    assert.equal(err.kind, 'permanent');
    assert.equal(err.reason, 'signature');
  });

  it('maps validation (1104) and not found (1136) to permanent errors', async () => {
    const invalid = await failure(
      client.createProduct({ name: 'No interval', type: 'recurring', txamt: 100, txcurrcd: 'HKD' }),
    );
    assert.deepEqual([invalid.respcd, invalid.kind, invalid.reason], ['1104', 'permanent', 'validation']);
    const missing = await failure(
      client.cancelSubscription({ subscription_id: 'sub_00000000000000000000000000000000' }),
    );
    assert.deepEqual([missing.respcd, missing.kind, missing.reason], ['1136', 'permanent', 'not_found']);
  });

  it('maps HTTP 5xx and 429 to transient errors', async () => {
    emulator.setFaults({ serverErrorRate: 1 });
    const server = await failure(client.queryCustomers({}));
    assert.deepEqual([server.kind, server.reason], ['transient', 'server_error']);
    emulator.setFaults({ serverErrorRate: 0, rateLimitRate: 1 });
    const limited = await failure(client.queryCustomers({}));
    assert.deepEqual([limited.kind, limited.reason, limited.httpStatus], ['transient', 'rate_limited', 429]);
  });

  it('reports a declined manual charge with the payment respcd, and a pending one (1145) as pending', async () => {
    const { subscriptionId, tokenId } = await subscriptionWithCard('4000000000001091');
    await new EmulatorTestClient(emulator.url).setCharges(tokenId, 'decline', '1294');
    const next = (await client.querySubscriptions({ subscription_id: subscriptionId })).items[0]
      ?.next_billing_time;
    await emulator.advance({ to: Date.parse(next!) + 1_000 }); // cycle 2 fails: PAST_DUE
    const declined = await failure(client.chargeSubscription({ subscription_id: subscriptionId }));
    assert.deepEqual([declined.respcd, declined.kind, declined.reason], ['1294', 'permanent', 'declined']);
    emulator.setFaults({ pendingChargeRate: 1 });
    const pending = await failure(client.chargeSubscription({ subscription_id: subscriptionId }));
    assert.deepEqual([pending.respcd, pending.kind], ['1145', 'pending']);
  });

  it('walks every page of a query (page_size 10 over 25 rows)', async () => {
    const name = `Paged ${Date.now()}`;
    for (let i = 0; i < 25; i += 1) await client.createCustomer({ name, email: `p${i}@example.com` });
    const seen: string[] = [];
    for await (const c of paginate((page) => client.queryCustomers({ name, page, page_size: 10 }), {
      pageSize: 10,
    })) {
      seen.push(c.customer_id);
    }
    assert.equal(seen.length, 25);
    assert.equal(new Set(seen).size, 25);
    await assert.rejects(client.queryCustomers({ page_size: 101 }), /page_size/);
  });

  it('gives up on a held response after its timeout, as a transient timeout', async () => {
    // The emulator holds the response for 10 minutes: only the client's own timeout can end the call
    // within the test's timeout, and it must end as a timeout.
    emulator.setFaults({ timeoutRate: 1, timeoutMs: 600_000 });
    const quick = new QfpayClient({
      baseUrl: emulator.url,
      appCode: APP_CODE,
      appKey: APP_KEY,
      timeoutMs: 300,
    });
    const err = await failure(quick.queryCustomers({}));
    assert.deepEqual([err.kind, err.reason], ['transient', 'timeout']);
  });
});
