/**
 * The promise "no double charge": a charge whose answer never came (a timeout, a 5xx, QFPay's
 * "processing", an activity failure that may have reached QFPay) becomes the pending charge, and
 * while it is pending no other charge starts, neither a planned one, a new card's try-now, nor the
 * merchant's charge-now. It is confirmed by looking at the order (a stale look changes nothing)
 * until its window closes; only then does it count as not made. Each attempt is told to the
 * merchant once, when its result is known. Each test fails when the guard it names is taken out
 * (see "Mutation testing" in docs/reliability.md).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChargeOutcome, ConfirmOutcome } from '../../src/activities/contracts';
import { decide, settle } from '../../src/domain/decide';
import { intentProblem } from '../../src/domain/intents/intents';
import type { Action } from '../../src/domain/actions';
import { ENGINE_DEFAULTS, enqueueIntent, type EngineState } from '../../src/domain/engine-state';
import { afterCharge, afterConfirm } from '../../src/domain/charge/charge';
import type { Outcome } from '../../src/domain/actions';
import { HOUR, MINUTE, SUB, T, order, pastDue } from '../helpers/engine-states';
import { chargeAnswer, noHint, step } from '../helpers/engine-steps';

type Charge = Extract<Action, { kind: 'charge' }>;
type Confirm = Extract<Action, { kind: 'confirm' }>;

const SENT = T + HOUR; // the episode's first attempt
const ANSWERED = SENT + 10_000;
const WINDOW = ENGINE_DEFAULTS.chargeConfirmWindowMs;
const INTERVAL = ENGINE_DEFAULTS.chargeConfirmIntervalMs;

/** The default episode at its first attempt, and that attempt's charge action. */
function firstAttempt(): { s: EngineState; charge: Charge } {
  const { s, action } = step(settle(pastDue(), T + MINUTE), SENT);
  assert.equal(action.kind, 'charge');
  return { s, charge: action as Charge };
}

/** The first attempt sent with no answer (`unknown`): pending; QFPay's view was asked for since. */
function unanswered(): { s: EngineState; charge: Charge } {
  const { s, charge } = firstAttempt();
  const after = afterCharge(s, charge, chargeAnswer('unknown', ANSWERED), SENT, ANSWERED);
  return { s: { ...after, syncWanted: false, lastSyncAt: ANSWERED, outbox: [] }, charge };
}

const attemptEvents = (s: EngineState) => s.outbox.filter((e) => e.type === 'subscription.dunning_attempt');

void describe('no double charge', () => {
  void it('keeps a charge with no answer as the pending charge, and confirms it rather than sending another', () => {
    const { s } = unanswered();
    assert.deepEqual(s.pendingCharge, {
      orderId: order(2),
      sequenceNo: 2,
      attempt: 1,
      sentAt: SENT,
      confirmUntil: ANSWERED + WINDOW,
      nextCheckAt: ANSWERED + INTERVAL,
      checks: 0,
    });
    assert.equal(s.episode?.attempts[0]?.result, 'pending');
    assert.deepEqual(decide(s, ANSWERED + INTERVAL, noHint), { kind: 'confirm', pending: s.pendingCharge });
  });

  void it("starts no other charge while one is pending: not a planned attempt, not a new card's try-now", () => {
    const { s } = unanswered();
    // The next planned attempt is due and a new card wants a try now; the look is not due yet.
    const tempted = { ...s, retryNow: true, episode: { ...s.episode!, schedule: [SENT + 1_000] } };
    const now = ANSWERED + INTERVAL - 1;
    assert.deepEqual(decide(tempted, now, noHint), { kind: 'wait', until: ANSWERED + INTERVAL });
    assert.notEqual(step(tempted, now).action.kind, 'charge');
  });

  void it("refuses a merchant's charge-now while a charge is pending", () => {
    const { s } = unanswered();
    const problem = 'a charge for this subscription is already in progress';
    assert.equal(intentProblem(s, { kind: 'charge_now' }, ANSWERED, { queued: true }), problem);
    const queued = enqueueIntent(s, { kind: 'charge_now' });
    assert.deepEqual(decide(queued.state, ANSWERED, noHint), {
      kind: 'refuse',
      intentId: queued.id,
      message: problem,
      type: 'ChangeNotAllowed',
    });
  });

  void it('takes every answer that may hide a charge QFPay made as pending, and only those', () => {
    const { s, charge } = firstAttempt();
    const pendingAfter = (outcome: Outcome<ChargeOutcome>) =>
      afterCharge(s, charge, outcome, SENT, ANSWERED).pendingCharge !== null;
    // No answer, "processing" (1145), or an activity failure that is not a refusal.
    assert.equal(pendingAfter(chargeAnswer('unknown', ANSWERED)), true);
    assert.equal(pendingAfter(chargeAnswer('pending', ANSWERED, { respcd: '1145' })), true);
    assert.equal(pendingAfter({ ok: false, failure: { message: 'timed out', refused: false } }), true);
    // A definite answer, a refusal, or a charge that was never sent.
    assert.equal(pendingAfter(chargeAnswer('failed', ANSWERED, { respcd: '1205' })), false);
    assert.equal(pendingAfter(chargeAnswer('succeeded', ANSWERED, { respcd: '0000' })), false);
    assert.equal(pendingAfter({ ok: false, failure: { message: 'refused', refused: true } }), false);
    assert.equal(pendingAfter(chargeAnswer('not_sent', ANSWERED, { detail: 'too late' })), false);
    // "Processing" keeps QFPay's code, and how the order looked before the charge.
    const processing = afterCharge(
      s,
      charge,
      chargeAnswer('pending', ANSWERED, { respcd: '1145', orderBefore: 'FAILED|1205' }),
      SENT,
      ANSWERED,
    );
    assert.equal(processing.pendingCharge?.respcd, '1145');
    assert.equal(processing.pendingCharge?.orderBefore, 'FAILED|1205');
  });

  void it('ignores a look at an earlier charge: it changes nothing', () => {
    const { s } = unanswered();
    const stale: Confirm = { kind: 'confirm', pending: { ...s.pendingCharge!, sentAt: SENT - HOUR } };
    const paid: Outcome<ConfirmOutcome> = {
      ok: true,
      value: { status: 'paid', charge: { orderId: order(2), sequenceNo: 2, outcome: 'succeeded', at: SENT } },
    };
    assert.equal(afterConfirm(s, stale, paid, ANSWERED + INTERVAL), s);
    const settled = { ...s, pendingCharge: null };
    assert.equal(
      afterConfirm(settled, { kind: 'confirm', pending: s.pendingCharge! }, paid, ANSWERED),
      settled,
    );
  });

  void it('looks again while QFPay shows nothing, up to the end of the window, then counts the charge as not made', () => {
    const { s } = unanswered();
    const confirm: Confirm = { kind: 'confirm', pending: s.pendingCharge! };
    const nothing: Outcome<ConfirmOutcome> = { ok: true, value: { status: 'unknown' } };
    const first = afterConfirm(s, confirm, nothing, ANSWERED + INTERVAL);
    assert.equal(first.pendingCharge?.checks, 1);
    assert.equal(first.pendingCharge?.nextCheckAt, ANSWERED + 2 * INTERVAL);
    // The last look before the window closes is at its end, not after it.
    const late = afterConfirm(s, confirm, nothing, ANSWERED + WINDOW - 5_000);
    assert.equal(late.pendingCharge?.nextCheckAt, ANSWERED + WINDOW);
    assert.equal(late.episode?.attempts[0]?.result, 'pending');
    assert.equal(decide({ ...late, outbox: [] }, ANSWERED + WINDOW - 1, noHint).kind, 'wait');

    const end = afterConfirm(s, confirm, nothing, ANSWERED + WINDOW);
    assert.equal(end.pendingCharge, null);
    assert.equal(end.syncWanted, true, 'QFPay is asked what is true now');
    assert.equal(end.episode?.attempts[0]?.result, 'error');
    assert.equal(end.episode?.attempts[0]?.detail, 'no outcome at QFPay after 1 looks: counted as not made');
    assert.deepEqual(
      attemptEvents(end).map((e) => e.id),
      [`evt.${SUB}.dunning.0002.attempt.1`],
    );
  });

  void it('does not take a failed look as evidence: it keeps looking, even past the window, an interval apart', () => {
    const { s } = unanswered();
    const confirm: Confirm = { kind: 'confirm', pending: s.pendingCharge! };
    const failedLook: Outcome<ConfirmOutcome> = {
      ok: false,
      failure: { message: 'QFPay 503', refused: false },
    };
    const after = afterConfirm(s, confirm, failedLook, ANSWERED + WINDOW + MINUTE);
    assert.ok(after.pendingCharge, 'still pending: no other charge may start');
    assert.equal(after.pendingCharge.checks, 1);
    assert.ok(
      after.pendingCharge.nextCheckAt >= ANSWERED + WINDOW + MINUTE + INTERVAL,
      'the next look waits the confirm interval at least (no 1 ms timers once the window has passed)',
    );
  });

  void it('settles the attempt from what the look found, and tells it once', () => {
    const { s } = unanswered();
    assert.deepEqual(attemptEvents(s), [], 'no event while the result is unknown');
    const confirm: Confirm = { kind: 'confirm', pending: s.pendingCharge! };
    const charge = { orderId: order(2), sequenceNo: 2, at: ANSWERED + 20_000, respcd: '1205', syssn: 'ko-9' };
    const failed = afterConfirm(
      s,
      confirm,
      { ok: true, value: { status: 'failed', charge: { ...charge, outcome: 'failed' } } },
      ANSWERED + INTERVAL,
    );
    assert.equal(failed.pendingCharge, null);
    assert.equal(failed.episode?.attempts[0]?.result, 'failed');
    assert.equal(failed.episode?.attempts[0]?.respcd, '1205');
    assert.equal(failed.episode?.attempts[0]?.finishedAt, ANSWERED + INTERVAL);
    assert.deepEqual(
      attemptEvents(failed).map((e) => [e.id, (e.data as { result: string }).result]),
      [[`evt.${SUB}.dunning.0002.attempt.1`, 'failed']],
    );
    assert.equal(failed.payments.at(-1)?.syssn, 'ko-9', 'the attempt QFPay recorded is logged');

    const paid = afterConfirm(
      s,
      confirm,
      { ok: true, value: { status: 'paid', charge: { ...charge, respcd: '0000', outcome: 'succeeded' } } },
      ANSWERED + INTERVAL,
    );
    assert.equal(paid.episode?.attempts[0]?.result, 'succeeded');
    assert.equal(paid.snapshot.orders.find((o) => o.orderId === order(2))?.status, 'PAID');
    const closed = settle(paid, ANSWERED + INTERVAL);
    assert.equal(closed.episodeHistory.at(-1)?.outcome, 'recovered');
    assert.equal(attemptEvents(closed).length, 1);
  });

  void it('tells a definite attempt once, at once; a pending one only when it is settled', () => {
    const { s, charge } = firstAttempt();
    const failed = afterCharge(
      s,
      charge,
      chargeAnswer('failed', ANSWERED, { respcd: '1205' }),
      SENT,
      ANSWERED,
    );
    assert.deepEqual(
      attemptEvents(failed).map((e) => e.id),
      [`evt.${SUB}.dunning.0002.attempt.1`],
    );
    assert.equal(failed.episode?.attempts[0]?.result, 'failed');
    assert.equal(failed.episode?.attempts[0]?.startedAt, SENT);
    assert.equal(failed.episode?.attempts[0]?.finishedAt, ANSWERED);
    const pending = afterCharge(s, charge, chargeAnswer('unknown', ANSWERED), SENT, ANSWERED);
    assert.deepEqual(attemptEvents(pending), []);
  });

  void it("clears the pending charge with its episode when the order is found paid, and only that order's", () => {
    const { s } = unanswered();
    const paidElsewhere = {
      ...s,
      snapshot: {
        ...s.snapshot,
        orders: s.snapshot.orders.map((o) =>
          o.orderId === order(2) ? { ...o, status: 'PAID' as const } : o,
        ),
      },
    };
    const closed = settle(paidElsewhere, ANSWERED + 1_000);
    assert.equal(closed.episode, null);
    assert.equal(closed.pendingCharge, null);
    assert.equal(closed.episodeHistory.at(-1)?.attempts[0]?.result, 'succeeded');
    const other = {
      ...paidElsewhere,
      pendingCharge: { ...s.pendingCharge!, orderId: order(3), sequenceNo: 3 },
    };
    assert.equal(settle(other, ANSWERED + 1_000).pendingCharge?.orderId, order(3));
  });
});
