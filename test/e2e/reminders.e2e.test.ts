/**
 * Reminder events end to end, in real time on minute plans (dev server, worker, API, the QFPay
 * emulator over HTTP, a receiver verifying every event): with the reminders configured as a
 * merchant would (`REMINDER_*`), a renewal is announced before each billing with the amount QFPay's
 * plan charges, a card token that expires before the next billing is announced, and a trial's end
 * is announced before the first billing. Each once per cycle, each before what it announces.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, startStack, type Stack } from '../helpers/stack';
import { startMerchantReceiver, type MerchantReceiver } from '../helpers/merchant-receiver';
import { MerchantEventSchema } from '../../src/events/merchant-events';
import { SECOND } from '../../src/domain/duration';

let stack: Stack;
let receiver: MerchantReceiver;
before(async () => {
  receiver = await startMerchantReceiver();
  stack = await startStack(
    { retryFractions: [] },
    {
      ...receiver.env,
      REMINDER_RENEWAL_UPCOMING: '25s',
      REMINDER_TRIAL_WILL_END: '25s',
      REMINDER_PAYMENT_METHOD_EXPIRING: '20s',
    },
  );
});
after(async () => {
  await stack?.close();
  await receiver?.close();
});

/** The card's expiry month `months` from now, as `MM/YY`. */
function expiryMonth(months: number): string {
  const d = new Date();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() + months);
  return `${String(d.getUTCMonth() + 1).padStart(2, '0')}/${String(d.getUTCFullYear() % 100).padStart(2, '0')}`;
}

/** A minute subscription for a new customer whose card expires `expiry` (MM/YY). */
async function minuteSubscription(name: string, expiry: string, startTime?: string) {
  const customer = await stack.api('POST', '/v1/customers', { name, email: `${name}@example.com` });
  assert.equal(customer.status, 201, JSON.stringify(customer.body));
  const token = await stack.emulator('POST', '/_emulator/tokens', {
    customer_id: customer.body.customer_id,
    card_number: '5200000000001096',
    expiry_date: expiry,
  });
  // The token's notification reaches the engine's record of the customer's tokens first.
  await eventually('the token recorded', async () => {
    const tokens = await stack.api('GET', `/v1/customers/${customer.body.customer_id}/tokens`);
    return tokens.body?.data?.some((t: { token_id: string }) => t.token_id === token.token_id)
      ? true
      : undefined;
  });
  const created = await stack.api(
    'POST',
    '/v1/subscriptions',
    {
      customer_id: customer.body.customer_id,
      product: {
        name: `${name} per minute`,
        amount: 500,
        currency: 'HKD',
        interval: 'minutes',
        interval_count: 1,
      },
      token_id: token.token_id,
      ...(startTime ? { start_time: startTime } : {}),
    },
    { 'idempotency-key': `reminders-e2e-${name}` },
  );
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return { id: created.body.result.subscription_id as string, tokenId: token.token_id as string };
}

const eventsOf = (id: string, type?: string) =>
  receiver.events.filter((e) => e.subscription_id === id && (type === undefined || e.type === type)) as any[];

/** When the engine's view says order `sequenceNo` was billed. */
async function billedAt(id: string, sequenceNo: number): Promise<number> {
  const view = await stack.api('GET', `/v1/subscriptions/${id}`);
  const order = (view.body.recent_orders as any[]).find((o) => o.sequence_no === sequenceNo);
  assert.ok(order, `order ${sequenceNo} of ${id}`);
  return Date.parse(order.paid_at ?? order.first_at);
}

describe('reminder events (real time, minute plans)', { concurrency: true }, () => {
  it('announces each renewal with its amount, and a card expiring before the billing, once per cycle', async () => {
    // The card expired at the end of last month: it will have expired at every billing.
    const { id, tokenId } = await minuteSubscription('reminders-renewal', expiryMonth(-1));
    await eventually(
      'cycle 3 paid, and its reminders',
      async () => {
        const view = await stack.api('GET', `/v1/subscriptions/${id}`);
        return view.body?.completed_cycles >= 3 && eventsOf(id, 'subscription.renewal_upcoming').length >= 2
          ? true
          : undefined;
      },
      200 * SECOND,
    );
    for (const e of eventsOf(id)) MerchantEventSchema.parse(e);
    const renewals = eventsOf(id, 'subscription.renewal_upcoming');
    const expiring = eventsOf(id, 'payment_method.expiring');
    for (const cycle of [2, 3]) {
      const renewal = renewals.filter((e) => e.data.sequence_no === cycle);
      assert.equal(renewal.length, 1, `one renewal reminder for cycle ${cycle}: ${JSON.stringify(renewals)}`);
      assert.equal(renewal[0].data.amount, 500);
      assert.equal(renewal[0].data.currency, 'HKD');
      const billing = Date.parse(renewal[0].data.billing_time);
      assert.ok(Date.parse(renewal[0].created_at) < billing, 'announced before its billing');
      assert.ok(Date.parse(renewal[0].created_at) >= billing - 25 * SECOND, 'not before its lead');
      assert.ok((await billedAt(id, cycle)) >= billing - SECOND, 'the billing came after it, as announced');

      const card = expiring.filter((e) => e.data.sequence_no === cycle);
      assert.equal(
        card.length,
        1,
        `one expiring-card reminder for cycle ${cycle}: ${JSON.stringify(expiring)}`,
      );
      assert.equal(card[0].data.token_id, tokenId);
      assert.ok(Date.parse(card[0].data.expires_at) < Date.parse(card[0].data.billing_time));
      assert.ok(Date.parse(card[0].created_at) < Date.parse(card[0].data.billing_time));
    }
  });

  it('announces nothing of a card valid at the billing', async () => {
    const { id } = await minuteSubscription('reminders-valid-card', expiryMonth(24));
    await eventually(
      'a renewal reminder',
      async () => (eventsOf(id, 'subscription.renewal_upcoming').length > 0 ? true : undefined),
      120 * SECOND,
    );
    assert.deepEqual(eventsOf(id, 'payment_method.expiring'), []);
  });

  it("announces a trial's end before its first billing", async () => {
    const trialEnd = new Date(Date.now() + 75 * SECOND).toISOString();
    const { id } = await minuteSubscription('reminders-trial', expiryMonth(24), trialEnd);
    const announced = await eventually(
      'the trial end announced',
      async () => eventsOf(id, 'subscription.trial_will_end')[0],
      120 * SECOND,
    );
    const end = Date.parse(announced.data.trial_end);
    assert.ok(Math.abs(end - Date.parse(trialEnd)) < 2 * SECOND, `${announced.data.trial_end} ~ ${trialEnd}`);
    assert.equal(announced.data.amount, 500);
    assert.ok(
      Date.parse(announced.created_at) < end && Date.parse(announced.created_at) >= end - 25 * SECOND,
    );
    await eventually(
      'the first billing',
      async () =>
        (await stack.api('GET', `/v1/subscriptions/${id}`)).body?.state === 'ACTIVE' ? true : undefined,
      120 * SECOND,
    );
    assert.equal(eventsOf(id, 'subscription.trial_will_end').length, 1);
  });
});
