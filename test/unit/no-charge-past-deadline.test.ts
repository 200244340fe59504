/**
 * The promise "no charge starts past the charge window", guard by guard: the window itself
 * (`chargeWindow`: its deadline, its latest start, an unknown next billing time), the start check
 * (`mayStartCharge`), the loop's own charges (`dueCharge`) and the merchant's charge-now
 * (`chargeNowProblem`, `decideChargeNow`). QFPay cancels the plan for a manual charge that
 * succeeds after the next billing time, so each of these checks stands between a retry and a lost
 * plan. Every test here fails when the guard it names is taken out (see "Mutation testing" in
 * docs/reliability.md).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide, settle } from '../../src/domain/decide';
import { intentProblem } from '../../src/domain/intents/intents';
import type { Action } from '../../src/domain/actions';
import { DEFAULT_DUNNING_POLICY, mergePolicy } from '../../src/domain/episode/dunning';
import { enqueueIntent, type EngineState } from '../../src/domain/engine-state';
import { chargeWindow, mayStartCharge } from '../../src/domain/episode/episode';
import { DAY, HOUR, MINUTE, T, order, pastDue } from '../helpers/engine-states';

const noHint = { continueAsNewSuggested: false };
/** One attempt an hour after the failure; every attempt over 2 h before the next billing time, 5 min each. */
const policy = mergePolicy(DEFAULT_DUNNING_POLICY, {
  attemptOffsets: ['1h'],
  safetyMargin: '2h',
  minAttemptWindow: '5m',
});
const NEXT_BILLING = T + 30 * DAY;
const DEADLINE = NEXT_BILLING - 2 * HOUR;
const LATEST_START = DEADLINE - 5 * MINUTE;

/** The episode's first attempt (at T + 1 h) was made and failed with a retryable code. */
function afterFirstAttempt(s: EngineState): EngineState {
  const failed = {
    attempt: 1,
    scheduledAt: T + HOUR,
    startedAt: T + HOUR,
    finishedAt: T + HOUR,
    result: 'failed' as const,
    respcd: '1205',
  };
  return { ...s, episode: { ...s.episode!, attempts: [failed] } };
}

function chargeAt(s: EngineState, now: number): Action {
  return decide(settle(s, now), now, noHint);
}

void describe('no charge starts past the charge window', () => {
  void it("gives the window the next billing time less the safety margin as deadline, and the deadline less an attempt's window as latest start", () => {
    const snapshot = pastDue(policy).snapshot;
    assert.deepEqual(chargeWindow(snapshot, { sequenceNo: 2, firstAt: T }, policy), {
      open: true,
      nextBillingTime: NEXT_BILLING,
      deadline: DEADLINE,
      latestStart: LATEST_START,
    });
  });

  void it('keeps the window shut while the next billing time is unknown or not after the failure', () => {
    const snapshot = pastDue(policy).snapshot;
    const closed = { open: false, reason: 'unknown_next_billing_time' };
    assert.deepEqual(
      chargeWindow({ ...snapshot, nextBillingTime: null }, { sequenceNo: 2, firstAt: T }, policy),
      closed,
    );
    // A next billing time at (or before) the failure is the failed cycle's own: QFPay has not moved on yet.
    assert.deepEqual(
      chargeWindow({ ...snapshot, nextBillingTime: T }, { sequenceNo: 2, firstAt: T }, policy),
      closed,
    );
    assert.equal(
      chargeWindow({ ...snapshot, nextBillingTime: T + 1 }, { sequenceNo: 2, firstAt: T }, policy).open,
      true,
    );
  });

  void it('lets a charge start at the latest start and not a millisecond after, nor in a shut window', () => {
    const window = chargeWindow(pastDue(policy).snapshot, { sequenceNo: 2, firstAt: T }, policy);
    assert.equal(mayStartCharge(window, LATEST_START), true);
    assert.equal(mayStartCharge(window, LATEST_START + 1), false);
    // Between the latest start and the deadline a charge could not finish in time.
    assert.equal(mayStartCharge(window, DEADLINE), false);
    assert.equal(mayStartCharge({ open: false, reason: 'unknown_next_billing_time' }, T), false);
    assert.equal(mayStartCharge({ open: false, reason: 'earlier_cycle' }, T), false);
  });

  void it("hands the activity the window's deadline and latest start with every planned charge", () => {
    const s = settle(pastDue(policy), T + MINUTE);
    assert.deepEqual(s.episode?.schedule, [T + HOUR]);
    assert.deepEqual(decide(settle(s, T + HOUR), T + HOUR, noHint), {
      kind: 'charge',
      orderId: order(2),
      sequenceNo: 2,
      attempt: 1,
      scheduledAt: T + HOUR,
      deadline: DEADLINE,
      latestStart: LATEST_START,
      trigger: 'scheduled',
    });
  });

  void it('does not start a planned charge the worker wakes up for after the latest start', () => {
    // The attempt was planned in time; the worker was down until after the window's latest start.
    const planned = settle(pastDue(policy), T + MINUTE);
    const late = { ...planned, episode: { ...planned.episode!, schedule: [LATEST_START - HOUR] } };
    assert.equal(decide(late, LATEST_START, noHint).kind, 'charge', 'still in time at the latest start');
    for (const now of [LATEST_START + 1, DEADLINE, NEXT_BILLING - 1]) {
      const action = decide(late, now, noHint);
      assert.notEqual(
        action.kind,
        'charge',
        `no charge at next billing − ${(NEXT_BILLING - now) / MINUTE} min`,
      );
    }
  });

  void it('does not start a new card\'s "try now" charge after the latest start', () => {
    const tried = { ...afterFirstAttempt(settle(pastDue(policy), T + MINUTE)), retryNow: true };
    const inTime = chargeAt(tried, LATEST_START);
    assert.equal(inTime.kind, 'charge');
    assert.equal(inTime.kind === 'charge' && inTime.trigger, 'retry_now');
    assert.equal(inTime.kind === 'charge' && inTime.latestStart, LATEST_START);
    for (const now of [LATEST_START + 1, DEADLINE - 1]) assert.notEqual(chargeAt(tried, now).kind, 'charge');
  });

  void it("refuses a merchant's charge-now after the latest start, and carries the latest start before it", () => {
    const s = settle(pastDue(policy), T + MINUTE);
    assert.equal(intentProblem(s, { kind: 'charge_now' }, LATEST_START, { queued: true }), undefined);
    const late = intentProblem(s, { kind: 'charge_now' }, LATEST_START + 1, { queued: true });
    assert.equal(late, 'the next billing time is too close: a charge landing after it would cancel the plan');

    const queued = enqueueIntent(s, { kind: 'charge_now' });
    assert.deepEqual(decide(queued.state, LATEST_START, noHint), {
      kind: 'charge',
      orderId: order(2),
      sequenceNo: 2,
      attempt: 1,
      scheduledAt: LATEST_START,
      deadline: DEADLINE,
      latestStart: LATEST_START,
      trigger: 'merchant',
      intentId: queued.id,
    });
    const refused = decide(queued.state, LATEST_START + 1, noHint);
    assert.equal(refused.kind, 'refuse');
    assert.equal(refused.kind === 'refuse' && refused.intentId, queued.id);
  });

  void it('asks QFPay for the next billing time before a charge-now against an unknown one, and refuses if it stays unknown', () => {
    const s = settle(pastDue(policy), T + MINUTE);
    const unknown = { ...s, snapshot: { ...s.snapshot, nextBillingTime: null } };
    const queued = enqueueIntent(unknown, { kind: 'charge_now' });
    assert.deepEqual(decide(queued.state, T + HOUR, noHint), {
      kind: 'sync',
      reason: 'charge_now',
      intentId: queued.id,
    });
    const synced = {
      ...queued.state,
      intents: queued.state.intents.map((i) => (i.kind === 'charge_now' ? { ...i, syncedFirst: true } : i)),
    };
    const action = decide(synced, T + HOUR, noHint);
    assert.equal(action.kind, 'refuse');
    assert.match(action.kind === 'refuse' ? action.message : '', /next billing time is unknown/);
  });
});
