/**
 * What a subscription's workflow does next, as pure functions of its state and the time:
 *
 * - {@link settle} does the bookkeeping that needs no I/O: it opens, re-plans and closes dunning
 *   episodes, records their merchant events, and notices what has fallen due (a query, a
 *   reconciliation, the end of a charge's confirmation).
 * - {@link decide} names the one side effect to perform now, or how long to wait.
 *
 * The workflow performs the action, applies its result with a reducer from `results.ts`, and
 * asks again. Every promise the engine makes about charging is a property of `decide`: no charge
 * starts outside the order's charge window, and never while another is unconfirmed.
 */
import { gatewayLabel } from './gateway-profile';
import { DAY } from './duration';
import type { ChargeTrigger, DunningEpisode } from './dunning-episode';
import {
  checkPolicyOverride,
  finalActionProblem,
  type DunningFinalAction,
  mergePolicy,
  InvalidDunningPolicyError,
  type DunningPolicyOverride,
} from './dunning';
import {
  MAX_EPISODE_HISTORY,
  MAX_RECONCILES_PER_BILLING,
  ENGINE_DEFAULTS,
  gatewayOf,
  givenUp,
  hasEnded,
  recordEvents,
  type EngineState,
  type HoldScope,
  type Intent,
  type IntentRequest,
  type PendingCharge,
  type PlanLine,
} from './engine-state';
import {
  chargeWindow,
  decideOpen,
  episodeEndedBy,
  isChargeableState,
  mayStartCharge,
  openEpisode,
  planAttempts,
  type ChargeWindow,
} from './episode';
import { isTerminal, type OrderRecord, type SubscriptionSnapshot } from './lifecycle';
import { billingResumedEvent, exhaustedEvents, recoveredEvent } from './outbox';

/** The one thing to do next. */
export type Action =
  | {
      kind: 'sync';
      reason: 'wanted' | 'final' | 'before_final_action' | 'intent' | 'charge_now';
      intentId?: number;
    }
  | {
      kind: 'charge';
      orderId: string;
      sequenceNo: number;
      /** The episode's attempt this charge is (0 for a merchant's charge outside an episode). */
      attempt: number;
      scheduledAt: number;
      /** The charge must be over by then: the order's next billing time minus the safety margin. */
      deadline: number;
      /**
       * No try of it (its first, or a retry of the activity) may be sent to QFPay from then on:
       * the deadline minus the minimum attempt window, so that every try can finish in time.
       */
      latestStart: number;
      trigger: ChargeTrigger;
      intentId?: number;
    }
  | { kind: 'confirm'; pending: PendingCharge }
  | { kind: 'cancel'; cause: 'merchant'; intentId: number }
  | { kind: 'cancel'; cause: 'final_action'; orderId: string }
  | { kind: 'change_token'; intentId: number; tokenId: string }
  | { kind: 'change_cycles'; intentId: number; totalBillingCycles: number | null }
  | { kind: 'change_products'; intentId: number; products: PlanLine[] }
  | { kind: 'change_price'; intentId: number; amount: number; currency: string }
  | { kind: 'pause'; intentId: number; resumesAt: number | null; scope: HoldScope }
  | { kind: 'resume'; intentId: number; scope: HoldScope }
  | { kind: 'refuse'; intentId: number; message: string; type: string }
  | { kind: 'apply_policy'; intentId: number; override: DunningPolicyOverride }
  | { kind: 'flush' }
  | { kind: 'continue_as_new' }
  | { kind: 'end'; reason: 'ended' | 'not_found' }
  | { kind: 'wait'; until: number | null };

/** What `decide` needs from outside the state. */
export interface DecideContext {
  /** Temporal suggests continue-as-new, or history passed the configured bound. */
  continueAsNewSuggested: boolean;
}

/** The refusal type of a change the subscription's state does not allow (the API answers 409). */
export const REFUSED = 'ChangeNotAllowed';

// ---- settle -----------------------------------------------------------------------------------

/** The bookkeeping due at `now`; idempotent (settling twice at the same time changes nothing more). */
export function settle(state: EngineState, now: number): EngineState {
  let s = noteTerminal(state, now);
  s = noteAdoption(s, now);
  s = resumeIfDue(s, now);
  s = settleEpisode(s, now);
  if (!s.episode) s = settleEpisode(openEpisodeIfDue(s, now), now);
  s = dueQueries(s, now);
  // A new card is tried at once only in an episode that is retrying, not while billing is paused,
  // and only by an engine that can charge (elsewhere the gateway's own retries use the new card).
  if (
    s.retryNow &&
    (s.episode?.stage !== 'retrying' || s.billingPause || !gatewayOf(s).capabilities.manualCharge)
  )
    s = { ...s, retryNow: false };
  return s;
}

/**
 * Ends a billing pause: dunning is planned again from `now` (attempts that fell due meanwhile
 * collapse into one, inside the charge window), and QFPay is asked first what happened meanwhile.
 */
export function resumeBilling(s: EngineState, now: number, by: 'merchant' | 'schedule'): EngineState {
  const pause = s.billingPause;
  if (!pause) return s;
  const resumed: EngineState = { ...s, billingPause: null, syncWanted: true };
  return recordEvents(
    resumed,
    [billingResumedEvent(s.subscriptionId, pause, now, by, s.legacyPauseEvents === true)],
    now,
  );
}

/** A pause whose `resumesAt` has come ends (its durable timer is the loop's wake time). */
function resumeIfDue(s: EngineState, now: number): EngineState {
  const at = s.billingPause?.resumesAt;
  return at !== null && at !== undefined && now >= at ? resumeBilling(s, now, 'schedule') : s;
}

function noteTerminal(s: EngineState, now: number): EngineState {
  const ended = hasEnded(s);
  if (ended && s.terminalSince === null) return { ...s, terminalSince: now };
  if (!ended && s.terminalSince !== null) return { ...s, terminalSince: null };
  return s;
}

/** Until when the first order waits for a creation's handover (null: it does not wait). */
export function handoverWaitUntil(s: EngineState): number | null {
  const handover = s.handover;
  if (handover?.status !== 'awaited' || handover.adoptedAt === null) return null;
  return handover.adoptedAt + ENGINE_DEFAULTS.handoverGraceMs;
}

function noteAdoption(s: EngineState, now: number): EngineState {
  const handover = s.handover;
  if (handover?.status !== 'awaited') return s;
  if (handover.adoptedAt === null) return { ...s, handover: { status: 'awaited', adoptedAt: now } };
  const waitUntil = handoverWaitUntil(s);
  if (waitUntil !== null && now >= waitUntil) {
    return { ...s, handover: { status: 'done', adoptedAt: handover.adoptedAt } };
  }
  return s;
}

/** Whether (and for which order) an episode would open now, from what the engine knows. */
function openDecision(s: EngineState): ReturnType<typeof decideOpen> {
  return decideOpen(
    s.snapshot,
    s.episodeHistory.map((e) => e.orderId),
    s.billingPause !== null,
  );
}

/** Whether an episode would open now for the subscription's first order. */
function firstOrderWaits(s: EngineState): boolean {
  const decision = openDecision(s);
  return decision.open && decision.order.sequenceNo === 1;
}

function openEpisodeIfDue(s: EngineState, now: number): EngineState {
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

function orderWindow(s: EngineState, episode: DunningEpisode): ChargeWindow {
  return chargeWindow(s.snapshot, { sequenceNo: episode.sequenceNo, firstAt: episode.failureAt }, s.policy);
}

function settleEpisode(s: EngineState, now: number): EngineState {
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

/** When the workflow asks QFPay about billing time `billing`, or undefined once it has given up. */
export function reconcileTime(s: EngineState, billing: number): number | undefined {
  const attempts = s.reconcile.billingTime === billing ? s.reconcile.attempts : 0;
  if (attempts >= MAX_RECONCILES_PER_BILLING) return undefined;
  const grace = s.options.reconcileGraceMs ?? ENGINE_DEFAULTS.reconcileGraceMs;
  return billing + grace * 2 ** attempts;
}

function dueQueries(s: EngineState, now: number): EngineState {
  let next = s;
  if (next.syncRetryAt !== null && now >= next.syncRetryAt)
    next = { ...next, syncRetryAt: null, syncWanted: true };
  const billing = next.snapshot.nextBillingTime;
  const at = billing === null || hasEnded(next) ? undefined : reconcileTime(next, billing);
  if (billing !== null && at !== undefined && now >= at) {
    // The billing time passed with no payment result: ask QFPay (a notification may be lost).
    const attempts = next.reconcile.billingTime === billing ? next.reconcile.attempts + 1 : 1;
    next = { ...next, reconcile: { billingTime: billing, attempts }, syncWanted: true };
  }
  return next;
}

// ---- decide -----------------------------------------------------------------------------------

/** The next action at `now`. Call {@link settle} first. */
export function decide(s: EngineState, now: number, context: DecideContext): Action {
  const intent = s.intents[0];
  if (intent) return decideIntent(s, intent, now);
  if (givenUp(s)) return { kind: 'end', reason: 'not_found' };
  if (hasEnded(s)) return decideEnding(s, now);
  if (s.syncWanted && (s.syncRetryAt === null || now >= s.syncRetryAt))
    return { kind: 'sync', reason: 'wanted' };
  if (s.pendingCharge && now >= s.pendingCharge.nextCheckAt)
    return { kind: 'confirm', pending: s.pendingCharge };
  const action = dueCharge(s, now) ?? dueFinalAction(s, now);
  if (action) return action;
  if (flushDue(s, now)) return { kind: 'flush' };
  if (context.continueAsNewSuggested) return { kind: 'continue_as_new' };
  return { kind: 'wait', until: wakeTime(s, now) };
}

function decideEnding(s: EngineState, now: number): Action {
  // Make sure QFPay agrees before the mirror closes: one query after the end was first seen.
  const synced = s.lastSyncAt !== null && s.terminalSince !== null && s.lastSyncAt >= s.terminalSince;
  if (!synced) {
    if (s.syncRetryAt === null || now >= s.syncRetryAt) return { kind: 'sync', reason: 'final' };
    return { kind: 'wait', until: s.syncRetryAt };
  }
  if (flushDue(s, now)) return { kind: 'flush' };
  // An event whose delivery could not be started yet (the subscription's last payment, its end)
  // keeps the run open until its start is tried again: the run's end would lose it.
  if (s.outbox.length > 0 && s.known && s.flushRetryAt !== undefined)
    return { kind: 'wait', until: s.flushRetryAt };
  return { kind: 'end', reason: 'ended' };
}

function dueCharge(s: EngineState, now: number): Action | undefined {
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

function dueFinalAction(s: EngineState, now: number): Action | undefined {
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

/** Recorded events wait for their delivery workflows (after a failed start, until its retry time). */
function flushDue(s: EngineState, now: number): boolean {
  return s.outbox.length > 0 && s.known && (s.flushRetryAt === undefined || now >= s.flushRetryAt);
}

/** When something falls due next (a future time), or null when only a signal or update can wake it. */
export function wakeTime(s: EngineState, now: number): number | null {
  const times: number[] = [];
  const episode = s.episode;
  if (s.pendingCharge) times.push(s.pendingCharge.nextCheckAt, s.pendingCharge.confirmUntil);
  if (episode) {
    if (episode.stage === 'retrying' && !s.pendingCharge && episode.schedule[0] !== undefined) {
      times.push(episode.schedule[0]);
    }
    times.push(episode.nextBillingTime);
    if (episode.finalAction?.retryAt !== undefined) times.push(episode.finalAction.retryAt);
    if (episode.stage === 'retrying' && episode.recoveryCheckAt !== undefined)
      times.push(episode.recoveryCheckAt);
  }
  if (s.syncRetryAt !== null) times.push(s.syncRetryAt);
  if (s.flushRetryAt !== undefined && s.outbox.length > 0) times.push(s.flushRetryAt);
  const handoverBy = handoverWaitUntil(s);
  if (handoverBy !== null && !episode && firstOrderWaits(s)) times.push(handoverBy);
  if (s.billingPause?.resumesAt !== null && s.billingPause?.resumesAt !== undefined)
    times.push(s.billingPause.resumesAt);
  const billing = s.snapshot.nextBillingTime;
  const reconcileAt = billing === null || hasEnded(s) ? undefined : reconcileTime(s, billing);
  if (reconcileAt !== undefined) times.push(reconcileAt);
  const future = times.filter((t) => t > now);
  return future.length === 0 ? null : Math.min(...future);
}

// ---- intents ----------------------------------------------------------------------------------

function refuse(intent: Intent, message: string): Action {
  return { kind: 'refuse', intentId: intent.id, message, type: REFUSED };
}

function decideIntent(s: EngineState, intent: Intent, now: number): Action {
  if (givenUp(s) && intent.kind !== 'policy') {
    return refuse(intent, `${gatewayLabel(gatewayOf(s))} does not know this subscription`);
  }
  const problem = intentProblem(s, intent, now, { queued: false });
  if (problem !== undefined) return refuse(intent, problem);
  switch (intent.kind) {
    case 'policy':
      return { kind: 'apply_policy', intentId: intent.id, override: intent.override };
    case 'sync':
      return { kind: 'sync', reason: 'intent', intentId: intent.id };
    case 'cancel':
      return { kind: 'cancel', cause: 'merchant', intentId: intent.id };
    case 'change_token':
      return { kind: 'change_token', intentId: intent.id, tokenId: intent.tokenId };
    case 'change_cycles':
      return { kind: 'change_cycles', intentId: intent.id, totalBillingCycles: intent.totalBillingCycles };
    case 'change_products':
      return { kind: 'change_products', intentId: intent.id, products: intent.products };
    case 'change_price':
      return { kind: 'change_price', intentId: intent.id, amount: intent.amount, currency: intent.currency };
    case 'charge_now':
      return decideChargeNow(s, intent, now);
    case 'pause':
      return { kind: 'pause', intentId: intent.id, resumesAt: intent.resumesAt, scope: holdScope(s, intent) };
    case 'resume':
      return { kind: 'resume', intentId: intent.id, scope: holdScope(s, intent) };
  }
}

function decideChargeNow(
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

/**
 * Why a merchant's request cannot be carried out now, or undefined. The same check runs in the
 * update's validator (`queued: true`: the request is not in the queue yet) and again when the
 * loop takes the request up, since the state may have moved in between.
 */
export function intentProblem(
  s: EngineState,
  intent: IntentRequest,
  now: number,
  { queued }: { queued: boolean },
): string | undefined {
  const state = s.snapshot.state;
  switch (intent.kind) {
    case 'policy':
      return policyProblem(s, intent.override);
    case 'sync':
      return undefined;
    case 'cancel':
      return isTerminal(state) ? `subscription is already ${state}; there is nothing to cancel` : undefined;
    case 'change_token':
      if (!gatewayOf(s).capabilities.changeToken) return cannot(s, 'change a subscription’s card');
      if (typeof intent.tokenId !== 'string' || !/^tk_\w+$/.test(intent.tokenId))
        return 'tokenId must look like tk_…';
      if (isTerminal(state)) return `subscription is ${state}; its card cannot change`;
      return intent.tokenId === s.snapshot.tokenId ? 'the subscription already uses this token' : undefined;
    case 'change_cycles':
      if (!gatewayOf(s).capabilities.changeCycles) return cannot(s, 'change a subscription’s billing cycles');
      return cyclesProblem(s, intent.totalBillingCycles);
    case 'change_products':
      if (!gatewayOf(s).capabilities.changeProducts) return cannot(s, 'change a subscription’s plan');
      if (isTerminal(state)) return `subscription is ${state}; its plan cannot change`;
      return planProblem(intent.products);
    case 'change_price':
      if (!gatewayOf(s).capabilities.changePrice) return cannot(s, 'change one subscription’s price');
      if (isTerminal(state)) return `subscription is ${state}; its price cannot change`;
      return priceProblem(intent.amount, intent.currency);
    case 'charge_now':
      if (!gatewayOf(s).capabilities.manualCharge)
        return `${cannot(s, 'charge an order on request')}: ${gatewayOf(s).capabilities.recovery}`;
      return chargeNowProblem(s, intent.orderId, now, queued);
    case 'pause': {
      const scope = holdScope(s, intent);
      if (scope === 'gateway' && !gatewayOf(s).capabilities.pause) return noPause(s);
      if (isTerminal(state))
        return `subscription is ${state}; there is no ${scope === 'gateway' ? 'billing to pause' : 'dunning to hold'}`;
      // A gateway's pause lasts until a resume: the engine makes no timed call to it.
      if (scope === 'gateway' && intent.resumesAt !== null)
        return `${gatewayOf(s).name} pauses until resumed: resumes_at must be null`;
      if (scope === 'dunning' && s.billingPause?.atGateway)
        return 'billing is paused at the gateway (which holds dunning too); resume it first';
      return resumesAtProblem(intent.resumesAt, now);
    }
    case 'resume': {
      const scope = holdScope(s, intent);
      if (scope === 'gateway' && !gatewayOf(s).capabilities.pause) return noPause(s);
      if (isTerminal(state))
        return `subscription is ${state}; there is no ${scope === 'gateway' ? 'billing to resume' : 'dunning to release'}`;
      if (!s.billingPause) return scope === 'gateway' ? 'billing is not paused' : 'dunning is not held';
      if (scope === 'gateway' && !s.billingPause.atGateway)
        return 'billing is not paused at the gateway: only dunning is held; release it with POST …/dunning/release';
      if (scope === 'dunning' && s.billingPause.atGateway)
        return 'billing is paused at the gateway; resume it with POST …/resume';
      return undefined;
    }
  }
}

/**
 * What a pause or resume request stops or starts again: as asked, or (requests from before there
 * was a choice) the gateway's pause where it has one, else the engine's hold.
 */
export function holdScope(s: EngineState, intent: { scope?: HoldScope }): HoldScope {
  return intent.scope ?? (gatewayOf(s).capabilities.pause ? 'gateway' : 'dunning');
}

/** The refusal of a pause the gateway cannot make: it would go on charging the card. */
function noPause(s: EngineState): string {
  const name = gatewayOf(s).name;
  return (
    `${name} cannot pause billing: it would go on charging the card at every billing time. ` +
    'To stop billing, cancel the subscription (POST …/cancel); to stop only the engine’s own ' +
    'retries of a failed payment, hold its dunning (POST …/dunning/hold)'
  );
}

/** The refusal of an intent the subscription's gateway has no call for. */
function cannot(s: EngineState, what: string): string {
  return `${gatewayOf(s).name} cannot ${what}`;
}

/** The most product lines a plan may have. */
export const MAX_PLAN_LINES = 20;
/** The largest quantity of one product line. */
export const MAX_PLAN_QUANTITY = 10_000;

function planProblem(products: unknown): string | undefined {
  if (!Array.isArray(products) || products.length < 1 || products.length > MAX_PLAN_LINES)
    return `products must list 1 to ${MAX_PLAN_LINES} product lines`;
  const ids = new Set<string>();
  for (const line of products as Partial<PlanLine>[]) {
    if (typeof line?.productId !== 'string' || !/^prod_[\w-]+$/.test(line.productId))
      return 'every product id must look like prod_…';
    if (!Number.isInteger(line.quantity) || line.quantity! < 1 || line.quantity! > MAX_PLAN_QUANTITY)
      return `quantity must be an integer from 1 to ${MAX_PLAN_QUANTITY}`;
    if (ids.has(line.productId)) return `product ${line.productId} is listed twice`;
    ids.add(line.productId);
  }
  return undefined;
}

/** The largest price, in the currency's minor unit (as QFPay's and the gateways' amounts). */
export const MAX_PRICE = 100_000_000;

function priceProblem(amount: unknown, currency: unknown): string | undefined {
  if (!Number.isInteger(amount) || (amount as number) < 1 || (amount as number) > MAX_PRICE)
    return `amount must be an integer from 1 to ${MAX_PRICE} (the currency's minor unit)`;
  if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency))
    return 'currency must be a three-letter ISO 4217 code';
  return undefined;
}

function resumesAtProblem(resumesAt: unknown, now: number): string | undefined {
  if (resumesAt === null) return undefined;
  if (typeof resumesAt !== 'number' || !Number.isFinite(resumesAt)) return 'resumesAt must be a time or null';
  return resumesAt <= now ? 'resumes_at must be in the future' : undefined;
}

function policyProblem(s: EngineState, override: unknown): string | undefined {
  const checked = checkPolicyOverride(override);
  if (!checked.ok) return new InvalidDunningPolicyError(checked.issues).message;
  try {
    const merged = mergePolicy(s.policy, override as DunningPolicyOverride);
    const { name, capabilities } = gatewayOf(s);
    return checked.value.finalAction === undefined
      ? undefined
      : finalActionProblem(merged.finalAction, { name, ...capabilities });
  } catch (error) {
    if (error instanceof InvalidDunningPolicyError) return error.message;
    throw error;
  }
}

function cyclesProblem(s: EngineState, total: number | null): string | undefined {
  const snapshot = s.snapshot;
  if (isTerminal(snapshot.state)) return `subscription is ${snapshot.state}; its cycles cannot change`;
  if (total === null) {
    // QFPay drops empty parameters, so its update API cannot say "bill forever".
    return snapshot.totalBillingCycles !== null
      ? 'QFPay cannot change a finite plan to infinite; create a new subscription instead'
      : undefined;
  }
  if (!Number.isInteger(total) || total < 1)
    return 'totalBillingCycles must be a positive integer or null (infinite)';
  if (total < snapshot.completedCycles) {
    return `totalBillingCycles ${total} is below the ${snapshot.completedCycles} cycles already paid`;
  }
  return undefined;
}

function chargeNowProblem(
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

/** How long to wait before asking QFPay again after `failures` failed queries in a row. */
export function syncBackoff(failures: number): number {
  return Math.min(60 * 60_000, 60_000 * 2 ** Math.max(0, failures - 1));
}
