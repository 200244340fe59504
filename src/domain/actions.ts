/**
 * What the loop of a subscription's workflow does, as data: the actions `decide` names, how an
 * activity's outcome reaches a reducer, and the answers an intent gets. Every concern's decisions
 * and reducers (sync, events, episode, charge, pause, intents) speak these.
 */
import type { DunningPolicyOverride } from './episode/dunning';
import type { ChargeTrigger } from './episode/dunning-episode';
import {
  type EngineState,
  gatewayOf,
  type HoldScope,
  type Intent,
  type IntentAnswer,
  type PendingCharge,
  type PlanLine,
  resolveIntent,
} from './engine-state';
import type { FailureType } from './failure-types';
import type { ReminderKind } from './reminders/reminder-kinds';

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
  | { kind: 'cancel'; cause: 'scheduled' }
  | { kind: 'schedule_cancel'; intentId: number; periodEnd: number }
  | { kind: 'unschedule_cancel'; intentId: number }
  | { kind: 'change_token'; intentId: number; tokenId: string }
  | { kind: 'change_cycles'; intentId: number; totalBillingCycles: number | null }
  | { kind: 'change_products'; intentId: number; products: PlanLine[] }
  | { kind: 'change_price'; intentId: number; amount: number; currency: string }
  | { kind: 'pause'; intentId: number; resumesAt: number | null; scope: HoldScope }
  | { kind: 'resume'; intentId: number; scope: HoldScope }
  | { kind: 'refuse'; intentId: number; message: string; type: string }
  | { kind: 'apply_policy'; intentId: number; override: DunningPolicyOverride }
  | { kind: 'remind'; reminder: ReminderKind; cycle: number; billingTime: number }
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

export function refuse(intent: Intent, message: string): Action {
  return { kind: 'refuse', intentId: intent.id, message, type: REFUSED };
}

/** The refusal of an intent the subscription's gateway has no call for. */
export function cannot(s: EngineState, what: string): string {
  return `${gatewayOf(s).name} cannot ${what}`;
}

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

export function answerFailure(failure: ActionFailure, fallbackType: FailureType): IntentAnswer {
  return {
    ok: false,
    message: failure.message,
    type: failure.type ?? fallbackType,
    ...(failure.details ? { details: failure.details } : {}),
  };
}

export function maybeResolve(
  state: EngineState,
  intentId: number | undefined,
  answer: IntentAnswer,
): EngineState {
  return intentId === undefined ? state : resolveIntent(state, intentId, answer);
}

/** What the loop records as it starts an action (before its await), so a wish that arrives meanwhile is kept. */
export function beginAction(state: EngineState, action: Action): EngineState {
  if (action.kind === 'sync') return { ...state, syncWanted: false };
  if (action.kind === 'charge') return { ...state, retryNow: false };
  return state;
}
