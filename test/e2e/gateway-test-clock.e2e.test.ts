/**
 * Test clocks on the gateways behind the port: a QorePay subscription and a MadFintech one made
 * through the merchant API on one clock, each living in that clock's world at its gateway's
 * emulator, and three advances of the clock taking both through paid cycles, a declined renewal
 * and the gateway's own recovery, in the clock's time. Beside them, a subscription of each gateway
 * on no clock, whose worlds the advances never touch. Real Temporal, the emulators over HTTP, their
 * notifications signed and verified on the real path, and a Standard Webhooks receiver for the
 * merchant's events.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TEST_CLOCK_HEADER } from '../../src/gateways/test-clock-header';
import { startMerchantReceiver, type MerchantReceiver } from '../helpers/merchant-receiver';
import { subscriptionView, untilView } from '../helpers/stack-reads';
import { clockThroughApi, eventually, startStack, type Stack } from '../helpers/stack';
import { emulatorStartMs } from '../helpers/emulator-start';

const START = Date.parse('2027-01-10T02:00:00Z');
const GATEWAYS = ['qorepay', 'madfintech'] as const;
type Gateway = (typeof GATEWAYS)[number];
/** Long enough for a month of steps on a busy machine. */
const ADVANCE_WAIT_MS = 180_000;

let stack: Stack;
let receiver: MerchantReceiver;
before(async () => {
  receiver = await startMerchantReceiver();
  // The gateways' main worlds, which this test only checks never move, start where
  // `npm run test:dates` puts them, as in gateways.e2e.test.ts.
  const gatewayStartMs = emulatorStartMs();
  stack = await startStack({ retryFractions: [] }, receiver.env, {
    gateways: true,
    ...(gatewayStartMs === undefined ? {} : { gatewayStartMs }),
  });
});
after(async () => {
  await stack?.close();
  await receiver?.close();
});

/** A control call at a gateway's emulator, in a test clock's world when `clock` names one. */
async function control(
  gateway: Gateway,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  clock?: string,
) {
  const emulator = stack.gateways[gateway];
  assert.ok(emulator, `${gateway} has an emulator in this stack`);
  const res = await fetch(`${emulator.url}/_emulator${path}`, {
    method,
    headers: {
      'content-type': 'application/json',
      ...(clock === undefined ? {} : { [TEST_CLOCK_HEADER]: clock }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `${gateway} ${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

async function subscribe(gateway: Gateway, key: string, clock?: string): Promise<string> {
  const created = await stack.api(
    'POST',
    `/v1/gateways/${gateway}/subscriptions`,
    {
      customer: { id: `client-${key}`, email: `${key}@example.com` },
      plan: { name: 'Monthly', amount: 2500, currency: 'USD', interval: { unit: 'month', count: 1 } },
      payment_method: { token: `card-${key}` },
      dunning_policy: { escalation: ['notify_customer'], final_action: 'leave_to_gateway' },
      ...(clock === undefined ? {} : { test_clock: clock }),
    },
    { 'idempotency-key': key },
  );
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.result.subscription_id;
}

/** Advances the clock through the API and waits until it is ready at `to`. */
async function advance(clock: string, to: number): Promise<void> {
  const begun = await stack.api('POST', `/v1/test_clocks/${clock}/advance`, {
    frozen_time: new Date(to).toISOString(),
  });
  assert.equal(begun.status, 200, JSON.stringify(begun.body));
  const ready = await eventually(
    `the clock ready at ${new Date(to).toISOString()}`,
    async () => {
      const read = await stack.api('GET', `/v1/test_clocks/${clock}`);
      return read.body.status === 'ready' ? read.body : undefined;
    },
    ADVANCE_WAIT_MS,
  );
  assert.equal(ready.frozen_time, new Date(to).toISOString());
}

const orderOf = (v: any, sequenceNo: number) =>
  (v.recent_orders as any[]).find((o) => o.sequence_no === sequenceNo);

describe('a test clock on QorePay and MadFintech', () => {
  it('bills, declines and recovers both gateways’ subscriptions in the clock’s time, and leaves the main worlds alone', async () => {
    // On no clock: each gateway's main world, whose time the clock's advances must not move.
    const unclocked = Object.fromEntries(
      await Promise.all(GATEWAYS.map(async (g) => [g, await subscribe(g, `${g}-no-clock`)] as const)),
    ) as Record<Gateway, string>;
    for (const g of GATEWAYS)
      await untilView(
        stack,
        unclocked[g],
        'cycle 1 paid on no clock',
        (v) => orderOf(v, 1)?.status === 'PAID',
      );
    const mainTimes = async () =>
      Promise.all(GATEWAYS.map(async (g) => (await control(g, 'GET', '/clock')).now as number));
    const mainBefore = await mainTimes();

    const clock = await clockThroughApi(stack, START, 'gateways');
    const ids = Object.fromEntries(
      await Promise.all(GATEWAYS.map(async (g) => [g, await subscribe(g, `${g}-on-clock`, clock)] as const)),
    ) as Record<Gateway, string>;
    await eventually('both subscriptions joined the clock', async () => {
      const read = await stack.api('GET', `/v1/test_clocks/${clock}`);
      return read.body.subscriptions === 2 ? true : undefined;
    });

    // A month: cycles 1 and 2 paid, in the clock's world and time.
    const month1 = Date.parse('2027-02-10T03:00:00Z');
    await advance(clock, month1);
    for (const g of GATEWAYS) {
      const v = await untilView(
        stack,
        ids[g],
        'cycles 1 and 2 paid',
        (v) => v.state === 'ACTIVE' && orderOf(v, 2)?.status === 'PAID',
      );
      assert.deepEqual(v.test_clock, { test_clock_id: clock, frozen_time: new Date(month1).toISOString() });
    }

    // The next renewal declines, in the clock's worlds only.
    for (const g of GATEWAYS) await control(g, 'POST', '/cards', { approve: false }, clock);
    const month2 = Date.parse('2027-03-10T03:00:00Z');
    await advance(clock, month2);
    for (const g of GATEWAYS) {
      const v = await untilView(
        stack,
        ids[g],
        'cycle 3 failed, left to the gateway',
        (v) => v.state === 'PAST_DUE' && orderOf(v, 3)?.status === 'FAILED' && v.dunning.episode !== null,
      );
      assert.deepEqual(v.dunning.episode.attempts, [], 'the engine charges nothing on these gateways');
    }

    // Approved again: the gateway's own next try pays cycle 3, and cycle 4 bills on time.
    for (const g of GATEWAYS) await control(g, 'POST', '/cards', { approve: true }, clock);
    const month3 = Date.parse('2027-04-10T03:00:00Z');
    await advance(clock, month3);
    for (const g of GATEWAYS) {
      const v = await untilView(
        stack,
        ids[g],
        'cycle 3 recovered and cycle 4 paid',
        (v) => v.state === 'ACTIVE' && orderOf(v, 3)?.status === 'PAID' && orderOf(v, 4)?.status === 'PAID',
      );
      assert.equal(v.dunning.history.at(-1)?.outcome, 'recovered', JSON.stringify(v.dunning));
      assert.deepEqual(v.test_clock, { test_clock_id: clock, frozen_time: new Date(month3).toISOString() });
    }

    // The merchant's events: each once, marked with the clock, dated in its time, in the story's order.
    for (const g of GATEWAYS) {
      const mine = await eventually(`${g}'s recovery event`, async () => {
        const events = receiver.events.filter((e) => e.subscription_id === ids[g]);
        return events.some((e) => e.type === 'subscription.dunning_recovered') ? events : undefined;
      });
      for (const e of mine) {
        assert.equal(e.test_clock, clock, `${e.type} marked with its clock`);
        const at = Date.parse(e.created_at);
        assert.ok(at >= START && at <= month3, `${e.type} at ${e.created_at}, in the clock's time`);
      }
      const paid = (n: number) =>
        mine.find((e) => e.type === 'subscription.payment_succeeded' && e.data.sequence_no === n);
      const failed3 = mine.find((e) => e.type === 'subscription.payment_failed' && e.data.sequence_no === 3);
      assert.ok(failed3, `${g}: cycle 3's decline told`);
      for (const n of [1, 2, 3, 4]) assert.ok(paid(n), `${g}: cycle ${n}'s payment told`);
      assert.ok(Date.parse(paid(2)!.created_at) < Date.parse(failed3.created_at));
      assert.ok(Date.parse(failed3.created_at) < Date.parse(paid(3)!.created_at));
      assert.ok(Date.parse(paid(3)!.created_at) < Date.parse(paid(4)!.created_at));
    }

    // Listed by the clock, and nothing else is.
    const listed = await eventually('both listed by their clock', async () => {
      const page = await stack.api('GET', `/v1/subscriptions?test_clock=${clock}`);
      const found = (page.body.data as Array<{ subscription_id: string }>).map((s) => s.subscription_id);
      return found.length === 2 ? found : undefined;
    });
    assert.deepEqual(listed.sort(), Object.values(ids).sort());

    // Removed: its subscriptions end, and so do its worlds at every emulator.
    const removed = await stack.api('DELETE', `/v1/test_clocks/${clock}`);
    assert.deepEqual([removed.status, removed.body], [200, { id: clock, deleted: true }]);
    for (const g of GATEWAYS) {
      const world = await fetch(`${stack.gateways[g]!.url}/_emulator/test_clocks/${clock}`);
      assert.equal(world.status, 404, `${g}'s world of the clock is gone`);
      const { workflow_id: workflowId } = await subscriptionView(stack, ids[g]);
      const ended = await stack.env.client.workflow.getHandle(workflowId).describe();
      assert.equal(ended.status.name, 'TERMINATED', `${g}'s subscription ended with its clock`);
    }

    // The main worlds did not move, and their subscriptions billed nothing more.
    assert.deepEqual(await mainTimes(), mainBefore);
    for (const g of GATEWAYS) {
      const v = await subscriptionView(stack, unclocked[g]);
      assert.equal(orderOf(v, 2), undefined, `${g}'s subscription on no clock billed no second cycle`);
      assert.equal(v.test_clock ?? null, null);
    }
  });

  it('refuses a clock that does not exist, naming test_clock', async () => {
    const res = await stack.api(
      'POST',
      '/v1/gateways/qorepay/subscriptions',
      {
        customer: { id: 'client-nowhere' },
        plan: { name: 'Monthly', amount: 2500, currency: 'USD', interval: { unit: 'month', count: 1 } },
        test_clock: 'clock_000000000000000000000000',
      },
      { 'idempotency-key': 'qorepay-no-such-clock' },
    );
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.deepEqual(
      (res.body.error.details as Array<{ path: string }>).map((d) => d.path),
      ['test_clock'],
    );
  });
});
