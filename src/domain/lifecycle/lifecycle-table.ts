/**
 * The QFPay subscription lifecycle as data: its states and every allowed edge, each with the
 * words that justify it (design/qfpay-lifecycle.md: the decoded state diagram, the seed's
 * manual-charge prose, and the API reference). Pure and deterministic: safe in the workflow
 * sandbox.
 */

/** Subscription states as QFPay's API and notifications spell them. */
export const SUBSCRIPTION_STATES = [
  'TRIAL',
  'INCOMPLETE',
  'INCOMPLETE_EXPIRED',
  'ACTIVE',
  'PAST_DUE',
  'UNPAID',
  'PAUSED',
  'CANCELLED',
  'COMPLETED',
] as const;

/** One of QFPay's subscription states. */
export type SubscriptionState = (typeof SUBSCRIPTION_STATES)[number];

/** What the engine knows of a subscription's state: `UNKNOWN` until a fact about it arrives. */
export type LifecycleState = SubscriptionState | 'UNKNOWN';

/** States a subscription never leaves by itself ("Manual cancel", "Subscription Time up", expiry). */
export const TERMINAL_STATES: readonly SubscriptionState[] = Object.freeze([
  'INCOMPLETE_EXPIRED',
  'CANCELLED',
  'COMPLETED',
] as const);

/**
 * Whether `state` is terminal.
 * @param state a subscription state, or `UNKNOWN` (never terminal)
 */
export function isTerminal(state: LifecycleState): boolean {
  return state !== 'UNKNOWN' && TERMINAL_STATES.includes(state);
}

/** Whether `value` is one of {@link SUBSCRIPTION_STATES} (facts arrive through untyped signals). */
export function isSubscriptionState(value: unknown): value is SubscriptionState {
  return typeof value === 'string' && (SUBSCRIPTION_STATES as readonly string[]).includes(value);
}

/**
 * Where an edge comes from: the decoded state `diagram`, the seed's manual-charge prose
 * (`seed-manual-charge`), or the API reference and the engine's architecture (`api`: the create
 * response's states, the cancel call, a subscription first seen mid-life).
 */
export type TransitionSource = 'diagram' | 'seed-manual-charge' | 'api';

/** One allowed edge of the lifecycle, with its cause in the source's own words. */
export interface LifecycleTransition {
  readonly from: LifecycleState;
  readonly to: SubscriptionState;
  readonly cause: string;
  readonly source: TransitionSource;
}

const edge = (
  from: LifecycleState,
  to: SubscriptionState,
  cause: string,
  source: TransitionSource,
): LifecycleTransition => Object.freeze({ from, to, cause, source });

const MANUAL_CANCEL = 'Manual cancel';
const CHARGE_BEFORE = 'manual charge paid before the next billing time: the plan continues';
const CHARGE_AFTER = 'manual charge paid at/after the next billing time: the plan is cancelled';
const CHARGE_FAILED = 'payment failed: the subscription keeps its original state';
const CANCEL_CALL = '/subscription/v1/cancel cancels the subscription immediately';
const CONFIRMED = 'the current state reported again (a later notification or query)';
const FIRST_SEEN =
  'first seen mid-life: a query answer, or a notification for a subscription not created here';

/**
 * Every allowed edge. The diagram's pseudo-states ("created", "First Payment") are folded into
 * their neighbours, so "Trial End → First Payment → Payment Success" is TRIAL → ACTIVE. A payment
 * that pays the last cycle goes through ACTIVE and straight on to COMPLETED ("Subscription Time
 * up") within one fact; those composite edges are listed with the labels they chain. The same
 * pair may appear more than once when several causes lead along it.
 */
export const TRANSITIONS: ReadonlyArray<LifecycleTransition> = Object.freeze([
  edge('UNKNOWN', 'TRIAL', 'First Created, Trial', 'diagram'),
  edge('UNKNOWN', 'INCOMPLETE', 'First Created', 'diagram'),
  edge('TRIAL', 'ACTIVE', 'Trial End, First Payment: Payment Success', 'diagram'),
  edge('TRIAL', 'INCOMPLETE', 'Trial End, First Payment: Payment failed', 'diagram'),
  edge('TRIAL', 'COMPLETED', 'Trial End, First Payment: Payment Success, Subscription Time up', 'diagram'),
  edge('TRIAL', 'CANCELLED', MANUAL_CANCEL, 'diagram'),
  edge('INCOMPLETE', 'INCOMPLETE', 'First Payment: Payment failed', 'diagram'),
  edge('INCOMPLETE', 'ACTIVE', 'First Payment: Payment Success', 'diagram'),
  edge('INCOMPLETE', 'COMPLETED', 'First Payment: Payment Success, Subscription Time up', 'diagram'),
  edge('INCOMPLETE', 'INCOMPLETE_EXPIRED', 'No payment and Subscription expired', 'diagram'),
  edge('ACTIVE', 'ACTIVE', 'Recurring pay', 'diagram'),
  edge('ACTIVE', 'PAST_DUE', 'Retry Failed', 'diagram'),
  edge('ACTIVE', 'PAUSED', 'Pause', 'diagram'),
  edge('ACTIVE', 'COMPLETED', 'Subscription Time up', 'diagram'),
  edge('ACTIVE', 'CANCELLED', MANUAL_CANCEL, 'diagram'),
  edge('PAST_DUE', 'PAST_DUE', 'Retry Failed (a further retry)', 'diagram'),
  edge('PAST_DUE', 'UNPAID', 'Retry exhausted', 'diagram'),
  edge('PAST_DUE', 'CANCELLED', MANUAL_CANCEL, 'diagram'),
  edge('UNPAID', 'ACTIVE', 'Resend subscription payment (Customer in)', 'diagram'),
  edge('UNPAID', 'COMPLETED', 'Resend subscription payment (Customer in), Subscription Time up', 'diagram'),
  edge('UNPAID', 'CANCELLED', MANUAL_CANCEL, 'diagram'),
  edge('PAUSED', 'ACTIVE', 'Resume', 'diagram'),

  edge('INCOMPLETE', 'ACTIVE', CHARGE_BEFORE, 'seed-manual-charge'),
  edge('PAST_DUE', 'ACTIVE', CHARGE_BEFORE, 'seed-manual-charge'),
  edge('UNPAID', 'ACTIVE', CHARGE_BEFORE, 'seed-manual-charge'),
  edge('PAST_DUE', 'COMPLETED', `${CHARGE_BEFORE}, Subscription Time up`, 'seed-manual-charge'),
  edge('INCOMPLETE', 'CANCELLED', CHARGE_AFTER, 'seed-manual-charge'),
  edge('PAST_DUE', 'CANCELLED', CHARGE_AFTER, 'seed-manual-charge'),
  edge('UNPAID', 'CANCELLED', CHARGE_AFTER, 'seed-manual-charge'),
  edge('INCOMPLETE', 'INCOMPLETE', CHARGE_FAILED, 'seed-manual-charge'),
  edge('PAST_DUE', 'PAST_DUE', CHARGE_FAILED, 'seed-manual-charge'),
  edge('UNPAID', 'UNPAID', CHARGE_FAILED, 'seed-manual-charge'),

  edge('UNKNOWN', 'ACTIVE', 'create response ACTIVE: the first payment succeeded at creation', 'api'),
  edge('UNKNOWN', 'COMPLETED', 'create response COMPLETED: a one-cycle plan paid at creation', 'api'),
  edge('UNKNOWN', 'INCOMPLETE_EXPIRED', FIRST_SEEN, 'api'),
  edge('UNKNOWN', 'PAST_DUE', FIRST_SEEN, 'api'),
  edge('UNKNOWN', 'UNPAID', FIRST_SEEN, 'api'),
  edge('UNKNOWN', 'PAUSED', FIRST_SEEN, 'api'),
  edge('UNKNOWN', 'CANCELLED', FIRST_SEEN, 'api'),
  edge('INCOMPLETE', 'CANCELLED', CANCEL_CALL, 'api'),
  edge('PAUSED', 'CANCELLED', CANCEL_CALL, 'api'),
  edge('TRIAL', 'TRIAL', CONFIRMED, 'api'),
  edge('PAUSED', 'PAUSED', CONFIRMED, 'api'),
  edge('INCOMPLETE_EXPIRED', 'INCOMPLETE_EXPIRED', CONFIRMED, 'api'),
  edge('CANCELLED', 'CANCELLED', CONFIRMED, 'api'),
  edge('COMPLETED', 'COMPLETED', CONFIRMED, 'api'),
]);

/** Every allowed `from>to` pair, frozen (a Map or Set at module scope would not be: see the lint). */
const ALLOWED: Readonly<Record<string, true>> = Object.freeze(
  Object.fromEntries(TRANSITIONS.map((t) => [`${t.from}>${t.to}`, true] as const)),
);

/**
 * Whether the lifecycle allows `from` → `to` in one step.
 * @returns true when {@link TRANSITIONS} has at least one edge for the pair
 */
export function canTransition(from: LifecycleState, to: SubscriptionState): boolean {
  return Object.hasOwn(ALLOWED, `${from}>${to}`);
}

/**
 * Whether `to` can be reached from `from` along allowed edges (zero or more steps). A query
 * answer may skip states whose notifications were lost (ACTIVE → UNPAID via PAST_DUE).
 */
export function canReach(from: LifecycleState, to: SubscriptionState): boolean {
  if (from === to) return true;
  const seen = new Set<LifecycleState>([from]);
  const queue: LifecycleState[] = [from];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const t of TRANSITIONS) {
      if (t.from !== next || seen.has(t.to)) continue;
      if (t.to === to) return true;
      seen.add(t.to);
      queue.push(t.to);
    }
  }
  return false;
}

/**
 * Progression rank, used to order facts that QFPay stamped with the same second: a later stage
 * of the lifecycle is taken to have happened later (TRIAL before INCOMPLETE before ACTIVE, a
 * failure before its exhaustion), and terminal states last so that they win ties.
 */
export const STATE_RANK: Readonly<Record<SubscriptionState, number>> = Object.freeze({
  TRIAL: 0,
  INCOMPLETE: 1,
  ACTIVE: 2,
  PAST_DUE: 3,
  UNPAID: 4,
  PAUSED: 5,
  INCOMPLETE_EXPIRED: 6,
  CANCELLED: 7,
  COMPLETED: 8,
});
