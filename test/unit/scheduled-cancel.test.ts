/**
 * Cancel at period end, as pure steps of the loop: the schedule and its refusals, the timer, the
 * cancel and its retry, the take-back, and how it meets a dunning episode and an unconfirmed
 * charge. The promise: no charge starts from the cancel's time on, and the cancel is sent before
 * the period's end by the margins a charge keeps.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decide, settle, wakeTime } from '../../src/domain/decide';
import { afterSync } from '../../src/domain/sync/sync';
import { afterCharge } from '../../src/domain/charge/charge';
import { afterCancel } from '../../src/domain/episode/settle-episode';
import {
  afterScheduledCancel,
  applyScheduleCancel,
  applyUnscheduleCancel,
  cancelTime,
  scheduledCancelDueAt,
} from '../../src/domain/cancel/scheduled-cancel';
import { refuseIntent } from '../../src/domain/intents/intents';
import {
  applyFactToState,
  enqueueIntent,
  takeOutcome,
  type EngineState,
  type IntentRequest,
} from '../../src/domain/engine-state';
import type { Action } from '../../src/domain/actions';
import { describeSubscription } from '../../src/workflows/visibility';
import { QFPAY_CAPABILITIES } from '../../src/domain/gateway-profile';
import { DAY, HOUR, MINUTE, SUB, T, pastDue } from '../helpers/engine-states';
import { active, chargeAnswer, noHint, syncAnswer } from '../helpers/engine-steps';

const PERIOD_END = T + 30 * DAY;
/** The default policy's margins: 2 h safety margin, 5 min minimum attempt window. */
const CANCEL_AT = PERIOD_END - 2 * HOUR - 5 * MINUTE;

/** The default episode for cycle 2 (attempts at T + 1 h, 1 d, 3 d), nothing to tell. */
function retrying(): EngineState {
  return { ...settle(pastDue(), T + MINUTE), outbox: [] };
}

/** Carries out the action an intent of this kind became, as the workflow's performers do. */
function perform(s: EngineState, action: Action, now: number): EngineState {
  switch (action.kind) {
    case 'schedule_cancel':
      return applyScheduleCancel(s, action, now);
    case 'unschedule_cancel':
      return applyUnscheduleCancel(s, action, now);
    case 'refuse':
      return refuseIntent(s, action);
    default:
      throw new Error(`unexpected action ${action.kind}`);
  }
}

/** Queues a merchant's request and lets the loop answer it at `now`, as the workflow does. */
function ask(s: EngineState, request: IntentRequest, now: number) {
  const queued = enqueueIntent(settle(s, now), request).state;
  const action = decide(queued, now, noHint);
  const next = perform(queued, action, now);
  const taken = takeOutcome(next, next.resolved.at(-1)!.id);
  return { s: taken.state, outcome: taken.outcome!, action };
}

function scheduled(at = T + HOUR, base = active()): EngineState {
  const { s, outcome } = ask(base, { kind: 'schedule_cancel' }, at);
  assert.equal(outcome.ok, true, JSON.stringify(outcome));
  return { ...s, outbox: [] };
}

const ok = { ok: true as const, value: { at: CANCEL_AT } };
const down = { ok: false as const, failure: { message: 'HTTP 503', refused: false } };

void describe('cancel at period end: the schedule', () => {
  void it('is for the next billing time, sent at its charge deadline less the minimum attempt window', () => {
    const { s, outcome } = ask(active(), { kind: 'schedule_cancel' }, T + HOUR);
    assert.deepEqual(outcome, {
      id: outcome.id,
      ok: true,
      value: { periodEnd: PERIOD_END, cancelAt: CANCEL_AT, scheduledAt: T + HOUR },
    });
    assert.equal(cancelTime(s, PERIOD_END), CANCEL_AT);
    assert.deepEqual(
      s.outbox.map((e) => [e.type, e.data]),
      [
        [
          'subscription.cancel_scheduled',
          { period_end: new Date(PERIOD_END).toISOString(), cancel_at: new Date(CANCEL_AT).toISOString() },
        ],
      ],
    );
    assert.deepEqual(describeSubscription(s, 'wf').scheduledCancel, {
      periodEnd: PERIOD_END,
      cancelAt: CANCEL_AT,
      scheduledAt: T + HOUR,
    });
  });

  void it('asked twice keeps the first schedule and tells the merchant once', () => {
    const first = ask(active(), { kind: 'schedule_cancel' }, T + HOUR).s;
    const again = ask(first, { kind: 'schedule_cancel' }, T + 2 * HOUR);
    assert.equal(again.outcome.ok, true);
    assert.deepEqual(again.s.scheduledCancel, first.scheduledCancel);
    assert.equal(again.s.outbox.filter((e) => e.type === 'subscription.cancel_scheduled').length, 1);
    // Even once its time is too close to schedule anew: the schedule stands, and is answered.
    const late = ask(first, { kind: 'schedule_cancel' }, CANCEL_AT + 1);
    assert.deepEqual(late.outcome, {
      id: late.outcome.id,
      ok: true,
      value: { periodEnd: PERIOD_END, cancelAt: CANCEL_AT, scheduledAt: T + HOUR },
    });
  });

  void it('keeps its time when the next billing time becomes unknown', () => {
    const s = scheduled();
    const unknown = { ...s, snapshot: { ...s.snapshot, nextBillingTime: null } };
    assert.equal(scheduledCancelDueAt(unknown), CANCEL_AT);
  });

  void it('is refused with nothing to cancel, no billing time to end at, or too close a billing time', () => {
    const cancelled = applyFactToState(
      active(),
      { kind: 'state', subscriptionId: SUB, state: 'CANCELLED', at: T + HOUR, source: 'notification' },
      T + HOUR,
    );
    const refusal = (s: EngineState, now: number) => {
      const { outcome, action } = ask(s, { kind: 'schedule_cancel' }, now);
      assert.equal(action.kind, 'refuse');
      return outcome.ok ? '' : outcome.message;
    };
    assert.match(refusal(cancelled, T + 2 * HOUR), /already CANCELLED/);
    const unknown = { ...active(), snapshot: { ...active().snapshot, nextBillingTime: null } };
    assert.match(refusal(unknown, T + HOUR), /next billing time is not known/);
    assert.match(refusal(active(), CANCEL_AT + 1), /too close/);
    // A next billing time already passed is not known any more (a query will tell the new one).
    assert.match(refusal(active(), PERIOD_END + 1), /next billing time is not known/);
    const noCancel = {
      ...active(),
      gateway: { name: 'nocancel', capabilities: { ...QFPAY_CAPABILITIES, cancel: false } },
    };
    assert.equal(refusal(noCancel, T + HOUR), 'nocancel cannot cancel a subscription');
    // The last moment it is still accepted: its cancel is due at once.
    const last = ask(active(), { kind: 'schedule_cancel' }, CANCEL_AT);
    assert.equal(last.outcome.ok, true);
    assert.deepEqual(decide(settle(last.s, CANCEL_AT), CANCEL_AT, noHint), {
      kind: 'cancel',
      cause: 'scheduled',
    });
  });

  void it('keeps its period end when a later query moves the next billing time', () => {
    const s = scheduled();
    const moved = afterSync(
      s,
      { kind: 'sync', reason: 'wanted' },
      syncAnswer(T + DAY, { state: 'ACTIVE', order2: 'PAID', nextBillingTime: PERIOD_END + 10 * DAY }),
      T + DAY,
      T + DAY,
    );
    assert.equal(moved.snapshot.nextBillingTime, PERIOD_END + 10 * DAY);
    assert.equal(scheduledCancelDueAt(moved), CANCEL_AT);
  });
});

void describe('cancel at period end: a billing time learned earlier', () => {
  void it('is the period end when the gateway would bill before the one asked for', () => {
    const s = scheduled();
    const earlier = PERIOD_END - 5 * DAY;
    const moved = afterSync(
      s,
      { kind: 'sync', reason: 'wanted' },
      syncAnswer(T + DAY, { state: 'ACTIVE', order2: 'PAID', nextBillingTime: earlier }),
      T + DAY,
      T + DAY,
    );
    const at = earlier - 2 * HOUR - 5 * MINUTE;
    assert.equal(scheduledCancelDueAt(moved), at);
    assert.deepEqual(describeSubscription(moved, 'wf').scheduledCancel, {
      periodEnd: earlier,
      cancelAt: at,
      scheduledAt: T + HOUR,
    });
    assert.deepEqual(decide(settle(moved, at), at, noHint), { kind: 'cancel', cause: 'scheduled' });
  });
});

void describe('cancel at period end: the timer and the cancel', () => {
  void it('waits for its time, then cancels, and the subscription ends with its events', () => {
    const s = scheduled();
    assert.deepEqual(decide(settle(s, T + 2 * HOUR), T + 2 * HOUR, noHint), {
      kind: 'wait',
      until: CANCEL_AT,
    });
    assert.equal(wakeTime(s, CANCEL_AT - 1), CANCEL_AT);
    const action = decide(settle(s, CANCEL_AT), CANCEL_AT, noHint);
    assert.deepEqual(action, { kind: 'cancel', cause: 'scheduled' });
    const done = settle(
      afterCancel(s, action as Extract<Action, { kind: 'cancel' }>, ok, CANCEL_AT),
      CANCEL_AT,
    );
    assert.equal(done.snapshot.state, 'CANCELLED');
    assert.deepEqual(
      done.outbox.map((e) => e.type),
      ['subscription.state_changed', 'subscription.ended'],
    );
    assert.equal(describeSubscription(done, 'wf').scheduledCancel, null, 'an ended subscription shows none');
    assert.equal(scheduledCancelDueAt(done), null);
    assert.equal(decide(done, CANCEL_AT + 1, noHint).kind, 'sync', 'the end is confirmed with the gateway');
  });

  void it('a cancel the gateway did not answer is tried again after a query, with backoff', () => {
    const s = scheduled();
    const action = { kind: 'cancel', cause: 'scheduled' } as const;
    const failed = afterCancel(s, action, down, CANCEL_AT);
    assert.equal(failed.snapshot.state, 'ACTIVE');
    assert.equal(failed.syncWanted, true);
    const retryAt = failed.scheduledCancel!.retryAt!;
    assert.ok(retryAt > CANCEL_AT);
    assert.equal(scheduledCancelDueAt(failed), retryAt);
    assert.equal(decide(settle(failed, CANCEL_AT), CANCEL_AT, noHint).kind, 'sync');
    const asked = { ...failed, syncWanted: false, lastSyncAt: CANCEL_AT };
    assert.deepEqual(decide(settle(asked, CANCEL_AT + 1), CANCEL_AT + 1, noHint), {
      kind: 'wait',
      until: retryAt,
    });
    assert.deepEqual(decide(settle(asked, retryAt), retryAt, noHint), action);
    const again = afterCancel(asked, action, down, retryAt);
    assert.ok(again.scheduledCancel!.retryAt! - retryAt > retryAt - CANCEL_AT, 'the backoff grows');
  });

  void it('taken back, it is gone with its event, and nothing is cancelled at its time', () => {
    const s = scheduled();
    const { s: undone, outcome } = ask(s, { kind: 'unschedule_cancel' }, T + DAY);
    assert.deepEqual(outcome, {
      id: outcome.id,
      ok: true,
      value: { unscheduled: true, periodEnd: PERIOD_END, cancelAt: CANCEL_AT, scheduledAt: T + HOUR },
    });
    assert.equal(undone.scheduledCancel, undefined);
    assert.deepEqual(
      undone.outbox.map((e) => [e.type, e.data]),
      [
        [
          'subscription.cancel_unscheduled',
          { period_end: new Date(PERIOD_END).toISOString(), scheduled_at: new Date(T + HOUR).toISOString() },
        ],
      ],
    );
    assert.equal(decide(settle({ ...undone, outbox: [] }, CANCEL_AT), CANCEL_AT, noHint).kind, 'wait');
    assert.notEqual(wakeTime(undone, T + DAY), CANCEL_AT);
    const twice = ask(undone, { kind: 'unschedule_cancel' }, T + DAY);
    assert.equal(twice.outcome.ok ? '' : twice.outcome.message, 'no cancel is scheduled');
    // A take-back decided while another ran first (the loop answers each in turn) finds none.
    const raced = enqueueIntent(undone, { kind: 'unschedule_cancel' });
    const late = takeOutcome(
      applyUnscheduleCancel(raced.state, { kind: 'unschedule_cancel', intentId: raced.id }, T + DAY),
      raced.id,
    );
    assert.deepEqual(late.outcome, { id: raced.id, ok: true, value: { unscheduled: false } });
    // A failed cancel with no schedule left (taken back meanwhile) changes nothing.
    assert.equal(afterScheduledCancel(undone, down, T + DAY), undone);
  });

  void it('scheduled again after a take-back, it is a new schedule with new events', () => {
    const undone = ask(scheduled(), { kind: 'unschedule_cancel' }, T + DAY).s;
    const again = ask({ ...undone, outbox: [] }, { kind: 'schedule_cancel' }, T + 2 * DAY).s;
    assert.equal(again.scheduledCancel?.since, T + 2 * DAY);
    const [event] = again.outbox;
    assert.equal(event?.type, 'subscription.cancel_scheduled');
    assert.notEqual(event?.id, scheduled().outbox[0]?.id);
  });

  void it('cannot be taken back once the subscription has ended', () => {
    const s = scheduled();
    const done = afterCancel(s, { kind: 'cancel', cause: 'scheduled' }, ok, CANCEL_AT);
    const { outcome } = ask(done, { kind: 'unschedule_cancel' }, CANCEL_AT + 1);
    assert.equal(
      outcome.ok ? '' : outcome.message,
      'subscription is already CANCELLED; its cancel cannot be taken back',
    );
  });
});

void describe('cancel at period end, with a dunning episode or a charge', () => {
  void it('the episode charges as planned before the cancel; none starts from its time on', () => {
    const s = scheduled(T + 2 * MINUTE, retrying());
    assert.equal(
      decide(settle(s, T + HOUR), T + HOUR, noHint).kind,
      'charge',
      'the owed period is still charged',
    );
    // Every later planned attempt falls before the cancel time in this policy; a charge-now at
    // the cancel's time is the cancel instead.
    assert.deepEqual(decide(settle(s, CANCEL_AT), CANCEL_AT, noHint), { kind: 'cancel', cause: 'scheduled' });
  });

  void it('an unconfirmed charge is looked at first, then the cancel is sent', () => {
    const s = scheduled(T + 2 * MINUTE, retrying());
    const charge = decide(settle(s, CANCEL_AT - MINUTE), CANCEL_AT - MINUTE, noHint);
    assert.equal(charge.kind, 'charge');
    const pending = afterCharge(
      s,
      charge as Extract<Action, { kind: 'charge' }>,
      chargeAnswer('pending', CANCEL_AT - MINUTE),
      CANCEL_AT - MINUTE,
      CANCEL_AT - MINUTE,
      { bounded: true },
    );
    assert.ok(pending.pendingCharge);
    // (The query the unknown answer asked for has been made.) Its next look falls due at the
    // cancel's time: the look first, the cancel right after.
    const looking = {
      ...pending,
      syncWanted: false,
      pendingCharge: { ...pending.pendingCharge, nextCheckAt: CANCEL_AT },
    };
    assert.equal(decide(settle(looking, CANCEL_AT), CANCEL_AT, noHint).kind, 'confirm');
    const looked = {
      ...pending,
      syncWanted: false,
      pendingCharge: { ...pending.pendingCharge, nextCheckAt: CANCEL_AT + MINUTE },
    };
    assert.deepEqual(decide(settle(looked, CANCEL_AT), CANCEL_AT, noHint), {
      kind: 'cancel',
      cause: 'scheduled',
    });
  });

  void it('property: from the cancel time on, no charge starts and the cancel is next, whatever the time', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 29 * DAY }),
        fc.integer({ min: 0, max: 3 * DAY }),
        fc.boolean(),
        (scheduleAfter, after, retryNow) => {
          const at = T + 2 * MINUTE + scheduleAfter;
          if (at > CANCEL_AT) return;
          const s = { ...scheduled(at, retrying()), retryNow };
          const now = CANCEL_AT + after;
          const action = decide(settle(s, now), now, noHint);
          assert.notEqual(action.kind, 'charge');
          // Before the period's end the cancel itself is due; after it, a query of the billing
          // time that passed comes first.
          if (now < PERIOD_END) assert.deepEqual(action, { kind: 'cancel', cause: 'scheduled' });
        },
      ),
      { numRuns: 200 },
    );
  });
});
