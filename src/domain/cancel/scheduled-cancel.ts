/**
 * Cancel at period end: the merchant asks that the subscription end before its next billing time,
 * and the engine cancels it at the gateway then, on a durable timer.
 *
 * - The period's end is the next billing time when the merchant asks. A billing time learned later
 *   never moves it out; one the gateway states earlier than it (a plan change) moves it in, as the
 *   gateway would bill then.
 * - The cancel is sent at the latest moment a manual charge could still start
 *   (`periodEnd − safetyMargin − minAttemptWindow`), so it is over, retries included, by the same
 *   deadline a charge must meet: the customer is never billed for the next cycle.
 * - Until then the merchant can take it back. A payment or a dunning episode in between goes on as
 *   usual: the current period is owed.
 * - A cancel the gateway does not answer is tried again with the query's backoff, until it is done
 *   or the subscription has ended some other way.
 *
 * Pure: the intents' checks, the actions, and the reducers that apply their answers.
 */
import { type Action, cannot, type Outcome } from '../actions';
import {
  causalAt,
  type EngineState,
  gatewayOf,
  recordEvents,
  resolveIntent,
  type ScheduledCancel,
  applyFactToState,
} from '../engine-state';
import { attemptDeadline } from '../episode/dunning';
import type { Fact } from '../lifecycle/lifecycle';
import { isTerminal } from '../lifecycle/lifecycle-table';
import { cancelScheduledEvent, cancelUnscheduledEvent } from '../events/outbox';
import { syncBackoff } from '../sync/sync';

/** When the cancel of `scheduled` is sent: the latest start of a charge before the period's end. */
export function cancelTime(s: Pick<EngineState, 'policy'>, periodEnd: number): number {
  return attemptDeadline(periodEnd, s.policy) - s.policy.minAttemptWindow;
}

/**
 * The billing time the customer must not be billed at: the one asked for, or the gateway's next
 * billing time when it states one before it.
 */
export function periodEnd(s: Pick<EngineState, 'snapshot'>, scheduled: ScheduledCancel): number {
  const next = s.snapshot.nextBillingTime;
  return next !== null && next < scheduled.periodEnd ? next : scheduled.periodEnd;
}

/** When the scheduled cancel is due next (its time, or its retry), or null with none. */
export function scheduledCancelDueAt(s: EngineState): number | null {
  const scheduled = s.scheduledCancel;
  if (!scheduled || isTerminal(s.snapshot.state)) return null;
  return scheduled.retryAt ?? cancelTime(s, periodEnd(s, scheduled));
}

/** Why the subscription's cancel cannot be scheduled now, or undefined. */
export function scheduleCancelProblem(s: EngineState, now: number): string | undefined {
  const { state, nextBillingTime } = s.snapshot;
  if (isTerminal(state)) return `subscription is already ${state}; there is nothing to cancel`;
  if (!gatewayOf(s).capabilities.cancel) return cannot(s, 'cancel a subscription');
  if (s.scheduledCancel) return undefined;
  if (nextBillingTime === null || nextBillingTime <= now)
    return 'the next billing time is not known, so the period has no end to cancel at; cancel now instead';
  if (cancelTime(s, nextBillingTime) < now)
    return 'the next billing time is too close to cancel before it safely; cancel now instead';
  return undefined;
}

/** Why there is no scheduled cancel to take back, or undefined. */
export function unscheduleCancelProblem(s: EngineState): string | undefined {
  const state = s.snapshot.state;
  if (isTerminal(state)) return `subscription is already ${state}; its cancel cannot be taken back`;
  return s.scheduledCancel ? undefined : 'no cancel is scheduled';
}

/** What the merchant is told about a scheduled cancel (the update's answer, the view). */
export function scheduledCancelView(s: Pick<EngineState, 'policy' | 'snapshot'>, scheduled: ScheduledCancel) {
  const end = periodEnd(s, scheduled);
  return {
    periodEnd: end,
    cancelAt: cancelTime(s, end),
    scheduledAt: scheduled.since,
  };
}

/** The schedule: recorded with its event, or, when one is already scheduled, answered as it is. */
export function applyScheduleCancel(
  s: EngineState,
  action: Extract<Action, { kind: 'schedule_cancel' }>,
  now: number,
): EngineState {
  if (s.scheduledCancel) {
    return resolveIntent(s, action.intentId, { ok: true, value: scheduledCancelView(s, s.scheduledCancel) });
  }
  const scheduled: ScheduledCancel = { periodEnd: action.periodEnd, since: now, attempts: 0 };
  const next = recordEvents(
    { ...s, scheduledCancel: scheduled },
    [cancelScheduledEvent(s.subscriptionId, scheduled, cancelTime(s, scheduled.periodEnd))],
    now,
  );
  return resolveIntent(next, action.intentId, { ok: true, value: scheduledCancelView(s, scheduled) });
}

/** The take-back: the schedule goes, with its event. */
export function applyUnscheduleCancel(
  s: EngineState,
  action: Extract<Action, { kind: 'unschedule_cancel' }>,
  now: number,
): EngineState {
  const scheduled = s.scheduledCancel;
  if (!scheduled) return resolveIntent(s, action.intentId, { ok: true, value: { unscheduled: false } });
  const { scheduledCancel: _gone, ...rest } = s;
  const next = recordEvents(rest, [cancelUnscheduledEvent(s.subscriptionId, scheduled)], now);
  return resolveIntent(next, action.intentId, {
    ok: true,
    value: { unscheduled: true, ...scheduledCancelView(s, scheduled) },
  });
}

/** The scheduled cancel, when its time (or its retry's) has come. */
export function dueScheduledCancel(s: EngineState, now: number): Action | undefined {
  const at = scheduledCancelDueAt(s);
  return at !== null && now >= at ? { kind: 'cancel', cause: 'scheduled' } : undefined;
}

/** The scheduled cancel's answer: the subscription is cancelled, or the cancel is tried again. */
export function afterScheduledCancel(
  s: EngineState,
  outcome: Outcome<{ at: number }>,
  now: number,
): EngineState {
  const scheduled = s.scheduledCancel;
  if (outcome.ok) {
    const fact: Fact = {
      kind: 'state',
      subscriptionId: s.subscriptionId,
      state: 'CANCELLED',
      at: causalAt(s, outcome.value.at),
      source: 'api',
    };
    return applyFactToState(s, fact, now);
  }
  if (!scheduled) return s;
  const attempts = scheduled.attempts + 1;
  // The gateway may have cancelled it after all: its word comes with the query.
  return {
    ...s,
    syncWanted: true,
    scheduledCancel: { ...scheduled, attempts, retryAt: now + syncBackoff(attempts) },
  };
}
