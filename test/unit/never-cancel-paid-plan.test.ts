/**
 * The promise "the final action never cancels a paid plan", guard by guard. An exhausted
 * episode's final action `cancel` runs only while the order is still FAILED, the subscription has
 * not ended and no later cycle has begun, never while a charge is unconfirmed or billing is
 * paused, and only after a query of QFPay made since the action fell due (the order may have been
 * paid where the engine could not see it: a lost notification). A charge of an earlier cycle's
 * order is refused too: QFPay cancels the plan for it. Each test fails when the guard it names is
 * taken out (see "Mutation testing" in docs/reliability.md).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide, settle } from '../../src/domain/decide';
import { intentProblem } from '../../src/domain/intents/intents';
import { DEFAULT_DUNNING_POLICY } from '../../src/domain/episode/dunning';
import { applyFactToState, enqueueIntent, type EngineState } from '../../src/domain/engine-state';
import { chargeWindow } from '../../src/domain/episode/episode';
import { afterCancel } from '../../src/domain/episode/settle-episode';
import { afterCharge, afterConfirm } from '../../src/domain/charge/charge';
import { afterSync } from '../../src/domain/sync/sync';
import { beginAction } from '../../src/domain/actions';
import { DAY, HOUR, MINUTE, SUB, T, order, pastDue } from '../helpers/engine-states';
import { CANCEL_POLICY, chargeAnswer, escalated, noHint, step, syncAnswer } from '../helpers/engine-steps';

const DUE = T + 2 * HOUR; // when the final action fell due (its `since`)
const sync = { kind: 'sync', reason: 'before_final_action' } as const;
const cancel = { kind: 'cancel', cause: 'final_action', orderId: order(2) } as const;

/** The escalated episode after a query made at `at` that found the order still FAILED. */
function askedAt(at: number, s = escalated()): EngineState {
  return afterSync(beginAction(s, sync), sync, syncAnswer(at), at, at);
}

void describe('the final action never cancels a paid plan', () => {
  void it('asks QFPay before the cancel: a query made since the action fell due, not one from before', () => {
    const s = escalated();
    assert.equal(s.episode?.finalAction?.since, DUE);
    assert.equal(s.lastSyncAt, T, 'QFPay was last asked before the episode escalated');
    assert.deepEqual(step(s, DUE).action, sync);
    assert.deepEqual(decide(s, DUE + HOUR, noHint), sync, 'however long it waits');
    // A query made just before the action fell due is not enough; one made at that moment is.
    assert.deepEqual(decide({ ...s, lastSyncAt: DUE - 1 }, DUE, noHint), sync);
    assert.deepEqual(decide({ ...s, lastSyncAt: null }, DUE, noHint), sync);
    assert.deepEqual(decide({ ...s, lastSyncAt: DUE }, DUE, noHint), cancel);
  });

  void it('cancels once the query says the order is still unpaid', () => {
    const asked = askedAt(DUE + MINUTE);
    assert.equal(asked.lastSyncAt, DUE + MINUTE);
    assert.deepEqual(step(asked, DUE + MINUTE).action, cancel);
  });

  void it('never cancels when the query finds the order paid (its notification was lost): the episode is recovered', () => {
    const s = escalated();
    const paid = afterSync(s, sync, syncAnswer(DUE + MINUTE, { state: 'ACTIVE', order2: 'PAID' }), DUE, DUE);
    for (const now of [DUE + MINUTE, DUE + HOUR, DUE + 10 * DAY]) {
      assert.notEqual(step(paid, now).action.kind, 'cancel', `at due + ${(now - DUE) / MINUTE} min`);
    }
    const closed = step(paid, DUE + MINUTE).s.episodeHistory.at(-1);
    assert.equal(closed?.outcome, 'recovered');
    assert.equal(closed?.finalAction?.status, 'skipped');
  });

  void it('waits out a failed query before it asks again, and cancels nothing meanwhile', () => {
    const failed = afterSync(
      { ...escalated(), outbox: [] },
      sync,
      { ok: false, failure: { message: 'QFPay 503', refused: false } },
      DUE,
      DUE,
    );
    const retryAt = DUE + MINUTE;
    assert.equal(failed.syncRetryAt, retryAt);
    assert.deepEqual(decide(failed, DUE + 30_000, noHint), { kind: 'wait', until: retryAt });
    assert.deepEqual(decide(failed, retryAt, noHint), sync);
    assert.equal(step(failed, retryAt).action.kind, 'sync');
  });

  void it('does not cancel an order decide sees paid, even before settle has closed its episode', () => {
    // A payment notification arrives after the query; the loop has not settled since.
    const paid = applyFactToState(
      askedAt(DUE),
      {
        kind: 'payment',
        subscriptionId: SUB,
        orderId: order(2),
        sequenceNo: 2,
        succeeded: true,
        respcd: '0000',
        syssn: 'paid-late',
        at: DUE + MINUTE,
        source: 'notification',
      },
      DUE + MINUTE,
    );
    assert.equal(paid.episode?.stage, 'escalating', 'not settled yet');
    const action = decide({ ...paid, syncWanted: false }, DUE + MINUTE, noHint);
    assert.notEqual(action.kind, 'cancel');
  });

  void it('does not cancel once a later cycle has begun, even before settle has closed the episode', () => {
    const later = afterSync(
      askedAt(DUE),
      { kind: 'sync', reason: 'wanted' },
      syncAnswer(T + 30 * DAY, {
        more: [{ orderId: order(3), sequenceNo: 3, status: 'FAILED', respcd: '1205', at: T + 30 * DAY }],
        nextBillingTime: T + 60 * DAY,
      }),
      T + 30 * DAY,
      T + 30 * DAY,
    );
    assert.equal(later.snapshot.lastSequenceNo, 3);
    assert.equal(later.episode?.stage, 'escalating', 'not settled yet');
    assert.notEqual(decide(later, T + 30 * DAY, noHint).kind, 'cancel');
    assert.equal(step(later, T + 30 * DAY).s.episodeHistory.at(-1)?.outcome, 'lost');
  });

  void it('holds the final action while a charge is unconfirmed: the charge may have paid the order', () => {
    // The merchant charges the order after the episode escalated; QFPay does not answer.
    const queued = enqueueIntent(askedAt(DUE), { kind: 'charge_now' });
    const charge = decide(queued.state, DUE, noHint);
    assert.equal(charge.kind, 'charge');
    if (charge.kind !== 'charge') return;
    let s = afterCharge(queued.state, charge, chargeAnswer('unknown', DUE), DUE, DUE + 10_000);
    assert.ok(s.pendingCharge, 'the charge is unconfirmed');
    // QFPay, asked meanwhile, still shows the order FAILED (the charge is being processed).
    s = askedAt(DUE + 15_000, s);
    const waiting = step(s, DUE + 20_000);
    assert.notEqual(waiting.action.kind, 'cancel');
    assert.ok(waiting.s.episode?.finalAction?.status === 'pending');
    // The look finds it paid: the episode is recovered and the cancel never runs.
    const look = step(s, s.pendingCharge!.nextCheckAt);
    assert.equal(look.action.kind, 'confirm');
    if (look.action.kind !== 'confirm') return;
    s = afterConfirm(
      look.s,
      look.action,
      {
        ok: true,
        value: {
          status: 'paid',
          charge: {
            orderId: order(2),
            sequenceNo: 2,
            outcome: 'succeeded',
            at: DUE + 40_000,
            respcd: '0000',
          },
        },
      },
      DUE + 40_000,
    );
    const after = step(s, DUE + 40_000);
    assert.notEqual(after.action.kind, 'cancel');
    assert.equal(after.s.episodeHistory.at(-1)?.outcome, 'recovered');
  });

  void it('does not count an episode exhausted while its last charge is unconfirmed', () => {
    const planned = settle(pastDue(CANCEL_POLICY), T + MINUTE);
    const charge = decide(settle(planned, T + HOUR), T + HOUR, noHint);
    assert.equal(charge.kind, 'charge');
    if (charge.kind !== 'charge') return;
    const s = afterCharge(
      settle(planned, T + HOUR),
      charge,
      chargeAnswer('unknown', T + HOUR),
      T + HOUR,
      T + HOUR,
    );
    const settled = settle({ ...s, syncWanted: false }, T + HOUR + 1_000);
    assert.deepEqual(settled.episode?.schedule, [], 'no attempt is left');
    assert.equal(settled.episode?.stage, 'retrying', 'but the unconfirmed one may still pay it');
    assert.equal(settled.episode?.finalAction, undefined);
  });

  void it('retries a failed cancel only after its back-off, and after QFPay is asked again', () => {
    const asked = askedAt(DUE);
    assert.deepEqual(decide(asked, DUE, noHint), cancel);
    const failedAt = DUE + MINUTE;
    const failed = afterCancel(
      asked,
      cancel,
      { ok: false, failure: { message: 'QFPay 503', refused: false } },
      failedAt,
    );
    const final = failed.episode?.finalAction;
    assert.equal(final?.status, 'pending');
    assert.equal(final?.retryAt, failedAt + MINUTE);
    assert.equal(final?.since, failedAt);
    const quiet = { ...failed, syncWanted: false, outbox: [] };
    assert.deepEqual(decide(quiet, failedAt + 30_000, noHint), { kind: 'wait', until: failedAt + MINUTE });
    assert.deepEqual(decide(quiet, failedAt + MINUTE, noHint), sync, 'QFPay first: it may have been paid');
    assert.deepEqual(decide({ ...quiet, lastSyncAt: failedAt + MINUTE }, failedAt + MINUTE, noHint), cancel);
  });

  void it("never charges an earlier cycle's order, even before settle has closed its episode", () => {
    const planned = settle(pastDue(), T + MINUTE);
    assert.equal(decide(planned, T + HOUR, noHint).kind, 'charge');
    const later = afterSync(
      planned,
      { kind: 'sync', reason: 'wanted' },
      syncAnswer(T + HOUR, {
        more: [{ orderId: order(3), sequenceNo: 3, status: 'FAILED', respcd: '1205', at: T + HOUR }],
        nextBillingTime: T + 60 * DAY,
      }),
      T + HOUR,
      T + HOUR,
    );
    assert.equal(later.episode?.orderId, order(2), 'not settled yet');
    assert.notEqual(decide({ ...later, syncWanted: false }, T + HOUR, noHint).kind, 'charge');
  });

  void it("refuses to charge an earlier cycle's failed order: QFPay would cancel the plan for it", () => {
    // Cycle 2 failed and so did cycle 3; the next billing time is cycle 4's.
    const s = afterSync(
      pastDue(),
      { kind: 'sync', reason: 'wanted' },
      syncAnswer(T + 30 * DAY, {
        more: [{ orderId: order(3), sequenceNo: 3, status: 'FAILED', respcd: '1205', at: T + 30 * DAY }],
        nextBillingTime: T + 60 * DAY,
      }),
      T + 30 * DAY,
      T + 30 * DAY,
    );
    const now = T + 30 * DAY + HOUR;
    assert.deepEqual(chargeWindow(s.snapshot, { sequenceNo: 2, firstAt: T }, DEFAULT_DUNNING_POLICY), {
      open: false,
      reason: 'earlier_cycle',
    });
    assert.equal(
      chargeWindow(s.snapshot, { sequenceNo: 3, firstAt: T + 30 * DAY }, DEFAULT_DUNNING_POLICY).open,
      true,
    );
    assert.equal(
      intentProblem(s, { kind: 'charge_now', orderId: order(2) }, now, { queued: true }),
      `order ${order(2)} belongs to an earlier cycle: charging it now would cancel the plan`,
    );
    const queued = enqueueIntent(s, { kind: 'charge_now', orderId: order(2) });
    const action = decide(settle(queued.state, now), now, noHint);
    assert.equal(action.kind, 'refuse');
    // The current cycle's order may still be charged.
    const current = enqueueIntent(s, { kind: 'charge_now', orderId: order(3) });
    const charge = decide(settle(current.state, now), now, noHint);
    assert.equal(charge.kind === 'charge' && charge.orderId, order(3));
  });
});
