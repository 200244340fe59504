/**
 * The mirror on the gateways behind the port under duplicated, delayed and dropped notifications:
 * several subscriptions per gateway through months of paid, declined and retried cycles with the
 * emulator's notification faults on, then one sync each; the engine's view must then equal what
 * the gateway's own API says (state, and the status of every order), as it does for QFPay.
 * Duplicates and reordering must change nothing; a dropped notification is what the sync is for.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { splitSubscriptionId } from '../../src/domain/gateway-profile';
import { gatewayModule } from '../../src/gateways/registry';
import { emulatorStartMs } from '../helpers/emulator-start';
import { gatewayControl } from '../helpers/stack-reads';
import { advanceGatewayClock, nextBillingAt, startStack, type Stack } from '../helpers/stack';

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
