/**
 * The chaos suite's audit finds each violation it claims to check: a clean record passes, and
 * every kind of breach, planted one at a time, is reported (so a green chaos run means something).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  chargeNowShowsRecovery,
  chargesInsideWindow,
  clocksReady,
  eventsInClockTime,
  eventStartFaultRan,
  heldThroughout,
  outboxesEmptied,
  merchantEventsComplete,
  noCancelOfPaidPlan,
  scheduledCancelsKept,
  type ScheduledCancelRecord,
  dunningReportAgrees,
  type EpisodeView,
  oneEventPerAttempt,
  eventsAgainstLaterTruth,
  mirrorsTruth,
  noDoubleCharge,
  noStuckWorkflow,
  observeWorkflow,
  oneSubscriptionPerKey,
  type Delivery,
  type Mirror,
  type Truth,
  type WorkflowFinding,
} from '../../chaos/audit';
import { subscriptionsNamed } from '../../chaos/evidence';

const SUB = 'sub_a1';
const ORDER = (n: number) => `sub_ord_a1_000${n}`;
const MARGIN = 15_000;
const billed = Date.UTC(2027, 0, 1, 0, 0, 0);
const next = billed + 120_000;

function truth(): Truth {
  return {
    subscription_id: SUB,
    customer_id: 'cus_1',
    state: 'COMPLETED',
    completed_billing_iteration: 2,
    orders: [
      {
        subscription_order_id: ORDER(1),
        sequence_no: 1,
        status: 'PAID',
        deadline: new Date(next).toISOString(),
        attempts: [{ at: new Date(billed).toISOString(), trigger: 'auto', approved: true }],
      },
      {
        subscription_order_id: ORDER(2),
        sequence_no: 2,
        status: 'PAID',
        deadline: new Date(next + 120_000).toISOString(),
        attempts: [
          { at: new Date(next).toISOString(), trigger: 'auto', approved: false },
          { at: new Date(next + 20_000).toISOString(), trigger: 'manual', approved: true },
        ],
      },
    ],
  };
}

function mirror(): Mirror {
  return {
    subscription_id: SUB,
    state: 'COMPLETED',
    completed_cycles: 2,
    recent_orders: [
      { order_id: ORDER(1), sequence_no: 1, status: 'PAID' },
      { order_id: ORDER(2), sequence_no: 2, status: 'PAID' },
    ],
  };
}

function deliveries(): Delivery[] {
  const d = (id: string, type: string, data: Record<string, unknown> = {}): Delivery => ({
    id,
    type,
    subscription_id: SUB,
    data,
    verified: true,
  });
  return [
    d(`evt.${SUB}.paid.0001`, 'subscription.payment_succeeded', { order_id: ORDER(1) }),
    d(`evt.${SUB}.paid.0002`, 'subscription.payment_succeeded', { order_id: ORDER(2) }),
    d(`evt.${SUB}.ended`, 'subscription.ended'),
  ];
}

const finding = (over: Partial<WorkflowFinding> = {}): WorkflowFinding => ({
  subscriptionId: SUB,
  status: 'COMPLETED',
  truthState: 'COMPLETED',
  workflowTaskFailures: [],
  pendingWork: false,
  ...over,
});

describe('the chaos audit', () => {
  it('passes a clean record', () => {
    assert.deepEqual(mirrorsTruth([truth()], new Map([[SUB, mirror()]])).violations, []);
    const charges = chargesInsideWindow([truth()], MARGIN);
    assert.equal(charges.counted, '1 manual charges');
    assert.deepEqual(charges.violations, []);
    assert.deepEqual(noDoubleCharge([truth()]).violations, []);
    assert.deepEqual(
      oneSubscriptionPerKey([{ idempotencyKey: 'k1', customerId: 'cus_1' }], [truth()]).violations,
      [],
    );
    const events = merchantEventsComplete([truth()], [...deliveries(), deliveries()[0]!]);
    assert.deepEqual(events.violations, []);
    assert.equal(events.repeated, 1, 'a redelivery under the same id is counted, not a violation');
    assert.deepEqual(noStuckWorkflow([finding()]).violations, []);
  });

  it('finds a mirror that differs from QFPay: state, cycles, an order, an order missing, a missing subscription', () => {
    const check = (m: Partial<Mirror> | undefined) =>
      mirrorsTruth([truth()], new Map(m ? [[SUB, { ...mirror(), ...m }]] : [])).violations;
    assert.equal(check({ state: 'ACTIVE' }).length, 1);
    assert.equal(check({ completed_cycles: 1 }).length, 1);
    assert.equal(
      check({ recent_orders: [{ order_id: ORDER(1), sequence_no: 1, status: 'PAID' }] }).length,
      1,
    );
    assert.equal(
      check({
        recent_orders: [
          { order_id: ORDER(1), sequence_no: 1, status: 'PAID' },
          { order_id: ORDER(2), sequence_no: 2, status: 'FAILED' },
        ],
      }).length,
      1,
    );
    assert.equal(check(undefined).length, 1);
    // An older order the engine never learned of (its notification lost, a later one taken).
    assert.deepEqual(check({ recent_orders: [{ order_id: ORDER(2), sequence_no: 2, status: 'PAID' }] }), [
      `${SUB}: the engine does not know order 1`,
    ]);
  });

  it('finds a manual charge at the margin, and one on an order with no next billing time', () => {
    const late = truth();
    late.orders[1]!.attempts[1]!.at = new Date(next + 120_000 - MARGIN).toISOString();
    assert.equal(chargesInsideWindow([late], MARGIN).violations.length, 1);
    const justBefore = truth();
    justBefore.orders[1]!.attempts[1]!.at = new Date(next + 120_000 - MARGIN - 1).toISOString();
    assert.equal(chargesInsideWindow([justBefore], MARGIN).violations.length, 0);
    const noDeadline = truth();
    noDeadline.orders[1]!.deadline = null;
    assert.equal(chargesInsideWindow([noDeadline], MARGIN).violations.length, 1);
  });

  it('finds an order paid twice and a cycle billed twice', () => {
    const twice = truth();
    twice.orders[0]!.attempts.push({
      at: new Date(billed + 1).toISOString(),
      trigger: 'manual',
      approved: true,
    });
    assert.equal(noDoubleCharge([twice]).violations.length, 1);
    const cycle = truth();
    cycle.orders.push({ ...cycle.orders[1]!, subscription_order_id: 'other' });
    assert.equal(noDoubleCharge([cycle]).violations.length, 1);
  });

  it('finds two QFPay subscriptions for one idempotency key, and none for another', () => {
    const creations = [
      { idempotencyKey: 'k1', customerId: 'cus_1' },
      { idempotencyKey: 'k2', customerId: 'cus_2' },
    ];
    const violations = oneSubscriptionPerKey(creations, [
      truth(),
      { ...truth(), subscription_id: 'sub_b' },
    ]).violations;
    assert.deepEqual(violations, ['key k1: 2 subscriptions at QFPay', 'key k2: 0 subscriptions at QFPay']);
  });

  it('finds a bad signature, an unreported payment or end, and a fact reported under two ids', () => {
    const check = (list: Delivery[]) => merchantEventsComplete([truth()], list).violations;
    assert.equal(check(deliveries().map((d, i) => (i === 0 ? { ...d, verified: false } : d))).length, 1);
    assert.deepEqual(check(deliveries().slice(1)), [`paid ${ORDER(1)} not reported`]);
    assert.deepEqual(check(deliveries().slice(0, 2)), [`the end of ${SUB} not reported`]);
    assert.deepEqual(check([...deliveries(), { ...deliveries()[0]!, id: 'evt.other' }]), [
      `paid ${ORDER(1)} reported 2 times`,
    ]);
  });

  it('finds a run whose refused delivery starts never happened, and passes one where they did', () => {
    // Delivery starts are refused in a chaos run; an unreported payment is then an event
    // lost on that path (the check above), and zero refusals means the fault never ran.
    assert.deepEqual(eventStartFaultRan(3, deliveries()).violations, []);
    assert.equal(eventStartFaultRan(0, deliveries()).violations.length, 1);
    assert.deepEqual(eventStartFaultRan(0, []).violations, [], 'no event, nothing to refuse');
  });

  it('finds events a workflow never handed to their delivery (planted), and passes empty outboxes', () => {
    assert.deepEqual(outboxesEmptied(2, []).violations, []);
    assert.deepEqual(outboxesEmptied(2, [{ id: 'sub_a', count: 2 }]).violations, [
      '2 events of sub_a never handed to a delivery workflow',
    ]);
  });

  it('counts as held only events a workflow held in every sample of its last two minutes', () => {
    const s = (at: number, ...holding: [string, number][]) => ({
      at,
      holding: holding.map(([id, count]) => ({ id, count })),
    });
    const MIN = 60_000;
    // sub_a held throughout (a stuck outbox, or one waiting minutes for its retry); sub_b only at
    // the last sample (a refused start waiting its first backoff, 15 s); sub_c held two minutes but
    // handed its events over in between (fresh events each time, not the same wait).
    const samples = [
      s(0, ['sub_a', 3]),
      s(0.5 * MIN, ['sub_a', 5], ['sub_c', 1]),
      s(1 * MIN, ['sub_a', 6]),
      s(1.5 * MIN, ['sub_a', 6], ['sub_c', 1]),
      s(2 * MIN, ['sub_a', 7], ['sub_b', 1], ['sub_c', 2]),
    ];
    assert.deepEqual(heldThroughout(samples, 2 * MIN), [{ id: 'sub_a', count: 7 }]);
    // A window shorter than asked for proves nothing held for long.
    assert.deepEqual(heldThroughout(samples.slice(2), 2 * MIN), []);
    assert.deepEqual(heldThroughout([], 2 * MIN), []);
    assert.deepEqual(heldThroughout(samples, 0.5 * MIN), [
      { id: 'sub_a', count: 7 },
      { id: 'sub_c', count: 2 },
    ]);
  });

  it('finds a failing workflow task, a running workflow of an ended subscription, and one waiting on nothing', () => {
    const failed = (cause: string) => finding({ workflowTaskFailures: [{ cause, message: 'x' }] });
    assert.equal(
      noStuckWorkflow([failed('WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR')]).violations.length,
      1,
    );
    assert.equal(
      noStuckWorkflow([failed('WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE')]).violations
        .length,
      1,
    );
    const benign = noStuckWorkflow([failed('WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND')]);
    assert.deepEqual([benign.violations.length, benign.benignTaskFailures], [0, 1]);
    assert.equal(noStuckWorkflow([finding({ status: 'RUNNING', pendingWork: true })]).violations.length, 1);
    assert.equal(
      noStuckWorkflow([finding({ status: 'RUNNING', truthState: 'ACTIVE', pendingWork: false })]).violations
        .length,
      1,
    );
    assert.equal(
      noStuckWorkflow([finding({ status: 'RUNNING', truthState: 'ACTIVE', pendingWork: true })]).violations
        .length,
      0,
    );
    assert.equal(noStuckWorkflow([finding({ status: 'FAILED', truthState: 'ACTIVE' })]).violations.length, 1);
  });

  describe('observing a workflow against a QFPay that moves on', () => {
    // A subscription with a fixed number of cycles completes at QFPay, and then in the engine, in
    // the seconds between the convergence snapshot and the workflows' audit (a quick run found one
    // such "COMPLETED while QFPay says ACTIVE").
    const world = (steps: Array<{ status: string; truth: string }>) => {
      let i = 0;
      const reads: string[] = [];
      return {
        reads,
        workflow: async () => {
          reads.push('workflow');
          return {
            status: steps[Math.min(i, steps.length - 1)]!.status,
            workflowTaskFailures: [],
            pendingWork: true,
          };
        },
        truth: async () => {
          reads.push('truth');
          return steps[Math.min(i, steps.length - 1)]!.truth;
        },
        wait: async () => {
          i += 1;
        },
      };
    };

    it('judges the workflow against a truth read after it, so an end at QFPay in between is no finding', async () => {
      const w = world([{ status: 'COMPLETED', truth: 'COMPLETED' }]);
      const f = await observeWorkflow(SUB, w, { tries: 3 });
      assert.deepEqual(w.reads, ['workflow', 'truth']);
      assert.deepEqual(noStuckWorkflow([f]).violations, []);
    });

    it('reads a workflow that lags behind QFPay again until it has caught up', async () => {
      const w = world([
        { status: 'RUNNING', truth: 'COMPLETED' },
        { status: 'COMPLETED', truth: 'COMPLETED' },
      ]);
      const f = await observeWorkflow(SUB, w, { tries: 3 });
      assert.equal(f.status, 'COMPLETED');
      assert.deepEqual(noStuckWorkflow([f]).violations, []);
    });

    it('still finds a workflow that ended while QFPay goes on, and one that never catches up', async () => {
      const ended = await observeWorkflow(SUB, world([{ status: 'COMPLETED', truth: 'ACTIVE' }]), {
        tries: 3,
      });
      assert.equal(noStuckWorkflow([ended]).violations.length, 1);
      const lagging = world([{ status: 'RUNNING', truth: 'CANCELLED' }]);
      const stuck = await observeWorkflow(SUB, lagging, { tries: 3 });
      assert.equal(noStuckWorkflow([stuck]).violations.length, 1);
      assert.equal(lagging.reads.length, 6);
    });
  });
});

describe('chaos evidence: the subscriptions a violation names', () => {
  it('finds a subscription by its id and through its orders', () => {
    assert.deepEqual(subscriptionsNamed('sub_5336ab: the engine does not know order 3'), ['sub_5336ab']);
    assert.deepEqual(
      subscriptionsNamed('sub_ord_5336ab_0001: manual charge at 2026-11-29T06:57:11.816Z, past … − margin'),
      ['sub_5336ab'],
    );
    assert.deepEqual(subscriptionsNamed('merchant event evt.x was reported twice'), []);
  });
});

describe('the audit of what a merchant sees around charges and cancels', () => {
  const iso = (ms: number) => new Date(ms).toISOString();
  const failedDelivery = (id: string, order: string): Delivery => ({
    id,
    type: 'subscription.payment_failed',
    subscription_id: SUB,
    data: { order_id: order, sequence_no: 2, respcd: '1205' },
    verified: true,
  });

  it('a charge-now that succeeded but answered PAST_DUE is a violation (planted), a recovered answer is not', () => {
    const record = {
      subscriptionId: SUB,
      orderId: ORDER(2),
      outcome: 'succeeded',
      answeredState: 'ACTIVE',
      truthOrderStatus: 'PAID',
      truthNewestSequence: 2,
      chargedSequence: 2,
    };
    assert.deepEqual(chargeNowShowsRecovery([record]).violations, []);
    const planted = chargeNowShowsRecovery([{ ...record, answeredState: 'PAST_DUE' }]);
    assert.deepEqual(planted.violations, [
      `${SUB}: charge-now of ${ORDER(2)} succeeded, the answer shows PAST_DUE, QFPay has it PAID`,
    ]);
    // A newer order billed meanwhile (and declined) may make PAST_DUE true again: not a violation.
    assert.deepEqual(
      chargeNowShowsRecovery([{ ...record, answeredState: 'PAST_DUE', truthNewestSequence: 3 }]).violations,
      [],
    );
    assert.deepEqual(
      chargeNowShowsRecovery([{ ...record, outcome: 'failed', answeredState: 'PAST_DUE' }]).violations,
      [],
    );
  });

  it('two payment_failed events for one declined attempt are a violation (planted), one is not', () => {
    const withSyssn = (): Truth => {
      const t = truth();
      return {
        ...t,
        orders: t.orders.map((o) => ({
          ...o,
          attempts: o.attempts.map((a, i) => ({ ...a, syssn: `ssn${o.sequence_no}${i}` })),
        })),
      };
    };
    const one = [failedDelivery(`evt.${SUB}.payment_failed.0002.ssn20`, ORDER(2))];
    assert.deepEqual(oneEventPerAttempt([withSyssn()], one).violations, []);
    // Planted: the same decline again, under a time of the engine's.
    const planted = [...one, failedDelivery(`evt.${SUB}.payment_failed.0002.1732158726001`, ORDER(2))];
    assert.deepEqual(oneEventPerAttempt([withSyssn()], planted).violations, [
      `${SUB}: order 2: event evt.${SUB}.payment_failed.0002.1732158726001 names no declined attempt of QFPay's (ssn20)`,
    ]);
    // The same event delivered twice is one event.
    assert.deepEqual(oneEventPerAttempt([withSyssn()], [...one, ...one]).violations, []);
  });

  it('judges the events delivered before QFPay’s truth was read, not one of a newer attempt', async () => {
    // Plans bill on while the truth is read: a decline made after the read arrives meanwhile.
    const t = truth();
    const withSyssn: Truth = {
      ...t,
      orders: t.orders.map((o) => ({
        ...o,
        attempts: o.attempts.map((a, i) => ({ ...a, syssn: `ssn${o.sequence_no}${i}` })),
      })),
    };
    const live = [failedDelivery(`evt.${SUB}.payment_failed.0002.ssn20`, ORDER(2))];
    const check = await eventsAgainstLaterTruth(live, async () => {
      live.push(failedDelivery(`evt.${SUB}.payment_failed.0002.ssn29`, ORDER(2)));
      return [withSyssn];
    });
    assert.deepEqual(check.violations, []);
    assert.equal(live.length, 2);
  });

  it('a cancel through the API after the newest order was paid is a violation (planted)', () => {
    const withTimes = (cancelAt: number): Truth => {
      const t = truth();
      return {
        ...t,
        state: 'CANCELLED',
        orders: t.orders.map((o, i) => ({
          ...o,
          billing_time: iso(i === 0 ? billed : next),
          paid_at: iso(i === 0 ? billed : next + 20_000),
        })),
        history: [
          { at: iso(billed), from: null, to: 'ACTIVE', reason: 'first payment' },
          { at: iso(cancelAt), from: 'PAST_DUE', to: 'CANCELLED', reason: 'cancelled through the API' },
        ],
      };
    };
    // Cancelled while order 2 was still unpaid: what the final action is for.
    assert.deepEqual(noCancelOfPaidPlan([withTimes(next + 10_000)]).violations, []);
    // Planted: the cancel came after QFPay had paid order 2.
    assert.deepEqual(noCancelOfPaidPlan([withTimes(next + 30_000)]).violations, [
      `${SUB}: cancelled at ${iso(next + 30_000)}, order 2 paid at ${iso(next + 20_000)}`,
    ]);
  });

  it('a merchant who asked for a cancel is not judged by the final action’s rule', () => {
    const t: Truth = {
      ...truth(),
      state: 'CANCELLED',
      orders: truth().orders.map((o, i) => ({
        ...o,
        billing_time: iso(i === 0 ? billed : next),
        paid_at: iso(billed),
      })),
      history: [
        { at: iso(next + 30_000), from: 'ACTIVE', to: 'CANCELLED', reason: 'cancelled through the API' },
      ],
    };
    assert.equal(noCancelOfPaidPlan([t]).violations.length, 1);
    assert.deepEqual(noCancelOfPaidPlan([t], new Set([SUB])).violations, []);
  });

  it('a scheduled cancel: cancelled between its time and the period end, nothing billed after; a taken-back one not cancelled (planted)', () => {
    const periodEnd = next;
    const cancelAt = periodEnd - 20_000;
    const record = (outcome: ScheduledCancelRecord['outcome']): ScheduledCancelRecord => ({
      subscriptionId: SUB,
      periodEnd: iso(periodEnd),
      cancelAt: iso(cancelAt),
      outcome,
    });
    const cancelledAt = (at: number | null, billedAfter = false): Truth => ({
      ...truth(),
      state: at === null ? 'ACTIVE' : 'CANCELLED',
      orders: [
        { ...truth().orders[0]!, billing_time: iso(billed) },
        ...(billedAfter ? [{ ...truth().orders[1]!, billing_time: iso(periodEnd) }] : []),
      ],
      history:
        at === null
          ? []
          : [{ at: iso(at), from: 'ACTIVE', to: 'CANCELLED', reason: 'cancelled through the API' }],
    });
    const kept = scheduledCancelsKept([record('scheduled')], [cancelledAt(cancelAt + 3_000)]);
    assert.deepEqual(kept.violations, []);
    assert.equal(kept.counted, '1 scheduled cancels (0 taken back)');
    assert.deepEqual(
      scheduledCancelsKept([record('scheduled')], [cancelledAt(periodEnd + 1_000, true)]).violations,
      [
        `${SUB}: order 2 billed at ${iso(periodEnd)}, at or after the period end ${iso(periodEnd)} of its scheduled cancel`,
        `${SUB}: cancelled at ${iso(periodEnd + 1_000)}, not before the period end ${iso(periodEnd)}`,
      ],
    );
    assert.deepEqual(
      scheduledCancelsKept([record('scheduled')], [cancelledAt(cancelAt - 1_000)]).violations,
      [
        `${SUB}: cancelled at ${iso(cancelAt - 1_000)}, before its time ${iso(cancelAt)}: the period was cut short`,
      ],
    );
    assert.deepEqual(scheduledCancelsKept([record('scheduled')], [cancelledAt(null)]).violations, [
      `${SUB}: ACTIVE, never cancelled, though a cancel was scheduled for the period end ${iso(periodEnd)}`,
    ]);
    assert.deepEqual(scheduledCancelsKept([record('undone')], [cancelledAt(null)]).violations, []);
    assert.deepEqual(scheduledCancelsKept([record('undone')], [cancelledAt(cancelAt + 3_000)]).violations, [
      `${SUB}: cancelled at ${iso(cancelAt + 3_000)} though its scheduled cancel was taken back`,
    ]);
    // A request whose answer was lost is not judged: what it did is not known.
    assert.deepEqual(scheduledCancelsKept([record('unknown')], [cancelledAt(null)]).violations, []);
  });

  it('the dunning report agrees with the views it counts; a subscription it missed is a violation', () => {
    const range = { from: billed, to: billed + 60_000 };
    const at = (ms: number) => iso(billed + ms);
    const views = new Map<string, EpisodeView[]>([
      ['sub_a', [{ opened_at: at(1_000), closed_at: at(5_000), outcome: 'recovered' }]],
      ['sub_b', [{ opened_at: at(2_000), closed_at: null, outcome: null }]],
      // Before the range, and closed after it: neither counts.
      ['sub_c', [{ opened_at: at(-5_000), closed_at: at(61_000), outcome: 'exhausted' }]],
      ['sub_d', []],
    ]);
    const totals = { opened: 2, recovered: 1, exhausted: 0, lost: 0, stopped: 0 };
    const agrees = dunningReportAgrees({ totals, subscriptions_read: 2 }, views, range);
    assert.deepEqual(agrees.violations, []);
    assert.equal(agrees.counted, '2 episodes opened, 1 closed, over 2 subscriptions');
    // The report missed sub_b (its DunningActivityAt unwritten): one opened fewer, one read fewer.
    assert.deepEqual(
      dunningReportAgrees({ totals: { ...totals, opened: 1 }, subscriptions_read: 1 }, views, range)
        .violations,
      [
        'opened: the report says 1, the subscriptions show 2',
        'the report read 1 subscriptions, 2 show an episode in the range',
      ],
    );
  });
});

describe('the audit of a test-clocked run', () => {
  const clock = {
    id: 'clock_1',
    startMs: Date.parse('2027-01-10T02:00:00Z'),
    targetMs: Date.parse('2028-01-10T02:00:00Z'),
  };
  const event = (id: string, extra: Partial<Delivery>): Delivery => ({
    id,
    type: 'subscription.payment_succeeded',
    subscription_id: SUB,
    data: {},
    verified: true,
    ...extra,
  });

  it('an event dated in real time or not marked with its clock is a violation (planted); one in clock time is not', () => {
    const clockOf = new Map([[SUB, clock]]);
    const good = event('evt_1', { created_at: '2027-04-10T02:00:00.000Z', test_clock: 'clock_1' });
    assert.deepEqual(eventsInClockTime([good, good], clockOf).violations, []);
    assert.equal(eventsInClockTime([good, good], clockOf).counted, '1 events');
    const realTime = event('evt_2', { created_at: '2026-05-01T00:00:00.000Z', test_clock: 'clock_1' });
    const unmarked = event('evt_3', { created_at: '2027-04-10T02:00:00.000Z' });
    const undated = event('evt_4', { test_clock: 'clock_1' });
    const found = eventsInClockTime([realTime, unmarked, undated], clockOf).violations;
    assert.equal(found.length, 3);
    assert.match(found[0]!, /evt_2.*outside its clock/);
    assert.match(found[1]!, /evt_3.*marked undefined, not clock_1/);
    assert.match(found[2]!, /evt_4.*dated undefined/);
    // A subscription on no clock is not judged.
    assert.deepEqual(eventsInClockTime([realTime], new Map()).violations, []);
  });

  it('a clock still advancing, or ready short of its target, is a violation (planted)', () => {
    const ready = { ...clock, status: 'ready', frozenMs: clock.targetMs };
    assert.deepEqual(clocksReady([ready]).violations, []);
    const advancing = { ...ready, id: 'clock_2', status: 'advancing', frozenMs: clock.startMs };
    const short = { ...ready, id: 'clock_3', frozenMs: clock.targetMs - 1 };
    const found = clocksReady([ready, advancing, short]).violations;
    assert.equal(found.length, 2);
    assert.match(found[0]!, /clock_2: advancing/);
    assert.match(found[1]!, /clock_3: ready/);
  });
});
