/**
 * The merchant's requests in `decide.ts`: every refusal `intentProblem` gives, word for word (it
 * is the 409 the merchant reads), at its boundaries; the action each accepted request becomes;
 * which order a charge-now is for and which episode attempt it counts as; and the refusal of every
 * request but a policy change for a subscription QFPay does not know.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_PLAN_LINES, MAX_PLAN_QUANTITY, intentProblem } from '../../src/domain/intents/intents';
import { REFUSED, type Action } from '../../src/domain/actions';
import { chargeTarget } from '../../src/domain/charge/charge';
import { decide, settle } from '../../src/domain/decide';
import {
  LEGACY_NOT_FOUND_LIMIT,
  NOT_FOUND_LIMIT,
  enqueueIntent,
  type EngineState,
  type IntentRequest,
} from '../../src/domain/engine-state';
import { DAY, HOUR, MINUTE, T, order, pastDue } from '../helpers/engine-states';
import { escalated, noHint } from '../helpers/engine-steps';

const NOW = T + MINUTE;
const problem = (s: EngineState, intent: IntentRequest, now = NOW) =>
  intentProblem(s, intent, now, { queued: true });

/** The action the loop takes for `intent` as the only one queued. */
function actionFor(s: EngineState, intent: IntentRequest, now = NOW): { action: Action; id: number } {
  const q = enqueueIntent(s, intent);
  return { action: decide(q.state, now, noHint), id: q.id };
}

function withState(s: EngineState, state: EngineState['snapshot']['state']): EngineState {
  return { ...s, snapshot: { ...s.snapshot, state } };
}

void describe("the merchant's requests", () => {
  void it('turns each accepted request into its action, with its id', () => {
    const s = settle(pastDue(), NOW);
    const expect: Array<[IntentRequest, (id: number) => Action]> = [
      [
        { kind: 'policy', override: { attemptOffsets: ['2h'] } },
        (id) => ({ kind: 'apply_policy', intentId: id, override: { attemptOffsets: ['2h'] } }),
      ],
      [{ kind: 'sync' }, (id) => ({ kind: 'sync', reason: 'intent', intentId: id })],
      [{ kind: 'cancel' }, (id) => ({ kind: 'cancel', cause: 'merchant', intentId: id })],
      [
        { kind: 'change_token', tokenId: 'tk_new' },
        (id) => ({ kind: 'change_token', intentId: id, tokenId: 'tk_new' }),
      ],
      [
        { kind: 'change_cycles', totalBillingCycles: 12 },
        (id) => ({ kind: 'change_cycles', intentId: id, totalBillingCycles: 12 }),
      ],
      [
        { kind: 'change_products', products: [{ productId: 'prod_b', quantity: 2 }] },
        (id) => ({ kind: 'change_products', intentId: id, products: [{ productId: 'prod_b', quantity: 2 }] }),
      ],
      [
        { kind: 'pause', resumesAt: T + DAY, scope: 'dunning' },
        (id) => ({ kind: 'pause', intentId: id, resumesAt: T + DAY, scope: 'dunning' }),
      ],
    ];
    for (const [intent, action] of expect) {
      const { action: got, id } = actionFor(s, intent);
      assert.deepEqual(got, action(id), intent.kind);
    }
    const paused = { ...s, billingPause: { since: T, resumesAt: null, by: 'merchant' as const } };
    const resume = actionFor(paused, { kind: 'resume', scope: 'dunning' });
    assert.deepEqual(resume.action, { kind: 'resume', intentId: resume.id, scope: 'dunning' });
  });

  void it('refuses every request but a policy change once QFPay has missed the subscription often enough', () => {
    const unknown = {
      ...settle(pastDue(), NOW),
      known: false,
      notFound: NOT_FOUND_LIMIT,
      quickNotFound: true as const,
    };
    const refused = actionFor(unknown, { kind: 'sync' });
    assert.deepEqual(refused.action, {
      kind: 'refuse',
      intentId: refused.id,
      message: 'QFPay does not know this subscription',
      type: REFUSED,
    });
    assert.equal(
      actionFor(unknown, { kind: 'policy', override: { attemptOffsets: ['2h'] } }).action.kind,
      'apply_policy',
    );
    // One miss fewer, or a subscription QFPay confirmed before: the request goes ahead.
    assert.equal(
      actionFor({ ...unknown, notFound: NOT_FOUND_LIMIT - 1 }, { kind: 'sync' }).action.kind,
      'sync',
    );
    assert.equal(actionFor({ ...unknown, known: true }, { kind: 'sync' }).action.kind, 'sync');
    // A run recorded before the quick give-up asked QFPay three times.
    const { quickNotFound: _quick, ...legacy } = unknown;
    assert.equal(actionFor(legacy, { kind: 'sync' }).action.kind, 'sync');
    assert.equal(
      actionFor({ ...legacy, notFound: LEGACY_NOT_FOUND_LIMIT }, { kind: 'sync' }).action.kind,
      'refuse',
    );
  });

  void it('refuses a cancel, a card, cycles, a plan, a pause or a resume of a subscription that ended, naming its state', () => {
    const ended = withState(pastDue(), 'COMPLETED');
    const refusals: Array<[IntentRequest, string]> = [
      [{ kind: 'cancel' }, 'subscription is already COMPLETED; there is nothing to cancel'],
      [{ kind: 'change_token', tokenId: 'tk_new' }, 'subscription is COMPLETED; its card cannot change'],
      [
        { kind: 'change_cycles', totalBillingCycles: 12 },
        'subscription is COMPLETED; its cycles cannot change',
      ],
      [
        { kind: 'change_products', products: [{ productId: 'prod_b', quantity: 1 }] },
        'subscription is COMPLETED; its plan cannot change',
      ],
      [
        { kind: 'pause', resumesAt: null, scope: 'dunning' },
        'subscription is COMPLETED; there is no dunning to hold',
      ],
      [{ kind: 'resume', scope: 'dunning' }, 'subscription is COMPLETED; there is no dunning to release'],
    ];
    for (const [intent, message] of refusals) assert.equal(problem(ended, intent), message, intent.kind);
  });

  void it('checks a new card: a tk_ token, and not the one in use', () => {
    const s = pastDue();
    const tokenProblem = (tokenId: unknown) => problem(s, { kind: 'change_token', tokenId } as IntentRequest);
    for (const bad of [42, undefined, 'tk_', 'card_tk_1', 'tk_1 x', 'tk_a-b', ['tk_in_an_array']])
      assert.equal(tokenProblem(bad), 'tokenId must look like tk_…', String(bad));
    assert.equal(tokenProblem('tk_new_1'), undefined);
    const using = { ...s, snapshot: { ...s.snapshot, tokenId: 'tk_old' } };
    assert.equal(
      problem(using, { kind: 'change_token', tokenId: 'tk_old' }),
      'the subscription already uses this token',
    );
    assert.equal(problem(using, { kind: 'change_token', tokenId: 'tk_new' }), undefined);
  });

  void it('checks new billing cycles: a positive integer, not below the cycles paid; infinite only from infinite', () => {
    const s = pastDue(); // infinite, one cycle paid
    const cycles = (x: EngineState, totalBillingCycles: number | null) =>
      problem(x, { kind: 'change_cycles', totalBillingCycles });
    assert.equal(cycles(s, null), undefined);
    const finite = { ...s, snapshot: { ...s.snapshot, totalBillingCycles: 12, completedCycles: 3 } };
    assert.equal(
      cycles(finite, null),
      'QFPay cannot change a finite plan to infinite; create a new subscription instead',
    );
    for (const bad of [0, -1, 2.5, Number.NaN])
      assert.equal(
        cycles(finite, bad),
        'totalBillingCycles must be a positive integer or null (infinite)',
        String(bad),
      );
    assert.equal(cycles(finite, 2), 'totalBillingCycles 2 is below the 3 cycles already paid');
    assert.equal(cycles(finite, 3), undefined, 'as many as were paid: the plan ends now');
    assert.equal(cycles(s, 1), undefined, 'one is a positive integer');
  });

  void it(`checks a plan: 1 to ${MAX_PLAN_LINES} lines of prod_ ids, quantities 1 to ${MAX_PLAN_QUANTITY}, no id twice`, () => {
    const plan = (products: unknown) =>
      problem(pastDue(), { kind: 'change_products', products } as IntentRequest);
    const line = (productId: unknown, quantity: unknown = 1) => ({ productId, quantity });
    const lines = (n: number) => Array.from({ length: n }, (_, i) => line(`prod_${i}`));
    assert.equal(plan(lines(MAX_PLAN_LINES)), undefined);
    for (const bad of [lines(MAX_PLAN_LINES + 1), [], 'prod_a', null])
      assert.equal(plan(bad), `products must list 1 to ${MAX_PLAN_LINES} product lines`);
    for (const id of ['prod_', 'xprod_a', 'prod_a!', 'prod a', 42])
      assert.equal(plan([line(id)]), 'every product id must look like prod_…', String(id));
    assert.equal(plan([null]), 'every product id must look like prod_…');
    assert.equal(plan([line('prod_a-b_c')]), undefined);
    assert.equal(plan([line('prod_a', MAX_PLAN_QUANTITY)]), undefined);
    for (const q of [0, MAX_PLAN_QUANTITY + 1, 1.5, '2'])
      assert.equal(
        plan([line('prod_a', q)]),
        `quantity must be an integer from 1 to ${MAX_PLAN_QUANTITY}`,
        String(q),
      );
    assert.equal(plan([line('prod_a'), line('prod_b'), line('prod_a')]), 'product prod_a is listed twice');
  });

  void it('checks a pause: its resume time, if any, is a finite time in the future', () => {
    const pause = (resumesAt: unknown) => problem(pastDue(), { kind: 'pause', resumesAt } as IntentRequest);
    assert.equal(pause(null), undefined);
    assert.equal(pause(NOW + 1), undefined);
    for (const bad of ['tomorrow', Number.NaN, Number.POSITIVE_INFINITY, undefined])
      assert.equal(pause(bad), 'resumesAt must be a time or null', String(bad));
    for (const past of [NOW, NOW - DAY]) assert.equal(pause(past), 'resumes_at must be in the future');
  });

  void it('checks a policy change with the policy rules, naming each problem', () => {
    const s = pastDue();
    assert.equal(problem(s, { kind: 'policy', override: { safetyMargin: '2h' } }), undefined);
    assert.match(
      problem(s, { kind: 'policy', override: { safetyMargin: '1s' } as never }) ?? '',
      /safetyMargin.*must be at least/,
    );
    assert.match(
      problem(s, { kind: 'policy', override: { color: 'red' } as never }) ?? '',
      /color.*unknown field/,
    );
  });

  void describe('a charge-now', () => {
    const s = settle(pastDue(), NOW);

    void it("needs a failed order of the subscription's own", () => {
      const paid = {
        ...s,
        snapshot: {
          ...s.snapshot,
          orders: s.snapshot.orders.map((o) => ({ ...o, status: 'PAID' as const })),
        },
      };
      assert.equal(problem(paid, { kind: 'charge_now' }), 'the subscription has no failed order to charge');
      assert.equal(
        problem(s, { kind: 'charge_now', orderId: order(1) }),
        `order ${order(1)} is not a failed order of this subscription`,
      );
      assert.equal(
        problem(s, { kind: 'charge_now', orderId: 'sub_ord_other_0002' }),
        'order sub_ord_other_0002 is not a failed order of this subscription',
      );
      assert.equal(problem(s, { kind: 'charge_now', orderId: order(2) }), undefined);
    });

    void it('needs a chargeable state: PAST_DUE, UNPAID or INCOMPLETE', () => {
      for (const state of ['PAST_DUE', 'UNPAID', 'INCOMPLETE'] as const)
        assert.equal(problem(withState(s, state), { kind: 'charge_now' }), undefined, state);
      assert.equal(
        problem(withState(s, 'ACTIVE'), { kind: 'charge_now' }),
        'a manual charge needs state PAST_DUE, UNPAID or INCOMPLETE; the subscription is ACTIVE',
      );
    });

    void it('waits for the queue only in the validator: the loop takes the charge-now it finds first', () => {
      const q = enqueueIntent(s, { kind: 'sync' }).state;
      assert.equal(problem(q, { kind: 'charge_now' }), undefined, 'another kind of request queued');
      const charging = enqueueIntent(s, { kind: 'charge_now' }).state;
      assert.equal(
        problem(charging, { kind: 'charge_now' }),
        'a charge for this subscription is already in progress',
      );
      assert.equal(intentProblem(charging, { kind: 'charge_now' }, NOW, { queued: false }), undefined);
    });

    void it('targets the order named, or the latest failed one; never a paid one', () => {
      const two = {
        ...s.snapshot,
        orders: [
          { ...s.snapshot.orders[0]!, orderId: order(1), sequenceNo: 1, status: 'FAILED' as const },
          ...s.snapshot.orders.filter((o) => o.sequenceNo === 2),
          { ...s.snapshot.orders[0]!, orderId: order(3), sequenceNo: 3, status: 'PAID' as const },
        ],
      };
      assert.equal(chargeTarget(two, undefined)?.orderId, order(2));
      assert.equal(chargeTarget(two, order(1))?.orderId, order(1));
      assert.equal(chargeTarget(two, order(3)), undefined);
      assert.equal(chargeTarget({ ...two, orders: [] }, undefined), undefined);
    });

    void it("counts as the open episode's next attempt only while that episode retries for that order", () => {
      const retrying = actionFor(s, { kind: 'charge_now' });
      assert.equal(retrying.action.kind === 'charge' && retrying.action.attempt, 1);
      const done = escalated();
      const afterEscalation = actionFor(
        { ...done, lastSyncAt: T + 3 * HOUR },
        { kind: 'charge_now' },
        T + 3 * HOUR,
      );
      assert.equal(afterEscalation.action.kind, 'charge');
      assert.equal(afterEscalation.action.kind === 'charge' && afterEscalation.action.attempt, 0);
      const otherOrder = {
        ...s,
        episode: { ...s.episode!, orderId: order(9) },
      };
      const other = actionFor(otherOrder, { kind: 'charge_now', orderId: order(2) });
      assert.equal(other.action.kind === 'charge' && other.action.attempt, 0);
    });
  });
});
