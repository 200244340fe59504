/**
 * Charges: when a manual charge falls due (never outside the order's charge window, never while
 * another is unconfirmed), the merchant's charge-now, and how a charge's answer, or the confirmation
 * of one whose answer never came, changes the state.
 */
import { type Action, answerFailure, maybeResolve, type Outcome, refuse } from '../actions';
import type { DunningAttemptRecord } from '../episode/dunning-episode';
import {
  applyFactToState,
  causalAt,
  ENGINE_DEFAULTS,
  type EngineState,
  gatewayOf,
  type Intent,
  type IntentAnswer,
  type PendingCharge,
  recordEvents,
  withAttempt,
} from '../engine-state';
import { chargeWindow, isChargeableState, mayStartCharge, planAttempts } from '../episode/episode';
import { orderWindow } from '../episode/settle-episode';
import type { FailureType } from '../failure-types';
import type { ChargeOutcome, ConfirmOutcome } from '../gateway-answers';
import type { Fact, OrderRecord, SubscriptionSnapshot } from '../lifecycle/lifecycle';
import { attemptEvent } from '../events/outbox';
import { syncBackoff } from '../sync/sync';

export function dueCharge(s: EngineState, now: number): Action | undefined {
  const episode = s.episode;
  if (!episode || episode.stage !== 'retrying' || s.pendingCharge || s.billingPause) return undefined;
  if (!isChargeableState(s.snapshot.state) || !gatewayOf(s).capabilities.manualCharge) return undefined;
  const window = orderWindow(s, episode);
  if (!window.open || !mayStartCharge(window, now)) return undefined;
  const planned = episode.schedule[0];
  const plannedNow = planned !== undefined && planned <= now;
  if (!plannedNow && !s.retryNow) return undefined;
  return {
    kind: 'charge',
    orderId: episode.orderId,
    sequenceNo: episode.sequenceNo,
    attempt: episode.attempts.length + 1,
    scheduledAt: plannedNow ? planned : now,
    deadline: window.deadline,
    latestStart: window.latestStart,
    trigger: plannedNow ? 'scheduled' : 'retry_now',
  };
}

export function decideChargeNow(
  s: EngineState,
  intent: Extract<Intent, { kind: 'charge_now' }>,
  now: number,
): Action {
  const order = chargeTarget(s.snapshot, intent.orderId)!;
  const window = chargeWindow(s.snapshot, order, s.policy);
  if (!window.open) {
    // Learn the next billing time before charging against it.
    if (!intent.syncedFirst) return { kind: 'sync', reason: 'charge_now', intentId: intent.id };
    return refuse(intent, 'the next billing time is unknown; try again after a sync');
  }
  const episode =
    s.episode?.orderId === order.orderId && s.episode.stage === 'retrying' ? s.episode : undefined;
  return {
    kind: 'charge',
    orderId: order.orderId,
    sequenceNo: order.sequenceNo,
    attempt: episode ? episode.attempts.length + 1 : 0,
    scheduledAt: now,
    deadline: window.deadline,
    latestStart: window.latestStart,
    trigger: 'merchant',
    intentId: intent.id,
  };
}

/** The failed order a charge-now is for: the one named, or the latest failed one. */
export function chargeTarget(
  snapshot: SubscriptionSnapshot,
  orderId: string | undefined,
): OrderRecord | undefined {
  const failed = snapshot.orders.filter((o) => o.status === 'FAILED');
  return orderId === undefined ? failed.at(-1) : failed.find((o) => o.orderId === orderId);
}

export function chargeNowProblem(
  s: EngineState,
  orderId: string | undefined,
  now: number,
  queued: boolean,
): string | undefined {
  const snapshot = s.snapshot;
  if (s.billingPause) return 'billing is paused; resume it before charging';
  if (!isChargeableState(snapshot.state)) {
    return `a manual charge needs state PAST_DUE, UNPAID or INCOMPLETE; the subscription is ${snapshot.state}`;
  }
  if (!snapshot.orders.some((o) => o.status === 'FAILED'))
    return 'the subscription has no failed order to charge';
  const order = chargeTarget(snapshot, orderId);
  if (!order) return `order ${orderId ?? ''} is not a failed order of this subscription`;
  const otherCharge = queued && s.intents.some((i) => i.kind === 'charge_now');
  if (s.pendingCharge || otherCharge) return 'a charge for this subscription is already in progress';
  const window = chargeWindow(snapshot, order, s.policy);
  if (!window.open && window.reason === 'earlier_cycle') {
    return `order ${order.orderId} belongs to an earlier cycle: charging it now would cancel the plan`;
  }
  if (window.open && !mayStartCharge(window, now)) {
    return 'the next billing time is too close: a charge landing after it would cancel the plan';
  }
  return undefined;
}

/** The payment fact a definite charge answer is. */
export function chargeFact(state: EngineState, outcome: ChargeOutcome): Fact | undefined {
  if (outcome.outcome !== 'succeeded' && outcome.outcome !== 'failed') return undefined;
  return {
    kind: 'payment',
    subscriptionId: state.subscriptionId,
    orderId: outcome.orderId,
    sequenceNo: outcome.sequenceNo,
    succeeded: outcome.outcome === 'succeeded',
    respcd: outcome.respcd ?? (outcome.outcome === 'succeeded' ? '0000' : ''),
    ...(outcome.respmsg === undefined ? {} : { respmsg: outcome.respmsg }),
    ...(outcome.amount === undefined ? {} : { amount: outcome.amount }),
    ...(outcome.currency === undefined ? {} : { currency: outcome.currency }),
    ...(outcome.syssn === undefined ? {} : { syssn: outcome.syssn }),
    // QFPay's own time when it gave one: the fact is then the same as its notification, and sorts
    // among QFPay's facts by what it is. Only the engine's own time is placed after what it knew.
    at: outcome.atFromQfpay ? outcome.at : causalAt(state, outcome.at),
    triggerBy: 'manual',
    source: 'engine',
  };
}

function attemptResult(outcome: Outcome<ChargeOutcome>): DunningAttemptRecord['result'] {
  if (!outcome.ok) return outcome.failure.refused ? 'error' : 'pending';
  switch (outcome.value.outcome) {
    case 'succeeded':
    case 'failed':
      return outcome.value.outcome;
    case 'pending':
    case 'unknown':
      return 'pending';
    case 'not_sent':
      return 'skipped';
  }
}

/** Whether the charge may have reached QFPay without an answer: then it is confirmed, never repeated. */
export function unconfirmed(outcome: Outcome<ChargeOutcome>): boolean {
  return attemptResult(outcome) === 'pending';
}

function recordAttempt(
  state: EngineState,
  action: Extract<Action, { kind: 'charge' }>,
  outcome: Outcome<ChargeOutcome>,
  startedAt: number,
  now: number,
): EngineState {
  const episode = state.episode;
  if (action.attempt === 0 || episode?.orderId !== action.orderId || episode.stage !== 'retrying')
    return state;
  const record: DunningAttemptRecord = {
    attempt: action.attempt,
    scheduledAt: action.scheduledAt,
    startedAt,
    finishedAt: now,
    result: attemptResult(outcome),
    trigger: action.trigger,
    ...(outcome.ok && outcome.value.respcd ? { respcd: outcome.value.respcd } : {}),
    ...(outcome.ok
      ? outcome.value.detail
        ? { detail: outcome.value.detail }
        : {}
      : { detail: outcome.failure.message }),
  };
  const next = { ...episode, attempts: [...episode.attempts, record] };
  const withEpisode = { ...state, episode: next };
  return record.result === 'pending'
    ? withEpisode
    : recordEvents(withEpisode, attemptEvent(state.subscriptionId, next, action.attempt), now);
}

/** A manual charge's answer: the payment it reports, the attempt's record, and a confirmation if unknown. */
export function afterCharge(
  state: EngineState,
  action: Extract<Action, { kind: 'charge' }>,
  outcome: Outcome<ChargeOutcome>,
  startedAt: number,
  now: number,
  { bounded = true }: ConfirmRules = {},
): EngineState {
  let next = recordAttempt({ ...state, retryNow: false }, action, outcome, startedAt, now);
  const fact = outcome.ok ? chargeFact(next, outcome.value) : undefined;
  if (fact) next = applyFactToState(next, fact, now);
  else next = { ...next, syncWanted: true }; // whatever happened, ask QFPay what is true now
  if (unconfirmed(outcome)) {
    const window = next.options.chargeConfirmWindowMs ?? ENGINE_DEFAULTS.chargeConfirmWindowMs;
    next = {
      ...next,
      pendingCharge: {
        orderId: action.orderId,
        sequenceNo: action.sequenceNo,
        attempt: action.attempt,
        sentAt: startedAt,
        confirmUntil: bounded ? confirmUntil(next, outcome, now + window, now) : now + window,
        nextCheckAt: now + confirmInterval(next),
        checks: 0,
        ...(outcome.ok && outcome.value.respcd ? { respcd: outcome.value.respcd } : {}),
        ...(outcome.ok && outcome.value.orderBefore ? { orderBefore: outcome.value.orderBefore } : {}),
      },
    };
  }
  return maybeResolve(next, action.intentId, chargeAnswer(action, outcome));
}

function confirmInterval(state: EngineState): number {
  return state.options.chargeConfirmIntervalMs ?? ENGINE_DEFAULTS.chargeConfirmIntervalMs;
}

/**
 * Until when an unconfirmed charge is looked for. A charge that got no answer (a timeout, a 5xx)
 * is judged no later than the episode's next planned attempt: a short plan would otherwise spend
 * its attempts confirming one. That attempt is safe: it looks at the order first and sends nothing
 * if the earlier charge paid it, and QFPay takes a manual charge only for a failed order. A charge
 * QFPay answered "processing" keeps the whole window: QFPay says not to repeat it (`1298`).
 */
function confirmUntil(
  state: EngineState,
  outcome: Outcome<ChargeOutcome>,
  full: number,
  now: number,
): number {
  const processing = outcome.ok && outcome.value.outcome === 'pending';
  const episode = state.episode;
  if (processing || !episode || episode.stage !== 'retrying') return full;
  const nextAttempt = planAttempts(state.snapshot, episode, state.policy, now)[0];
  return nextAttempt === undefined ? full : Math.max(now, Math.min(full, nextAttempt));
}

function chargeAnswer(
  action: Extract<Action, { kind: 'charge' }>,
  outcome: Outcome<ChargeOutcome>,
): IntentAnswer {
  if (!outcome.ok && outcome.failure.refused) return answerFailure(outcome.failure, 'ChargeFailed');
  const value = outcome.ok ? outcome.value : undefined;
  const result = attemptResult(outcome);
  if (result === 'skipped') {
    return {
      ok: false,
      message: value?.detail ?? 'the charge was not sent',
      type: 'ChargeNotAllowed' satisfies FailureType,
    };
  }
  return {
    ok: true,
    value: {
      orderId: action.orderId,
      outcome: result === 'succeeded' || result === 'failed' ? result : 'pending',
      respcd: value?.respcd ?? '',
      ...(value?.respmsg === undefined ? {} : { respmsg: value.respmsg }),
    },
  };
}

/**
 * How confirmations are bounded: `bounded` (the default) judges a charge with no answer by the
 * next planned attempt at the latest, and backs a failed look off; false is the rule of runs
 * recorded before, which replay as they ran.
 */
export interface ConfirmRules {
  bounded?: boolean;
}

/** A look at an unconfirmed charge: settled either way, or look again a little later. */
export function afterConfirm(
  state: EngineState,
  action: Extract<Action, { kind: 'confirm' }>,
  outcome: Outcome<ConfirmOutcome>,
  now: number,
  { bounded = true }: ConfirmRules = {},
): EngineState {
  const pending = state.pendingCharge;
  if (!pending || pending.sentAt !== action.pending.sentAt) return state; // settled meanwhile
  if (!outcome.ok || outcome.value.status === 'unknown') {
    const checks = pending.checks + 1;
    if (outcome.ok && now >= pending.confirmUntil) return notMade(state, pending, checks, now);
    // A look that found nothing comes again at the interval, the last one at the window's end. A
    // look that failed waits the interval at least, longer after each failure: it never spins.
    const nextCheckAt =
      outcome.ok || !bounded
        ? Math.min(now + confirmInterval(state), Math.max(pending.confirmUntil, now + 1))
        : now + Math.max(confirmInterval(state), syncBackoff(checks));
    return { ...state, pendingCharge: { ...pending, checks, nextCheckAt } };
  }
  const charge = outcome.value.charge;
  const result = outcome.value.status === 'paid' ? 'succeeded' : 'failed';
  let next: EngineState = { ...state, pendingCharge: null };
  if (next.episode?.orderId === pending.orderId) {
    next = {
      ...next,
      episode: withAttempt(next.episode, pending.attempt, (a) => ({
        ...a,
        result,
        finishedAt: now,
        ...(charge.respcd ? { respcd: charge.respcd } : {}),
      })),
    };
    next = recordEvents(next, attemptEvent(state.subscriptionId, next.episode!, pending.attempt), now);
  }
  const fact = chargeFact(next, { ...charge, outcome: result });
  return fact ? applyFactToState(next, fact, now) : next;
}

/** A charge QFPay still shows no trace of after its confirmation window counts as not made. */
function notMade(state: EngineState, pending: PendingCharge, checks: number, now: number): EngineState {
  const detail = `no outcome at QFPay after ${checks} looks: counted as not made`;
  const episode =
    state.episode?.orderId === pending.orderId
      ? withAttempt(state.episode, pending.attempt, (a) => ({
          ...a,
          result: 'error',
          finishedAt: now,
          detail,
        }))
      : state.episode;
  const next = { ...state, episode, pendingCharge: null, syncWanted: true };
  return episode
    ? recordEvents(next, attemptEvent(state.subscriptionId, episode, pending.attempt), now)
    : next;
}
