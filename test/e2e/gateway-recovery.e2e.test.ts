/**
 * A decline that the gateway's own recovery does not settle, on each gateway without a manual
 * charge, end to end on the time-skipping server: the engine's API and worker, each gateway's
 * emulator over HTTP with its notifications signed and verified on the real path, and a merchant
 * receiver verifying the engine's events with the official `standardwebhooks` library.
 *
 * The engine's clock and the gateway's move together (the test moves the gateway's clock, then
 * sleeps the engine's by as much), so "when" means the same on both sides:
 * - MadFintech tries a declined cycle three times, a day apart, then fails the recurring
 *   subscription; it says so in a notification;
 * - QorePay retries daily until the purchase is due, then the purchase is overdue; seed 003 sends
 *   no notification for that, so the engine asks QorePay once the due period has passed.
 *
 * Nothing is escalated while the gateway still retries; the merchant's escalation steps arrive
 * after its last try, then the merchant's final action (a cancel) ends the subscription.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startMerchantReceiver, type MerchantReceiver } from '../helpers/merchant-receiver';
import { gatewayControl, untilView } from '../helpers/stack-reads';
import { advanceGatewayClock, eventually, nextBillingAt, startStack, type Stack } from '../helpers/stack';

const DAY = 86_400_000;
let stack: Stack;
/**
 * A stack of its own for each gateway's test: on the time-skipping server, a run that ended
 * (cancelled, its events delivered) while another test went on stalled that test's clock jumps.
 */
async function withStack(body: () => Promise<void>): Promise<void> {
  stack = await startStack({}, receiver.env, { timeSkipping: true, gateways: true });
  try {
    await body();
  } finally {
    await stack.close();
  }
}
let receiver: MerchantReceiver;
before(async () => {
  receiver = await startMerchantReceiver();
});
after(async () => {
  await receiver?.close();
});

const until = (id: string, what: string, done: (v: any) => boolean): Promise<any> =>
  untilView(stack, id, what, done);
const control = (gateway: string, path: string, body: unknown): Promise<unknown> =>
  gatewayControl(stack, gateway, path, body);

/**
 * Moves both clocks to `at` in steps of at most six hours: the engine's first (its timers due by
 * then fire), then the gateway's (what it does by then happens, and the engine hears of it at
 * once). So the engine never learns of a gateway event before that event's time.
 */
async function moveTo(gateway: string, at: number): Promise<void> {
  for (;;) {
    const engineNow = await stack.env.currentTimeMs();
    const step = Math.min(at, engineNow + 6 * 3_600_000);
    if (step > engineNow) await stack.env.sleep(step - engineNow);
    await advanceGatewayClock(stack, gateway, step);
    if (step >= at) return;
  }
}

const orderOf = (v: any, sequenceNo: number) =>
  (v.recent_orders as any[]).find((o) => o.sequence_no === sequenceNo);

/**
 * Creates a subscription on `gateway` whose second cycle is declined, and returns it once the
 * engine has the decline: PAST_DUE, an episode left to the gateway, nothing escalated.
 */
async function declinedSecondCycle(gateway: 'qorepay' | 'madfintech') {
  // Both clocks start at the engine's now (an earlier test may have moved it).
  await advanceGatewayClock(stack, gateway, await stack.env.currentTimeMs());
  await control(gateway, '/cards', { approve: true });
  const created = await stack.api(
    'POST',
    `/v1/gateways/${gateway}/subscriptions`,
    {
      customer: { id: `client-${gateway}-recovery`, email: `${gateway}-recovery@example.com` },
      plan: { name: 'Monthly', amount: 2500, currency: 'USD', interval: { unit: 'month', count: 1 } },
      payment_method: { token: `card-${gateway}-recovery` },
      dunning_policy: { escalation: ['notify_customer', 'notify_operations'], final_action: 'cancel' },
    },
    { 'idempotency-key': `gateway-recovery-${gateway}` },
  );
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id: string = created.body.result.subscription_id;
  await until(id, 'cycle 1 paid', (v) => orderOf(v, 1)?.status === 'PAID');

  await control(gateway, '/cards', { approve: false });
  const billing = await nextBillingAt(stack, id);
  assert.ok(billing !== undefined, `${gateway} bills ${id} again`);
  await moveTo(gateway, billing);
  const failed = await until(
    id,
    'cycle 2 declined',
    (v) => v.state === 'PAST_DUE' && orderOf(v, 2)?.status === 'FAILED' && v.dunning.episode !== null,
  );
  return { id, failedAt: billing, episode: failed.dunning.episode };
}

/** Asserts the engine waits on the gateway: an episode retrying, no charge, nothing escalated. */
function assertLeftToGateway(episode: any, what: string): void {
  assert.equal(episode?.stage, 'retrying', `${what}: ${JSON.stringify(episode)}`);
  assert.deepEqual(episode.attempts, [], `${what}: no charge`);
  assert.deepEqual(episode.escalation_steps_done, [], `${what}: nothing escalated`);
}

/** The escalation the merchant received for `id`'s cycle 2, once all of it has arrived, then its end. */
async function escalationReceived(id: string) {
  const ofIt = () => receiver.events.filter((e) => e.subscription_id === id);
  const events = await eventually(`${id}: escalation and end received`, async () => {
    const mine = ofIt();
    const exhausted = mine.filter((e) => e.type === 'subscription.dunning_exhausted');
    return exhausted.length === 3 && mine.some((e) => e.type === 'subscription.ended') ? mine : undefined;
  });
  const exhausted = events.filter((e) => e.type === 'subscription.dunning_exhausted');
  assert.deepEqual(
    exhausted.map((e) => e.data.step ?? null).sort(),
    ['notify_customer', 'notify_operations', null].sort(),
  );
  for (const e of exhausted) {
    assert.equal(e.data.final_action, 'cancel');
    assert.equal(e.data.attempts, 0, 'the engine made no charge');
  }
  assert.equal(events.find((e) => e.type === 'subscription.ended')?.data.final_state, 'CANCELLED');
  assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'each event once');
  return exhausted;
}

void describe(
  'a decline the gateway’s own recovery does not settle, time-skipped',
  { concurrency: false },
  () => {
    void it('MadFintech: nothing escalates during its three tries; after the third, the steps, then the cancel', () =>
      withStack(async () => {
        const { id, failedAt, episode } = await declinedSecondCycle('madfintech');
        assertLeftToGateway(episode, 'after the first try');

        await moveTo('madfintech', failedAt + DAY + 1_000);
        const second = await until(id, 'the second try declined', (v) => orderOf(v, 2)?.failures >= 2);
        assert.equal(second.state, 'PAST_DUE');
        assertLeftToGateway(second.dunning.episode, 'after the second try');

        await moveTo('madfintech', failedAt + 2 * DAY + 2_000);
        const ended = await until(id, 'cancelled after the third try', (v) => v.state === 'CANCELLED');
        const closed = ended.dunning.history.at(-1);
        assert.equal(closed.outcome, 'exhausted', JSON.stringify(closed));
        assert.match(closed.outcome_detail, /madfintech's own recovery ended unpaid; final action cancel/);
        assert.deepEqual(closed.escalation_steps_done, ['notify_customer', 'notify_operations']);
        for (const e of await escalationReceived(id)) {
          assert.ok(
            Date.parse(e.created_at) >= failedAt + 2 * DAY,
            `escalated ${(Date.parse(e.created_at) - failedAt) / DAY} days after the first decline, not before the third try`,
          );
        }
      }));

    void it('QorePay: nothing escalates while it retries; past the due date the engine asks, then the steps and the cancel', () =>
      withStack(async () => {
        const { id, failedAt, episode } = await declinedSecondCycle('qorepay');
        assertLeftToGateway(episode, 'after the decline');

        await moveTo('qorepay', failedAt + DAY + 1_000);
        const retried = await until(
          id,
          'QorePay’s daily retry declined',
          (v) => orderOf(v, 2)?.failures >= 2,
        );
        assert.equal(retried.state, 'PAST_DUE');
        assertLeftToGateway(retried.dunning.episode, 'after a retry');

        // Seven days on the purchase is overdue; QorePay sends nothing for it. The engine's look
        // comes once the due period and a grace (15 minutes by default) have passed: the clocks go
        // just past it, and what the look finds is carried out from there in the engine's time.
        await moveTo('qorepay', failedAt + 7 * DAY + 15 * 60_000 + 1_000);
        const ended = await until(id, 'cancelled after the due date', (v) => v.state === 'CANCELLED');
        const closed = ended.dunning.history.at(-1);
        assert.equal(closed.outcome, 'exhausted', JSON.stringify(closed));
        assert.match(closed.outcome_detail, /qorepay's own recovery ended unpaid; final action cancel/);
        for (const e of await escalationReceived(id)) {
          assert.ok(
            Date.parse(e.created_at) >= failedAt + 7 * DAY,
            `escalated ${(Date.parse(e.created_at) - failedAt) / DAY} days after the decline, not before the due date`,
          );
        }
      }));
  },
);
