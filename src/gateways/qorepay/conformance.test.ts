/** The adapter against the emulator over real HTTP: the contract of GatewayAdapter. */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { GatewayError, type GatewayAdapter, type GatewayCreateInput, type GatewayEnv } from '../port';
import { qorepayGateway } from './index';
import { emulatorControl } from './emulator/control';
import { emulatorStart } from '../../../test/helpers/emulator-start';
import { monthlyCreation } from '../../../test/helpers/gateway-input';

const DAY = 86_400_000;

let emulator: Awaited<ReturnType<typeof qorepayGateway.startEmulator>>;
let adapter: GatewayAdapter;
let ctl: ReturnType<typeof emulatorControl>;
let n = 0;

function input(over: Partial<GatewayCreateInput['plan']> = {}): GatewayCreateInput {
  n += 1;
  return monthlyCreation(`conf-${n}-${process.pid}`, `client-${n}`, over);
}

async function sync(id: string, sinceSequence?: number) {
  const r = await adapter.sync(id, sinceSequence === undefined ? {} : { sinceSequence });
  assert.ok(r.found, `${id} not found`);
  return r.fact;
}

async function rejects(p: Promise<unknown>, retryable: boolean, status?: number): Promise<GatewayError> {
  const err = await p.then(
    () => assert.fail('expected a GatewayError'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof GatewayError, String(err));
  assert.equal(err.retryable, retryable, err.message);
  if (status !== undefined) assert.equal(err.status, status);
  return err;
}

describe('QorePay adapter against the emulator', () => {
  before(async () => {
    emulator = await qorepayGateway.startEmulator({ port: 0, ...emulatorStart() });
    adapter = qorepayGateway.adapter(emulator.env);
    ctl = emulatorControl(emulator.url);
  });
  after(async () => emulator.close());

  it('is configured by the env the emulator returns', () => {
    assert.equal(qorepayGateway.configured(emulator.env), true);
    assert.equal(qorepayGateway.configured({ ...emulator.env, QOREPAY_API_KEY: '' }), false);
  });

  it('creates once per reference, even when an attempt failed after creating', async () => {
    const req = input();
    const first = await adapter.create(req);
    assert.match(first.subscriptionId, /^[0-9a-f-]{36}~client-\d+$/);
    assert.equal(first.reusedExisting, false);
    assert.equal(first.state, 'ACTIVE'); // the first cycle is charged at once and the card approves
    const again = await adapter.create(req);
    assert.deepEqual(again, { ...first, reusedExisting: true });

    // The fifth call of a creation (the purchases list) fails after add_subscriber went through.
    const req2 = input();
    await ctl.faults({ apiFailSkip: 4, apiFailNext: 1 });
    await rejects(adapter.create(req2), true, 503);
    const retried = await adapter.create(req2);
    assert.equal(retried.reusedExisting, true);

    const state = await ctl.state();
    for (const ref of [req.reference, req2.reference]) {
      const templates = state.templates.filter((t) => t.title === ref);
      assert.equal(templates.length, 1);
      assert.equal(state.subscribers.filter((s) => s.billing_template_id === templates[0]?.id).length, 1);
    }
  });

  it('refuses a reference reused for another plan or client, and a cycle limit', async () => {
    const req = input();
    await adapter.create(req);
    await rejects(adapter.create({ ...req, plan: { ...req.plan, amount: 999 } }), false, 409);
    await rejects(adapter.create({ ...req, customer: { id: 'someone-else' } }), false, 409);
    await rejects(adapter.create(input({ totalCycles: 12 })), false);
  });

  it('bills each cycle; a decline is PAST_DUE; QorePay retries it to PAID; overdue is UNPAID', async () => {
    const { subscriptionId: id } = await adapter.create(input());
    let fact = await sync(id, 1);
    assert.equal(fact.remote.state, 'ACTIVE');
    assert.deepEqual(
      fact.orders?.map((o) => [o.sequenceNo, o.status, o.respcd]),
      [[1, 'PAID', '0000']],
    );

    const next = async () => ctl.advanceTo((await sync(id)).remote.nextBillingTime ?? Infinity);
    await next();
    fact = await sync(id);
    assert.equal(fact.remote.state, 'ACTIVE');
    assert.equal(fact.remote.completedCycles, 2);
    const paid = fact.orders?.find((o) => o.sequenceNo === 2);
    assert.equal(paid?.status, 'PAID');
    assert.equal(paid?.amount, 1500);
    assert.ok(fact.at >= (paid?.at ?? Infinity), 'the answer is not older than what it reports');

    await ctl.cards(false, id);
    await next();
    fact = await sync(id);
    assert.equal(fact.remote.state, 'PAST_DUE');
    const failed = fact.orders?.find((o) => o.sequenceNo === 3);
    assert.deepEqual([failed?.status, failed?.respcd], ['FAILED', 'card_declined']);
    assert.equal(fact.remote.retryAttempts, 1);

    // QorePay's own recovery: the next daily retry charges the saved card again.
    await ctl.advance(DAY);
    fact = await sync(id);
    assert.equal(fact.remote.retryAttempts, 2);
    await ctl.cards(true, id);
    await ctl.advance(DAY);
    fact = await sync(id);
    assert.equal(fact.remote.state, 'ACTIVE');
    const recovered = fact.orders?.find((o) => o.sequenceNo === 3);
    assert.deepEqual([recovered?.orderId, recovered?.status], [failed?.orderId, 'PAID']);

    // Declined until the due date: the purchase is overdue, the subscription UNPAID.
    await ctl.cards(false, id);
    await next();
    assert.equal((await sync(id)).remote.state, 'PAST_DUE');
    await ctl.advance(7 * DAY);
    fact = await sync(id);
    assert.equal(fact.remote.state, 'UNPAID');
    const overdue = fact.orders?.find((o) => o.sequenceNo === 4);
    assert.deepEqual([overdue?.status, overdue?.respcd], ['FAILED', 'overdue']);
    assert.equal(fact.remote.retryAttempts, 7); // the charge, then six daily retries before due
  });

  it("sets one subscriber's price (its invoice_override) from the next billing on; refuses another currency or any other change", async () => {
    const { subscriptionId: id } = await adapter.create(input());
    assert.equal((await adapter.plan!(id))?.amount, 1500);
    await adapter.update!({ subscriptionId: id, price: { amount: 3100, currency: 'MYR' } });
    const plan = await adapter.plan!(id);
    assert.deepEqual([plan?.amount, plan?.currency], [3100, 'MYR'], 'the schedule shows the new price');
    await ctl.advanceTo((await sync(id)).remote.nextBillingTime ?? Infinity);
    const fact = await sync(id, 1);
    assert.deepEqual(
      fact.orders?.map((o) => [o.sequenceNo, o.status, o.amount]),
      [
        [1, 'PAID', 1500],
        [2, 'PAID', 3100],
      ],
    );
    const other = await rejects(
      adapter.update!({ subscriptionId: id, price: { amount: 3100, currency: 'EUR' } }),
      false,
      409,
    );
    assert.match(other.message, /bills in MYR/);
    await rejects(adapter.update!({ subscriptionId: id, tokenId: 'tk_x' }), false, 400);
    assert.equal((await adapter.plan!(id))?.amount, 3100, 'nothing changed');
  });

  it('pauses (a billing date passing while paused is skipped) and resumes', async () => {
    const { subscriptionId: id } = await adapter.create(input({ interval: { unit: 'week', count: 1 } }));
    await adapter.setPaused?.(id, true);
    assert.equal((await sync(id)).remote.state, 'PAUSED');
    await ctl.advance(8 * DAY);
    await adapter.setPaused?.(id, false);
    let fact = await sync(id, 1);
    assert.equal(fact.remote.state, 'ACTIVE');
    assert.deepEqual(
      fact.orders?.map((o) => o.sequenceNo),
      [1],
    );
    await ctl.advance(7 * DAY);
    fact = await sync(id, 1);
    assert.deepEqual(
      fact.orders?.map((o) => [o.sequenceNo, o.status]),
      [
        [1, 'PAID'],
        [2, 'PAID'],
      ],
    );
  });

  it('cancels, and a second cancel is done too', async () => {
    const { subscriptionId: id } = await adapter.create(input());
    const first = await adapter.cancel(id);
    const second = await adapter.cancel(id);
    assert.equal(second.at, first.at);
    assert.equal((await sync(id)).remote.state, 'CANCELLED');
    await rejects(adapter.setPaused!(id, true), false, 400);
  });

  it('when QorePay refuses the cancel status (the seed documents only active and paused), pauses instead and says so', async () => {
    const { subscriptionId: id } = await adapter.create(input());
    await ctl.faults({ refuseCancelStatus: 1 });
    try {
      const err = await rejects(adapter.cancel(id), false, 400);
      assert.match(err.message, /refused the cancel/);
      assert.match(err.message, /paused instead/);
    } finally {
      await ctl.faults({ refuseCancelStatus: 0 });
    }
    // Billing stopped the documented way: no charge while the merchant finishes the cancel.
    assert.equal((await sync(id)).remote.state, 'PAUSED');
    const [templateId, clientId] = id.split('~');
    const subscriber = (await ctl.state()).subscribers.find(
      (s) => s.billing_template_id === templateId && s.client_id === clientId,
    );
    assert.equal(subscriber?.status, 'subscription_paused');
  });

  it('classifies failures: 5xx retryable (and not processed), wrong token not, unknown id not found', async () => {
    const req = input();
    await ctl.faults({ apiFailNext: 1 });
    await rejects(adapter.create(req), true, 503);
    let state = await ctl.state();
    assert.equal(state.templates.filter((t) => t.title === req.reference).length, 0);

    const { subscriptionId: id } = await adapter.create(req);
    await ctl.faults({ apiFailNext: 1 });
    await rejects(adapter.cancel(id), true, 503);
    assert.equal((await sync(id)).remote.state, 'ACTIVE');

    const intruder = qorepayGateway.adapter({ ...emulator.env, QOREPAY_API_KEY: 'wrong' });
    await rejects(intruder.sync(id), false, 401);
    await rejects(intruder.create(input()), false, 401);
    state = await ctl.state();
    assert.equal(state.subscribers.filter((s) => s.status === 'subscription_cancelled').length, 1);

    const [templateId] = id.split('~');
    for (const unknown of [`${templateId}~nobody`, '00000000-0000-0000-0000-000000000000~x']) {
      const r = await adapter.sync(unknown);
      assert.equal(r.found, false);
      assert.equal(r.subscriptionId, unknown);
    }
    await rejects(adapter.sync('no-separator'), false);
  });

  it('times out a silent gateway as retryable', async () => {
    const silent: Server = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const env: GatewayEnv = {
        ...emulator.env,
        QOREPAY_API_URL: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/api/v1`,
        QOREPAY_TIMEOUT_MS: '100',
      };
      const err = await rejects(qorepayGateway.adapter(env).sync('a~b'), true);
      assert.match(err.message, /no answer in 100 ms/);
    } finally {
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});
