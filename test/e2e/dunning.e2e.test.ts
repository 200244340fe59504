/**
 * Dunning end to end, in real time against the emulator (minute billing cycles, as QFPay's sandbox
 * allows): a card that starts declining makes cycle 2 fail; the engine's manual charges follow the
 * subscription's policy, the card is switched back, and the charge that recovers the order lands
 * before the next billing time, so the plan stays ACTIVE. The emulator's record of every charge
 * proves nothing was ever charged after the deadline (next billing time − safety margin).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  eventually,
  minuteSubscription as minuteQfpaySubscription,
  startStack,
  type Stack,
} from '../helpers/stack';
import { SECOND } from '../../src/domain/duration';

const MARGIN_MS = 15 * SECOND;

let stack: Stack;
before(async () => {
  // Real-time clock; no QFPay-side automatic retries, so recovery is the engine's doing.
  stack = await startStack({ retryFractions: [] });
});
after(async () => {
  await stack?.close();
});

interface Charge {
  at: string;
  subscription_order_id: string;
  trigger: string;
  approved: boolean;
}

/** A subscription billed every minute (the shortest QFPay sandbox cycle): cycle 2 comes in 60 s. */
async function minuteSubscription(name: string, attemptOffsets: string[]) {
  const { subscriptionId, tokenId } = await minuteQfpaySubscription(stack, `dunning-e2e-${name}`, {
    attempt_offsets: attemptOffsets,
    final_action: 'leave_to_gateway',
  });
  await eventually('first cycle mirrored', async () => {
    const v = await stack.api('GET', `/v1/subscriptions/${subscriptionId}`);
    return v.body?.state === 'ACTIVE' && v.body.completed_cycles === 1 && v.body.next_billing_time
      ? v.body
      : undefined;
  });
  // The card starts declining: cycle 2 will fail.
  await stack.emulator('POST', `/_emulator/tokens/${tokenId}/behaviour`, {
    charges: 'decline',
    respcd: '1205',
  });
  return { subscriptionId, tokenId };
}

async function truth(subscriptionId: string) {
  return stack.emulator('GET', `/_emulator/subscriptions/${subscriptionId}`);
}

async function manualCharges(subscriptionId: string): Promise<Charge[]> {
  const res = await stack.emulator('GET', `/_emulator/charges?subscription_id=${subscriptionId}`);
  const rows: Array<Charge & { row?: Charge }> = res.data ?? res;
  return rows.map((r) => r.row ?? r).filter((c) => c.trigger === 'manual');
}

/** The order's deadline as QFPay sees it: the next billing time after it, minus the engine's margin. */
async function chargeDeadline(subscriptionId: string, sequenceNo: number): Promise<number> {
  const t = await truth(subscriptionId);
  const order = t.orders.find((o: { sequence_no: number }) => o.sequence_no === sequenceNo);
  return Date.parse(order.deadline) - MARGIN_MS;
}

// Both subscriptions run side by side: the wait for the first billing minute is shared.
describe('dunning end to end (real time, emulator over HTTP)', { concurrency: true }, () => {
  it('recovers a declined cycle with a manual charge before the next billing time; the plan stays ACTIVE', async () => {
    const { subscriptionId, tokenId } = await minuteSubscription('recovered', ['3s', '10s', '20s']);
    // Cycle 2 fails a minute later; the engine opens an episode and makes attempt 1 (declined) 3 s after.
    await eventually(
      'first manual attempt',
      async () => ((await manualCharges(subscriptionId)).length >= 1 ? true : undefined),
      90 * SECOND,
    );
    await stack.emulator('POST', `/_emulator/tokens/${tokenId}/behaviour`, { charges: 'approve' });
    const recovered = await eventually(
      'recovered',
      async () => {
        const v = await stack.api('GET', `/v1/subscriptions/${subscriptionId}`);
        const episode = v.body?.dunning?.history?.at(-1);
        return episode?.outcome === 'recovered' ? v.body : undefined;
      },
      30 * SECOND,
    );
    assert.equal(recovered.state, 'ACTIVE');
    const t = await truth(subscriptionId);
    assert.equal(t.state, 'ACTIVE', 'QFPay kept the plan: the charge came before the next billing time');
    const order2 = t.orders.find((o: { sequence_no: number }) => o.sequence_no === 2);
    assert.equal(order2.status, 'PAID');
    // Invariants, not a count: a late wake-up on a busy machine may merge two attempts, and the
    // card may still have been declining when the second attempt ran. What must hold: at least one
    // declined attempt, then exactly one approved charge, the last one.
    const charges = await manualCharges(subscriptionId);
    assert.ok(charges.length >= 2, `manual charges: ${JSON.stringify(charges)}`);
    assert.equal(charges[0]?.approved, false);
    assert.equal(charges.at(-1)?.approved, true);
    assert.equal(charges.filter((c) => c.approved).length, 1, 'the order was paid once');
    const deadline = await chargeDeadline(subscriptionId, 2);
    for (const c of charges)
      assert.ok(
        Date.parse(c.at) < deadline,
        `charge at ${c.at} is before ${new Date(deadline).toISOString()}`,
      );
  });

  it('never charges after the deadline when every attempt is declined', async () => {
    // The third offset (2 min) lies beyond next billing − margin: it must be dropped, not run late.
    const { subscriptionId } = await minuteSubscription('exhausted', ['3s', '8s', '2m']);
    const episode = await eventually(
      'episode exhausted',
      async () => {
        const v = await stack.api('GET', `/v1/subscriptions/${subscriptionId}`);
        const last = v.body?.dunning?.history?.at(-1);
        return last?.outcome === 'exhausted' ? last : undefined;
      },
      100 * SECOND,
    );
    // Two offsets fit; a late wake-up may legitimately merge them into one attempt.
    const charges = await manualCharges(subscriptionId);
    assert.ok(charges.length >= 1 && charges.length <= 2, `manual charges: ${JSON.stringify(charges)}`);
    assert.equal(episode.attempts.length, charges.length, 'every attempt the engine records reached QFPay');
    assert.ok(charges.every((c) => !c.approved));
    const deadline = await chargeDeadline(subscriptionId, 2);
    for (const c of charges)
      assert.ok(
        Date.parse(c.at) < deadline,
        `charge at ${c.at} is before ${new Date(deadline).toISOString()}`,
      );
    for (const at of episode.schedule) assert.ok(Date.parse(at) < deadline);
    const t = await truth(subscriptionId);
    assert.notEqual(t.state, 'CANCELLED');
  });
});
