/**
 * A paid cycle costs no query: the engine moves the next billing time one interval along the
 * gateway's stated schedule (`reckonNextBilling` in the fold, `paymentAsExpected` in the engine
 * state), and asks the gateway for anything else. Each guard of that rule has a case here that
 * fails when the guard is removed; the property checks the reckoned time against the schedule the
 * QFPay emulator bills on.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { applyFactToState, initialState, type EngineState } from '../../src/domain/engine-state';
import { settle, decide } from '../../src/domain/decide';
import {
  addIntervals,
  billingAfter,
  type BillingInterval,
  type BillingSchedule,
} from '../../src/domain/lifecycle/billing-interval';
import { applyFact, withBillingReckoning, type Fact } from '../../src/domain/lifecycle/lifecycle';
import { afterSync } from '../../src/domain/sync/sync';
import { DAY, HOUR, SUB, T, order } from '../helpers/engine-states';
import { qfpayTimeToMs, subscriptionListSchema } from '../../src/gateways/qfpay/schemas';

const OFFSET = '+08:00';
const MONTHLY: BillingSchedule = { anchor: T, interval: { unit: 'month', count: 1 }, offset: OFFSET };
const at = (cycle: number, schedule: BillingSchedule = MONTHLY): number =>
  addIntervals(schedule.anchor, schedule.interval, cycle, schedule.offset);

/** The answer of a query at `when`: ACTIVE, `paid` cycles paid, the next billing at cycle `paid`. */
function query(when: number, paid: number, schedule: BillingSchedule | null = MONTHLY): Fact {
  return {
    kind: 'sync',
    subscriptionId: SUB,
    at: when,
    source: 'query',
    remote: {
      state: 'ACTIVE',
      totalBillingCycles: null,
      completedCycles: paid,
      nextBillingTime: at(paid, schedule ?? MONTHLY),
      lastBillingTime: at(paid - 1, schedule ?? MONTHLY),
      ...(schedule ? { schedule } : {}),
    },
    orders: [
      { orderId: order(paid), sequenceNo: paid, status: 'PAID', at: at(paid - 1, schedule ?? MONTHLY) },
    ],
  };
}

function payment(
  sequenceNo: number,
  when: number,
  extra: Partial<Extract<Fact, { kind: 'payment' }>> = {},
): Fact {
  return {
    kind: 'payment',
    subscriptionId: SUB,
    orderId: order(sequenceNo),
    sequenceNo,
    succeeded: true,
    respcd: '0000',
    syssn: `ok-${sequenceNo}-${when}`,
    at: when,
    source: 'notification',
    ...extra,
  };
}

/** An adopted subscription, reckoning on, after its first query (3 cycles paid), nothing wanted. */
function synced(options: { reckons?: boolean; schedule?: BillingSchedule | null } = {}): EngineState {
  let s = initialState({ subscriptionId: SUB, origin: 'adopted' });
  s = { ...s, snapshot: withBillingReckoning(s.snapshot, options.reckons ?? true) };
  const schedule = options.schedule === undefined ? MONTHLY : options.schedule;
  const answer = query(at(2, schedule ?? MONTHLY) + HOUR, 3, schedule);
  s = afterSync(
    s,
    { kind: 'sync', reason: 'wanted' },
    { ok: true, value: { found: true, fact: answer as never } },
    answer.at,
    answer.at,
  );
  return settle({ ...s, syncWanted: false }, answer.at);
}

void describe('the engine reckons the next billing time after a paid cycle', () => {
  void it('moves it one interval along the schedule, counts the cycle, and asks nothing', () => {
    const s = applyFactToState(synced(), payment(4, at(3)), at(3));
    assert.equal(s.snapshot.nextBillingTime, at(4));
    assert.equal(s.snapshot.lastBillingTime, at(3));
    assert.equal(s.snapshot.completedCycles, 4, "the query's three and the one paid since");
    assert.equal(s.syncWanted, false);
    const action = decide(settle(s, at(3)), at(3), { continueAsNewSuggested: false });
    assert.notEqual(action.kind, 'sync');
  });

  void it('goes on cycle after cycle, month ends included, with no query between', () => {
    const endOfMonth: BillingSchedule = { ...MONTHLY, anchor: Date.parse('2026-01-30T16:00:00Z') };
    let s = synced({ schedule: endOfMonth });
    for (let cycle = 3; cycle < 15; cycle += 1) {
      s = applyFactToState(
        s,
        payment(cycle + 1, at(cycle, endOfMonth) + 2_000),
        at(cycle, endOfMonth) + 2_000,
      );
      assert.equal(s.syncWanted, false, `cycle ${cycle + 1}`);
      assert.equal(s.snapshot.nextBillingTime, at(cycle + 1, endOfMonth), `cycle ${cycle + 1}`);
    }
  });

  void it('asks the gateway, as runs recorded before did, when the rule is off', () => {
    const s = applyFactToState(synced({ reckons: false }), payment(4, at(3)), at(3));
    assert.equal(s.syncWanted, true);
    assert.equal(s.snapshot.nextBillingTime, at(3), 'the time waits for the query');
  });

  void it('asks when the gateway stated no schedule', () => {
    const s = applyFactToState(synced({ schedule: null }), payment(4, at(3)), at(3));
    assert.equal(s.syncWanted, true);
    assert.equal(s.snapshot.nextBillingTime, at(3));
  });

  void it('asks after a decline, a manual charge, or a payment outside the cycle of the next billing time', () => {
    const cases: [string, Fact][] = [
      ['declined', payment(4, at(3), { succeeded: false, respcd: '1205' })],
      [
        'a manual charge at the billing time (it cancels the plan)',
        payment(4, at(3), { triggerBy: 'manual' }),
      ],
      [
        'a declined manual charge',
        payment(4, at(3) + HOUR, { succeeded: false, respcd: '1205', triggerBy: 'manual' }),
      ],
      ['a second before the billing time', payment(4, at(3) - 1_000)],
      ['in the cycle after', payment(4, at(4))],
    ];
    for (const [name, fact] of cases) {
      const s = applyFactToState(synced(), fact, fact.at);
      assert.equal(s.syncWanted, true, name);
      assert.equal(s.snapshot.nextBillingTime, at(3), name);
    }
  });

  void it('takes a payment within the second of the billing time as that billing', () => {
    const s = applyFactToState(synced(), payment(4, at(3) - 999), at(3));
    assert.equal(s.syncWanted, false);
    assert.equal(s.snapshot.nextBillingTime, at(4));
  });

  void it('asks when the known next billing time is not on the schedule', () => {
    let s = synced();
    // A query said the next billing is half a day off the schedule (a changed plan, say).
    const off: Fact = {
      ...query(at(2) + 2 * HOUR, 3),
      remote: {
        ...(query(at(2) + 2 * HOUR, 3) as { remote: object }).remote,
        nextBillingTime: at(3) + 12 * HOUR,
      },
    } as Fact;
    s = { ...applyFactToState(s, off, off.at), syncWanted: false };
    const paid = applyFactToState(s, payment(4, at(3) + 12 * HOUR), at(3) + 12 * HOUR);
    assert.equal(paid.syncWanted, true);
  });

  void it('asks when the payment completes the plan, and while an episode or a charge of its own is open', () => {
    // A query that says 4 cycles in all.
    const withTotal: Fact = {
      ...query(at(2) + 2 * HOUR, 3),
      remote: { ...(query(at(2) + 2 * HOUR, 3) as { remote: object }).remote, totalBillingCycles: 4 },
    } as Fact;
    const four = { ...applyFactToState(synced(), withTotal, withTotal.at), syncWanted: false };
    const completed = applyFactToState(four, payment(4, at(3)), at(3));
    assert.equal(completed.snapshot.state, 'COMPLETED');
    assert.equal(completed.syncWanted, true);

    const episode = { ...synced(), episode: { orderId: order(3) } as never };
    assert.equal(applyFactToState(episode, payment(4, at(3)), at(3)).syncWanted, true, 'episode');
    const charging = { ...synced(), pendingCharge: { orderId: order(3) } as never };
    assert.equal(applyFactToState(charging, payment(4, at(3)), at(3)).syncWanted, true, 'pending charge');
  });

  void it('lets a later query answer win over a reckoned time', () => {
    let s = applyFactToState(synced(), payment(4, at(3)), at(3));
    const answer: Fact = {
      ...query(at(3) + HOUR, 4),
      remote: { ...(query(at(3) + HOUR, 4) as { remote: object }).remote, nextBillingTime: at(4) + DAY },
    } as Fact;
    s = applyFactToState(s, answer, answer.at);
    assert.equal(s.snapshot.nextBillingTime, at(4) + DAY);
    assert.equal(s.snapshot.completedCycles, 4, 'the reckoned cycle is in the answer: counted once');
  });

  void it("reckons what the emulator bills: the billing after any cycle's time is the next cycle's", () => {
    const units: BillingInterval['unit'][] = ['minute', 'hour', 'day', 'week', 'month', 'year'];
    fc.assert(
      fc.property(
        fc.constantFrom(...units),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: Date.parse('2024-01-01T00:00:00Z'), max: Date.parse('2030-12-31T00:00:00Z') }),
        fc.integer({ min: 0, max: 40 }),
        fc.constantFrom('+08:00', '+00:00', '-05:00'),
        (unit, count, anchorSeconds, cycle, offset) => {
          const schedule: BillingSchedule = {
            anchor: Math.floor(anchorSeconds / 1000) * 1000,
            interval: { unit, count },
            offset,
          };
          const due = at(cycle, schedule);
          assert.equal(billingAfter(schedule, due), at(cycle + 1, schedule));
          assert.equal(billingAfter(schedule, due + 500), at(cycle + 1, schedule), 'within a second');
          assert.equal(billingAfter(schedule, due + 30_000), undefined, 'off the schedule');
        },
      ),
    );
  });

  void it('refuses a malformed schedule in a query answer as a malformed fact', () => {
    const good = query(at(2) + HOUR, 3) as Extract<Fact, { kind: 'sync' }>;
    const schedule = { ...MONTHLY, interval: { unit: 'fortnight' as never, count: 1 } };
    const bad: Fact = { ...good, remote: { ...good.remote, schedule } };
    const result = applyFact(synced().snapshot, bad);
    assert.equal(result.outcome, 'contradiction');
    assert.match(result.snapshot.anomalies.at(-1)?.reason ?? '', /invalid billing schedule/);
  });
});

void describe('what the gateway states wins over what the engine reckons', () => {
  void it('forgets the schedule when a later query states none', () => {
    const answer = query(at(2) + 2 * HOUR, 3, null);
    const s = { ...applyFactToState(synced(), answer, answer.at), syncWanted: false };
    assert.equal(applyFactToState(s, payment(4, at(3)), at(3)).syncWanted, true);
  });

  void it('reckons nothing for a payment the state does not follow (after the end)', () => {
    const ended: Fact = {
      kind: 'state',
      subscriptionId: SUB,
      state: 'CANCELLED',
      at: at(3) - HOUR,
      source: 'notification',
    };
    const s = { ...applyFactToState(synced(), ended, ended.at), syncWanted: false };
    const paid = applyFactToState(s, payment(4, at(3)), at(3));
    assert.equal(paid.snapshot.state, 'CANCELLED');
    assert.equal(paid.snapshot.nextBillingTime, at(3), 'not moved');
    assert.equal(paid.syncWanted, true);
  });
});

void describe("seed 001's own query example", () => {
  void it('has its next billing time one interval after its last: what the engine reckons after a paid cycle', () => {
    const text = readFileSync(join(__dirname, '../fixtures/seed-001/query.json'), 'utf8');
    const [row] = (JSON.parse(text) as { data: unknown[] }).data;
    const parsed = subscriptionListSchema.parse([row])[0]!;
    const last = qfpayTimeToMs(parsed.last_billing_time, '+08:00')!;
    const next = qfpayTimeToMs(parsed.next_billing_time, '+08:00')!;
    // One cycle completed, billed at its start; the sandbox's interval of one minute.
    assert.equal(parsed.completed_billing_iteration, 1);
    const schedule: BillingSchedule = {
      anchor: last,
      interval: { unit: 'minute', count: 1 },
      offset: '+08:00',
    };
    assert.equal(billingAfter(schedule, last), next);
  });
});

void describe('a payment after a failed order', () => {
  void it("asks: the failed order may have been paid since by QFPay's own retry, its notice lost", () => {
    // Order 4 declined, and a query saw it FAILED (no episode: say it closed, or was held).
    let s = applyFactToState(synced(), payment(4, at(3), { succeeded: false, respcd: '1205' }), at(3));
    const answer: Fact = {
      kind: 'sync',
      subscriptionId: SUB,
      at: at(3) + HOUR,
      source: 'query',
      remote: {
        state: 'PAST_DUE',
        totalBillingCycles: null,
        completedCycles: 3,
        nextBillingTime: at(4),
        lastBillingTime: at(3),
        schedule: MONTHLY,
      },
      orders: [{ orderId: order(4), sequenceNo: 4, status: 'FAILED', respcd: '1205', at: at(3) }],
    };
    s = { ...applyFactToState(s, answer, answer.at), syncWanted: false };
    const paid = applyFactToState(s, payment(5, at(4)), at(4));
    assert.equal(paid.snapshot.orders.find((o) => o.sequenceNo === 4)?.status, 'FAILED');
    assert.equal(paid.syncWanted, true);
  });

  void it('reckons when the failed order is older than the one before it (the query after that one settled it)', () => {
    const base = query(at(2) + HOUR, 3) as Extract<Fact, { kind: 'sync' }>;
    const answer: Fact = {
      ...base,
      orders: [
        { orderId: order(2), sequenceNo: 2, status: 'FAILED', respcd: '1205', at: at(1) },
        ...base.orders!,
      ],
    };
    let s = initialState({ subscriptionId: SUB, origin: 'adopted' });
    s = { ...s, snapshot: withBillingReckoning(s.snapshot, true) };
    s = { ...applyFactToState(s, answer, answer.at), syncWanted: false };
    assert.equal(applyFactToState(s, payment(4, at(3)), at(3)).syncWanted, false);
  });
});
