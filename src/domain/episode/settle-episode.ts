/**
 * Dunning episodes as time passes: one opens for a failed order, is re-planned, escalates, waits
 * for a gateway's own recovery, closes (recovered, lost, exhausted); its final action falls due and
 * its result (a cancel) is applied.
 */
import { afterScheduledCancel } from '../cancel/scheduled-cancel';
import { type Action, answerFailure, type Outcome } from '../actions';
import { type DunningFinalAction } from './dunning';
import type { DunningEpisode } from './dunning-episode';
import { DAY } from '../duration';
import {
  applyFactToState,
  causalAt,
  ENGINE_DEFAULTS,
  type EngineState,
  gatewayOf,
  hasEnded,
  MAX_EPISODE_HISTORY,
  recordEvents,
  resolveIntent,
} from '../engine-state';
import {
  type ChargeWindow,
  chargeWindow,
  decideOpen,
  episodeEndedBy,
  openEpisode,
  planAttempts,
} from './episode';
import type { Fact } from '../lifecycle/lifecycle';
import { exhaustedEvents, recoveredEvent } from '../events/outbox';
import { handoverWaitUntil, syncBackoff } from '../sync/sync';

/** Whether (and for which order) an episode would open now, from what the engine knows. */
function openDecision(s: EngineState): ReturnType<typeof decideOpen> {
  return decideOpen(
    s.snapshot,
    s.episodeHistory.map((e) => e.orderId),
    s.billingPause !== null,
  );
}

/** Whether an episode would open now for the subscription's first order. */
export function firstOrderWaits(s: EngineState): boolean {
  const decision = openDecision(s);
  return decision.open && decision.order.sequenceNo === 1;
}

export function openEpisodeIfDue(s: EngineState, now: number): EngineState {
  const decision = openDecision(s);
  if (decision.open) {
    // The first order of a subscription the engine may be creating waits for the merchant's policy.
    const waitUntil = handoverWaitUntil(s);
    if (decision.order.sequenceNo === 1 && waitUntil !== null && now < waitUntil) return s;
    return { ...s, episode: openEpisode(decision.order, decision.nextBillingTime, now, s.policy) };
  }
  if (decision.reason === 'needs_next_billing_time' && s.lastSyncAt === null)
    return { ...s, syncWanted: true };
  return s;
}

export function orderWindow(s: EngineState, episode: DunningEpisode): ChargeWindow {
  return chargeWindow(s.snapshot, { sequenceNo: episode.sequenceNo, firstAt: episode.failureAt }, s.policy);
}

export function settleEpisode(s: EngineState, now: number): EngineState {
  const current = s.episode;
  if (!current) return s;
  const ended = episodeEndedBy(s.snapshot, current, now, !awaitsGatewayRecovery(s));
  if (ended.ended && ended.outcome === 'recovered') return closeEpisode(s, 'recovered', ended.detail, now);
  // An exhausted episode whose final action has run is closed as exhausted (even by its own cancel).
  if (current.stage === 'escalating' && current.finalAction?.status !== 'pending') {
    return closeEpisode(s, 'exhausted', current.outcomeDetail ?? 'attempts exhausted', now);
  }
  if (ended.ended) return closeEpisode(s, ended.outcome, ended.detail, now);
  const window = orderWindow(s, current);
  // While billing is paused nothing is planned, and nothing counts as exhausted: the resume re-plans.
  const paused = s.billingPause !== null;
  const episode: DunningEpisode = {
    ...current,
    ...(window.open ? { nextBillingTime: window.nextBillingTime, deadline: window.deadline } : {}),
    // A gateway without a manual charge gets no attempts: the episode escalates at once.
    schedule:
      current.stage === 'retrying' && !paused && gatewayOf(s).capabilities.manualCharge
        ? planAttempts(s.snapshot, current, s.policy, now)
        : [],
  };
  const next = { ...s, episode };
  if (
    episode.stage === 'retrying' &&
    !paused &&
    episode.schedule.length === 0 &&
    !s.pendingCharge &&
    !s.retryNow
  ) {
    return awaitsGatewayRecovery(s) ? settleGatewayRecovery(next, episode, now) : exhaust(next, episode, now);
  }
  return next;
}

/** The gateway recovers failed charges itself, and the engine waits for the end of it to escalate. */
function awaitsGatewayRecovery(s: EngineState): boolean {
  const { capabilities } = gatewayOf(s);
  return !capabilities.manualCharge && capabilities.recoveryEndsAfterMs !== undefined;
}

/**
 * An episode on a gateway that recovers on its own: it escalates when the gateway says its
 * recovery ended with the order unpaid (UNPAID: MadFintech's last try declined, QorePay's purchase
 * overdue). Until then nothing is escalated; once the last try should be over without a word, the
 * engine asks the gateway (a notification may be lost), and again a day later while it retries.
 */
function settleGatewayRecovery(s: EngineState, episode: DunningEpisode, now: number): EngineState {
  const gateway = gatewayOf(s);
  if (s.snapshot.state === 'UNPAID') {
    const detail = `${gateway.name}'s own recovery ended unpaid; final action ${finalActionOn(s)}`;
    return exhaust(s, { ...episode, outcomeDetail: episode.outcomeDetail ?? detail }, now);
  }
  const grace = s.options.reconcileGraceMs ?? ENGINE_DEFAULTS.reconcileGraceMs;
  const checkAt =
    episode.recoveryCheckAt ?? episode.failureAt + (gateway.capabilities.recoveryEndsAfterMs ?? 0) + grace;
  if (now < checkAt)
    return episode.recoveryCheckAt === checkAt
      ? s
      : { ...s, episode: { ...episode, recoveryCheckAt: checkAt } };
  return { ...s, syncWanted: true, episode: { ...episode, recoveryCheckAt: now + DAY } };
}

/**
 * The final action an exhausted episode carries out: the policy's, except that without a manual
 * charge the engine cancels only once the gateway's own recovery is known to have ended (runs
 * from before that was timed leave the order to the gateway), and has no dunning to hold.
 */
function finalActionOn(s: EngineState): DunningFinalAction {
  const action = s.policy.finalAction;
  if (gatewayOf(s).capabilities.manualCharge) return action;
  return awaitsGatewayRecovery(s) && action === 'cancel' ? 'cancel' : 'leave_to_gateway';
}

/** No attempt is left: escalate (through the outbox) and set up the final action. */
function exhaust(s: EngineState, episode: DunningEpisode, now: number): EngineState {
  const gateway = gatewayOf(s);
  // Without a manual charge the engine cancels for a failure only after the gateway's own
  // recovery (its retries, its invoice) has ended: before, it is the only way the order can still
  // be paid. (A policy asking more is refused up front: `finalActionProblem`; this guards older runs.)
  const action = finalActionOn(s);
  const escalated: DunningEpisode = {
    ...episode,
    stage: 'escalating',
    escalationStepsDone: [...s.policy.escalation],
    finalAction: { action, status: action === 'cancel' ? 'pending' : 'done', since: now, attempts: 0 },
    outcomeDetail:
      episode.outcomeDetail ??
      (gateway.capabilities.manualCharge
        ? `attempts exhausted; final action ${action}`
        : `${gateway.name} has no manual charge: escalated at once, recovery left to ${gateway.name}`),
  };
  const billingPause =
    s.billingPause ??
    (action === 'hold_dunning' || action === 'pause_billing'
      ? { since: now, resumesAt: null, by: 'final_action' as const }
      : null);
  const next = recordEvents(
    { ...s, episode: escalated, billingPause },
    exhaustedEvents(s.subscriptionId, escalated, s.policy.escalation, action),
    now,
  );
  return action === 'cancel' ? next : closeEpisode(next, 'exhausted', escalated.outcomeDetail!, now);
}

function closeEpisode(
  s: EngineState,
  outcome: NonNullable<DunningEpisode['outcome']>,
  detail: string,
  now: number,
): EngineState {
  const episode = s.episode;
  if (!episode) return s;
  const finalAction =
    episode.finalAction?.status === 'pending'
      ? { ...episode.finalAction, status: 'skipped' as const }
      : episode.finalAction;
  const closed: DunningEpisode = {
    ...episode,
    stage: outcome,
    outcome,
    outcomeDetail: detail,
    closedAt: now,
    schedule: [],
    ...(finalAction ? { finalAction } : {}),
  };
  const pendingCharge = s.pendingCharge?.orderId === episode.orderId ? null : s.pendingCharge;
  // An attempt still unconfirmed is settled with the episode: the paid order answers it.
  closed.attempts = closed.attempts.map((a) =>
    a.result !== 'pending'
      ? a
      : outcome === 'recovered'
        ? { ...a, result: 'succeeded', finishedAt: now, detail: 'the order was found paid' }
        : {
            ...a,
            result: 'error',
            finishedAt: now,
            detail: `unconfirmed when the episode closed (${outcome})`,
          },
  );
  const next: EngineState = {
    ...s,
    episode: null,
    episodeHistory: [...s.episodeHistory, closed].slice(-MAX_EPISODE_HISTORY),
    pendingCharge,
    retryNow: false,
  };
  return outcome === 'recovered' ? recordEvents(next, [recoveredEvent(s.subscriptionId, closed)], now) : next;
}

export function dueFinalAction(s: EngineState, now: number): Action | undefined {
  const episode = s.episode;
  const final = episode?.finalAction;
  if (
    !episode ||
    episode.stage !== 'escalating' ||
    final?.status !== 'pending' ||
    s.pendingCharge ||
    s.billingPause
  )
    return undefined;
  if (final.retryAt !== undefined && final.retryAt > now) return undefined;
  // Only while the order is still unpaid and the subscription has not ended or moved on.
  const order = s.snapshot.orders.find((o) => o.orderId === episode.orderId);
  if (order?.status !== 'FAILED' || hasEnded(s) || s.snapshot.lastSequenceNo > episode.sequenceNo)
    return undefined;
  // QFPay's word first: the order may have been paid where the engine could not see it yet.
  if (s.lastSyncAt === null || s.lastSyncAt < final.since) {
    const mayAsk = s.syncRetryAt === null || now >= s.syncRetryAt;
    return mayAsk ? { kind: 'sync', reason: 'before_final_action' } : undefined;
  }
  return { kind: 'cancel', cause: 'final_action', orderId: episode.orderId };
}

/** The most times the final action `cancel` is tried. */
export const MAX_FINAL_ACTION_ATTEMPTS = 5;

/** A cancel's answer, for the merchant's cancel or the final action of an exhausted episode. */
export function afterCancel(
  state: EngineState,
  action: Extract<Action, { kind: 'cancel' }>,
  outcome: Outcome<{ at: number }>,
  now: number,
): EngineState {
  if (action.cause === 'scheduled') return afterScheduledCancel(state, outcome, now);
  if (outcome.ok) {
    const source = action.cause === 'merchant' ? 'api' : 'engine';
    const fact: Fact = {
      kind: 'state',
      subscriptionId: state.subscriptionId,
      state: 'CANCELLED',
      at: causalAt(state, outcome.value.at),
      source,
    };
    const next = markFinalAction(applyFactToState(state, fact, now), action, 'done');
    return action.cause === 'merchant'
      ? resolveIntent(next, action.intentId, {
          ok: true,
          value: { state: next.snapshot.state, stateAt: next.snapshot.stateAt },
        })
      : next;
  }
  const asked = { ...state, syncWanted: true };
  if (action.cause === 'merchant')
    return resolveIntent(asked, action.intentId, answerFailure(outcome.failure, 'CancelFailed'));
  return markFinalAction(asked, action, 'failed', now, outcome.failure.message);
}

function markFinalAction(
  state: EngineState,
  action: Extract<Action, { kind: 'cancel' }>,
  result: 'done' | 'failed',
  now = 0,
  detail?: string,
): EngineState {
  const final = state.episode?.finalAction;
  if (action.cause !== 'final_action' || !state.episode || !final) return state;
  const attempts = final.attempts + 1;
  const giveUp = result === 'done' || attempts >= MAX_FINAL_ACTION_ATTEMPTS;
  const { retryAt: _retryAt, ...rest } = final;
  const updated = giveUp
    ? { ...rest, status: result, attempts, ...(detail ? { detail } : {}) }
    : { ...rest, attempts, retryAt: now + syncBackoff(attempts), since: now, ...(detail ? { detail } : {}) };
  return { ...state, episode: { ...state.episode, finalAction: updated } };
}
