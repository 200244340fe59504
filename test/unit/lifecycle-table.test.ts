import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  SUBSCRIPTION_STATES,
  TERMINAL_STATES,
  TRANSITIONS,
  applyFact,
  applyFacts,
  canTransition,
  essentials,
  factKey,
  initialSnapshot,
  withPauseRule,
  withSyncOrderKeys,
  isTerminal,
  type Fact,
  type LifecycleState,
  type LifecycleTransition,
  type RemoteOrder,
  type RemoteSubscription,
  type SubscriptionSnapshot,
  type SubscriptionState,
} from '../../src/domain/lifecycle/lifecycle';
import { SECOND, HOUR, DAY } from '../../src/domain/duration';

const SUB = 'sub_a360f06e4c3a';
const T0 = Date.UTC(2024, 3, 24, 7, 19, 37);
const T1 = T0 + HOUR;
const NEXT_BILLING = T0 + 10 * DAY;

const orderId = (seq: number): string => `sub_ord_a360f06e4c3a_${String(seq).padStart(4, '0')}`;

function stateFact(state: SubscriptionState, at: number, source: Fact['source'] = 'notification'): Fact {
  return { kind: 'state', subscriptionId: SUB, state, at, source };
}

function payment(
  seq: number,
  succeeded: boolean,
  at: number,
  extra: { triggerBy?: 'auto' | 'manual'; respcd?: string; syssn?: string; source?: Fact['source'] } = {},
): Fact {
  return {
    kind: 'payment',
    subscriptionId: SUB,
    orderId: orderId(seq),
    sequenceNo: seq,
    succeeded,
    respcd: extra.respcd ?? (succeeded ? '0000' : '1205'),
    syssn: extra.syssn ?? `2024${seq}${at}`,
    amount: 300,
    currency: 'HKD',
    at,
    ...(extra.triggerBy ? { triggerBy: extra.triggerBy } : {}),
    source: extra.source ?? (extra.triggerBy === 'manual' ? 'api' : 'notification'),
  };
}

const manualCharge = (seq: number, succeeded: boolean, at: number): Fact =>
  payment(seq, succeeded, at, { triggerBy: 'manual' });

function sync(
  state: SubscriptionState,
  at: number,
  remote: Partial<RemoteSubscription> = {},
  orders?: RemoteOrder[],
): Fact {
  return {
    kind: 'sync',
    subscriptionId: SUB,
    at,
    remote: { state, totalBillingCycles: 12, completedCycles: 0, ...remote },
    ...(orders ? { orders } : {}),
    source: 'query',
  };
}

function created(
  at: number,
  extra: { state?: SubscriptionState; startTime?: number; total?: number | null } = {},
): Fact {
  return {
    kind: 'created',
    subscriptionId: SUB,
    customerId: 'cust_aaf6aae94982c54c9cae5ba32',
    tokenId: 'tk_a99892fdd3417d168a18bb',
    productIds: ['prod_54c3772d9a54b236e09ec74f'],
    totalBillingCycles: extra.total === undefined ? 12 : extra.total,
    at,
    ...(extra.state ? { state: extra.state } : {}),
    ...(extra.startTime !== undefined ? { startTime: extra.startTime } : {}),
    source: 'api',
  };
}

const paidRow = (seq: number, at: number): RemoteOrder => ({
  orderId: orderId(seq),
  sequenceNo: seq,
  status: 'PAID',
  triggerBy: 'auto',
  at,
});
const failedRow = (seq: number, at: number): RemoteOrder => ({
  orderId: orderId(seq),
  sequenceNo: seq,
  status: 'FAILED',
  triggerBy: 'auto',
  respcd: '1205',
  at,
});

/** Orders 1..n-1 paid, order n failed at T0 - 1h: the usual situation of a dunning episode. */
const failedCycle = (n: number): RemoteOrder[] => [
  ...Array.from({ length: n - 1 }, (_, i) => paidRow(i + 1, T0 - (n - i) * 10 * DAY)),
  failedRow(n, T0 - HOUR),
];

function run(facts: readonly Fact[], options?: Parameters<typeof applyFact>[2]): SubscriptionSnapshot {
  return applyFacts(initialSnapshot(SUB), facts, options);
}

/** The query answer that puts a subscription in `state` with a context fitting that state. */
function setupIn(state: SubscriptionState, remote: Partial<RemoteSubscription> = {}): Fact[] {
  const base = { nextBillingTime: NEXT_BILLING, lastBillingTime: T0 - HOUR };
  switch (state) {
    case 'TRIAL':
      return [created(T0 - DAY, { startTime: T0 + 7 * DAY, total: remote.totalBillingCycles ?? 12 })];
    case 'INCOMPLETE':
      return [sync('INCOMPLETE', T0, { ...base, completedCycles: 0, ...remote }, [failedRow(1, T0 - HOUR)])];
    case 'PAST_DUE':
    case 'UNPAID':
      return [sync(state, T0, { ...base, completedCycles: 2, ...remote }, failedCycle(3))];
    case 'ACTIVE':
      return [
        sync('ACTIVE', T0, { ...base, completedCycles: 2, ...remote }, [
          paidRow(1, T0 - 20 * DAY),
          paidRow(2, T0 - 10 * DAY),
        ]),
      ];
    default:
      return [sync(state, T0, { ...base, completedCycles: 2, ...remote })];
  }
}

interface EdgeDriver {
  from: LifecycleState;
  to: SubscriptionState;
  source: LifecycleTransition['source'];
  /** Start of the edge's cause, enough to tell the entries of one pair apart. */
  cause: string;
  setup: Fact[];
  fact: Fact;
}

type EdgeCase = [to: SubscriptionState, source: LifecycleTransition['source'], cause: string, fact: Fact];

const edgesFrom = (from: LifecycleState, setup: Fact[], cases: EdgeCase[]): EdgeDriver[] =>
  cases.map(([to, source, cause, fact]) => ({ from, to, source, cause, setup, fact }));

const drivers: EdgeDriver[] = [
  ...edgesFrom(
    'UNKNOWN',
    [],
    [
      ['TRIAL', 'diagram', 'First Created, Trial', created(T0, { startTime: T0 + 7 * DAY })],
      ['INCOMPLETE', 'diagram', 'First Created', created(T0)],
      ['ACTIVE', 'api', 'create response ACTIVE', created(T0, { state: 'ACTIVE' })],
      ['COMPLETED', 'api', 'create response COMPLETED', created(T0, { state: 'COMPLETED', total: 1 })],
      ['INCOMPLETE_EXPIRED', 'api', 'first seen', stateFact('INCOMPLETE_EXPIRED', T1)],
      ['PAST_DUE', 'api', 'first seen', sync('PAST_DUE', T1)],
      ['UNPAID', 'api', 'first seen', stateFact('UNPAID', T1)],
      ['PAUSED', 'api', 'first seen', sync('PAUSED', T1)],
      ['CANCELLED', 'api', 'first seen', stateFact('CANCELLED', T1)],
    ],
  ),
  ...edgesFrom('TRIAL', setupIn('TRIAL'), [
    ['ACTIVE', 'diagram', 'Trial End, First Payment: Payment Success', payment(1, true, T0 + 7 * DAY)],
    ['INCOMPLETE', 'diagram', 'Trial End, First Payment: Payment failed', payment(1, false, T0 + 7 * DAY)],
    ['CANCELLED', 'diagram', 'Manual cancel', stateFact('CANCELLED', T1, 'api')],
    ['TRIAL', 'api', 'the current state reported again', stateFact('TRIAL', T1)],
  ]),
  ...edgesFrom('TRIAL', setupIn('TRIAL', { totalBillingCycles: 1 }), [
    [
      'COMPLETED',
      'diagram',
      'Trial End, First Payment: Payment Success, Subscription Time up',
      payment(1, true, T0 + 7 * DAY),
    ],
  ]),
  ...edgesFrom('INCOMPLETE', setupIn('INCOMPLETE'), [
    ['INCOMPLETE', 'diagram', 'First Payment: Payment failed', payment(1, false, T1)],
    ['ACTIVE', 'diagram', 'First Payment: Payment Success', payment(1, true, T1)],
    [
      'INCOMPLETE_EXPIRED',
      'diagram',
      'No payment and Subscription expired',
      stateFact('INCOMPLETE_EXPIRED', T1),
    ],
    ['ACTIVE', 'seed-manual-charge', 'manual charge paid before', manualCharge(1, true, T1)],
    ['CANCELLED', 'seed-manual-charge', 'manual charge paid at/after', manualCharge(1, true, NEXT_BILLING)],
    ['INCOMPLETE', 'seed-manual-charge', 'payment failed', manualCharge(1, false, T1)],
    ['CANCELLED', 'api', '/subscription/v1/cancel', stateFact('CANCELLED', T1, 'api')],
  ]),
  ...edgesFrom('INCOMPLETE', setupIn('INCOMPLETE', { totalBillingCycles: 1 }), [
    ['COMPLETED', 'diagram', 'First Payment: Payment Success, Subscription Time up', payment(1, true, T1)],
  ]),
  ...edgesFrom('ACTIVE', setupIn('ACTIVE'), [
    ['ACTIVE', 'diagram', 'Recurring pay', payment(3, true, T1)],
    ['PAST_DUE', 'diagram', 'Retry Failed', payment(3, false, T1)],
    ['PAUSED', 'diagram', 'Pause', stateFact('PAUSED', T1)],
    ['CANCELLED', 'diagram', 'Manual cancel', stateFact('CANCELLED', T1, 'api')],
  ]),
  ...edgesFrom('ACTIVE', setupIn('ACTIVE', { totalBillingCycles: 3 }), [
    ['COMPLETED', 'diagram', 'Subscription Time up', payment(3, true, T1)],
  ]),
  ...edgesFrom('PAST_DUE', setupIn('PAST_DUE'), [
    ['PAST_DUE', 'diagram', 'Retry Failed (a further retry)', payment(3, false, T1)],
    ['UNPAID', 'diagram', 'Retry exhausted', stateFact('UNPAID', T1)],
    ['CANCELLED', 'diagram', 'Manual cancel', stateFact('CANCELLED', T1, 'api')],
    ['ACTIVE', 'seed-manual-charge', 'manual charge paid before', manualCharge(3, true, T1)],
    ['CANCELLED', 'seed-manual-charge', 'manual charge paid at/after', manualCharge(3, true, NEXT_BILLING)],
    ['PAST_DUE', 'seed-manual-charge', 'payment failed', manualCharge(3, false, T1)],
  ]),
  ...edgesFrom('UNPAID', setupIn('UNPAID'), [
    ['ACTIVE', 'diagram', 'Resend subscription payment (Customer in)', payment(3, true, T1)],
    ['CANCELLED', 'diagram', 'Manual cancel', stateFact('CANCELLED', T1)],
    ['ACTIVE', 'seed-manual-charge', 'manual charge paid before', manualCharge(3, true, T1)],
    [
      'CANCELLED',
      'seed-manual-charge',
      'manual charge paid at/after',
      manualCharge(3, true, NEXT_BILLING + HOUR),
    ],
    ['UNPAID', 'seed-manual-charge', 'payment failed', manualCharge(3, false, T1)],
  ]),
  ...edgesFrom('UNPAID', setupIn('UNPAID', { totalBillingCycles: 3 }), [
    [
      'COMPLETED',
      'diagram',
      'Resend subscription payment (Customer in), Subscription Time up',
      payment(3, true, T1),
    ],
  ]),
  ...edgesFrom('PAUSED', setupIn('PAUSED'), [
    ['ACTIVE', 'diagram', 'Resume', stateFact('ACTIVE', T1)],
    ['CANCELLED', 'api', '/subscription/v1/cancel', stateFact('CANCELLED', T1, 'api')],
    ['PAUSED', 'api', 'the current state reported again', stateFact('PAUSED', T1)],
  ]),
  ...edgesFrom('PAST_DUE', setupIn('PAST_DUE', { totalBillingCycles: 3 }), [
    ['COMPLETED', 'seed-manual-charge', 'manual charge paid before', manualCharge(3, true, T1)],
  ]),
  ...edgesFrom('INCOMPLETE_EXPIRED', setupIn('INCOMPLETE_EXPIRED'), [
    ['INCOMPLETE_EXPIRED', 'api', 'the current state reported again', stateFact('INCOMPLETE_EXPIRED', T1)],
  ]),
  ...edgesFrom('CANCELLED', setupIn('CANCELLED'), [
    ['CANCELLED', 'api', 'the current state reported again', stateFact('CANCELLED', T1)],
  ]),
  ...edgesFrom('COMPLETED', setupIn('COMPLETED'), [
    ['COMPLETED', 'api', 'the current state reported again', sync('COMPLETED', T1, { completedCycles: 12 })],
  ]),
];

const driverOf = (t: LifecycleTransition): EdgeDriver[] =>
  drivers.filter(
    (d) => d.from === t.from && d.to === t.to && d.source === t.source && t.cause.startsWith(d.cause),
  );

describe('lifecycle table', () => {
  it('lists terminal states and only absorbing self-loops out of them', () => {
    assert.deepEqual([...TERMINAL_STATES].sort(), ['CANCELLED', 'COMPLETED', 'INCOMPLETE_EXPIRED']);
    for (const t of TRANSITIONS) {
      if (t.from !== 'UNKNOWN' && isTerminal(t.from)) assert.equal(t.to, t.from, `${t.from} → ${t.to}`);
    }
    assert.equal(isTerminal('UNKNOWN'), false);
  });

  it('has exactly one driving fact for every edge of TRANSITIONS', () => {
    for (const t of TRANSITIONS) {
      assert.equal(driverOf(t).length, 1, `${t.from} → ${t.to} (${t.source}: ${t.cause})`);
    }
    assert.equal(drivers.length, TRANSITIONS.length);
  });

  for (const t of TRANSITIONS) {
    it(`${t.from} → ${t.to} by ${t.source}: ${t.cause}`, () => {
      const [d] = driverOf(t);
      assert.ok(d);
      const prepared = run(d.setup);
      assert.equal(prepared.state, d.from, 'setup reaches the edge start');
      const result = applyFact(prepared, d.fact);
      assert.equal(result.snapshot.state, d.to);
      assert.equal(result.outcome, 'applied');
      assert.equal(result.reconcile, undefined);
      assert.equal(result.snapshot.reconcile, null);
      if (d.from === d.to) {
        assert.equal(result.transition, undefined);
      } else {
        assert.ok(result.transition);
        assert.equal(result.transition.from, d.from);
        assert.equal(result.transition.to, d.to);
        assert.equal(result.transition.factKey, factKey(d.fact));
        assert.deepEqual(result.snapshot.transitions.at(-1), result.transition);
      }
    });
  }

  it('canTransition answers from the table', () => {
    for (const from of ['UNKNOWN', ...SUBSCRIPTION_STATES] as const) {
      for (const to of SUBSCRIPTION_STATES) {
        const listed = TRANSITIONS.some((t) => t.from === from && t.to === to);
        assert.equal(canTransition(from, to), listed, `${from} → ${to}`);
      }
    }
  });

  it('names the cause of a transition in the domain words', () => {
    const s = run([...setupIn('ACTIVE'), payment(3, false, T1, { respcd: '1205' })]);
    assert.equal(s.transitions.at(-1)?.cause, `payment ${orderId(3)} failed (1205)`);
    const n = applyFact(s, stateFact('UNPAID', T1 + HOUR)).snapshot;
    assert.equal(n.transitions.at(-1)?.cause, 'notification: state UNPAID');
    const q = applyFact(n, sync('ACTIVE', T1 + 2 * HOUR, { completedCycles: 3 })).snapshot;
    assert.equal(q.transitions.at(-1)?.cause, 'query: state ACTIVE');
  });
});

describe('forbidden edges', () => {
  for (const from of SUBSCRIPTION_STATES) {
    for (const to of SUBSCRIPTION_STATES) {
      if (canTransition(from, to)) continue;
      const kept = isTerminal(from);
      it(`${from} → ${to} by notification is a contradiction that ${kept ? 'keeps' : 'applies'} the state`, () => {
        const prepared = run([sync(from, T0)]);
        const result = applyFact(prepared, stateFact(to, T1));
        assert.equal(result.outcome, 'contradiction');
        assert.equal(result.snapshot.state, kept ? from : to);
        assert.ok(result.reconcile);
        assert.equal(result.snapshot.reconcile, result.reconcile);
        assert.equal(result.snapshot.anomalies.length, prepared.anomalies.length + 1);
        assert.match(result.snapshot.anomalies.at(-1)?.reason ?? '', new RegExp(`${to}`));
      });
    }
  }

  it('a payment that implies an edge off the table is a contradiction that keeps the state', () => {
    // An ACTIVE subscription whose first order was never reported paid, then order 1 fails later.
    const prepared = run([stateFact('ACTIVE', T0)]);
    const result = applyFact(prepared, payment(1, false, T1));
    assert.equal(result.outcome, 'contradiction');
    assert.equal(result.snapshot.state, 'ACTIVE');
    assert.match(result.reconcile ?? '', /ACTIVE → INCOMPLETE/);
  });

  it('a gap in the order sequence asks for reconciliation', () => {
    const prepared = run([...setupIn('ACTIVE')]);
    const result = applyFact(prepared, payment(5, true, T1));
    assert.equal(result.outcome, 'contradiction');
    assert.match(result.reconcile ?? '', /sequence gap.*3–4/);
    assert.equal(result.snapshot.lastSequenceNo, 5);
    assert.equal(result.snapshot.state, 'ACTIVE');
  });

  it('rejects malformed facts and facts about another subscription without throwing', () => {
    const s = initialSnapshot(SUB);
    const bad: unknown[] = [
      null,
      42,
      { kind: 'state', subscriptionId: 'sub_other', state: 'ACTIVE', at: T0, source: 'notification' },
      { kind: 'state', subscriptionId: SUB, state: 'ACTIVATED', at: T0, source: 'notification' },
      { kind: 'state', subscriptionId: SUB, state: 'ACTIVE', at: Number.NaN, source: 'notification' },
      {
        kind: 'payment',
        subscriptionId: SUB,
        orderId: 'x',
        sequenceNo: 0,
        succeeded: true,
        respcd: '0000',
        at: T0,
      },
      { kind: 'sync', subscriptionId: SUB, at: T0, remote: null, source: 'query' },
      {
        kind: 'sync',
        subscriptionId: SUB,
        at: T0,
        remote: { state: 'ACTIVE', completedCycles: -1 },
        source: 'query',
      },
      { kind: 'refund', subscriptionId: SUB, at: T0 },
    ];
    let snapshot = s;
    for (const fact of bad) {
      const result = applyFact(snapshot, fact as Fact);
      assert.equal(result.outcome, 'contradiction');
      assert.equal(result.snapshot.state, 'UNKNOWN');
      assert.equal(result.snapshot.factsApplied, 0);
      assert.equal(result.snapshot.reconcile, null);
      snapshot = result.snapshot;
    }
    assert.equal(snapshot.anomalies.length, bad.length);
  });
});

describe('facts are applied once', () => {
  it('a repeated fact is a duplicate and returns the snapshot unchanged', () => {
    const s = run(setupIn('ACTIVE'));
    const once = applyFact(s, payment(3, false, T1));
    const twice = applyFact(once.snapshot, payment(3, false, T1));
    assert.equal(twice.outcome, 'duplicate');
    assert.equal(twice.snapshot, once.snapshot);
    assert.equal(twice.snapshot.orders.find((o) => o.sequenceNo === 3)?.failures, 1);
  });

  it('a manual charge result and its notification with the same ids are one fact', () => {
    const s = run(setupIn('PAST_DUE'));
    const charged = applyFact(s, payment(3, true, T1, { triggerBy: 'manual', syssn: 'SN1', source: 'api' }));
    const notified = applyFact(
      charged.snapshot,
      payment(3, true, T1, { syssn: 'SN1', source: 'notification' }),
    );
    assert.equal(notified.outcome, 'duplicate');
    assert.equal(notified.snapshot.paidOrders, 3);
  });

  it('each distinct failed attempt counts once', () => {
    const s = run([
      ...setupIn('ACTIVE'),
      payment(3, false, T1, { syssn: 'A' }),
      payment(3, false, T1 + HOUR, { syssn: 'B' }),
      payment(3, false, T1 + HOUR, { syssn: 'B' }),
    ]);
    assert.equal(s.orders.find((o) => o.sequenceNo === 3)?.failures, 2);
  });
});

describe('older never overrides newer', () => {
  it('a state notification older than the current state is stale', () => {
    const s = run([...setupIn('ACTIVE'), stateFact('ACTIVE', T1 + HOUR)]);
    const result = applyFact(s, stateFact('PAST_DUE', T1));
    assert.equal(result.outcome, 'stale');
    assert.equal(result.snapshot.state, 'ACTIVE');
    assert.equal(result.snapshot.stateAt, T1 + HOUR);
    assert.equal(result.transition, undefined);
  });

  it('a late payment report still records its order but does not move the state back', () => {
    const s = run([...setupIn('ACTIVE'), payment(3, true, T1 + DAY), stateFact('ACTIVE', T1 + DAY)]);
    const result = applyFact(s, payment(3, false, T1));
    assert.equal(result.outcome, 'stale');
    assert.equal(result.snapshot.state, 'ACTIVE');
    assert.equal(result.snapshot.stateAt, T1 + DAY);
    const order3 = result.snapshot.orders.find((o) => o.sequenceNo === 3);
    assert.equal(order3?.status, 'PAID');
    assert.equal(order3?.failures, 1);
    assert.equal(order3?.firstAt, T1);
  });

  it('a late failure before a payment shows the payment was a recovery', () => {
    const s = run([...setupIn('ACTIVE'), payment(3, true, T1 + DAY)]);
    assert.equal(s.stateAt, T0, 'a recurring payment is no news: stateAt stays with the query');
    const result = applyFact(s, payment(3, false, T1));
    assert.equal(result.outcome, 'applied');
    assert.equal(result.snapshot.state, 'ACTIVE');
    assert.equal(result.snapshot.stateAt, T1 + DAY);
    assert.equal(result.transition, undefined);
  });

  it('an older query answer fills in nothing newer and does not clear reconcile', () => {
    const s = run([sync('ACTIVE', T1, { nextBillingTime: NEXT_BILLING, completedCycles: 2 })]);
    const result = applyFact(s, sync('PAST_DUE', T0, { nextBillingTime: T0 + DAY, completedCycles: 1 }));
    assert.equal(result.outcome, 'stale');
    assert.equal(result.snapshot.state, 'ACTIVE');
    assert.equal(result.snapshot.nextBillingTime, NEXT_BILLING);
    assert.equal(result.snapshot.completedCycles, 2);
  });

  it('a newer query answer replaces billing times', () => {
    const s = run([
      sync('ACTIVE', T0, { nextBillingTime: NEXT_BILLING, lastBillingTime: T0 - HOUR }),
      sync('ACTIVE', T1, { nextBillingTime: NEXT_BILLING + 10 * DAY, lastBillingTime: NEXT_BILLING }),
    ]);
    assert.equal(s.nextBillingTime, NEXT_BILLING + 10 * DAY);
    assert.equal(s.lastBillingTime, NEXT_BILLING);
  });

  it('created sets ids, cycles and, for a trial, the first billing time', () => {
    const s = run([created(T0, { startTime: T0 + 7 * DAY, total: 6 })]);
    assert.equal(s.state, 'TRIAL');
    assert.equal(s.customerId, 'cust_aaf6aae94982c54c9cae5ba32');
    assert.equal(s.tokenId, 'tk_a99892fdd3417d168a18bb');
    assert.deepEqual(s.productIds, ['prod_54c3772d9a54b236e09ec74f']);
    assert.equal(s.totalBillingCycles, 6);
    assert.equal(s.nextBillingTime, T0 + 7 * DAY);
    const changed = applyFacts(s, [
      { kind: 'token_changed', subscriptionId: SUB, tokenId: 'tk_new', at: T1, source: 'api' },
      { kind: 'total_cycles_changed', subscriptionId: SUB, totalBillingCycles: null, at: T1, source: 'api' },
    ]);
    assert.equal(changed.tokenId, 'tk_new');
    assert.equal(changed.totalBillingCycles, null);
  });
});

describe('facts stamped with the same second', () => {
  const both = (a: Fact, b: Fact): [SubscriptionSnapshot, SubscriptionSnapshot] => [
    applyFacts(run(setupIn('ACTIVE')), [a, b]),
    applyFacts(run(setupIn('ACTIVE')), [b, a]),
  ];

  it('a failed payment and the PAST_DUE it causes agree in either order', () => {
    const [x, y] = both(payment(3, false, T1), stateFact('PAST_DUE', T1));
    assert.equal(x.state, 'PAST_DUE');
    assert.deepEqual(essentials(x), essentials(y));
  });

  it('retry exhausted wins over the failure of the same second', () => {
    const [x, y] = both(stateFact('PAST_DUE', T1), stateFact('UNPAID', T1));
    assert.equal(x.state, 'UNPAID');
    assert.deepEqual(essentials(x), essentials(y));
  });

  it('a terminal state wins a tie, even against a query answer', () => {
    const [x, y] = both(sync('ACTIVE', T1, { completedCycles: 2 }), stateFact('CANCELLED', T1, 'api'));
    assert.equal(x.state, 'CANCELLED');
    assert.deepEqual(essentials(x), essentials(y));
  });

  it('the last payment and COMPLETED agree in either order', () => {
    const setup = setupIn('ACTIVE', { totalBillingCycles: 3 });
    const x = run([...setup, payment(3, true, T1), stateFact('COMPLETED', T1)]);
    const y = run([...setup, stateFact('COMPLETED', T1), payment(3, true, T1)]);
    assert.equal(x.state, 'COMPLETED');
    assert.deepEqual(essentials(x), essentials(y));
    assert.equal(x.anomalies.length, 0);
    assert.equal(y.anomalies.length, 0);
  });
});

describe('terminal states absorb notifications', () => {
  it('a newer ACTIVE after CANCELLED does not revive it and asks for reconciliation', () => {
    const s = run([...setupIn('ACTIVE'), stateFact('CANCELLED', T1, 'api')]);
    const result = applyFact(s, stateFact('ACTIVE', T1 + HOUR));
    assert.equal(result.outcome, 'contradiction');
    assert.equal(result.snapshot.state, 'CANCELLED');
    assert.match(result.snapshot.reconcile ?? '', /terminal/);
    assert.equal(result.snapshot.reconcileAt, T1 + HOUR);
  });

  it('a late CANCELLED older than ACTIVE still ends the subscription (same result as in time order)', () => {
    const inOrder = run([...setupIn('ACTIVE'), stateFact('CANCELLED', T1), stateFact('ACTIVE', T1 + HOUR)]);
    const reversed = run([...setupIn('ACTIVE'), stateFact('ACTIVE', T1 + HOUR), stateFact('CANCELLED', T1)]);
    assert.equal(reversed.state, 'CANCELLED');
    assert.deepEqual(essentials(reversed), essentials(inOrder));
    assert.ok(reversed.reconcile);
  });

  it('a payment after a terminal state is a contradiction', () => {
    const s = run([...setupIn('ACTIVE', { totalBillingCycles: 3 }), payment(3, true, T1)]);
    assert.equal(s.state, 'COMPLETED');
    const result = applyFact(s, payment(4, false, T1 + 10 * DAY));
    assert.equal(result.outcome, 'contradiction');
    assert.equal(result.snapshot.state, 'COMPLETED');
  });

  it('a newer query answer may leave a terminal state and clears reconcile', () => {
    const s = run([...setupIn('ACTIVE'), stateFact('CANCELLED', T1, 'api'), stateFact('ACTIVE', T1 + HOUR)]);
    assert.ok(s.reconcile);
    const older = applyFact(s, sync('CANCELLED', T1 + 30 * 60 * SECOND));
    assert.ok(older.snapshot.reconcile, 'a query older than the contradiction does not clear it');
    const result = applyFact(older.snapshot, sync('ACTIVE', T1 + 2 * HOUR, { completedCycles: 2 }));
    assert.equal(result.outcome, 'applied');
    assert.equal(result.snapshot.state, 'ACTIVE');
    assert.equal(result.snapshot.reconcile, null);
    assert.equal(result.snapshot.reconcileAt, null);
    assert.match(result.snapshot.anomalies.at(-1)?.reason ?? '', /query is authoritative/);
    assert.equal(result.transition?.cause, 'query: state ACTIVE');
  });
});

describe('manual charge and the next billing time (seed 001)', () => {
  it('paid before the next billing time: the plan continues ACTIVE', () => {
    const s = run([...setupIn('PAST_DUE'), manualCharge(3, true, NEXT_BILLING - SECOND)]);
    assert.equal(s.state, 'ACTIVE');
    assert.equal(s.completedCycles, 3);
  });

  it('paid at the next billing time: QFPay cancels the plan', () => {
    const s = run([...setupIn('PAST_DUE'), manualCharge(3, true, NEXT_BILLING)]);
    assert.equal(s.state, 'CANCELLED');
    assert.match(s.transitions.at(-1)?.cause ?? '', /next billing time: plan cancelled/);
  });

  it('a failed manual charge keeps the state', () => {
    for (const state of ['PAST_DUE', 'UNPAID', 'INCOMPLETE'] as const) {
      const seq = state === 'INCOMPLETE' ? 1 : 3;
      const s = run([...setupIn(state), manualCharge(seq, false, T1)]);
      assert.equal(s.state, state);
      assert.equal(
        s.orders.find((o) => o.sequenceNo === seq)?.failures,
        2,
        'the billing failure and the charge',
      );
    }
  });

  it('a next billing time reported before the order was billed is that order’s own, not the deadline', () => {
    const s = run([
      sync('ACTIVE', T0 - DAY, { nextBillingTime: T0, completedCycles: 2 }, [
        paidRow(1, T0 - 20 * DAY),
        paidRow(2, T0 - 10 * DAY),
      ]),
      payment(3, false, T0),
      manualCharge(3, true, T0 + HOUR),
    ]);
    assert.equal(s.state, 'ACTIVE');
  });

  it('a charge after QFPay already billed the next order cancels the plan, whatever the known billing time', () => {
    const s = run([
      ...setupIn('PAST_DUE', { nextBillingTime: NEXT_BILLING + 30 * DAY }),
      payment(4, false, NEXT_BILLING),
      manualCharge(3, true, NEXT_BILLING + HOUR),
    ]);
    assert.equal(s.state, 'CANCELLED');
  });

  it('the notification of a manual charge counts as manual once the charge result said so', () => {
    const s = run([
      ...setupIn('PAST_DUE'),
      payment(3, true, NEXT_BILLING + SECOND, { syssn: 'N' }),
      payment(3, true, NEXT_BILLING + 2 * SECOND, { triggerBy: 'manual', syssn: 'C' }),
    ]);
    assert.equal(s.state, 'CANCELLED');
  });
});

describe('COMPLETED on the last cycle', () => {
  const plan = [created(T0, { total: 3, state: 'ACTIVE' }), payment(1, true, T0)];

  it('completes when the paid cycles reach the total', () => {
    const s = run([...plan, payment(2, true, T0 + 10 * DAY), payment(3, true, T0 + 20 * DAY)]);
    assert.equal(s.state, 'COMPLETED');
    assert.equal(s.completedCycles, 3);
    assert.equal(s.paidOrders, 3);
    assert.equal(s.transitions.at(-1)?.cause, `payment ${orderId(3)} paid: last billing cycle (3)`);
  });

  it('completes whatever the arrival order of the payments', () => {
    const s = run([...plan, payment(3, true, T0 + 20 * DAY), payment(2, true, T0 + 10 * DAY)]);
    assert.equal(s.state, 'COMPLETED');
    assert.equal(s.stateAt, T0 + 20 * DAY);
  });

  it('counts cycles paid before the engine joined from the query answer', () => {
    const s = run([
      sync('ACTIVE', T0, { totalBillingCycles: 12, completedCycles: 11 }),
      payment(12, true, T1),
    ]);
    assert.equal(s.state, 'COMPLETED');
    assert.equal(
      s.completedCycles,
      11,
      'completedCycles is max(paid orders, the query count) until the next query',
    );
  });

  it('does not complete while a cycle stayed unpaid', () => {
    const s = run([
      ...plan,
      payment(2, false, T0 + 10 * DAY),
      stateFact('UNPAID', T0 + 11 * DAY),
      payment(3, true, T0 + 20 * DAY),
    ]);
    assert.equal(s.state, 'ACTIVE');
    assert.equal(s.completedCycles, 2);
  });
});

describe('PAID dominates FAILED', () => {
  it('a late failure notification of an order paid by a manual charge does not un-pay it', () => {
    const s = run([
      ...setupIn('PAST_DUE'),
      manualCharge(3, true, T1 + HOUR),
      payment(3, false, T1, { syssn: 'retry' }),
    ]);
    const order3 = s.orders.find((o) => o.sequenceNo === 3);
    assert.equal(order3?.status, 'PAID');
    assert.equal(order3?.paidAt, T1 + HOUR);
    assert.equal(order3?.failures, 2);
    assert.equal(s.state, 'ACTIVE');
  });

  it('a failure reported after the payment moves nothing', () => {
    const s = run([...setupIn('ACTIVE'), payment(3, true, T1), payment(3, false, T1 + HOUR)]);
    assert.equal(s.state, 'ACTIVE');
    assert.equal(s.orders.find((o) => o.sequenceNo === 3)?.status, 'PAID');
    assert.equal(s.paidOrders, 3);
  });

  it('paidOrders counts each order once', () => {
    const s = run([
      ...setupIn('ACTIVE'),
      payment(3, true, T1, { syssn: 'a' }),
      payment(3, true, T1 + SECOND, { syssn: 'b' }),
      sync('ACTIVE', T1 + HOUR, { completedCycles: 3 }, [paidRow(3, T1)]),
    ]);
    assert.equal(s.paidOrders, 3);
    assert.equal(s.completedCycles, 3);
  });
});

describe('bounded lists', () => {
  const limits = { maxOrders: 3, maxTransitions: 2, maxFactKeys: 5, maxTimeline: 4, maxAnomalies: 2 };
  const history: Fact[] = [created(T0, { total: null, state: 'ACTIVE' })];
  for (let seq = 1; seq <= 8; seq++) {
    const at = T0 + (seq - 1) * 10 * DAY;
    history.push(payment(seq, false, at), payment(seq, true, at + HOUR));
  }

  it('keep the most recent entries and still derive the right state', () => {
    const s = run(history, limits);
    assert.deepEqual(
      s.orders.map((o) => o.sequenceNo),
      [6, 7, 8],
    );
    assert.equal(s.paidOrders, 8);
    assert.equal(s.completedCycles, 8);
    assert.equal(s.lastSequenceNo, 8);
    assert.equal(s.transitions.length, 2);
    assert.equal(s.transitions.at(-1)?.to, 'ACTIVE');
    assert.equal(s.appliedFactKeys.length, 5);
    assert.equal(s.appliedFactKeys.at(-1), factKey(history.at(-1) as Fact));
    assert.equal(s.timeline.entries.length, 4);
    assert.equal(s.state, 'ACTIVE');
    assert.equal(s.stateAt, T0 + 70 * DAY + HOUR);
  });

  it('a fact older than the retained timeline is stale and cannot move the state', () => {
    const s = run(history, limits);
    const result = applyFact(s, stateFact('UNPAID', T0 + DAY), limits);
    assert.equal(result.outcome, 'stale');
    assert.equal(result.snapshot.state, 'ACTIVE');
  });

  it('anomalies keep the most recent', () => {
    let s = run([...history, stateFact('CANCELLED', T0 + 100 * DAY)], limits);
    for (let i = 1; i <= 3; i++) s = applyFact(s, stateFact('ACTIVE', T0 + (100 + i) * DAY), limits).snapshot;
    assert.equal(s.anomalies.length, 2);
    assert.equal(s.anomalies.at(-1)?.at, T0 + 103 * DAY);
  });

  it('an order below the retained window is not counted twice', () => {
    const s = run(history, limits);
    const again = applyFact(s, payment(1, true, T0 + 2 * HOUR, { syssn: 'late' }), limits).snapshot;
    assert.equal(again.paidOrders, 8);
    assert.deepEqual(
      again.orders.map((o) => o.sequenceNo),
      [6, 7, 8],
    );
  });
});

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

const richHistory: Fact[] = [
  created(T0, { total: 4, state: 'ACTIVE' }),
  payment(1, true, T0),
  payment(2, false, T0 + 10 * DAY),
  stateFact('PAST_DUE', T0 + 10 * DAY),
  sync(
    'PAST_DUE',
    T0 + 10 * DAY + HOUR,
    { totalBillingCycles: 4, completedCycles: 1, nextBillingTime: T0 + 20 * DAY },
    [paidRow(1, T0), failedRow(2, T0 + 10 * DAY)],
  ),
  manualCharge(2, false, T0 + 11 * DAY),
  manualCharge(2, true, T0 + 12 * DAY),
  stateFact('ACTIVE', T0 + 12 * DAY),
  { kind: 'token_changed', subscriptionId: SUB, tokenId: 'tk_b', at: T0 + 13 * DAY, source: 'api' },
  payment(4, true, T0 + 30 * DAY),
  stateFact('CANCELLED', T0 + 31 * DAY, 'api'),
  stateFact('ACTIVE', T0 + 32 * DAY),
];

describe('snapshots are plain, immutable JSON', () => {
  it('applyFact never mutates its input', () => {
    let s = deepFreeze(initialSnapshot(SUB));
    for (const fact of richHistory) {
      const before = JSON.stringify(s);
      const result = applyFact(s, deepFreeze(structuredClone(fact)));
      assert.equal(JSON.stringify(s), before);
      s = deepFreeze(result.snapshot);
    }
    assert.equal(s.state, 'CANCELLED');
  });

  it('survives a JSON round trip unchanged (continue-as-new)', () => {
    let s = initialSnapshot(SUB);
    for (const fact of richHistory) {
      s = applyFact(s, fact).snapshot;
      assert.deepStrictEqual(JSON.parse(JSON.stringify(s)), s);
    }
    const resumed = JSON.parse(JSON.stringify(s)) as SubscriptionSnapshot;
    const next = stateFact('CANCELLED', T0 + 40 * DAY);
    assert.deepStrictEqual(applyFact(resumed, next), applyFact(s, next));
  });

  it('holds no card numbers', () => {
    const s = run([
      { ...payment(1, true, T0), cardcd: '5200****1096' } as unknown as Fact,
      sync('ACTIVE', T1, { completedCycles: 1 }),
    ]);
    assert.doesNotMatch(JSON.stringify(s), /5200/);
  });
});

describe('a paused subscription stays paused whatever order event arrives', () => {
  // A gateway with its own pause (QorePay) may still settle an order it billed before the pause,
  // e.g. a retry of the saved card: the payment is recorded, the pause is the gateway's to end.
  const paused = [sync('PAUSED', T0, { completedCycles: 2 }, failedCycle(3))];

  it('a paid retry of the failed order records the payment and keeps PAUSED', () => {
    const s = run([...paused, payment(3, true, T1)]);
    assert.equal(s.state, 'PAUSED');
    assert.equal(s.orders.find((o) => o.sequenceNo === 3)?.status, 'PAID');
  });

  it('a declined retry keeps PAUSED too', () => {
    const s = run([...paused, payment(3, false, T1)]);
    assert.equal(s.state, 'PAUSED');
    // Not a contradiction to reconcile: the decline simply implies nothing while paused.
    assert.deepEqual(s.anomalies, []);
    assert.equal(s.reconcile, null);
  });

  it('a run recorded before the rule folds as it ran: the payment implied ACTIVE', () => {
    const legacy = applyFacts(withPauseRule(initialSnapshot(SUB), false), [...paused, payment(3, true, T1)]);
    assert.equal(legacy.state, 'ACTIVE');
    assert.equal(legacy.timeline.pauseHolds, undefined);
  });

  it('the gateway’s own resume still moves it', () => {
    assert.equal(run([...paused, payment(3, true, T1), stateFact('ACTIVE', T1 + HOUR)]).state, 'ACTIVE');
  });
});

describe('two query answers in the same gateway second', () => {
  // The engine's own query read orders 3 to 5; the merchant's sync, in the same second, reads from 2.
  const remote = { completedCycles: 5, nextBillingTime: NEXT_BILLING };
  const own = sync(
    'ACTIVE',
    T1,
    remote,
    [3, 4, 5].map((n) => paidRow(n, T0 + n * SECOND)),
  );
  const merchants = sync(
    'ACTIVE',
    T1,
    remote,
    [2, 3, 4, 5].map((n) => paidRow(n, T0 + n * SECOND)),
  );
  const held = (on: boolean) =>
    applyFacts(withSyncOrderKeys(initialSnapshot(SUB), on), [
      ...[1, 3, 4].map((n) => payment(n, true, T0 + n * SECOND)),
      payment(2, false, T0 + 2 * SECOND),
      own,
    ]);

  it('are two facts when they read different orders: what the second brings is kept', () => {
    const after = applyFact(held(true), merchants);
    assert.equal(after.outcome, 'applied');
    assert.equal(after.snapshot.orders.find((o) => o.sequenceNo === 2)?.status, 'PAID');
  });

  it('the rule is kept through every fact applied', () => {
    assert.equal(held(true).timeline.syncKeysOrders, true);
  });

  it('the same reading twice is one fact', () => {
    assert.equal(applyFact(held(true), own).outcome, 'duplicate');
    const failedTwice = sync('ACTIVE', T1, remote, [failedRow(2, T0 + 2 * SECOND)]);
    const once = applyFact(held(true), failedTwice).snapshot;
    assert.equal(applyFact(once, failedTwice).outcome, 'duplicate');
  });

  it('a run recorded before the rule keys them as it ran: the second is a duplicate', () => {
    const legacy = held(false);
    assert.equal(legacy.timeline.syncKeysOrders, undefined);
    assert.equal(applyFact(legacy, merchants).outcome, 'duplicate');
    assert.notEqual(factKey(own, { syncOrders: true }), factKey(merchants, { syncOrders: true }));
    assert.equal(factKey(own), factKey(merchants));
  });
});
