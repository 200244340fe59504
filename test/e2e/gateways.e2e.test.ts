/**
 * One subscription on each of the three gateways, end to end in one run: the engine's API, a real
 * Temporal server, the worker, and each gateway's emulator over HTTP, its notifications signed and
 * verified on the real path (`/webhooks/qfpay`, `/webhooks/qorepay`, `/webhooks/madfintech`).
 *
 * Each goes through creation, a paid cycle, a failed cycle recovered by that gateway's own path,
 * and a cancel:
 * - QFPay: the engine's manual charge (dunning) pays the failed order before the next billing time;
 * - QorePay: no manual charge, so the engine charges nothing and escalates nothing while QorePay's
 *   daily retry of the saved card runs; that retry pays the purchase;
 * - the card gateway (MadFintech): no manual charge either; its own next try pays the cycle.
 *
 * A decline the gateway's recovery does not settle (escalated when it ends) is in
 * `gateway-recovery.e2e.test.ts`.
 *
 * QorePay's and MadFintech's emulators have their own clocks (a month is a call); QFPay's runs in
 * real time on a minute plan, as its dunning needs the engine's clock and QFPay's to agree.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { emulatorStartMs } from '../helpers/emulator-start';
import { recordHistory } from '../helpers/temporal';
import { WORKFLOW_TYPES } from '../../src/workflows/definitions';
import { gatewayControl, subscriptionView, untilView } from '../helpers/stack-reads';
import {
  advanceToNextBilling,
  eventually,
  minuteSubscription,
  startStack,
  type Stack,
} from '../helpers/stack';

const DAY = 86_400_000;
/** Long enough for a cycle on a busy machine (QFPay's minute cycles take a minute each). */
const CYCLE_WAIT_MS = 150_000;

let stack: Stack;
before(async () => {
  // No QFPay-side automatic retries: QFPay's recovery below is the engine's manual charge.
  // QFPay's emulator keeps the real time (its dunning runs on the engine's real clock); the other
  // gateways' clocks are moved by the test, from wherever `npm run test:dates` starts them.
  const gatewayStartMs = emulatorStartMs();
  stack = await startStack({ retryFractions: [] }, undefined, {
    gateways: true,
    ...(gatewayStartMs === undefined ? {} : { gatewayStartMs }),
  });
});
after(async () => {
  await stack?.close();
});

const view = (id: string): Promise<any> => subscriptionView(stack, id);
/** Waits until the engine's view satisfies `done`. */
const until = (id: string, what: string, done: (v: any) => boolean, timeoutMs = 30_000): Promise<any> =>
  untilView(stack, id, what, done, timeoutMs);

const orderOf = (v: any, sequenceNo: number) =>
  (v.recent_orders as any[]).find((o) => o.sequence_no === sequenceNo);

const control = (gateway: string, path: string, body?: unknown): Promise<any> =>
  gatewayControl(stack, gateway, path, body);

async function cancel(subscriptionId: string): Promise<void> {
  const res = await stack.api('POST', `/v1/subscriptions/${encodeURIComponent(subscriptionId)}/cancel`, {});
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.state, 'CANCELLED');
}

/**
 * What a merchant reads of a subscription on a gateway behind the port, after three cycles (paid,
 * failed then recovered, as above): its orders with their attempts, its schedule, its events'
 * deliveries, and a redelivery of one of its event ids, each through the API.
 */
async function merchantReads(gateway: string, id: string) {
  const path = `/v1/subscriptions/${encodeURIComponent(id)}`;
  // Asked now, so the engine's next billing time is the gateway's (a recovery by the gateway's
  // own retry does not tell the engine when the next cycle bills).
  const synced = await stack.api('POST', `${path}/sync`);
  assert.equal(synced.status, 200, JSON.stringify(synced.body));
  const v = await view(id);

  const orders = await stack.api('GET', `${path}/orders`);
  assert.equal(orders.status, 200, JSON.stringify(orders.body));
  assert.equal(orders.body.next_cursor, null);
  assert.deepEqual(
    (orders.body.data as any[]).map((o) => [o.sequence_no, o.status]),
    [
      [3, 'PAID'],
      [2, 'PAID'],
      [1, 'PAID'],
    ],
  );
  const third = orders.body.data[0];
  assert.equal(third.amount, 2500, JSON.stringify(third));
  assert.equal(third.currency, 'USD');
  assert.ok(
    (third.attempts as any[]).some((a) => !a.succeeded) && third.attempts.at(-1).succeeded,
    `cycle 3 shows its decline, then its payment: ${JSON.stringify(third.attempts)}`,
  );

  const schedule = await stack.api('GET', `${path}/schedule?count=3`);
  assert.equal(schedule.status, 200, JSON.stringify(schedule.body));
  assert.equal(schedule.body.subscription_id, id);
  assert.equal(schedule.body.state, 'ACTIVE');
  const billings = schedule.body.billings as Array<{
    cycle: number;
    at: string;
    amount: number;
    currency: string;
  }>;
  assert.deepEqual(
    billings.map((b) => [b.cycle, b.amount, b.currency]),
    [
      [4, 2500, 'USD'],
      [5, 2500, 'USD'],
      [6, 2500, 'USD'],
    ],
  );
  assert.equal(billings[0]!.at, v.next_billing_time, `${gateway}'s next billing is the first shown`);
  for (const [i, b] of billings.entries()) {
    const months = new Date(b.at).getUTCMonth() - new Date(schedule.body.anchor).getUTCMonth();
    assert.equal((months + 12) % 12, (i + 3) % 12, `cycle ${b.cycle} is ${i + 3} months after the anchor`);
  }

  const events = await stack.api('GET', `/v1/merchant-events?subscription_id=${encodeURIComponent(id)}`);
  assert.equal(events.status, 200, JSON.stringify(events.body));
  // Merchant events are off in this stack: a redelivery of an id the engine sends for this
  // gateway passes the id's check and is refused for that reason alone.
  const eventId = `evt.${id}.payment_failed.0003.1732158726000`;
  const redeliver = await stack.api(
    'POST',
    `/v1/merchant-events/${encodeURIComponent(eventId)}/redeliver`,
    {},
  );
  assert.equal(redeliver.status, 409, JSON.stringify(redeliver.body));
  assert.match(redeliver.body.error.message, /merchant events are off/);
}

/** The part every gateway behind the port shares: create, pay, fail, recover by its path, cancel. */
async function portGateway(
  gateway: 'qorepay' | 'madfintech',
  card: (approve: boolean) => Promise<void>,
  recover: () => Promise<void>,
  beforeCancel: (id: string) => Promise<void> = async () => {},
) {
  const create = () =>
    stack.api(
      'POST',
      `/v1/gateways/${gateway}/subscriptions`,
      {
        customer: { id: `client-${gateway}-e2e`, email: `${gateway}@example.com` },
        plan: { name: 'Monthly', amount: 2500, currency: 'USD', interval: { unit: 'month', count: 1 } },
        payment_method: { token: `card-${gateway}-e2e` },
        dunning_policy: { escalation: ['notify_customer'], final_action: 'leave_to_gateway' },
      },
      { 'idempotency-key': `gateways-e2e-${gateway}` },
    );
  const created = await create();
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id: string = created.body.result.subscription_id;
  assert.ok(id.startsWith(`${gateway}:`), id);
  assert.equal(created.body.result.workflow_id, `${gateway}-subscription:${id.slice(gateway.length + 1)}`);

  // A retry of the same request is the same subscription, and the gateway has one.
  const again = await create();
  assert.equal(again.status, 200, JSON.stringify(again.body));
  assert.equal(again.body.result.subscription_id, id);
  // The creation's history, for the replay test (with RECORD_HISTORIES=1).
  if (process.env.RECORD_HISTORIES === '1') {
    const creations = stack.env.client.workflow.list({
      query: `WorkflowType="${WORKFLOW_TYPES.createGatewaySubscription}"`,
    });
    for await (const creation of creations) {
      const handle = stack.env.client.workflow.getHandle(creation.workflowId);
      if ((await handle.result()).subscriptionId === id)
        await recordHistory(handle, `${gateway}-creation-e2e`);
    }
  }

  const first = await until(
    id,
    'cycle 1 paid',
    (v) => v.state === 'ACTIVE' && orderOf(v, 1)?.status === 'PAID',
  );
  assert.equal(first.gateway, gateway);
  // Listed by the customer's id at the gateway (visibility takes about a second).
  await eventually(`${id} listed by its customer`, async () => {
    const list = await stack.api('GET', `/v1/subscriptions?customer_id=client-${gateway}-e2e`);
    assert.equal(list.status, 200, JSON.stringify(list.body));
    return (list.body.data as Array<{ subscription_id: string }>).some((i) => i.subscription_id === id)
      ? true
      : undefined;
  });

  // A paid cycle: the gateway bills a month later on its own.
  await advanceToNextBilling(stack, id);
  await until(id, 'cycle 2 paid', (v) => v.state === 'ACTIVE' && orderOf(v, 2)?.status === 'PAID');

  // A failed cycle: the card declines. The engine has no charge to make here, and escalates
  // nothing while the gateway's own recovery runs: the order is left to the gateway.
  await card(false);
  await advanceToNextBilling(stack, id);
  const failed = await until(
    id,
    'cycle 3 failed, left to the gateway',
    (v) => v.state === 'PAST_DUE' && orderOf(v, 3)?.status === 'FAILED' && v.dunning.episode !== null,
  );
  const episode = failed.dunning.episode;
  assert.equal(episode.stage, 'retrying', JSON.stringify(episode));
  assert.deepEqual(episode.attempts, [], 'no charge was made');
  assert.deepEqual(episode.escalation_steps_done, [], 'nothing escalated while the gateway retries');
  const chargeNow = await stack.api('POST', `/v1/subscriptions/${encodeURIComponent(id)}/charge`, {});
  assert.equal(chargeNow.status, 409, JSON.stringify(chargeNow.body));
  assert.match(chargeNow.body.error.message, new RegExp(`${gateway} cannot charge an order on request`));

  // The gateway's own recovery pays the order; the plan was never cancelled for it.
  await card(true);
  await recover();
  const recovered = await until(
    id,
    'cycle 3 recovered',
    (v) => v.state === 'ACTIVE' && orderOf(v, 3)?.status === 'PAID',
  );
  assert.equal(recovered.transitions.at(-1).to, 'ACTIVE');
  const closed = recovered.dunning.history.at(-1);
  assert.equal(closed.outcome, 'recovered', JSON.stringify(closed));
  assert.deepEqual(closed.escalation_steps_done, [], 'paid by the gateway, never escalated');
  await merchantReads(gateway, id);

  await beforeCancel(id);
  await cancel(id);
  await until(id, 'cancelled', (v) => v.state === 'CANCELLED');
  // The run's history, for the replay test (with RECORD_HISTORIES=1).
  await recordHistory(
    stack.env.client.workflow.getHandle(created.body.result.workflow_id),
    `${gateway}-subscription-e2e`,
  );
  return id;
}

void describe('a subscription on each gateway, end to end', { concurrency: true }, () => {
  void it('QFPay: a paid cycle, a failed one recovered by the engine’s manual charge, then a cancel', async () => {
    const { subscriptionId: id, tokenId } = await minuteSubscription(stack, 'gateways-e2e-qfpay', {
      attempt_offsets: ['10s', '20s'],
      final_action: 'cancel',
    });
    assert.equal((await until(id, 'cycle 1 paid', (v) => orderOf(v, 1)?.status === 'PAID')).gateway, 'qfpay');
    await until(
      id,
      'cycle 2 paid',
      (v) => v.state === 'ACTIVE' && orderOf(v, 2)?.status === 'PAID',
      CYCLE_WAIT_MS,
    );

    await stack.emulator('POST', `/_emulator/tokens/${tokenId}/behaviour`, {
      charges: 'decline',
      respcd: '1205',
    });
    await until(id, 'cycle 3 failed', (v) => orderOf(v, 3)?.status === 'FAILED', CYCLE_WAIT_MS);
    await stack.emulator('POST', `/_emulator/tokens/${tokenId}/behaviour`, { charges: 'approve' });
    // QFPay's notification of the charge may arrive before the charge's own answer: the order is
    // PAID at once, and known to be the manual charge's once that answer is applied.
    const recovered = await until(
      id,
      'cycle 3 paid by a manual charge',
      (v) => v.state === 'ACTIVE' && orderOf(v, 3)?.status === 'PAID' && orderOf(v, 3)?.trigger_by !== null,
      CYCLE_WAIT_MS,
    );
    assert.equal(orderOf(recovered, 3).trigger_by, 'manual');
    await cancel(id);
  });

  void it('QorePay: a paid cycle, a failed one recovered by QorePay’s daily retry, then a cancel', async () => {
    const id = await portGateway(
      'qorepay',
      (approve) => control('qorepay', '/cards', { approve }),
      // QorePay retries the saved card once a day while the purchase is not yet due.
      () => control('qorepay', '/clock/advance', { ms: DAY + 1_000 }),
      // QorePay pauses itself: the engine's pause and resume go to the subscriber's status.
      async (id) => {
        const status = async () => {
          const state = await control('qorepay', '/state');
          return (state.subscribers as any[]).find((s) => id.endsWith(`~${s.client_id}`))?.status;
        };
        const path = `/v1/subscriptions/${encodeURIComponent(id)}`;
        const timed = await stack.api('POST', `${path}/pause`, { resumes_at: '2999-01-01T00:00:00Z' });
        assert.equal(timed.status, 409, JSON.stringify(timed.body));
        assert.equal((await stack.api('POST', `${path}/pause`, {})).status, 200);
        assert.equal(await status(), 'subscription_paused');
        assert.equal((await stack.api('POST', `${path}/resume`)).status, 200);
        assert.equal(await status(), 'active');

        // The subscriber's own price (its invoice_override): the schedule shows it from the next billing.
        const priced = await stack.api('POST', `${path}/price`, { amount: 3100, currency: 'USD' });
        assert.equal(priced.status, 200, JSON.stringify(priced.body));
        const schedule = await stack.api('GET', `${path}/schedule?count=2`);
        assert.equal(schedule.status, 200, JSON.stringify(schedule.body));
        assert.deepEqual(
          (schedule.body.billings as Array<{ amount: number }>).map((b) => b.amount),
          [3100, 3100],
        );
        const zero = await stack.api('POST', `${path}/price`, { amount: 0, currency: 'USD' });
        assert.equal(zero.status, 400, JSON.stringify(zero.body));
        assert.deepEqual(
          (zero.body.error.details as Array<{ path: string }>).map((d) => d.path),
          ['amount'],
        );
        const otherCurrency = await stack.api('POST', `${path}/price`, { amount: 3100, currency: 'EUR' });
        assert.equal(otherCurrency.status, 409, JSON.stringify(otherCurrency.body));
        assert.match(otherCurrency.body.error.message, /bills in USD/);
      },
    );
    const state = await control('qorepay', '/state');
    const subscriber = (state.subscribers as any[]).find((s) => id.endsWith(`~${s.client_id}`));
    assert.equal(subscriber?.status, 'subscription_cancelled', JSON.stringify(state.subscribers));
  });

  void it('MadFintech: a paid cycle, a failed one recovered by the gateway’s next try, then a cancel', async () => {
    await portGateway(
      'madfintech',
      (approve) => control('madfintech', '/cards', { approve }),
      // The gateway tries a declined cycle again a day later.
      () => control('madfintech', '/clock/advance', { ms: DAY + 1_000 }),
      // MadFintech has no call to reprice or pause one subscription: a 409 naming it, before
      // anything is sent.
      async (id) => {
        const priced = await stack.api('POST', `/v1/subscriptions/${encodeURIComponent(id)}/price`, {
          amount: 3100,
          currency: 'USD',
        });
        assert.equal(priced.status, 409, JSON.stringify(priced.body));
        assert.match(priced.body.error.message, /madfintech cannot change one subscription’s price/);
        // Nor to pause it: accepted, it would go on charging the card.
        const paused = await stack.api('POST', `/v1/subscriptions/${encodeURIComponent(id)}/pause`, {});
        assert.equal(paused.status, 409, JSON.stringify(paused.body));
        assert.match(paused.body.error.message, /madfintech cannot pause billing/);
      },
    );
  });
});
