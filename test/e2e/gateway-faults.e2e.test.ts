/**
 * The mirror on the gateways behind the port under duplicated, delayed and dropped notifications:
 * several subscriptions per gateway through months of paid, declined and retried cycles with the
 * emulator's notification faults on, then one sync each; the engine's view must then equal what
 * the gateway's own API says (state, and the status of every order), as it does for QFPay.
 * Duplicates and reordering must change nothing; a dropped notification is what the sync is for.
 *
 * A merchant's sync brings in everything the engine holds, however old. The engine's own queries
 * read a FAILED order again for two cycles more only (a payment brings one); when every
 * notification of those cycles was dropped, an order the gateway paid stays FAILED in the engine
 * until the merchant's `POST /v1/subscriptions/{id}/sync` corrects it, even in the same gateway
 * second as the engine's own query. That case is deterministic: the emulator drops exactly the
 * notifications named there.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { splitSubscriptionId } from '../../src/domain/gateway-profile';
import { gatewayModule } from '../../src/gateways/registry';
import { emulatorStartMs } from '../helpers/emulator-start';
import { gatewayControl, untilView } from '../helpers/stack-reads';
import {
  advanceGatewayClock,
  advanceToNextBilling,
  eventually,
  nextBillingAt,
  startStack,
  type Stack,
} from '../helpers/stack';
import { recordHistory } from '../helpers/temporal';

const DAY = 86_400_000;
const SUBSCRIPTIONS = 3;
const CYCLES = 8;

let stack: Stack;
before(async () => {
  const gatewayStartMs = emulatorStartMs();
  stack = await startStack({}, undefined, {
    gateways: true,
    ...(gatewayStartMs === undefined ? {} : { gatewayStartMs }),
  });
});
after(async () => {
  await stack?.close();
});

/** A small seeded generator, so a failing run can be repeated. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1_664_525 + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

const control = (gateway: string, path: string, body: unknown): Promise<unknown> =>
  gatewayControl(stack, gateway, path, body);

const FAULTS: Record<string, { on: unknown; off: unknown }> = {
  qorepay: {
    on: { duplicateRate: 0.4, dropRate: 0.25, delayRate: 0.3, delayMs: 300 },
    off: { duplicateRate: 0, dropRate: 0, delayRate: 0 },
  },
  madfintech: {
    on: { duplicateShare: 0.4, dropShare: 0.25, delayMs: 300 },
    off: { duplicateShare: 0, dropShare: 0, delayMs: 0 },
  },
};

async function runGateway(gateway: 'qorepay' | 'madfintech', seed: number) {
  const rnd = random(seed);
  await control(gateway, '/faults', FAULTS[gateway]!.on);
  const ids: string[] = [];
  for (let i = 0; i < SUBSCRIPTIONS; i += 1) {
    const created = await stack.api(
      'POST',
      `/v1/gateways/${gateway}/subscriptions`,
      {
        customer: { id: `client-faults-${gateway}-${i}` },
        plan: { name: 'Monthly', amount: 1500 + i, currency: 'USD', interval: { unit: 'month', count: 1 } },
        payment_method: { token: `card-faults-${gateway}-${i}` },
      },
      { 'idempotency-key': `gateway-faults-${gateway}-${i}` },
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    ids.push(created.body.result.subscription_id);
  }
  for (let cycle = 2; cycle <= CYCLES; cycle += 1) {
    const approves = rnd() > 0.35;
    await control(gateway, '/cards', { approve: approves });
    // To the next billing (or retry) any of them has, as the gateway reports it: months differ.
    const due = (await Promise.all(ids.map((id) => nextBillingAt(stack, id)))).filter(
      (t): t is number => t !== undefined,
    );
    if (due.length === 0) break;
    await advanceGatewayClock(stack, gateway, Math.min(...due));
    if (!approves && rnd() < 0.6) {
      // The gateway's own retry, a day later, with a card that works again.
      await control(gateway, '/cards', { approve: true });
      await control(gateway, '/clock/advance', { ms: DAY + 1_000 });
    }
  }
  await control(gateway, '/faults', FAULTS[gateway]!.off);

  const adapter = gatewayModule(gateway)!.adapter(stack.gateways[gateway]!.env);
  const compared = { orders: 0, states: new Set<string>() };
  for (const id of ids) {
    // What a dropped notification left out, a query brings in.
    const synced = await stack.api('POST', `/v1/subscriptions/${encodeURIComponent(id)}/sync`);
    assert.equal(synced.status, 200, JSON.stringify(synced.body));
    // Every order the gateway has, from the first (a plain sync reads from the current cycle).
    const truth = await adapter.sync(splitSubscriptionId(id).gatewayId, { sinceSequence: 1 });
    assert.ok(truth.found, `${id} at ${gateway}`);
    const view = synced.body;
    assert.equal(view.state, truth.fact.remote.state, `${id}: state`);
    compared.states.add(view.state);
    const mirrored = new Map<number, string>(
      (view.recent_orders as Array<{ sequence_no: number; status: string }>).map((o) => [
        o.sequence_no,
        o.status,
      ]),
    );
    for (const order of truth.fact.orders ?? []) {
      if (order.status === undefined) continue;
      assert.equal(mirrored.get(order.sequenceNo), order.status, `${id}: order ${order.sequenceNo}`);
      compared.orders += 1;
    }
  }
  return compared;
}

void describe('the mirror on QorePay and MadFintech under notification faults', { concurrency: true }, () => {
  for (const [gateway, seed] of [
    ['qorepay', 20261129],
    ['madfintech', 20261130],
  ] as const) {
    void it(`${gateway}: duplicated, delayed and dropped notifications, then a sync: the engine says what ${gateway} says`, async () => {
      const compared = await runGateway(gateway, seed);
      // The run exercised what it is meant to: many orders, and more than the happy state.
      assert.ok(compared.orders >= SUBSCRIPTIONS * 4, `orders compared: ${compared.orders}`);
    });
  }
});

type Order = { sequence_no: number; status: string };
const orderStatus = (view: any, n: number): string | undefined =>
  (view.recent_orders as Order[]).find((o) => o.sequence_no === n)?.status;

void describe('a merchant’s sync on MadFintech', () => {
  void it('corrects an order paid by a retry whose notification, and those of the next cycles, were dropped', async () => {
    const control = (path: string, body: unknown) => gatewayControl(stack, 'madfintech', path, body);
    await control('/cards', { approve: true });
    const created = await stack.api(
      'POST',
      '/v1/gateways/madfintech/subscriptions',
      {
        customer: { id: 'client-sync-madfintech' },
        plan: { name: 'Monthly', amount: 1900, currency: 'USD', interval: { unit: 'month', count: 1 } },
        payment_method: { token: 'card-sync-madfintech' },
      },
      { 'idempotency-key': 'gateway-sync-madfintech' },
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id: string = created.body.result.subscription_id;
    await untilView(stack, id, 'order 1 paid', (v) => orderStatus(v, 1) === 'PAID');

    // Cycle 2 is declined, and the engine hears it: the decline opens a dunning episode and brings
    // a query. Only once the engine has nothing left to do (no activity pending after the episode
    // opened) is the retry made, so that the engine's own query saw order 2 FAILED and nothing but
    // a later query can tell it otherwise.
    await control('/cards', { approve: false });
    await advanceToNextBilling(stack, id);
    await untilView(stack, id, 'order 2 failed, its episode open', (v) => {
      const episode = v.dunning.episode ?? v.dunning.history.at(-1);
      return orderStatus(v, 2) === 'FAILED' && episode?.sequence_no === 2;
    });
    const handle = stack.env.client.workflow.getHandle(created.body.result.workflow_id);
    await eventually('the query the decline brought, made', async () =>
      ((await handle.describe()).raw.pendingActivities ?? []).length === 0 ? true : undefined,
    );

    // The gateway's retry a day later pays it; that notification and the next two cycles' are lost.
    await control('/faults', { dropShare: 1 });
    await control('/cards', { approve: true });
    await control('/clock/advance', { ms: DAY + 1_000 });
    await advanceToNextBilling(stack, id);
    await advanceToNextBilling(stack, id);
    await control('/faults', { dropShare: 0 });
    await advanceToNextBilling(stack, id);
    // The engine's own query after cycle 5 reads from the first order it does not hold: 3 to 5.
    const seen = await untilView(stack, id, 'orders 3 to 5 paid', (v) =>
      [3, 4, 5].every((n) => orderStatus(v, n) === 'PAID'),
    );
    assert.equal(orderStatus(seen, 2), 'FAILED', 'order 2 was not read again by the engine itself');

    const synced = await stack.api('POST', `/v1/subscriptions/${encodeURIComponent(id)}/sync`);
    assert.equal(synced.status, 200, JSON.stringify(synced.body));
    assert.deepEqual(
      (synced.body.recent_orders as Order[])
        .map((o) => [o.sequence_no, o.status])
        .sort((a, b) => Number(a[0]) - Number(b[0])),
      [1, 2, 3, 4, 5].map((n) => [n, 'PAID']),
    );
    // The run's history, for the replay test (with RECORD_HISTORIES=1): two query answers in one
    // gateway second, under the rule that keys them by the orders they read.
    await recordHistory(handle, 'madfintech-merchant-sync-same-second');
  });
});
