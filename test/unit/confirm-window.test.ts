/**
 * A manual charge with no answer is confirmed by looking at the order, never repeated blindly. The
 * looks are bounded: they never spin (a look that fails waits at least the confirm interval, past
 * the confirmation window too), and they never take the time of the next planned attempt (a short
 * plan keeps its attempts: the unanswered charge is judged at the next attempt's time at the latest).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { ChargeOutcome, ConfirmOutcome } from '../../src/activities/contracts';
import { decide, settle } from '../../src/domain/decide';
import { syncBackoff } from '../../src/domain/sync/sync';
import type { Action } from '../../src/domain/actions';
import { DEFAULT_DUNNING_POLICY, mergePolicy } from '../../src/domain/episode/dunning';
import { ENGINE_DEFAULTS, type EngineState } from '../../src/domain/engine-state';
import { afterCharge, afterConfirm } from '../../src/domain/charge/charge';
import type { Outcome } from '../../src/domain/actions';
import { SECOND } from '../../src/domain/duration';
import { DAY, T, order, pastDue } from '../helpers/engine-states';

/** A plan of a few minutes: attempts 10 s and 40 s after the failure, 15 s of margin. */
function shortPlan(attemptOffsets = ['10s', '40s']): EngineState {
  const policy = mergePolicy(DEFAULT_DUNNING_POLICY, {
    attemptOffsets,
    safetyMargin: '15s',
    minAttemptWindow: '3s',
  });
  const s = pastDue(policy);
  // The next billing 75 s after the failure (a minute plan's window).
  return {
    ...s,
    snapshot: { ...s.snapshot, nextBillingTime: T + 75 * SECOND },
  };
}

function firstCharge(s: EngineState, now: number): Extract<Action, { kind: 'charge' }> {
  const action = decide(settle(s, now), now, { continueAsNewSuggested: false });
  assert.equal(action.kind, 'charge', JSON.stringify(action));
  return action as Extract<Action, { kind: 'charge' }>;
}

const noAnswer: Outcome<ChargeOutcome> = {
  ok: true,
  value: {
    orderId: order(2),
    sequenceNo: 2,
    outcome: 'unknown',
    at: T,
    detail: 'no answer from QFPay (server_error)',
  },
};

describe('confirming a charge that got no answer', () => {
  it('never confirms past the next planned attempt: a short plan keeps its second attempt', () => {
    let s = settle(shortPlan(), T + 10 * SECOND);
    const action = firstCharge(s, T + 10 * SECOND);
    s = afterCharge(s, action, noAnswer, T + 10 * SECOND, T + 11 * SECOND);
    const pending = s.pendingCharge!;
    assert.ok(pending, 'the charge is unconfirmed');
    assert.ok(
      pending.confirmUntil <= T + 40 * SECOND,
      `confirms until ${(pending.confirmUntil - T) / 1000} s, past the next attempt at 40 s`,
    );
    // (The query the charge asked for has been made, and found the order still FAILED.)
    s = { ...s, syncWanted: false };
    // At that time a look that still finds nothing counts the charge as not made ...
    const at = pending.confirmUntil;
    const confirm = decide(settle(s, at), at, { continueAsNewSuggested: false });
    assert.equal(confirm.kind, 'confirm');
    s = afterConfirm(
      settle(s, at),
      confirm as Extract<Action, { kind: 'confirm' }>,
      { ok: true, value: { status: 'unknown' } },
      at,
    );
    assert.equal(s.pendingCharge, null);
    // ... QFPay is asked once more (and still shows the order FAILED) ...
    assert.equal(s.syncWanted, true);
    s = { ...s, syncWanted: false };
    // ... and the second attempt starts, inside the window.
    const second = decide(settle(s, at), at, { continueAsNewSuggested: false });
    assert.equal(second.kind, 'charge', JSON.stringify(second));
    assert.equal((second as Extract<Action, { kind: 'charge' }>).attempt, 2);
  });

  it('a long plan keeps the full confirmation window', () => {
    let s = settle(pastDue(), T + 3_600_000);
    const action = firstCharge(s, T + 3_600_000);
    s = afterCharge(s, action, noAnswer, T + 3_600_000, T + 3_600_000 + 1_000);
    assert.equal(
      s.pendingCharge?.confirmUntil,
      T + 3_600_000 + 1_000 + ENGINE_DEFAULTS.chargeConfirmWindowMs,
    );
  });

  it("keeps the whole window for a charge QFPay answered 'processing', and for the plan's last attempt", () => {
    const now = T + 10 * SECOND;
    const answered = now + SECOND;
    const full = answered + ENGINE_DEFAULTS.chargeConfirmWindowMs;
    // Processing (1145): QFPay says not to repeat it, so the next planned attempt does not cut it short.
    let s = settle(shortPlan(), now);
    const processing: Outcome<ChargeOutcome> = {
      ok: true,
      value: { ...noAnswer.value, outcome: 'pending', detail: 'processing (1145)' },
    };
    s = afterCharge(s, firstCharge(s, now), processing, now, answered);
    assert.equal(s.pendingCharge?.confirmUntil, full, 'processing: the whole window');
    // No answer to the last attempt of the plan: no later attempt to leave room for.
    let l = settle(shortPlan(['10s']), now);
    l = afterCharge(l, firstCharge(l, now), noAnswer, now, answered);
    assert.equal(l.pendingCharge?.confirmUntil, full, 'the last attempt: the whole window');
  });

  it('a look that fails never spins: the next one is at least the confirm interval away, past the window too', () => {
    const outcomes: Array<Outcome<ConfirmOutcome>> = [
      { ok: false, failure: { message: 'refused', type: 'QfpayError:forbidden', refused: true } },
      { ok: false, failure: { message: 'timed out', refused: false } },
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...outcomes),
        fc.integer({ min: 0, max: 10 * 60_000 }),
        fc.integer({ min: 0, max: 20 }),
        (outcome, pastWindow, checks) => {
          let s = settle(pastDue(), T + 3_600_000);
          s = afterCharge(s, firstCharge(s, T + 3_600_000), noAnswer, T + 3_600_000, T + 3_600_000);
          s = { ...s, pendingCharge: { ...s.pendingCharge!, checks } };
          const now = s.pendingCharge!.confirmUntil + pastWindow;
          const next = afterConfirm(s, { kind: 'confirm', pending: s.pendingCharge! }, outcome, now);
          const pending = next.pendingCharge;
          if (pending === null) return;
          assert.ok(
            pending.nextCheckAt - now >= ENGINE_DEFAULTS.chargeConfirmIntervalMs,
            `next look ${pending.nextCheckAt - now} ms after a failed one`,
          );
          // Looks that keep failing back off as QFPay queries do: never sooner than that backoff.
          assert.ok(
            pending.nextCheckAt - now >= syncBackoff(pending.checks),
            `next look ${pending.nextCheckAt - now} ms after ${pending.checks} failed looks`,
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('gives up looking once the order’s next billing time has passed (the episode closes)', () => {
    let s = settle(pastDue(), T + 3_600_000);
    s = afterCharge(s, firstCharge(s, T + 3_600_000), noAnswer, T + 3_600_000, T + 3_600_000);
    const closed = settle(s, T + 30 * DAY);
    assert.equal(closed.pendingCharge, null);
    assert.equal(closed.episodeHistory.at(-1)?.attempts.at(-1)?.result, 'error');
  });
});
