/**
 * Pure reducers: how the result of each action the workflow performed changes its state. They
 * run on the state as it is when the result arrives (handlers may have changed it meanwhile), so
 * each one re-reads what it needs rather than trusting what `decide` saw.
 */
import type { FailureType } from './failure-types';
import { gatewayLabel } from './gateway-profile';
import type { ChargeOutcome, ConfirmOutcome, SyncResult } from './gateway-answers';
import type { DunningAttemptRecord } from './dunning-episode';
import type { Action } from './decide';
import { resumeBilling, syncBackoff } from './decide';
import { mergePolicy } from './dunning';
import { planAttempts } from './episode';
import {
  ENGINE_DEFAULTS,
  MAX_SENT_EVENT_IDS,
  NOT_FOUND_RECHECK_MS,
  applyFactToState,
  causalAt,
  gatewayOf,
  recordEvents,
  resolveIntent,
  withAttempt,
  type EngineState,
  type BillingPause,
  type IntentAnswer,
  type PendingCharge,
} from './engine-state';
import type { Fact } from './lifecycle';
import { isTerminal } from './lifecycle-table';
import { attemptEvent, billingPausedEvent } from './outbox';

/** An activity's failure as the reducers see it: its message, and QFPay's refusal when there was one. */
export interface ActionFailure {
  message: string;
  /** The application failure's type (`QfpayError:…`), when the activity gave one. */
  type?: string;
  details?: unknown[];
  /** True when the failure says the request never took effect (a refusal, not a lost answer). */
  refused: boolean;
}

/** A reducer's input: what the activity returned, or how it failed. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; failure: ActionFailure };

function answerFailure(failure: ActionFailure, fallbackType: FailureType): IntentAnswer {
  return {
    ok: false,
    message: failure.message,
    type: failure.type ?? fallbackType,
    ...(failure.details ? { details: failure.details } : {}),
  };
}

function maybeResolve(state: EngineState, intentId: number | undefined, answer: IntentAnswer): EngineState {
  return intentId === undefined ? state : resolveIntent(state, intentId, answer);
}

// ---- sync -------------------------------------------------------------------------------------

/** What the loop records as it starts an action (before its await), so a wish that arrives meanwhile is kept. */
export function beginAction(state: EngineState, action: Action): EngineState {
  if (action.kind === 'sync') return { ...state, syncWanted: false };
  if (action.kind === 'charge') return { ...state, retryNow: false };
  return state;
}

/**
 * A query's answer: apply what QFPay says, or back off after a failure or a miss.
 *
 * The query counts as made when it began (`startedAt`), not when its answer is applied: QFPay may
 * have built the answer at any moment in between, and a fact that overtook it (a subscription's
 * end, noticed while the answer was on its way or waited in the same workflow task) must still get
 * a query of its own before the mirror closes or a final action runs.
 */
export function afterSync(
  state: EngineState,
  action: Extract<Action, { kind: 'sync' }>,
  outcome: Outcome<SyncResult>,
  startedAt: number,
  now: number,
): EngineState {
  if (!outcome.ok) {
    const failures = state.syncFailures + 1;
    const next = {
      ...state,
      syncWanted: false,
      syncFailures: failures,
      syncRetryAt: now + syncBackoff(failures),
    };
    return afterSyncIntent(next, action, answerFailure(outcome.failure, 'SyncFailed'));
  }
  if (!outcome.value.found) {
    const notFound = state.notFound + 1;
    const next = {
      ...state,
      syncWanted: false,
      syncFailures: 0,
      notFound,
      lastSyncAt: startedAt,
      syncRetryAt: now + (state.quickNotFound ? NOT_FOUND_RECHECK_MS : syncBackoff(notFound)),
    };
    return afterSyncIntent(next, action, {
      ok: false,
      message: `${gatewayLabel(gatewayOf(state))} does not know this subscription`,
      type: 'SubscriptionNotFound' satisfies FailureType,
    });
  }
  const applied = applyFactToState(
    { ...state, syncFailures: 0, syncRetryAt: null, notFound: 0, known: true, lastSyncAt: startedAt },
    outcome.value.fact,
    now,
  );
  // A query's own answer never asks for another query (that could spin when QFPay's clock runs
  // ahead); only what arrived while it ran does (the loop cleared the wish when it began). An
  // answer that says the subscription ended was built after the end: it is the final query.
  const endsIt = isTerminal(outcome.value.fact.remote?.state ?? 'UNKNOWN');
  const next = {
    ...applied,
    syncWanted: state.syncWanted,
    ...(endsIt && isTerminal(applied.snapshot.state) ? { terminalSince: startedAt } : {}),
  };
  return afterSyncIntent(next, action, {
    ok: true,
    value: { state: next.snapshot.state, lastSyncAt: startedAt },
  });
}

function afterSyncIntent(
  state: EngineState,
  action: Extract<Action, { kind: 'sync' }>,
  answer: IntentAnswer,
): EngineState {
  if (action.intentId === undefined) return state;
  if (action.reason === 'charge_now') {
    // The charge waits in the queue: it is taken up again, with what the query taught.
    if (!answer.ok) return resolveIntent(state, action.intentId, answer);
    return {
      ...state,
      intents: state.intents.map((i) =>
        i.id === action.intentId && i.kind === 'charge_now' ? { ...i, syncedFirst: true } : i,
      ),
    };
  }
  return resolveIntent(state, action.intentId, answer);
}

// ---- charges ----------------------------------------------------------------------------------

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
function unconfirmed(outcome: Outcome<ChargeOutcome>): boolean {
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

// ---- cancel and changes -----------------------------------------------------------------------

/** The most times the final action `cancel` is tried. */
export const MAX_FINAL_ACTION_ATTEMPTS = 5;

/** A cancel's answer, for the merchant's cancel or the final action of an exhausted episode. */
export function afterCancel(
  state: EngineState,
  action: Extract<Action, { kind: 'cancel' }>,
  outcome: Outcome<{ at: number }>,
  now: number,
): EngineState {
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

/** A token, cycles or products change's answer. */
export function afterChange(
  state: EngineState,
  action: Extract<Action, { kind: 'change_token' | 'change_cycles' | 'change_products' | 'change_price' }>,
  outcome: Outcome<{ at: number }>,
  now: number,
): EngineState {
  if (!outcome.ok)
    return resolveIntent(state, action.intentId, answerFailure(outcome.failure, 'ChangeFailed'));
  if (action.kind === 'change_price') {
    // The gateway bills it from the next billing on; its word on the plan follows in a sync.
    const value = { amount: action.amount, currency: action.currency };
    return resolveIntent({ ...state, syncWanted: true }, action.intentId, { ok: true, value });
  }
  const at = causalAt(state, outcome.value.at);
  if (action.kind === 'change_products') {
    const fact: Fact = {
      kind: 'products_changed',
      subscriptionId: state.subscriptionId,
      productIds: action.products.map((p) => p.productId),
      at,
      source: 'api',
    };
    // QFPay's own word on the plan (and its next billing time) follows in a query.
    const next = { ...applyFactToState(state, fact, now), syncWanted: true };
    return resolveIntent(next, action.intentId, { ok: true, value: { products: action.products } });
  }
  if (action.kind === 'change_token') {
    const fact: Fact = {
      kind: 'token_changed',
      subscriptionId: state.subscriptionId,
      tokenId: action.tokenId,
      at,
      source: 'api',
    };
    // A new card is worth trying at once.
    const next = { ...applyFactToState(state, fact, now), retryNow: state.episode?.stage === 'retrying' };
    return resolveIntent(next, action.intentId, { ok: true, value: { tokenId: action.tokenId } });
  }
  const fact: Fact = {
    kind: 'total_cycles_changed',
    subscriptionId: state.subscriptionId,
    totalBillingCycles: action.totalBillingCycles,
    at,
    source: 'api',
  };
  const next = { ...applyFactToState(state, fact, now), syncWanted: true };
  return resolveIntent(next, action.intentId, {
    ok: true,
    value: { totalBillingCycles: action.totalBillingCycles },
  });
}

/** A policy change: merged onto the current policy; the open episode is re-planned from it. */
export function applyPolicyChange(
  state: EngineState,
  action: Extract<Action, { kind: 'apply_policy' }>,
): EngineState {
  const policy = mergePolicy(state.policy, action.override);
  return resolveIntent({ ...state, policy }, action.intentId, { ok: true, value: { policy } });
}

/**
 * The merchant's pause (the gateway has paused billing) or hold (only the engine's dunning): from
 * now on no manual charge, no new episode, no final action. Pausing or holding again changes only
 * when it ends; a gateway's pause takes over a hold.
 */
export function applyPause(
  state: EngineState,
  action: Extract<Action, { kind: 'pause' }>,
  now: number,
): EngineState {
  const current = state.billingPause;
  const atGateway = action.scope === 'gateway';
  const same = current?.by === 'merchant' && (current.atGateway === true) === atGateway;
  const pause: BillingPause = same
    ? { ...current, resumesAt: action.resumesAt }
    : {
        since: now,
        resumesAt: action.resumesAt,
        by: 'merchant' as const,
        ...(atGateway ? { atGateway: true as const } : {}),
      };
  const paused = recordEvents(
    { ...state, billingPause: pause, retryNow: false },
    [billingPausedEvent(state.subscriptionId, pause, state.legacyPauseEvents === true)],
    now,
  );
  return resolveIntent(paused, action.intentId, { ok: true, value: { pause } });
}

/** The merchant's resume: dunning is planned again from now. */
export function applyResume(
  state: EngineState,
  action: Extract<Action, { kind: 'resume' }>,
  now: number,
): EngineState {
  return resolveIntent(resumeBilling(state, now, 'merchant'), action.intentId, {
    ok: true,
    value: { resumedAt: now },
  });
}

/** A refused intent. */
export function refuseIntent(state: EngineState, action: Extract<Action, { kind: 'refuse' }>): EngineState {
  return resolveIntent(state, action.intentId, { ok: false, message: action.message, type: action.type });
}

/**
 * Events handed to their delivery workflows (started now, or started before: the id derives from
 * the fact) leave the outbox. An event whose delivery could not be started stays, and the flush
 * is tried again after a backoff: an event the engine recorded is delivered, never lost.
 */
export function afterFlush(
  state: EngineState,
  { handedOver, notStarted }: { handedOver: readonly string[]; notStarted: readonly string[] },
  now: number,
): EngineState {
  const done = new Set(handedOver);
  const next: EngineState = {
    ...state,
    outbox: state.outbox.filter((e) => !done.has(e.id)),
    sentEventIds: [...state.sentEventIds, ...handedOver].slice(-MAX_SENT_EVENT_IDS),
  };
  if (notStarted.length === 0) {
    const { flushFailures: _failures, flushRetryAt: _retryAt, ...rest } = next;
    return rest;
  }
  const failures = (state.flushFailures ?? 0) + 1;
  return { ...next, flushFailures: failures, flushRetryAt: now + Math.max(1_000, syncBackoff(failures) / 4) };
}
