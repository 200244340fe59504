/**
 * End to end, every part real: the Temporal dev server, a worker, the HTTP API on a port, and the
 * QFPay emulator notifying the API's webhook over HTTP. A merchant creates a subscription through
 * the engine, the emulator's clock runs it through several cycles, the merchant cancels; at each
 * step the engine's mirror equals the emulator's truth. Replaying every notification twice and in
 * reverse order changes nothing, and a forged one is refused.
 *
 * With RECORD_HISTORIES=1 the run stores the workflow's history under test/fixtures/histories/
 * for the replay test (determinism guard).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WORKFLOW_TYPES, subscriptionWorkflowId } from '../../src/workflows/definitions';
import { eventually, startStack, type Stack } from '../helpers/stack';
import { emulatorStartMs } from '../helpers/emulator-start';
import { recordHistory } from '../helpers/temporal';

let stack: Stack;
before(async () => {
  const startTime = emulatorStartMs();
  stack = await startStack({ frozen: true, ...(startTime === undefined ? {} : { startTime }) });
});
after(async () => {
  await stack?.close();
});

/** QFPay's API speaks in whole seconds; the emulator's inspection view has milliseconds. */
function seconds(iso: string | null | undefined): number | null {
  return iso ? Math.floor(Date.parse(iso) / 1000) * 1000 : null;
}

interface Mirror {
  state: string;
  completedCycles: number;
  nextBillingTime: number | null;
  orders: string[];
}

async function engineMirror(subscriptionId: string): Promise<Mirror & { factsApplied: number }> {
  const res = await stack.api('GET', `/v1/subscriptions/${subscriptionId}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const v = res.body;
  return {
    state: v.state,
    completedCycles: v.completed_cycles,
    nextBillingTime: seconds(v.next_billing_time),
    orders: v.recent_orders.map((o: { order_id: string; status: string }) => `${o.order_id}:${o.status}`),
    factsApplied: v.facts_applied,
  };
}

async function emulatorTruth(subscriptionId: string): Promise<Mirror> {
  const t = await stack.emulator('GET', `/_emulator/subscriptions/${subscriptionId}`);
  return {
    state: t.state,
    completedCycles: t.completed_billing_iteration,
    nextBillingTime: seconds(t.next_billing_time),
    orders: t.orders.map(
      (o: { subscription_order_id: string; status: string }) => `${o.subscription_order_id}:${o.status}`,
    ),
  };
}

/** Waits until the engine mirrors the emulator (what QFPay knows is what the engine shows). */
async function assertMirrors(subscriptionId: string, what: string): Promise<Mirror> {
  let last: unknown;
  return eventually(what, async () => {
    const truth = await emulatorTruth(subscriptionId);
    const { factsApplied: _, ...mirror } = await engineMirror(subscriptionId);
    if (truth.state === 'CANCELLED' || truth.state === 'COMPLETED')
      truth.nextBillingTime = mirror.nextBillingTime;
    last = { truth, mirror };
    try {
      assert.deepEqual(mirror, truth);
      return truth;
    } catch {
      return undefined;
    }
  }).catch((err: unknown) => {
    throw new Error(`${String(err)}; last seen ${JSON.stringify(last)}`);
  });
}

describe('a subscription end to end (dev server + worker + API + emulator over HTTP)', () => {
  let subscriptionId = '';

  it('creates customer, token, product and subscription through the engine; retrying the create returns the same one', async () => {
    const customer = await stack.api('POST', '/v1/customers', {
      name: 'Ada Lovelace',
      email: 'ada@example.com',
    });
    assert.equal(customer.status, 201, JSON.stringify(customer.body));
    const customerId: string = customer.body.customer_id;
    const token = await stack.emulator('POST', '/_emulator/tokens', {
      customer_id: customerId,
      card_number: '4000000000001091',
    });
    // QFPay's payment_token notification reached the engine and was recorded for the customer.
    await eventually('token recorded', async () => {
      const res = await stack.api('GET', `/v1/customers/${customerId}/tokens`);
      return res.body?.data?.some((t: { token_id: string }) => t.token_id === token.token_id)
        ? true
        : undefined;
    });
    const product = await stack.api('POST', '/v1/products', {
      name: 'Gold monthly',
      amount: 9900,
      currency: 'HKD',
      interval: 'monthly',
      interval_count: 1,
    });
    assert.equal(product.status, 201, JSON.stringify(product.body));

    const request = {
      customer_id: customerId,
      product_id: product.body.product_id,
      token_id: token.token_id,
      total_billing_cycles: 6,
    };
    const created = await stack.api('POST', '/v1/subscriptions', request, {
      'idempotency-key': 'e2e-create-1',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    subscriptionId = created.body.result.subscription_id;
    const retried = await stack.api('POST', '/v1/subscriptions', request, {
      'idempotency-key': 'e2e-create-1',
    });
    assert.equal(retried.status, 200);
    assert.equal(retried.body.result.subscription_id, subscriptionId);
    assert.equal(retried.body.replayed, true);
    if (process.env.RECORD_HISTORIES === '1') {
      const creations = stack.env.client.workflow.list({
        query: `WorkflowType="${WORKFLOW_TYPES.createSubscription}"`,
      });
      for await (const creation of creations)
        await recordHistory(stack.env.client.workflow.getHandle(creation.workflowId), 'creation-e2e');
    }
    const all = await stack.emulator('GET', '/_emulator/subscriptions');
    const rows = (all.data ?? all) as Array<{ customer_id: string }>;
    assert.equal(
      rows.filter((s) => s.customer_id === customerId).length,
      1,
      'QFPay holds exactly one subscription',
    );

    const truth = await assertMirrors(subscriptionId, 'first charge mirrored');
    assert.equal(truth.state, 'ACTIVE');
    assert.equal(truth.completedCycles, 1);
  });

  it('follows three more billing cycles as the emulator clock advances', async () => {
    for (let cycle = 2; cycle <= 4; cycle += 1) {
      const before = await emulatorTruth(subscriptionId);
      await stack.qfpayEmulator.advance({ to: before.nextBillingTime! + 1_000 });
      const truth = await assertMirrors(subscriptionId, `cycle ${cycle} mirrored`);
      assert.equal(truth.completedCycles, cycle);
      assert.equal(truth.state, 'ACTIVE');
    }
  });

  it('is unchanged by every notification delivered again, twice, in reverse order', async () => {
    const before = await engineMirror(subscriptionId);
    const log = await stack.emulator('GET', `/_emulator/notifications?subscription_id=${subscriptionId}`);
    const bodies: string[] = log.data
      .filter((n: { status: string }) => n.status === 'delivered')
      .map((n: { body: string }) => n.body);
    assert.ok(bodies.length >= 5, `${bodies.length} notifications delivered`);
    for (const body of [...bodies].reverse().flatMap((b) => [b, b])) {
      const res = await stack.postNotification(body);
      assert.equal(res.status, 200);
      assert.equal(res.text, 'SUCCESS');
    }
    await stack.api('POST', `/v1/subscriptions/${subscriptionId}/sync`);
    const after = await engineMirror(subscriptionId);
    assert.deepEqual({ ...after, factsApplied: 0 }, { ...before, factsApplied: 0 });
    await assertMirrors(subscriptionId, 'still mirrored after duplicates');
  });

  it('refuses a forged notification with 401 and signals nothing', async () => {
    const before = await engineMirror(subscriptionId);
    const forged = JSON.stringify({
      notify_type: 'subscription',
      subscription_id: subscriptionId,
      state: 'CANCELLED',
      sysdtm: '2099-01-01 00:00:00',
    });
    const res = await stack.postNotification(forged, 'not-the-app-key');
    assert.equal(res.status, 401);
    const after = await engineMirror(subscriptionId);
    assert.deepEqual(after, before);
  });

  it('cancels through the API; QFPay and the engine agree and the workflow closes', async () => {
    const res = await stack.api('POST', `/v1/subscriptions/${subscriptionId}/cancel`, {
      reason: 'customer asked',
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.state, 'CANCELLED');
    const truth = await assertMirrors(subscriptionId, 'cancel mirrored');
    assert.equal(truth.state, 'CANCELLED');
    const handle = stack.env.client.workflow.getHandle(subscriptionWorkflowId(subscriptionId));
    await eventually('workflow closed', async () =>
      (await handle.describe()).status.name === 'COMPLETED' ? true : undefined,
    );
    const again = await stack.api('POST', `/v1/subscriptions/${subscriptionId}/cancel`, {});
    assert.equal(again.status, 409);

    await recordHistory(handle, 'subscription-e2e');
  });

  it('stays ended: every notification delivered again after the end is taken and starts no new run', async () => {
    const handle = stack.env.client.workflow.getHandle(subscriptionWorkflowId(subscriptionId));
    const ended = await handle.describe();
    const log = await stack.emulator('GET', `/_emulator/notifications?subscription_id=${subscriptionId}`);
    const bodies: string[] = log.data
      .filter((n: { status: string }) => n.status === 'delivered')
      .map((n: { body: string }) => n.body);
    assert.ok(
      bodies.some((b) => b.includes('CANCELLED')),
      "QFPay's own CANCELLED notification is among them",
    );
    for (const body of bodies) {
      const res = await stack.postNotification(body);
      assert.equal(res.status, 200);
      assert.equal(res.text, 'SUCCESS');
    }
    const after = await handle.describe();
    assert.equal(after.runId, ended.runId, 'no new run');
    assert.equal(after.status.name, 'COMPLETED');
  });
});
