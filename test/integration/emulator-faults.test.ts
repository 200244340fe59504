import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { signRequest, wireParams } from '../../src/gateways/qfpay/signing';
import {
  DAY,
  useTestEmulator,
  TEST_APP_CODE,
  TEST_APP_KEY,
  startTestEmulator,
} from '../helpers/emulator-client';

/** A signed create-customer request with a client-side timeout, as raw fetch. */
function createCustomerRaw(baseUrl: string, signal?: AbortSignal): Promise<Response> {
  const wire = wireParams({ name: 'Ada' });
  return fetch(`${baseUrl}/customer/v1/create`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      'X-QF-APPCODE': TEST_APP_CODE,
      'X-QF-SIGN': signRequest(wire, TEST_APP_KEY),
    },
    body: new URLSearchParams(wire).toString(),
    ...(signal && { signal }),
  });
}

describe('emulator API fault injection', () => {
  const t = useTestEmulator();

  const customers = () => t.emulator.emulator.store.customers.size;

  it('shows, changes, validates and resets the fault configuration over HTTP', async () => {
    const initial = await t.client.control<Record<string, unknown>>('GET', '/faults');
    assert.equal(initial.body.serverErrorRate, 0);
    assert.equal(initial.body.notificationsEnabled, true);
    const changed = await t.client.control<Record<string, unknown>>('POST', '/faults', {
      serverErrorRate: 0.25,
      endpoints: ['/subscription/v1/charge'],
    });
    assert.equal(changed.body.serverErrorRate, 0.25);
    assert.deepEqual(changed.body.endpoints, ['/subscription/v1/charge']);
    const invalid = await t.client.control<{ error: { type: string } }>('POST', '/faults', { dropRate: 2 });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.error.type, 'invalid_request');
    const unknown = await t.client.control('POST', '/faults', { meltdown: true });
    assert.equal(unknown.status, 400);
    assert.equal(
      (await t.client.control<Record<string, unknown>>('GET', '/faults')).body.serverErrorRate,
      0.25,
    );
    const reset = await t.client.control<Record<string, unknown>>('DELETE', '/faults');
    assert.equal(reset.body.serverErrorRate, 0);
  });

  it('answers HTTP 429 with Retry-After at rateLimitRate 1, without processing', async () => {
    t.emulator.setFaults({ rateLimitRate: 1 });
    const response = await createCustomerRaw(t.emulator.url);
    assert.equal(response.status, 429);
    assert.equal(response.headers.get('retry-after'), '1');
    assert.equal(customers(), 0);
  });

  it('answers HTTP 500/502/503 at serverErrorRate 1, without processing', async () => {
    t.emulator.setFaults({ serverErrorRate: 1 });
    const statuses = new Set<number>();
    for (let i = 0; i < 30; i += 1) statuses.add((await createCustomerRaw(t.emulator.url)).status);
    assert.ok([...statuses].every((s) => [500, 502, 503].includes(s)));
    assert.ok(statuses.size > 1);
    assert.equal(customers(), 0);
  });

  it('holds the answer past the client’s timeout at timeoutRate 1, having processed the call', async () => {
    t.emulator.setFaults({ timeoutRate: 1, timeoutMs: 30_000 });
    await assert.rejects(createCustomerRaw(t.emulator.url, AbortSignal.timeout(150)), {
      name: 'TimeoutError',
    });
    assert.equal(customers(), 1);
  });

  it('drops a timed-out call before processing it when timeoutProcesses is false', async () => {
    t.emulator.setFaults({ timeoutRate: 1, timeoutMs: 30_000, timeoutProcesses: false });
    await assert.rejects(createCustomerRaw(t.emulator.url, AbortSignal.timeout(150)), {
      name: 'TimeoutError',
    });
    assert.equal(customers(), 0);
  });

  it('answers late at slowRate 1', async () => {
    t.emulator.setFaults({ slowRate: 1, slowMs: 150 });
    const started = performance.now();
    const response = await createCustomerRaw(t.emulator.url);
    assert.equal(response.status, 200);
    assert.ok(performance.now() - started >= 140);
  });

  it('limits API faults to the listed endpoints', async () => {
    t.emulator.setFaults({ serverErrorRate: 1, endpoints: ['/subscription/v1/charge'] });
    const { subscriptionId } = await t.client.subscribe();
    const response = await fetch(`${t.emulator.url}/subscription/v1/charge`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `subscription_id=${subscriptionId}`,
    });
    assert.ok(response.status >= 500);
  });

  it('repeats the same API faults for the same seed', async () => {
    const run = async () => {
      t.emulator.setFaults({ seed: 99, serverErrorRate: 0.4, rateLimitRate: 0.2 });
      const statuses: number[] = [];
      for (let i = 0; i < 20; i += 1) statuses.push((await createCustomerRaw(t.emulator.url)).status);
      return statuses;
    };
    const first = await run();
    assert.deepEqual(await run(), first);
    assert.ok(first.includes(200) && first.some((s) => s !== 200));
  });

  it('answers a manual charge 1145 at pendingChargeRate 1 and completes it a moment later', async () => {
    const s = await t.client.subscribe();
    await t.client.setCharges(s.tokenId, 'decline');
    await t.client.advance({ ms: 41 * DAY });
    await t.client.setCharges(s.tokenId, 'approve');
    t.emulator.setFaults({ pendingChargeRate: 1, pendingChargeDelayMs: 2_000 });
    const first = await t.client.call<Record<string, unknown>>('/subscription/v1/charge', {
      subscription_id: s.subscriptionId,
    });
    assert.equal(first.body.respcd, '1145');
    assert.equal(first.body.data.subscription_order_id, `sub_ord_${s.subscriptionId.slice(4)}_0002`);
    assert.equal(first.body.data.state, 'UNPAID');
    // Asking again while it is processing starts no second payment.
    const again = await t.client.call('/subscription/v1/charge', { subscription_id: s.subscriptionId });
    assert.equal(again.body.respcd, '1145');
    await t.client.advance({ ms: 1_999 });
    assert.equal((await t.client.inspect(s.subscriptionId)).orders[1]?.status, 'FAILED');
    await t.client.advance({ ms: 1 });
    const truth = await t.client.inspect(s.subscriptionId);
    assert.equal(truth.state, 'ACTIVE');
    assert.deepEqual(
      truth.orders[1]?.attempts.map((a) => [a.trigger, a.approved]),
      [
        ['auto', false],
        ['auto', false],
        ['auto', false],
        ['manual', true],
      ],
    );
    const payments = t.receiver.payloads('subscription_payment', s.subscriptionId);
    assert.equal(payments.at(-1)?.respcd, '0000');
    assert.equal(t.receiver.states(s.subscriptionId).at(-1), 'ACTIVE');
  });
});

describe('emulator held responses on shutdown', () => {
  it('closes a response held by the timeout fault when the server closes', async () => {
    const t = await startTestEmulator({ faults: { timeoutRate: 1, timeoutMs: 600_000 } });
    const pending = createCustomerRaw(t.emulator.url);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await t.close();
    await assert.rejects(pending);
  });
});
