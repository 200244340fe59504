/**
 * Cancel at period end, as a merchant sees it, every part real (the API on a port, a worker, the
 * QFPay emulator over HTTP, a merchant endpoint receiving signed events), on the time-skipping
 * server so that a month passes without waiting.
 *
 * The merchant schedules the cancel, takes it back, schedules it again; workflow time jumps past
 * the cancel's time; the engine has cancelled at QFPay before the period's end, and when QFPay's
 * clock then passes that billing time, nothing is billed. The merchant received each event once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SubscriptionViewSchema } from '../../src/api/schemas';
import { DAY, HOUR, MINUTE } from '../../src/domain/duration';
import { eventually, startStack, type Stack } from '../helpers/stack';
import { startMerchantReceiver, type MerchantReceiver } from '../helpers/merchant-receiver';
import { createMonthlySubscription } from '../helpers/stack-reads';
import { emulatorStartMs } from '../helpers/emulator-start';

let receiver: MerchantReceiver;
let stack: Stack;
before(async () => {
  receiver = await startMerchantReceiver();
  // QFPay's clock stands still unless the test moves it: it bills only when told. It starts at the
  // pinned date of `npm run test:dates`, if any; the engine's clock is moved there first, so that
  // both sides agree on the period's end.
  const startTime = emulatorStartMs();
  stack = await startStack(
    { frozen: true, ...(startTime === undefined ? {} : { startTime }) },
    receiver.env,
    {
      timeSkipping: true,
    },
  );
  if (startTime !== undefined) {
    const engineNow = await stack.env.currentTimeMs();
    assert.ok(startTime >= engineNow, `EMULATOR_START_TIME must not be in the past here`);
    await stack.env.sleep(startTime - engineNow);
  }
});
after(async () => {
  await stack?.close();
  await receiver?.close();
});

interface Truth {
  state: string;
  next_billing_time: string | null;
  orders: { sequence_no: number; status: string }[];
}

void describe('cancel at period end through the API (time-skipping server)', () => {
  void it('schedules, takes back, schedules again; cancels before the period ends; nothing more is billed', async () => {
    const { api } = stack;
    const { id } = await createMonthlySubscription(stack, { name: 'Period', amount: 4500 });
    const path = `/v1/subscriptions/${id}`;
    const truth = (): Promise<Truth> => stack.emulator('GET', `/_emulator/subscriptions/${id}`);
    const view = async () => SubscriptionViewSchema.parse((await api('GET', path)).body);
    const active = await eventually('cycle 1 paid, the next billing time known', async () => {
      const v = await view();
      return v.state === 'ACTIVE' && v.next_billing_time !== null ? v : undefined;
    });
    assert.equal(active.scheduled_cancel, null);
    const periodEnd = active.next_billing_time!;
    const seconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);
    assert.equal(seconds(periodEnd), seconds((await truth()).next_billing_time!), 'as QFPay says');

    // Bad input and nothing to take back: clear refusals.
    const bad = await api('POST', `${path}/cancel`, { at_period_end: 'yes' });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    assert.match(JSON.stringify(bad.body), /at_period_end/);
    const nothing = await api('POST', `${path}/cancel/undo`, {});
    assert.equal(nothing.status, 409, JSON.stringify(nothing.body));
    assert.match(JSON.stringify(nothing.body), /no cancel is scheduled/);

    // Scheduled: the answer shows when, and QFPay still bills on as before.
    const first = await api('POST', `${path}/cancel`, { at_period_end: true });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const scheduled = SubscriptionViewSchema.parse(first.body);
    assert.equal(scheduled.state, 'ACTIVE');
    const cancelAt = Date.parse(periodEnd) - 2 * HOUR - 5 * MINUTE; // the default policy's margins
    assert.deepEqual(
      {
        period_end: scheduled.scheduled_cancel?.period_end,
        cancel_at: scheduled.scheduled_cancel?.cancel_at,
      },
      { period_end: periodEnd, cancel_at: new Date(cancelAt).toISOString() },
    );
    assert.equal((await truth()).state, 'ACTIVE', 'nothing is cancelled at QFPay yet');
    const again = await api('POST', `${path}/cancel`, { at_period_end: true });
    assert.equal(again.status, 200, 'asking again keeps the schedule');
    assert.deepEqual(SubscriptionViewSchema.parse(again.body).scheduled_cancel, scheduled.scheduled_cancel);

    // Taken back, then scheduled again.
    const undone = await api('POST', `${path}/cancel/undo`, {});
    assert.equal(undone.status, 200, JSON.stringify(undone.body));
    assert.equal(SubscriptionViewSchema.parse(undone.body).scheduled_cancel, null);
    const rescheduled = await api('POST', `${path}/cancel`, { at_period_end: true });
    assert.equal(rescheduled.status, 200, JSON.stringify(rescheduled.body));
    assert.equal(SubscriptionViewSchema.parse(rescheduled.body).scheduled_cancel?.period_end, periodEnd);

    // A month of workflow time, up to just past the cancel's time: the durable timer cancels at
    // QFPay before the period's end. The test server skips it in steps, as gateway-recovery.e2e
    // does, and the last step ends at the cancel's time: once the workflow has ended with
    // deliveries of its last events started, the server skips no more time
    // (temporalio/sdk-java#2392), and the rest of a longer sleep would pass in real time.
    for (;;) {
      const engineNow = await stack.env.currentTimeMs();
      if (engineNow > cancelAt) break;
      await stack.env.sleep(Math.min(cancelAt + 1_000 - engineNow, 6 * HOUR));
    }
    const cancelled = await eventually('cancelled at QFPay and in the engine', async () => {
      const [v, t] = await Promise.all([view(), truth()]);
      return v.state === 'CANCELLED' && t.state === 'CANCELLED' ? v : undefined;
    });
    assert.equal(cancelled.scheduled_cancel, null);
    const cancelledAt = Date.parse(cancelled.transitions.at(-1)!.at);
    assert.ok(cancelledAt < Date.parse(periodEnd), `cancelled at ${cancelled.transitions.at(-1)!.at}`);
    assert.equal((await api('POST', `${path}/cancel/undo`, {})).status, 409, 'too late to take back');

    // QFPay's clock passes the billing time: no cycle 2.
    await stack.emulator('POST', '/_emulator/clock/advance', {
      to: new Date(Date.parse(periodEnd) + DAY).toISOString(),
    });
    const after = await truth();
    assert.equal(after.state, 'CANCELLED');
    assert.deepEqual(
      after.orders.map((o) => o.sequence_no),
      [1],
      'the customer is not billed for the next period',
    );

    // What the merchant received: each event once, in order.
    const mine = () => receiver.events.filter((e) => e.subscription_id === id);
    const wanted = [
      'subscription.cancel_scheduled',
      'subscription.cancel_unscheduled',
      'subscription.cancel_scheduled',
      'subscription.ended',
    ];
    await eventually('the cancel events', async () =>
      wanted.every((type) => mine().some((e) => e.type === type)) &&
      mine().filter((e) => e.type === 'subscription.cancel_scheduled').length === 2
        ? true
        : undefined,
    );
    const [firstScheduled, secondScheduled] = mine()
      .filter((e) => e.type === 'subscription.cancel_scheduled')
      .sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
    const unscheduled = mine().find((e) => e.type === 'subscription.cancel_unscheduled')!;
    const ended = mine().find((e) => e.type === 'subscription.ended')!;
    const expected = { period_end: periodEnd, cancel_at: new Date(cancelAt).toISOString() };
    assert.deepEqual(firstScheduled!.data, expected);
    assert.deepEqual(secondScheduled!.data, expected);
    // The take-back names the schedule it took back: the first.
    assert.deepEqual(unscheduled.data, { period_end: periodEnd, scheduled_at: firstScheduled!.created_at });
    assert.ok(Date.parse(unscheduled.created_at) <= Date.parse(secondScheduled!.created_at));
    assert.deepEqual(ended.data, { final_state: 'CANCELLED' });
    assert.ok(Date.parse(ended.created_at) > Date.parse(secondScheduled!.created_at));
    assert.ok(
      mine().some(
        (e) =>
          e.type === 'subscription.state_changed' && e.data.from === 'ACTIVE' && e.data.to === 'CANCELLED',
      ),
    );
    assert.equal(new Set(mine().map((e) => e.id)).size, mine().length, 'no event twice');
  });
});
