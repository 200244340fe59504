/**
 * Sync: what the engine asks its gateway and when (a query falls due, a reconciliation of a billing
 * time that passed without a result, the backoff after failures), the handover of a creation, and
 * how a query's answer changes the state.
 */
import { type Action, answerFailure, type Outcome } from '../actions';
import {
  applyFactToState,
  ENGINE_DEFAULTS,
  type EngineState,
  gatewayOf,
  hasEnded,
  type IntentAnswer,
  MAX_RECONCILES_PER_BILLING,
  NOT_FOUND_RECHECK_MS,
  resolveIntent,
} from '../engine-state';
import type { FailureType } from '../failure-types';
import type { SyncResult } from '../gateway-answers';
import { gatewayLabel } from '../gateway-profile';
import { isTerminal } from '../lifecycle/lifecycle-table';

export function noteTerminal(s: EngineState, now: number): EngineState {
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

export function noteAdoption(s: EngineState, now: number): EngineState {
  const handover = s.handover;
  if (handover?.status !== 'awaited') return s;
  if (handover.adoptedAt === null) return { ...s, handover: { status: 'awaited', adoptedAt: now } };
  const waitUntil = handoverWaitUntil(s);
  if (waitUntil !== null && now >= waitUntil) {
    return { ...s, handover: { status: 'done', adoptedAt: handover.adoptedAt } };
  }
  return s;
}

/** When the workflow asks QFPay about billing time `billing`, or undefined once it has given up. */
export function reconcileTime(s: EngineState, billing: number): number | undefined {
  const attempts = s.reconcile.billingTime === billing ? s.reconcile.attempts : 0;
  if (attempts >= MAX_RECONCILES_PER_BILLING) return undefined;
  const grace = s.options.reconcileGraceMs ?? ENGINE_DEFAULTS.reconcileGraceMs;
  return billing + grace * 2 ** attempts;
}

/**
 * When the workflow wants to be asked about its billing time next (the reconciler lists this time
 * as `ReconcileAt`), or null: no billing time, the subscription ended, or the questions given up.
 */
export function reconcileDueAt(s: EngineState): number | null {
  const billing = s.snapshot.nextBillingTime;
  if (billing === null || hasEnded(s)) return null;
  return reconcileTime(s, billing) ?? null;
}

export function dueQueries(s: EngineState, now: number): EngineState {
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

/** How long to wait before asking QFPay again after `failures` failed queries in a row. */
export function syncBackoff(failures: number): number {
  return Math.min(60 * 60_000, 60_000 * 2 ** Math.max(0, failures - 1));
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
