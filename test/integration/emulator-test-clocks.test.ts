/**
 * Test clocks at the QFPay emulator, over real HTTP: each clock is a world of its own, chosen by
 * the emulator-only header, so that two clocks advanced at the same time never meet and the main
 * world (no header) goes on exactly as before.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HOUR, TEST_START, useTestEmulator, type EmulatorTestClient } from '../helpers/emulator-client';

interface ClockReply {
  id: string;
  now: string;
  nowMs: number;
  next_due: string | null;
  nextDueMs: number | null;
  processed?: { stateEvents: number; deliveryAttempts: number };
}

const hourly = { product: { interval: 'hours', interval_count: 1 } };

describe('emulator test clocks', () => {
  const t = useTestEmulator({ resetEachTest: true, restoreNotifyUrl: true });

  async function clock(id: string, frozenMs = TEST_START): Promise<EmulatorTestClient> {
    const made = await t.client.control<ClockReply>('POST', '/test_clocks', {
      id,
      frozen_time: new Date(frozenMs).toISOString(),
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.equal(made.body.nowMs, frozenMs);
    return t.client.onClock(id);
  }

  const advance = async (id: string, toMs: number): Promise<ClockReply> => {
    const reply = await t.client.control<ClockReply>('POST', `/test_clocks/${id}/advance`, {
      to: new Date(toMs).toISOString(),
    });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    return reply.body;
  };

  it('bills on a clock only what lives on it, at the clock’s time; the main world and another clock stay put', async () => {
    const a = await clock('clock_a');
    const b = await clock('clock-b', TEST_START + 10 * HOUR);
    const onA = await a.subscribe(hourly);
    const onB = await b.subscribe(hourly);
    const onMain = await t.client.subscribe(hourly);

    // Both clocks at once: each bills its own cycles, in its own time.
    const [movedA, movedB] = await Promise.all([
      advance('clock_a', TEST_START + 3 * HOUR),
      advance('clock-b', TEST_START + 11 * HOUR),
    ]);
    assert.equal(movedA.nowMs, TEST_START + 3 * HOUR);
    assert.equal(movedB.nowMs, TEST_START + 11 * HOUR);
    assert.equal(movedA.processed?.stateEvents, 3);
    assert.equal(movedB.processed?.stateEvents, 1);

    const truthA = await a.inspect(onA.subscriptionId);
    assert.equal(truthA.completed_billing_iteration, 4, 'the first cycle and three on the clock');
    assert.equal(truthA.next_billing_time, new Date(TEST_START + 4 * HOUR).toISOString());
    const truthB = await b.inspect(onB.subscriptionId);
    assert.equal(truthB.completed_billing_iteration, 2);
    assert.equal(
      truthB.created_at,
      new Date(TEST_START + 10 * HOUR).toISOString(),
      'made at the clock’s time',
    );

    const main = await t.client.inspect(onMain.subscriptionId);
    assert.equal(main.completed_billing_iteration, 1, 'nothing billed in the main world');
    const mainClock = await t.client.control<{ nowMs: number }>('GET', '/clock');
    assert.equal(mainClock.body.nowMs, TEST_START, 'the main clock did not move');

    // Every notification of a clock's payments reached the receiver, as the main world's do.
    await t.receiver.waitFor(
      () =>
        t.receiver
          .payloads('subscription_payment')
          .filter((p) => (p as { subscription_id?: string }).subscription_id === onA.subscriptionId).length >=
        4,
    );
  });

  it('keeps a clock’s records to it; a QFPay call that names no clock reaches a record by its id, wherever it lives', async () => {
    const a = await clock('clock_a');
    await clock('clock_b');
    const onA = await a.subscribe(hourly);
    // The main world does not hold it, nor does another clock.
    assert.equal((await t.client.control('GET', `/subscriptions/${onA.subscriptionId}`)).status, 404);
    const query = { subscription_id: onA.subscriptionId };
    const b = t.client.onClock('clock_b');
    assert.deepEqual(await b.ok('/subscription/v1/query', query), [], 'not on another clock');
    assert.equal((await b.call('/subscription/v1/cancel', query)).body.respcd, '1136');
    // Without a header, QFPay's calls find it by its id (the engine's calls, after the creation).
    assert.equal((await t.client.queryRow(onA.subscriptionId)).subscription_id, onA.subscriptionId);
    const orders = await t.client.ok<unknown[]>('/subscription/billing_order/v1/list', query);
    assert.equal(orders.length, 1);
    const cancelled = await t.client.ok<{ state: string }>('/subscription/v1/cancel', query);
    assert.equal(cancelled.state, 'CANCELLED');
    assert.equal((await a.inspect(onA.subscriptionId)).state, 'CANCELLED', 'in the clock’s world');
    // What makes a record with no id to go by goes to the main world without the header.
    const customerId = await t.client.createCustomer();
    assert.equal((await t.client.control('GET', `/tokens?customer_id=${customerId}`)).status, 200);
    assert.deepEqual(await a.ok('/subscription/v1/query', { customer_id: customerId }), []);
  });

  it('names when anything on the clock is due next', async () => {
    const a = await clock('clock_a');
    assert.equal((await t.client.control<ClockReply>('GET', '/test_clocks/clock_a')).body.next_due, null);
    await a.subscribe(hourly);
    // Once the creation's notification is out, the next thing due is the second billing.
    const settled = await advance('clock_a', TEST_START);
    assert.equal(settled.nextDueMs, TEST_START + HOUR);
    const listed = await t.client.control<{ data: ClockReply[] }>('GET', '/test_clocks');
    assert.deepEqual(
      listed.body.data.map((c) => [c.id, c.nextDueMs]),
      [['clock_a', TEST_START + HOUR]],
    );
  });

  it('sends a clock’s notifications where the emulator’s go, also after that changes', async () => {
    const before = await clock('clock_a');
    t.emulator.setNotifyUrl(undefined);
    const made = await clock('clock_b');
    // Notifications off for both: the one that existed and the one made meanwhile.
    await before.subscribe(hourly);
    await made.subscribe(hourly);
    for (const c of [before, made]) {
      const log = await c.control<{ data: unknown[]; suppressed: number }>('GET', '/notifications');
      assert.deepEqual([log.body.data.length, log.body.suppressed > 0], [0, true]);
    }
    // On again: a clock's next payment reaches the receiver.
    t.emulator.setNotifyUrl(t.receiver.url);
    const { subscriptionId } = await made.subscribe(hourly);
    await advance('clock_b', TEST_START + HOUR);
    await t.receiver.waitFor(() =>
      t.receiver
        .payloads('subscription_payment')
        .some((p) => (p as { subscription_id?: string }).subscription_id === subscriptionId),
    );
  });

  it('charges a card whose answer changes at planned clock times the way it answers at each charge’s time', async () => {
    const a = await clock('clock_a');
    const { subscriptionId, tokenId } = await a.subscribe(hourly);
    const plan = async (body: Record<string, unknown>) => {
      const reply = await a.control<{ planned_behaviours: Array<{ from: string; charges: string }> }>(
        'POST',
        `/tokens/${tokenId}/behaviour`,
        body,
      );
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      return reply.body;
    };
    // Declines from half past the second hour (so the third hour's billing), approves an hour later.
    const declineFrom = TEST_START + 2.5 * HOUR;
    const approveFrom = TEST_START + 3.5 * HOUR;
    await plan({ charges: 'decline', respcd: '1205', from: new Date(declineFrom).toISOString() });
    const planned = await plan({ charges: 'approve', from: new Date(approveFrom).toISOString() });
    assert.deepEqual(
      planned.planned_behaviours.map((p) => [p.from, p.charges]),
      [
        [new Date(declineFrom).toISOString(), 'decline'],
        [new Date(approveFrom).toISOString(), 'approve'],
      ],
    );
    // A time before the clock's now is refused, naming the field.
    const past = await a.control<{ error: { message: string } }>('POST', `/tokens/${tokenId}/behaviour`, {
      charges: 'decline',
      from: new Date(TEST_START - HOUR).toISOString(),
    });
    assert.equal(past.status, 400);
    assert.match(past.body.error.message, /from/);

    // One advance over both changes: each charge goes the way the card answered at its time.
    await advance('clock_a', TEST_START + 5 * HOUR);
    const charges = await a.control<{ data: Array<{ at: string; approved: boolean; trigger: string }> }>(
      'GET',
      `/charges?subscription_id=${subscriptionId}`,
    );
    const rows = charges.body.data.filter((c) => Date.parse(c.at) > TEST_START);
    assert.ok(
      rows.some((c) => !c.approved),
      `the third hour's billing was declined: ${JSON.stringify(rows)}`,
    );
    for (const c of rows) {
      const at = Date.parse(c.at);
      assert.equal(c.approved, at < declineFrom || at >= approveFrom, `charge at ${c.at}`);
    }
    const billedAfter = rows.filter((c) => Date.parse(c.at) >= approveFrom);
    assert.ok(billedAfter.length > 0 && billedAfter.every((c) => c.approved), 'approved again after the fix');
  });

  it('refuses what it cannot do with a clear 4xx, and forgets a removed clock', async () => {
    await clock('clock_a');
    const twice = await t.client.control<{ error: { type: string } }>('POST', '/test_clocks', {
      id: 'clock_a',
      frozen_time: new Date(TEST_START).toISOString(),
    });
    assert.equal(twice.status, 409);
    const malformed = await t.client.control<{ error: { message: string } }>('POST', '/test_clocks', {
      id: 'a clock',
      frozen_time: new Date(TEST_START).toISOString(),
    });
    assert.equal(malformed.status, 400);
    assert.match(malformed.body.error.message, /malformed/);
    const noTime = await t.client.control('POST', '/test_clocks', { id: 'clock_c', frozen_time: 'soon' });
    assert.equal(noTime.status, 400);
    const back = await t.client.control<{ error: { type: string } }>('POST', '/test_clocks/clock_a/advance', {
      to: new Date(TEST_START - HOUR).toISOString(),
    });
    assert.equal(back.status, 400);
    assert.equal(back.body.error.type, 'clock_error');

    const unknown = t.client.onClock('clock_x');
    assert.equal((await unknown.call('/customer/v1/create', { name: 'Ada' })).status, 404);
    assert.equal((await unknown.control('GET', '/clock')).status, 404);

    const removed = await t.client.control('DELETE', '/test_clocks/clock_a');
    assert.equal(removed.status, 200);
    assert.equal((await t.client.control('GET', '/test_clocks/clock_a')).status, 404);
    assert.equal(
      (await t.client.onClock('clock_a').call('/customer/v1/create', { name: 'Ada' })).status,
      404,
    );
  });
});
