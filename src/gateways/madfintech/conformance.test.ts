/**
 * The adapter against the emulator over real HTTP: creation (and its idempotency), a paid cycle,
 * a declined cycle and the gateway's own recovery, cancellation, faults and authentication.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SyncResult } from '../../domain/gateway-answers';
import { GatewayError, type GatewayAdapter, type GatewayCreateInput, type GatewayEnv } from '../port';
import { madfintechGateway } from './index';
import { emulatorStart } from '../../../test/helpers/emulator-start';

const DAY = 86_400_000;

describe('madfintech adapter against its emulator', () => {
  let emulator: { url: string; close(): Promise<void>; env: GatewayEnv };
  let adapter: GatewayAdapter;

  const control = async (path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${emulator.url}/_emulator${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    assert.equal(res.status, 200, `${path}: ${res.status}`);
    return res.json();
  };
  const input = (reference: string, totalCycles: number | null = null): GatewayCreateInput => ({
    reference,
    customer: { id: 'cus_1', email: 'a@example.com' },
    plan: { name: 'Gold', amount: 5699, currency: 'USD', interval: { unit: 'month', count: 1 }, totalCycles },
    paymentMethod: { token: 'card_94831' },
  });
  /** Moves the emulator's clock to the next billing time it reports for `id` (months differ in length). */
  const toNextBilling = async (id: string): Promise<void> => {
    const next = (await synced(id)).remote.nextBillingTime;
    assert.ok(next !== undefined, `${id} has a next billing time`);
    const { now } = (await control('/clock')) as { now: number };
    await control('/clock/advance', { ms: Math.max(0, next - now) });
  };
  const synced = async (id: string, since?: number) => {
    const result: SyncResult = await adapter.sync(
      id,
      since === undefined ? undefined : { sinceSequence: since },
    );
    assert.equal(result.found, true);
    if (!result.found) throw new Error('unreachable');
    return result.fact;
  };

  before(async () => {
    emulator = await madfintechGateway.startEmulator({ port: 0, ...emulatorStart() });
    adapter = madfintechGateway.adapter(emulator.env);
    assert.equal(madfintechGateway.configured(emulator.env), true);
  });
  after(async () => emulator.close());

  it('creates once per reference, and a repeat finds the same order', async () => {
    const first = await adapter.create(input('ref-create-1'));
    assert.deepEqual(
      { id: first.subscriptionId, state: first.state, reused: first.reusedExisting },
      { id: 'ref-create-1', state: 'ACTIVE', reused: false },
    );
    const again = await adapter.create(input('ref-create-1'));
    assert.equal(again.subscriptionId, first.subscriptionId);
    assert.equal(again.reusedExisting, true);
    assert.equal(again.at, first.at);
    const { orderNumbers } = (await control('/orders')) as { orderNumbers: string[] };
    assert.deepEqual(
      orderNumbers.filter((n) => n === 'ref-create-1'),
      ['ref-create-1'],
    );
  });

  it('makes an unsafe reference a deterministic order number', async () => {
    const a = await adapter.create(input('merchant/ref #7'));
    const b = await adapter.create(input('merchant/ref #7'));
    assert.match(a.subscriptionId, /^h-[0-9a-f]{40}$/);
    assert.equal(b.subscriptionId, a.subscriptionId);
    assert.equal(b.reusedExisting, true);
  });

  it('bills cycles, marks a decline PAST_DUE, recovers by the gateway retry, then cancels', async () => {
    const { subscriptionId: id } = await adapter.create(input('ref-life'));
    let fact = await synced(id);
    assert.equal(fact.remote.state, 'ACTIVE');
    assert.deepEqual(
      fact.orders?.map((o) => [o.orderId, o.sequenceNo, o.status, o.respcd, o.amount]),
      [[`${id}:1`, 1, 'PAID', '0000', 5699]],
    );

    await toNextBilling(id);
    fact = await synced(id);
    assert.equal(fact.remote.state, 'ACTIVE');
    assert.equal(fact.remote.completedCycles, 2);
    assert.deepEqual(
      fact.orders?.map((o) => [o.sequenceNo, o.status]),
      [
        [1, 'PAID'],
        [2, 'PAID'],
      ],
    );
    assert.ok((fact.orders?.[1]?.at ?? 0) > (fact.orders?.[0]?.at ?? 0));

    await control('/cards', { approve: false, orderNumber: id });
    await toNextBilling(id);
    fact = await synced(id, 3);
    assert.equal(fact.remote.state, 'PAST_DUE');
    assert.equal(fact.remote.retryAttempts, 1);
    assert.deepEqual(
      fact.orders?.map((o) => [o.orderId, o.sequenceNo, o.status, o.respcd]),
      [[`${id}:3`, 3, 'FAILED', 'card_declined']],
    );

    await control('/cards', { approve: true, orderNumber: id });
    await control('/clock/advance', { ms: DAY });
    fact = await synced(id, 3);
    assert.equal(fact.remote.state, 'ACTIVE');
    assert.deepEqual(
      fact.orders?.map((o) => [o.orderId, o.sequenceNo, o.status, o.respcd]),
      [[`${id}:3`, 3, 'PAID', '0000']],
    );

    const cancelled = await adapter.cancel(id);
    assert.equal(typeof cancelled.at, 'number');
    assert.equal((await synced(id)).remote.state, 'CANCELLED');
    const again = await adapter.cancel(id);
    assert.equal(again.at, cancelled.at);
  });

  it('fails the recurring subscription after three declined tries (UNPAID)', async () => {
    const { subscriptionId: id } = await adapter.create(input('ref-exhaust'));
    await control('/cards', { approve: false, orderNumber: id });
    await control('/clock/advance', { ms: 31 * DAY + 2 * DAY });
    const fact = await synced(id);
    assert.equal(fact.remote.state, 'UNPAID');
    assert.deepEqual(
      fact.orders?.map((o) => [o.sequenceNo, o.status]),
      [
        [1, 'PAID'],
        [2, 'FAILED'],
      ],
    );
  });

  it('completes a bounded plan after its last payment', async () => {
    const { subscriptionId: id } = await adapter.create(input('ref-bounded', 2));
    await control('/clock/advance', { ms: 31 * DAY });
    const fact = await synced(id);
    assert.equal(fact.remote.state, 'COMPLETED');
    assert.equal(fact.remote.totalBillingCycles, 2);
    assert.equal(fact.remote.completedCycles, 2);
  });

  it('leaves a declined first payment INCOMPLETE, then INCOMPLETE_EXPIRED', async () => {
    await control('/cards', { approve: false });
    try {
      const created = await adapter.create(input('ref-declined-first'));
      assert.equal(created.state, 'INCOMPLETE');
      let fact = await synced(created.subscriptionId);
      assert.equal(fact.remote.state, 'INCOMPLETE');
      assert.deepEqual(
        fact.orders?.map((o) => [o.sequenceNo, o.status]),
        [[1, 'FAILED']],
      );
      await control('/clock/advance', { ms: DAY });
      fact = await synced(created.subscriptionId);
      assert.equal(fact.remote.state, 'INCOMPLETE_EXPIRED');
    } finally {
      await control('/cards', { approve: true });
    }
  });

  it('reports a 5xx as a retryable GatewayError, and a retried create does not duplicate', async () => {
    await control('/faults', { failNext: 1 });
    await assert.rejects(adapter.create(input('ref-fault')), (err: unknown) => {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.retryable, true);
      assert.equal(err.status, 503);
      return true;
    });
    const created = await adapter.create(input('ref-fault'));
    assert.equal(created.reusedExisting, false);
    assert.equal((await adapter.create(input('ref-fault'))).reusedExisting, true);
  });

  it('reports a wrong token as a GatewayError that is not retryable', async () => {
    const wrong = madfintechGateway.adapter({ ...emulator.env, MADFINTECH_API_TOKEN: 'wrong' });
    await assert.rejects(wrong.sync('ref-create-1'), (err: unknown) => {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.retryable, false);
      assert.equal(err.status, 401);
      return true;
    });
  });

  it('reports an unreachable gateway as retryable', async () => {
    const down = madfintechGateway.adapter({
      ...emulator.env,
      MADFINTECH_API_URL: 'http://127.0.0.1:1/api/v1',
    });
    await assert.rejects(down.sync('x'), (err: unknown) => err instanceof GatewayError && err.retryable);
  });

  it('answers found:false for an unknown id', async () => {
    const result = await adapter.sync('no-such-order');
    assert.equal(result.found, false);
    if (!result.found) assert.equal(result.subscriptionId, 'no-such-order');
  });
});
