/**
 * A merchant's charge-now in the second its order was declined (QFPay's clock standing still, or
 * simply fast): the charge's answers are QFPay's facts, at QFPay's own time, and the same facts as
 * QFPay's notifications of them. A successful charge-now leaves the subscription ACTIVE whatever
 * arrives around it; each declined attempt is one attempt and one `payment_failed`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChargeOutcome } from '../../src/activities/contracts';
import type { Action } from '../../src/domain/actions';
import { applyFactToState, type EngineState } from '../../src/domain/engine-state';
import type { Fact } from '../../src/domain/lifecycle/lifecycle';
import { afterCharge, chargeFact } from '../../src/domain/charge/charge';
import { SUB, T, order, pastDue, pastDueSync } from '../helpers/engine-states';

const charge = (intentId: number): Extract<Action, { kind: 'charge' }> => ({
  kind: 'charge',
  orderId: order(2),
  sequenceNo: 2,
  attempt: 0,
  scheduledAt: T,
  deadline: T + 29 * 86_400_000,
  latestStart: T + 29 * 86_400_000 - 60_000,
  trigger: 'merchant',
  intentId,
});

/** The answer QFPay gave a charge, with its own syssn and time. */
const answer = (succeeded: boolean, syssn: string): ChargeOutcome => ({
  orderId: order(2),
  sequenceNo: 2,
  outcome: succeeded ? 'succeeded' : 'failed',
  respcd: succeeded ? '0000' : '1205',
  syssn,
  at: T,
  atFromQfpay: true,
});

/** QFPay's notification of the same attempt. */
const notified = (succeeded: boolean, syssn: string): Fact => ({
  kind: 'payment',
  subscriptionId: SUB,
  orderId: order(2),
  sequenceNo: 2,
  succeeded,
  respcd: succeeded ? '0000' : '1205',
  syssn,
  at: T,
  source: 'notification',
});

const afterAnswer = (s: EngineState, intentId: number, outcome: ChargeOutcome): EngineState =>
  afterCharge(s, charge(intentId), { ok: true, value: outcome }, T + 5, T + 10);

const events = (s: EngineState, type: string) => s.outbox.filter((e) => e.type === type).map((e) => e.id);

describe('charge-now answers in the second the order was declined', () => {
  it('a charge answer with QFPay’s time keeps that time; one without it is placed after what the engine knew', () => {
    const s = pastDue();
    assert.equal(chargeFact(s, answer(false, 'ko-1'))?.at, T);
    const { atFromQfpay: _, ...engineTimed } = answer(false, 'ko-1');
    assert.equal(chargeFact(s, { ...engineTimed, at: T - 60_000 })?.at, T + 1);
  });

  it('declined, then paid: ACTIVE, in whatever order the answers and notifications arrive', () => {
    const base = pastDue();
    const steps: Array<(s: EngineState) => EngineState> = [
      (s) => afterAnswer(s, 1, answer(false, 'ko-1')),
      (s) => applyFactToState(s, notified(false, 'ko-1'), T + 20),
      (s) => afterAnswer(s, 2, answer(true, 'ok-1')),
      (s) => applyFactToState(s, notified(true, 'ok-1'), T + 30),
      (s) =>
        applyFactToState(
          s,
          { kind: 'state', subscriptionId: SUB, state: 'ACTIVE', at: T, source: 'notification' },
          T + 40,
        ),
    ];
    const orders = [
      [0, 1, 2, 3, 4],
      [1, 0, 3, 2, 4],
      [4, 3, 2, 1, 0],
      [2, 4, 0, 3, 1],
    ];
    for (const ordering of orders) {
      let s = base;
      for (const i of ordering) s = steps[i]!(s);
      assert.equal(s.snapshot.state, 'ACTIVE', `arrival order ${ordering.join(',')}`);
      // Cycle 2's own decline (in the sync), the charge's decline, the charge's payment.
      const attempts = s.payments.filter((p) => p.orderId === order(2));
      assert.deepEqual(
        attempts.map((p) => [p.syssn, p.succeeded, p.triggerBy]),
        [
          ['ko-1', false, 'manual'],
          ['ok-1', true, 'manual'],
        ],
        `arrival order ${ordering.join(',')}`,
      );
      assert.deepEqual(events(s, 'subscription.payment_failed'), [`evt.${SUB}.payment_failed.0002.ko-1`]);
      assert.deepEqual(events(s, 'subscription.payment_succeeded'), [
        ...events(base, 'subscription.payment_succeeded'),
        `evt.${SUB}.paid.0002`,
      ]);
      const toActive = s.outbox.filter(
        (e) => e.type === 'subscription.state_changed' && (e.data as { to: string }).to === 'ACTIVE',
      );
      assert.equal(toActive.length, 1, `arrival order ${ordering.join(',')}`);
    }
  });

  it('a query answer from before the payment, in the same second, does not take it back', () => {
    let s = afterAnswer(pastDue(), 1, answer(true, 'ok-1'));
    assert.equal(s.snapshot.state, 'ACTIVE');
    // The query QFPay answered just before the charge: PAST_DUE, order 2 FAILED, same second.
    s = applyFactToState(s, pastDueSync(T, false), T + 50);
    assert.equal(s.snapshot.state, 'ACTIVE');
  });
});
