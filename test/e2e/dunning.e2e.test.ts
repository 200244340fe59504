/**
 * Dunning end to end, in real time against the emulator (minute billing cycles, as QFPay's sandbox
 * allows): a card that starts declining makes cycle 2 fail; the engine's manual charges follow the
 * subscription's policy, the card is switched back, and the charge that recovers the order lands
 * before the next billing time, so the plan stays ACTIVE. The emulator's record of every charge
 * proves nothing was ever charged after the deadline (next billing time − safety margin). Then the
 * dunning report (`GET /v1/reports/dunning`) counts both episodes as the merchant saw them.
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
import { DunningReportSchema, type DunningReportResponse } from '../../src/api/schemas';

const MARGIN_MS = 15 * SECOND;

let stack: Stack;
let startedAt: number;
before(async () => {
  startedAt = Date.now();
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

type ReportGroup = DunningReportResponse['groups'][number];

describe('the dunning report over these episodes (after them)', () => {
  const report = (query: string) => stack.api('GET', `/v1/reports/dunning?${query}`);
  const since = () => new Date(startedAt).toISOString();
  const group = (groups: ReportGroup[], offsets: number[]) =>
    groups.find((g) => g.policy.attempt_offsets.join() === offsets.join());
  const recoveredLadder = [3, 10, 20].map((s) => s * SECOND);
  const exhaustedLadder = [3 * SECOND, 8 * SECOND, 120 * SECOND];

  it('counts each episode under its gateway and policy, with the attempt that recovered it', async () => {
    // Visibility lags the workflows by about a second: read until both episodes are counted.
    const body = await eventually(
      'both episodes in the report',
      async () => {
        const res = await report(`from=${since()}`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        DunningReportSchema.parse(res.body); // the answer is the one the OpenAPI document describes
        const groups: ReportGroup[] = res.body.groups;
        const a = group(groups, recoveredLadder);
        const b = group(groups, exhaustedLadder);
        return a?.recovered === 1 && (b?.exhausted ?? 0) >= 1 ? res.body : undefined;
      },
      30 * SECOND,
    );
    const recovered = group(body.groups, recoveredLadder)!;
    assert.equal(recovered.gateway, 'qfpay');
    assert.equal(recovered.policy.final_action, 'leave_to_gateway');
    assert.equal(recovered.opened, 1);
    assert.equal(recovered.exhausted, 0);
    assert.equal(recovered.recovery_rate, 1);
    // At least one attempt was declined first; the one that recovered is named with its offset.
    const [at] = recovered.recovered_at;
    assert.equal(recovered.recovered_at.length, 1);
    assert.ok(at && at.attempt >= 2 && at.count === 1, JSON.stringify(recovered.recovered_at));
    assert.equal(at.offset_ms, recoveredLadder[at.attempt - 1]);
    const exhausted = group(body.groups, exhaustedLadder)!;
    assert.equal(exhausted.recovered, 0);
    assert.equal(exhausted.recovery_rate, 0);
    assert.ok(body.totals.opened >= 2 && body.totals.recovered === 1, JSON.stringify(body.totals));
    assert.equal(body.subscriptions_read, 2);
  });

  it('counts nothing outside the range or of another gateway', async () => {
    const before = await report(`from=${new Date(startedAt - 60 * 60 * SECOND).toISOString()}&to=${since()}`);
    assert.equal(before.status, 200);
    assert.equal(before.body.totals.opened, 0);
    assert.equal(before.body.totals.recovered, 0);
    assert.deepEqual(before.body.groups, []);
    const other = await report(`from=${since()}&gateway=qorepay`);
    assert.equal(other.status, 200);
    assert.equal(other.body.subscriptions_read, 0);
    assert.deepEqual(other.body.groups, []);
  });

  it('refuses a bad range or an unknown gateway with a 400 naming the field', async () => {
    const backwards = await report(`from=${since()}&to=${new Date(startedAt - SECOND).toISOString()}`);
    assert.equal(backwards.status, 400);
    assert.ok(
      backwards.body.error.details.some((d: { path: string }) => d.path === 'to'),
      JSON.stringify(backwards.body),
    );
    const unknown = await report('gateway=nosuchgateway');
    assert.equal(unknown.status, 400);
    assert.ok(
      unknown.body.error.details.some((d: { path: string }) => d.path === 'gateway'),
      JSON.stringify(unknown.body),
    );
    const long = await report('from=2020-01-01T00:00:00Z&to=2022-01-01T00:00:00Z');
    assert.equal(long.status, 400);
    assert.ok(
      long.body.error.details.some((d: { path: string }) => d.path === 'from'),
      JSON.stringify(long.body),
    );
  });
});
