/**
 * A create whose answer was lost must not bill twice: the retried activity (attempt > 1) finds the
 * subscription the first attempt made at QFPay (the emulator, over real HTTP) and returns it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { QfpayActivities } from '../../src/activities/contracts';
import { createQfpayActivities } from '../../src/gateways/qfpay/activities';
import { QfpayClient } from '../../src/gateways/qfpay/client';
import { startQfpayEmulator, type QfpayEmulatorHandle } from '../../src/gateways/qfpay/emulator/server';
import { EmulatorTestClient } from '../helpers/emulator-client';

let emulator: QfpayEmulatorHandle;
let client: QfpayClient;
before(async () => {
  emulator = await startQfpayEmulator({ appCode: 'retry-code', appKey: 'retry-key', frozen: true });
  client = new QfpayClient({ baseUrl: emulator.url, appCode: 'retry-code', appKey: 'retry-key' });
});
after(async () => {
  await emulator?.close();
});

async function fixtures() {
  const customer = await client.createCustomer({ name: 'Grace', email: 'grace@example.com' });
  const product = await client.createProduct({
    name: 'Plan',
    type: 'recurring',
    txamt: 1200,
    txcurrcd: 'HKD',
    interval: 'monthly',
    interval_count: 1,
  });
  const tokenId = await new EmulatorTestClient(emulator.url).createToken(
    customer.customer_id,
    '4000000000001091',
  );
  return {
    customerId: customer.customer_id,
    productId: product.product_id,
    tokenId,
    quantity: 1,
    totalBillingCycles: null,
    existingIds: [] as string[],
  };
}

type Found = Awaited<ReturnType<QfpayActivities['findOrCreateSubscription']>>;

async function subscriptionsOf(customerId: string): Promise<string[]> {
  const page = await client.querySubscriptions({ customer_id: customerId, page_size: 100 });
  return page.items.map((s) => s.subscription_id);
}

describe('findOrCreateSubscription', () => {
  it('creates on the first attempt', async () => {
    const input = await fixtures();
    const activities = createQfpayActivities({ client, timeOffset: '+08:00' });
    const first = (await new MockActivityEnvironment({ attempt: 1 }).run(
      activities.findOrCreateSubscription,
      input,
    )) as Found;
    assert.equal(first.reusedExisting, false);
    assert.deepEqual(await subscriptionsOf(input.customerId), [first.subscriptionId]);
  });

  it('on a retry after a lost answer, returns the subscription the first attempt made, charging nobody twice', async () => {
    const input = await fixtures();
    const activities = createQfpayActivities({ client, timeOffset: '+08:00' });
    // Attempt 1 reached QFPay, but its answer never came back (the worker saw a timeout).
    const lost = await client.createSubscription({
      customer_id: input.customerId,
      token_id: input.tokenId,
      products: [{ product_id: input.productId }],
    });
    const retried = (await new MockActivityEnvironment({ attempt: 2 }).run(
      activities.findOrCreateSubscription,
      input,
    )) as Found;
    assert.equal(retried.reusedExisting, true);
    assert.equal(retried.subscriptionId, lost.subscription_id);
    assert.deepEqual(await subscriptionsOf(input.customerId), [lost.subscription_id]);
    const truth = (await (
      await fetch(`${emulator.url}/_emulator/subscriptions/${lost.subscription_id}`)
    ).json()) as {
      orders: unknown[];
    };
    assert.equal(truth.orders.length, 1, 'the customer was charged once');
  });

  it('on a retry, never returns a subscription that existed before this creation began', async () => {
    const base = await fixtures();
    const activities = createQfpayActivities({ client, timeOffset: '+08:00' });
    // The customer already had the same plan on the same card (ended since).
    const old = await client.createSubscription({
      customer_id: base.customerId,
      token_id: base.tokenId,
      products: [{ product_id: base.productId }],
    });
    await client.cancelSubscription({ subscription_id: old.subscription_id });
    // The creation begins: it notes what exists. Its first attempt then fails before reaching QFPay.
    const existingIds = (await new MockActivityEnvironment().run(activities.listSubscriptionIds, {
      customerId: base.customerId,
      tokenId: base.tokenId,
    })) as string[];
    assert.deepEqual(existingIds, [old.subscription_id]);
    const retried = (await new MockActivityEnvironment({ attempt: 2 }).run(
      activities.findOrCreateSubscription,
      {
        ...base,
        existingIds,
      },
    )) as Found;
    assert.equal(retried.reusedExisting, false);
    assert.notEqual(retried.subscriptionId, old.subscription_id);
    assert.equal((await subscriptionsOf(base.customerId)).length, 2);
  });
});
