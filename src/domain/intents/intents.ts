/**
 * The merchant's intents (the workflow's updates): the pure check each gets before it is queued
 * and again when taken up, the action each becomes, and how a change's answer is applied.
 */
import { type Action, answerFailure, cannot, type Outcome, refuse } from '../actions';
import { chargeNowProblem, decideChargeNow } from '../charge/charge';
import {
  checkPolicyOverride,
  type DunningPolicyOverride,
  finalActionProblem,
  InvalidDunningPolicyError,
  mergePolicy,
} from '../episode/dunning';
import {
  applyFactToState,
  causalAt,
  type EngineState,
  gatewayOf,
  givenUp,
  type Intent,
  type IntentRequest,
  type PlanLine,
  resolveIntent,
} from '../engine-state';
import { gatewayLabel } from '../gateway-profile';
import type { Fact } from '../lifecycle/lifecycle';
import { isTerminal } from '../lifecycle/lifecycle-table';
import { holdScope, noPause, resumesAtProblem } from '../pause/pause';
import { scheduleCancelProblem, unscheduleCancelProblem } from '../cancel/scheduled-cancel';

export function decideIntent(s: EngineState, intent: Intent, now: number): Action {
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
    case 'schedule_cancel':
      return {
        kind: 'schedule_cancel',
        intentId: intent.id,
        periodEnd: s.scheduledCancel?.periodEnd ?? s.snapshot.nextBillingTime!,
      };
    case 'unschedule_cancel':
      return { kind: 'unschedule_cancel', intentId: intent.id };
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
    case 'schedule_cancel':
      return scheduleCancelProblem(s, now);
    case 'unschedule_cancel':
      return unscheduleCancelProblem(s);
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

/** A refused intent. */
export function refuseIntent(state: EngineState, action: Extract<Action, { kind: 'refuse' }>): EngineState {
  return resolveIntent(state, action.intentId, { ok: false, message: action.message, type: action.type });
}
