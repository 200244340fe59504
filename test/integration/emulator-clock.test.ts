import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HOUR, useTestEmulator, TEST_START, startTestEmulator } from '../helpers/emulator-client';

interface ClockReply {
  now: string;
  nowMs: number;
  frozen: boolean;
  timeScale: number;
  processed?: { stateEvents: number; deliveryAttempts: number };
}

describe('emulator clock API', () => {
  const t = useTestEmulator({ resetEachTest: false });

  it('shows the frozen start time', async () => {
    const { body } = await t.client.control<ClockReply>('GET', '/clock');
    assert.deepEqual(body, {
      now: new Date(TEST_START).toISOString(),
      nowMs: TEST_START,
      frozen: true,
      timeScale: 1,
    });
  });

  it('advances by ms and to a time, reporting what it processed', async () => {
    await t.client.subscribe({ product: { interval: 'hours', interval_count: 1 } });
    const byMs = (await t.client.control<ClockReply>('POST', '/clock/advance', { ms: 3 * HOUR })).body;
    assert.equal(byMs.nowMs, TEST_START + 3 * HOUR);
    assert.equal(byMs.processed?.stateEvents, 3);
    assert.ok((byMs.processed?.deliveryAttempts ?? 0) >= 3);
    const to = (await t.client.control<ClockReply>('POST', '/clock/advance', { to: '2025-01-15 15:00:00' }))
      .body;
    assert.equal(to.now, '2025-01-15T07:00:00.000Z');
  });

  it('refuses to go backwards or to read a bad body (400)', async () => {
    const back = await t.client.control<{ error: { type: string } }>('POST', '/clock/advance', {
      to: '2020-01-01T00:00:00Z',
    });
    assert.equal(back.status, 400);
    assert.equal(back.body.error.type, 'clock_error');
    assert.equal((await t.client.control('POST', '/clock/advance', { ms: -5 })).status, 400);
    assert.equal((await t.client.control('POST', '/clock/advance', { to: 'tomorrow' })).status, 400);
    assert.equal((await t.client.control('POST', '/clock', { timeScale: 0 })).status, 400);
    const malformed = await fetch(`${t.emulator.url}/_emulator/clock/advance`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"ms":',
    });
    assert.equal(malformed.status, 400);
  });

  it('resets state and clock through /_emulator/reset', async () => {
    const reply = await t.client.control<{ clock: ClockReply }>('POST', '/reset', {
      now: '2030-06-01T00:00:00Z',
    });
    assert.equal(reply.body.clock.now, '2030-06-01T00:00:00.000Z');
    assert.equal((await t.client.control<{ data: unknown[] }>('GET', '/subscriptions')).body.data.length, 0);
    t.emulator.reset({ nowMs: TEST_START, frozen: true });
  });
});

describe('emulator clock running in real time', () => {
  it('bills as scaled real time passes, and a concurrent advance never bills a cycle twice', async () => {
    const t = await startTestEmulator({ tickIntervalMs: 10 });
    try {
      const { subscriptionId } = await t.client.subscribe({
        product: { interval: 'minutes', interval_count: 60 },
      });
      // One real millisecond is one emulated minute: a billing cycle every 60 ms.
      await t.client.control('POST', '/clock', { timeScale: 60_000, frozen: false });
      await Promise.all([
        t.client.advance({ ms: 5 * HOUR }),
        t.receiver.waitFor(() => t.receiver.payloads('subscription_payment').length >= 8, 5_000),
        t.client.advance({ ms: 2 * HOUR }),
      ]);
      await t.client.control('POST', '/clock', { frozen: true });
      await t.emulator.settle();
      const truth = await t.client.inspect(subscriptionId);
      assert.ok(truth.orders.length >= 8);
      truth.orders.forEach((order, i) => {
        assert.equal(order.sequence_no, i + 1);
        assert.equal(order.attempts.length, 1, `order ${i + 1} charged once`);
        assert.equal(Date.parse(order.billing_time), TEST_START + i * HOUR);
        assert.equal(order.attempts[0]?.at, order.billing_time);
      });
      const iterations = t.receiver.payloads('subscription_payment').map((p) => Number(p.current_iteration));
      assert.deepEqual(
        iterations,
        truth.orders.map((o) => o.sequence_no),
      );
    } finally {
      await t.close();
    }
  });
});
