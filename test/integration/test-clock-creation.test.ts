/**
 * The engine's creations on a test clock, through the real QFPay activities and client over HTTP
 * to the emulator: a customer and a product made on a clock live in the clock's world (the
 * emulator-only header), and a subscription made for them is found there by their ids alone.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createQfpayActivities } from '../../src/gateways/qfpay/activities';
import { QfpayClient } from '../../src/gateways/qfpay/client';
import { startQfpayEmulator, type QfpayEmulatorHandle } from '../../src/gateways/qfpay/emulator/server';
import { EmulatorTestClient } from '../helpers/emulator-client';

const START = Date.parse('2027-03-01T00:00:00Z');
let emulator: QfpayEmulatorHandle;
let client: QfpayClient;
before(async () => {
  emulator = await startQfpayEmulator({ appCode: 'clock-code', appKey: 'clock-key', frozen: true });
  client = new QfpayClient({ baseUrl: emulator.url, appCode: 'clock-code', appKey: 'clock-key' });
  emulator.testClocks.create('clock_c', START);
});
after(async () => {
  await emulator?.close();
});

const run = <A extends unknown[], R>(attempt: number, fn: (...args: A) => Promise<R>, ...args: A) =>
  new MockActivityEnvironment({ attempt }).run(fn, ...args) as Promise<R>;

describe('creations on a test clock', () => {
  it('makes the customer and product in the clock’s world, and the subscription beside them', async () => {
    const activities = createQfpayActivities({ client, timeOffset: '+08:00' });
    const onClock = new EmulatorTestClient(emulator.url, 'clock-code', 'clock-key').onClock('clock_c');
    const main = new EmulatorTestClient(emulator.url, 'clock-code', 'clock-key');
    const customer = { name: 'Ada', email: 'ada@example.com', testClock: 'clock_c' };
    const customerId = await run(1, activities.ensureCustomer, customer);
    // A retried creation looks for the customer it made in the clock's world, and finds it.
    assert.equal(await run(2, activities.ensureCustomer, customer), customerId);
    const product = {
      name: 'Clocked plan',
      amount: 2500,
      currency: 'HKD',
      interval: 'monthly',
      intervalCount: 1,
      testClock: 'clock_c',
    };
    const productId = await run(1, activities.ensureProduct, product);
    assert.equal(await run(1, activities.ensureProduct, product), productId, 'the same product, reused');

    const tokenId = await onClock.createToken(customerId);
    const created = await run(1, activities.findOrCreateSubscription, {
      existingIds: [],
      customerId,
      tokenId,
      productId,
      quantity: 1,
      totalBillingCycles: null,
    });
    const truth = await onClock.inspect(created.subscriptionId);
    assert.equal(truth.created_at, new Date(START).toISOString(), 'made at the clock’s time');
    assert.equal((await main.control('GET', `/subscriptions/${created.subscriptionId}`)).status, 404);
    assert.deepEqual(await main.ok('/customer/v1/query', { email: 'ada@example.com' }), []);
  });
});
