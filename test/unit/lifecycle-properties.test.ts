import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  SUBSCRIPTION_STATES,
  applyFact,
  applyFacts,
  essentials,
  factKey,
  initialSnapshot,
  type Fact,
  type RemoteOrder,
  type SubscriptionSnapshot,
  type SubscriptionState,
} from '../../src/domain/lifecycle/lifecycle';
import { SECOND, HOUR, DAY } from '../../src/domain/duration';

const SUB = 'sub_e51bb914919f6b0fe36d';
const CUSTOMER = 'cust_a9c0bcf2717f4786a10e5f8f2';
const PRODUCTS = ['prod_8c838c17ddb043b911f1a85c30'];
const PERIOD = 10 * DAY;
const T0 = Date.UTC(2024, 3, 24, 7, 19, 37);
const RUNS = 200;

const orderId = (seq: number): string => `sub_ord_e51bb914919f6b0fe36d_${String(seq).padStart(4, '0')}`;

type ManualPlan = 'none' | 'fail' | 'ok' | 'fail-then-ok' | 'late';

interface CycleScript {
  autoPaid: boolean;
  /** Failed automatic retries after a failed billing. */
  retries: number;
  /** QFPay gives up retrying (PAST_DUE → UNPAID). */
  exhausted: boolean;
  manual: ManualPlan;
  syncAfterFailure: boolean;
  /** The state notification carries the payment's own second. */
  sameSecondState: boolean;
  periodicSync: boolean;
  syncWithOrders: boolean;
  tokenChange: boolean;
}

interface Script {
  total: number | null;
  trial: boolean;
  cycles: CycleScript[];
  cancelAtEnd: boolean;
  finalSync: boolean;
  /**
   * QFPay's clock stands still between billings (a test clock, an emulator moved by jumps): every
   * fact of a cycle carries its billing's second, and only what the facts are orders them.
   */
  frozen?: boolean;
}

interface SimOrder {
  status: 'PAID' | 'FAILED';
  billedAt: number;
  paidAt?: number;
  manual: boolean;
}

interface Simulation {
  facts: Fact[];
  state: SubscriptionState;
  paid: number;
  orders: Map<number, SimOrder>;
}

/**
 * A QFPay subscription lived in time order, told as the facts the engine would receive:
 * creation, a billing per cycle, failed retries, retry exhaustion, manual charges before or
 * after the next billing time (the result of the engine's call and QFPay's notification of it),
 * query answers reporting the true state, a token change, a cancel. The simulated state is the
 * truth the ordered application must reach.
 */
function simulate(script: Script): Simulation {
  const facts: Fact[] = [];
  const orders = new Map<number, SimOrder>();
  const start = script.trial ? T0 + 3 * DAY : T0;
  let state: SubscriptionState = script.trial ? 'TRIAL' : 'INCOMPLETE';
  // Read through a function: the state changes inside closures, which narrowing does not see.
  const current = (): SubscriptionState => state;
  let paid = 0;
  let ended = false;
  let tokenId = 'tk_6a699aae75094caeb066f988daa32de';
  let lastBilling: number | null = null;
  let cycle = 0;

  const setState = (to: SubscriptionState, at: number): void => {
    if (to === state) return;
    state = to;
    facts.push({ kind: 'state', subscriptionId: SUB, state: to, at, source: 'notification' });
    if (to === 'CANCELLED' || to === 'COMPLETED' || to === 'INCOMPLETE_EXPIRED') ended = true;
  };
  const created = (): Fact => ({
    kind: 'created',
    subscriptionId: SUB,
    customerId: CUSTOMER,
    tokenId,
    productIds: PRODUCTS,
    totalBillingCycles: script.total,
    startTime: start,
    ...(script.trial ? {} : { state }),
    at: T0,
    source: 'api',
  });
  const pay = (seq: number, ok: boolean, at: number, syssn: string, manual = false): Fact[] => {
    const fact: Fact = {
      kind: 'payment',
      subscriptionId: SUB,
      orderId: orderId(seq),
      sequenceNo: seq,
      succeeded: ok,
      respcd: ok ? '0000' : '1205',
      amount: 300,
      currency: 'HKD',
      syssn,
      at,
      source: 'notification',
    };
    // A manual charge is reported twice: the engine's call result and QFPay's notification.
    return manual ? [{ ...fact, triggerBy: 'manual', source: 'api' }, fact] : [fact];
  };
  const paidNow = (seq: number, at: number, manual: boolean, stateAt: number): void => {
    const order = orders.get(seq);
    if (order) Object.assign(order, { status: 'PAID', paidAt: at, manual });
    paid += 1;
    if (script.total !== null && paid >= script.total) setState('COMPLETED', stateAt);
    else setState('ACTIVE', stateAt);
  };
  const truthSync = (at: number, withOrders: boolean): void => {
    const rows: RemoteOrder[] = [...orders].map(([seq, o]) => ({
      orderId: orderId(seq),
      sequenceNo: seq,
      status: o.status,
      triggerBy: o.manual ? 'manual' : 'auto',
      at: o.paidAt ?? o.billedAt,
      ...(o.status === 'FAILED' ? { respcd: '1205' } : {}),
    }));
    facts.push({
      kind: 'sync',
      subscriptionId: SUB,
      at,
      remote: {
        state,
        customerId: CUSTOMER,
        tokenId,
        productIds: PRODUCTS,
        totalBillingCycles: script.total,
        completedCycles: paid,
        ...(ended ? {} : { nextBillingTime: start + cycle * PERIOD }),
        ...(lastBilling !== null ? { lastBillingTime: lastBilling } : {}),
      },
      ...(withOrders ? { orders: rows } : {}),
      source: 'query',
    });
  };

  if (script.trial) facts.push(created());
  for (const c of script.cycles) {
    if (ended || (script.total !== null && cycle >= script.total)) break;
    cycle += 1;
    const billing = start + (cycle - 1) * PERIOD;
    if (current() === 'INCOMPLETE' && cycle > 1) {
      setState('INCOMPLETE_EXPIRED', billing);
      break;
    }
    lastBilling = billing;
    // Within a cycle: `billing + offset`, or the billing's own second when the clock stands still.
    const at = (offset: number): number => (script.frozen ? billing : billing + offset);
    const stateAt = c.sameSecondState ? billing : at(SECOND);
    facts.push(...pay(cycle, c.autoPaid, billing, `auto${cycle}`));
    orders.set(cycle, { status: 'FAILED', billedAt: billing, manual: false });
    if (c.autoPaid) paidNow(cycle, billing, false, stateAt);
    else setState(cycle === 1 ? 'INCOMPLETE' : current() === 'UNPAID' ? 'UNPAID' : 'PAST_DUE', stateAt);
    if (cycle === 1 && !script.trial) facts.push(created());

    if (!c.autoPaid && !ended) {
      for (let r = 1; r <= c.retries; r++)
        facts.push(...pay(cycle, false, at(r * HOUR), `retry${cycle}.${r}`));
      if (c.exhausted && current() === 'PAST_DUE') setState('UNPAID', at((c.retries + 1) * HOUR));
      if (c.syncAfterFailure || c.manual !== 'none') truthSync(at(5 * HOUR), c.syncWithOrders);
      const charge = (ok: boolean, offset: number, n: number): void => {
        facts.push(...pay(cycle, ok, at(offset), `charge${cycle}.${n}`, true));
        if (ok) paidNow(cycle, at(offset), true, at(offset + SECOND));
      };
      if (c.manual === 'fail' || c.manual === 'fail-then-ok') charge(false, 6 * HOUR, 1);
      if (c.manual === 'ok') charge(true, 6 * HOUR, 1);
      if (c.manual === 'fail-then-ok') charge(true, 7 * HOUR, 2);
      if (c.manual === 'late') {
        // Seed 001: a charge paid after the next billing time cancels the plan.
        facts.push(...pay(cycle, true, billing + PERIOD, `late${cycle}`, true));
        const order = orders.get(cycle);
        if (order) Object.assign(order, { status: 'PAID', paidAt: billing + PERIOD, manual: true });
        paid += 1;
        setState('CANCELLED', billing + PERIOD + SECOND);
      }
    }
    if (!ended && c.periodicSync) truthSync(at(DAY), c.syncWithOrders);
    if (!ended && c.tokenChange) {
      tokenId = `tk_${cycle}c0ffee`;
      facts.push({
        kind: 'token_changed',
        subscriptionId: SUB,
        tokenId,
        at: at(2 * DAY),
        source: 'api',
      });
    }
  }
  const last = Math.max(...facts.map((f) => f.at));
  if (!ended && script.cancelAtEnd) {
    const at = last + DAY;
    // The engine's own cancel result and QFPay's notification of it: the same fact.
    facts.push({ kind: 'state', subscriptionId: SUB, state: 'CANCELLED', at, source: 'api' });
    setState('CANCELLED', at);
  }
  if (script.finalSync) truthSync(last + 2 * DAY, true);
  return { facts, state, paid, orders };
}

const cycleArb: fc.Arbitrary<CycleScript> = fc.record({
  autoPaid: fc.oneof(
    { arbitrary: fc.constant(true), weight: 3 },
    { arbitrary: fc.constant(false), weight: 2 },
  ),
  retries: fc.integer({ min: 0, max: 2 }),
  exhausted: fc.boolean(),
  manual: fc.constantFrom<ManualPlan>('none', 'fail', 'ok', 'fail-then-ok', 'late'),
  syncAfterFailure: fc.boolean(),
  sameSecondState: fc.boolean(),
  periodicSync: fc.boolean(),
  syncWithOrders: fc.boolean(),
  tokenChange: fc.boolean(),
});

const scriptArb: fc.Arbitrary<Script> = fc.record({
  total: fc.option(fc.integer({ min: 1, max: 5 }), { nil: null }),
  trial: fc.boolean(),
  cycles: fc.array(cycleArb, { minLength: 1, maxLength: 6 }),
  cancelAtEnd: fc.boolean(),
  finalSync: fc.boolean(),
});

/** A simulated history, plus a permutation of it with some facts delivered more than once. */
const deliveryArb = scriptArb.chain((script) => {
  const sim = simulate(script);
  const n = sim.facts.length;
  const indices = sim.facts.map((_, i) => i);
  return fc
    .record({
      order: fc.shuffledSubarray(indices, { minLength: n, maxLength: n }),
      repeats: fc.array(fc.tuple(fc.nat({ max: n - 1 }), fc.nat({ max: n })), { maxLength: 8 }),
    })
    .map(({ order, repeats }) => {
      const delivered = order.map((i) => sim.facts[i] as Fact);
      for (const [which, where] of repeats) delivered.splice(where, 0, sim.facts[which] as Fact);
      return { sim, delivered };
    });
});

const fromScratch = (facts: readonly Fact[]): SubscriptionSnapshot => applyFacts(initialSnapshot(SUB), facts);

describe('lifecycle properties', () => {
  it('the ordered history reaches the simulated truth', () => {
    fc.assert(
      fc.property(scriptArb, (script) => {
        const sim = simulate(script);
        const s = fromScratch(sim.facts);
        assert.equal(s.state, sim.state);
        assert.equal(s.paidOrders, sim.paid);
        assert.equal(s.completedCycles, sim.paid);
        assert.equal(s.reconcile, null, s.anomalies.map((a) => a.reason).join('\n'));
        assert.deepEqual(
          s.orders.map((o) => [o.sequenceNo, o.status]),
          [...sim.orders].map(([seq, o]) => [seq, o.status]),
        );
      }),
      { numRuns: RUNS },
    );
  });

  it('with QFPay’s clock standing still between billings, the history still reaches the simulated truth', () => {
    // A decline, a query, a charge-now's decline and its success in one second: only what each
    // fact is (its order's progress) can order them. The charge-now that paid must win.
    fc.assert(
      fc.property(
        scriptArb.map((script) => ({ ...script, frozen: true })),
        (script) => {
          const sim = simulate(script);
          for (const facts of [sim.facts, [...sim.facts].reverse()]) {
            const s = fromScratch(facts);
            assert.equal(s.state, sim.state, JSON.stringify(s.timeline.entries.map((e) => e.key)));
            assert.equal(s.paidOrders, sim.paid);
            assert.deepEqual(
              s.orders.map((o) => [o.sequenceNo, o.status]),
              [...sim.orders].map(([seq, o]) => [seq, o.status]),
            );
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('any arrival order, with duplicates, converges to the essentials of the ordered history', () => {
    fc.assert(
      fc.property(deliveryArb, ({ sim, delivered }) => {
        assert.deepStrictEqual(essentials(fromScratch(delivered)), essentials(fromScratch(sim.facts)));
      }),
      { numRuns: RUNS },
    );
  });

  it('completedCycles never decreases under facts other than query answers', () => {
    fc.assert(
      fc.property(deliveryArb, ({ delivered }) => {
        let s = initialSnapshot(SUB);
        for (const fact of delivered) {
          const next = applyFact(s, fact).snapshot;
          if (fact.kind !== 'sync') assert.ok(next.completedCycles >= s.completedCycles);
          s = next;
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('applying a fact twice equals applying it once', () => {
    fc.assert(
      fc.property(deliveryArb, fc.nat(), ({ delivered }, pick) => {
        const cut = pick % delivered.length;
        const fact = delivered[cut] as Fact;
        const s = fromScratch(delivered.slice(0, cut));
        const once = applyFact(s, fact).snapshot;
        const twice = applyFact(once, fact);
        assert.equal(twice.outcome, 'duplicate');
        assert.deepStrictEqual(twice.snapshot, once);
      }),
      { numRuns: RUNS },
    );
  });
});

const timeArb = fc.integer({ min: 0, max: 40 }).map((s) => T0 + s * HOUR);
const stateArb = fc.constantFrom(...SUBSCRIPTION_STATES);

/** Well-formed facts with no realism: any state after any other, payments for any cycle. */
const anyFactArb: fc.Arbitrary<Fact> = fc.oneof(
  fc.record({
    kind: fc.constant('state' as const),
    subscriptionId: fc.constant(SUB),
    state: stateArb,
    at: timeArb,
    source: fc.constantFrom('notification' as const, 'api' as const, 'engine' as const),
  }),
  fc
    .record({
      seq: fc.integer({ min: 1, max: 5 }),
      succeeded: fc.boolean(),
      at: timeArb,
      manual: fc.boolean(),
      syssn: fc.constantFrom('a', 'b'),
    })
    .map(({ seq, succeeded, at, manual, syssn }): Fact => ({
      kind: 'payment',
      subscriptionId: SUB,
      orderId: orderId(seq),
      sequenceNo: seq,
      succeeded,
      respcd: succeeded ? '0000' : '1205',
      syssn: `${syssn}${succeeded ? 'ok' : 'ko'}`,
      at,
      ...(manual ? { triggerBy: 'manual' as const } : {}),
      source: manual ? 'api' : 'notification',
    })),
  fc
    .record({
      state: stateArb,
      at: timeArb,
      completed: fc.integer({ min: 0, max: 5 }),
      total: fc.option(fc.integer({ min: 1, max: 5 }), { nil: null }),
      next: fc.option(timeArb, { nil: undefined }),
    })
    .map(({ state, at, completed, total, next }): Fact => ({
      kind: 'sync',
      subscriptionId: SUB,
      at,
      remote: {
        state,
        totalBillingCycles: total,
        completedCycles: completed,
        ...(next !== undefined ? { nextBillingTime: next } : {}),
      },
      source: 'query',
    })),
  fc.record({
    kind: fc.constant('created' as const),
    subscriptionId: fc.constant(SUB),
    customerId: fc.constant(CUSTOMER),
    tokenId: fc.constant('tk_1'),
    productIds: fc.constant(PRODUCTS),
    totalBillingCycles: fc.option(fc.integer({ min: 1, max: 5 }), { nil: null }),
    state: stateArb,
    at: timeArb,
    source: fc.constant('api' as const),
  }),
);

/** The key of a sync leaves out some fields; make facts with one key carry one content. */
const uniqueFactsArb = fc.uniqueArray(anyFactArb, {
  maxLength: 30,
  selector: (f) => (f.kind === 'sync' || f.kind === 'created' ? `${f.kind}|${f.at}` : factKey(f)),
});

describe('lifecycle properties on arbitrary facts', () => {
  it('any set of well-formed facts converges whatever the arrival order', () => {
    fc.assert(
      fc.property(
        uniqueFactsArb.chain((facts) =>
          fc
            .shuffledSubarray(facts, { minLength: facts.length, maxLength: facts.length })
            .map((shuffled) => ({ facts, shuffled })),
        ),
        ({ facts, shuffled }) => {
          assert.deepStrictEqual(essentials(fromScratch(shuffled)), essentials(fromScratch(facts)));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('no input sequence throws, and every snapshot stays plain JSON', () => {
    const garbageArb: fc.Arbitrary<unknown> = fc.oneof(
      anyFactArb,
      fc.anything(),
      fc.record({
        kind: fc.constantFrom(
          'state',
          'payment',
          'sync',
          'created',
          'token_changed',
          'total_cycles_changed',
          'x',
        ),
        subscriptionId: fc.constantFrom(SUB, 'sub_other'),
        at: fc.oneof(timeArb, fc.double(), fc.constant(Number.NaN), fc.string()),
        state: fc.oneof(stateArb, fc.string()),
        orderId: fc.oneof(fc.constant(orderId(1)), fc.string(), fc.integer()),
        sequenceNo: fc.oneof(fc.integer({ min: -2, max: 6 }), fc.double()),
        succeeded: fc.oneof(fc.boolean(), fc.string()),
        respcd: fc.oneof(fc.constantFrom('0000', '1205'), fc.integer()),
        remote: fc.oneof(fc.constant(null), fc.record({ state: stateArb, completedCycles: fc.integer() })),
        orders: fc.oneof(fc.constant(undefined), fc.array(fc.anything(), { maxLength: 2 })),
        tokenId: fc.oneof(fc.string(), fc.constant(undefined)),
        totalBillingCycles: fc.oneof(fc.constant(null), fc.integer({ min: -1, max: 5 }), fc.string()),
        productIds: fc.oneof(fc.constant(PRODUCTS), fc.anything()),
        customerId: fc.oneof(fc.constant(CUSTOMER), fc.anything()),
      }),
    );
    fc.assert(
      fc.property(fc.array(garbageArb, { maxLength: 25 }), (inputs) => {
        let s = initialSnapshot(SUB);
        for (const input of inputs) {
          s = applyFact(s, input as Fact).snapshot;
          assert.deepStrictEqual(JSON.parse(JSON.stringify(s)), s);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
