/**
 * What a merchant sees around a declined cycle and its charge-now, with QFPay's clock ahead of the
 * engine's (the emulator started weeks ahead, as a merchant's test clock or a skewed gateway would
 * be): every part real, over HTTP only. A charge-now that succeeds shows ACTIVE everywhere (the
 * view, the list by state, a sync) and sends one `state_changed → ACTIVE`; one declined attempt is
 * one attempt in `/orders` and one `payment_failed` event; a subscription the API created says
 * `origin: created`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DAY } from '../../src/domain/duration';
import { eventually, startStack, type Stack } from '../helpers/stack';
import { createMonthlySubscription } from '../helpers/stack-reads';
import { emulatorStartAhead } from '../helpers/emulator-start';
import {
  startMerchantReceiver,
  type MerchantReceiver,
  type ReceivedEvent,
} from '../helpers/merchant-receiver';

let receiver: MerchantReceiver;
let events: ReceivedEvent[];
let stack: Stack;
before(async () => {
  receiver = await startMerchantReceiver();
  events = receiver.events;
  stack = await startStack(
    // QFPay's clock weeks ahead of the engine's (at the pinned date of `npm run test:dates` when
    // that is far enough ahead), and moved only by the test.
    { frozen: true, startTime: emulatorStartAhead(42 * DAY) },
    receiver.env,
  );
});
after(async () => {
  await stack?.close();
  await receiver?.close();
});

describe('charge-now with QFPay’s clock ahead, as the merchant sees it', () => {
  it('a declined cycle, a declined charge-now, then one that succeeds: ACTIVE everywhere, each fact once', async () => {
    const { api } = stack;
    const { id, customerId, tokenId } = await createMonthlySubscription(stack, {
      name: 'Ahead',
      amount: 9800,
    });
    const token = { token_id: tokenId };
    const path = `/v1/subscriptions/${id}`;
    const view = async () => {
      const res = await api('GET', path);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body;
    };
    const truth = () => stack.emulator('GET', `/_emulator/subscriptions/${id}`);
    await eventually('cycle 1 paid', async () => ((await view()).state === 'ACTIVE' ? true : undefined));
    assert.equal((await view()).origin, 'created', 'the API created it');

    // Cycle 2 is declined.
    await stack.emulator('POST', `/_emulator/tokens/${token.token_id}/behaviour`, { charges: 'decline' });
    await stack.emulator('POST', '/_emulator/clock/advance', { to: (await truth()).next_billing_time });
    await eventually('cycle 2 failed, PAST_DUE', async () => {
      const v = await view();
      return v.state === 'PAST_DUE' && v.dunning.episode ? v : undefined;
    });

    // The merchant charges now while the card still declines.
    const declined = await api('POST', `${path}/charge`, {});
    assert.equal(declined.status, 200, JSON.stringify(declined.body));
    assert.equal(declined.body.outcome, 'failed');
    assert.equal(declined.body.subscription.state, 'PAST_DUE');

    // The card works again; the merchant charges now.
    await stack.emulator('POST', `/_emulator/tokens/${token.token_id}/behaviour`, { charges: 'approve' });
    const paid = await api('POST', `${path}/charge`, {});
    assert.equal(paid.status, 200, JSON.stringify(paid.body));
    assert.equal(paid.body.outcome, 'succeeded');
    assert.equal((await truth()).state, 'ACTIVE', 'QFPay says ACTIVE');
    assert.equal(paid.body.subscription.state, 'ACTIVE', 'the charge’s answer shows the subscription ACTIVE');
    assert.equal((await view()).state, 'ACTIVE');
    const synced = await api('POST', `${path}/sync`, {});
    assert.equal(synced.status, 200, JSON.stringify(synced.body));
    assert.equal(synced.body.state, 'ACTIVE');
    await eventually('listed as ACTIVE, not PAST_DUE', async () => {
      const active = await api('GET', `/v1/subscriptions?state=ACTIVE&customer_id=${customerId}`);
      const pastDue = await api('GET', `/v1/subscriptions?state=PAST_DUE&customer_id=${customerId}`);
      const has = (res: { body: any }) => (res.body.data as any[]).some((i) => i.subscription_id === id);
      return has(active) && !has(pastDue) ? true : undefined;
    });

    // What the merchant received: each fact once.
    const mine = () => events.filter((e) => e.subscription_id === id);
    await eventually('state_changed → ACTIVE after the charge', async () =>
      mine().some(
        (e) =>
          e.type === 'subscription.state_changed' && e.data.from === 'PAST_DUE' && e.data.to === 'ACTIVE',
      )
        ? true
        : undefined,
    );
    // Two declines of order 2 (QFPay's cycle, the merchant's first charge): two attempts, two events.
    const orders = await api('GET', `${path}/orders`);
    assert.equal(orders.status, 200, JSON.stringify(orders.body));
    const order2 = (orders.body.data as any[]).find((o) => o.sequence_no === 2);
    const attempts = order2.attempts as Array<{ succeeded: boolean; syssn: string | null }>;
    const charges = (await truth()).orders.find((o: any) => o.sequence_no === 2).attempts;
    assert.equal(attempts.length, charges.length, JSON.stringify({ attempts, charges }));
    assert.ok(
      attempts.every((a) => a.syssn !== null),
      'every attempt is one QFPay made, with its syssn',
    );
    const count = (type: string) => mine().filter((e) => e.type === type).length;
    await eventually('the payment events', async () =>
      count('subscription.payment_succeeded') >= 2 && count('subscription.payment_failed') >= 2
        ? true
        : undefined,
    );
    const failedEvents = mine().filter((e) => e.type === 'subscription.payment_failed');
    assert.equal(failedEvents.length, 2, JSON.stringify(failedEvents.map((e) => e.id)));
    assert.equal(new Set(mine().map((e) => e.id)).size, mine().length, 'no event twice');
  });
});
