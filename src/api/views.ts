/**
 * What the workflows answer, as the API shows it: snake_case fields, ISO-8601 times instead of
 * epoch milliseconds, and only the recent part of long lists.
 */
import { QFPAY_GATEWAY, type GatewayCapabilities, type GatewayProfile } from '../domain/gateway-profile';
import type { DunningPolicy } from '../domain/episode/dunning';
import type {
  ChargeResult,
  CreateSubscriptionResult,
  DunningAttemptRecord,
  DunningEpisode,
  SubscriptionView,
} from '../workflows/definitions';
import { isTerminal } from '../domain/lifecycle/lifecycle-table';
import type {
  ChargeResultResponse,
  CreationResponse,
  DunningPolicyViewResponse,
  GatewayResponse,
  SubscriptionViewResponse,
} from './schemas';

/** Orders shown in a subscription view (the most recent). */
export const VIEW_ORDERS = 12;
/** State changes shown in a subscription view (the most recent). */
export const VIEW_TRANSITIONS = 20;

/** Epoch ms → ISO-8601 (UTC). */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** Epoch ms, null or undefined → ISO-8601 or null. */
export function isoOrNull(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined || !Number.isFinite(ms) ? null : isoTime(ms);
}

function attemptView(a: DunningAttemptRecord) {
  return {
    attempt: a.attempt,
    scheduled_at: isoTime(a.scheduledAt),
    started_at: isoTime(a.startedAt),
    finished_at: isoTime(a.finishedAt),
    result: a.result,
    respcd: a.respcd ?? null,
    detail: a.detail ?? null,
  };
}

function episodeView(e: DunningEpisode): SubscriptionViewResponse['dunning']['history'][number] {
  return {
    order_id: e.orderId,
    sequence_no: e.sequenceNo,
    stage: e.stage,
    opened_at: isoTime(e.openedAt),
    failure_at: isoTime(e.failureAt),
    next_billing_time: isoTime(e.nextBillingTime),
    deadline: isoTime(e.deadline),
    schedule: e.schedule.map(isoTime),
    attempts: e.attempts.map(attemptView),
    escalation_steps_done: [...e.escalationStepsDone],
    closed_at: isoOrNull(e.closedAt),
    outcome: e.outcome ?? null,
    outcome_detail: e.outcomeDetail ?? null,
  };
}

/** A dunning policy as the API shows it: snake_case fields, durations in milliseconds. */
export function policyView(policy: DunningPolicy): DunningPolicyViewResponse {
  return {
    attempt_offsets: [...policy.attemptOffsets],
    safety_margin: policy.safetyMargin,
    min_attempt_window: policy.minAttemptWindow,
    escalation: [...policy.escalation],
    final_action: policy.finalAction,
    non_retryable_respcds: [...policy.nonRetryableRespcds],
  };
}

/** What a gateway can do, as the API shows it (an absent capability is false, or null). */
export function capabilitiesView(capabilities: GatewayCapabilities): GatewayResponse['capabilities'] {
  return {
    manual_charge: capabilities.manualCharge,
    pause: capabilities.pause,
    change_token: capabilities.changeToken,
    change_cycles: capabilities.changeCycles,
    change_products: capabilities.changeProducts,
    change_price: capabilities.changePrice ?? false,
    cancel: capabilities.cancel,
    recovery: capabilities.recovery,
    recovery_ends_after_ms: capabilities.recoveryEndsAfterMs ?? null,
  };
}

/** A gateway of `GET /v1/gateways`. */
export function gatewayView(gateway: GatewayProfile & { description: string }): GatewayResponse {
  return {
    name: gateway.name,
    description: gateway.description,
    capabilities: capabilitiesView(gateway.capabilities),
  };
}

/** A subscription workflow's `snapshot` query answer, as the API shows it. */
export function subscriptionView(view: SubscriptionView): SubscriptionViewResponse {
  const s = view.snapshot;
  return {
    metadata: view.metadata ?? {},
    ...(view.testClock
      ? { test_clock: { test_clock_id: view.testClock.id, frozen_time: isoOrNull(view.testClock.now) } }
      : {}),
    subscription_id: view.subscriptionId,
    workflow_id: view.workflowId,
    gateway: view.gateway ?? QFPAY_GATEWAY,
    origin: view.origin,
    state: s.state,
    state_at: isoOrNull(s.stateAt),
    customer_id: s.customerId ?? null,
    token_id: s.tokenId ?? null,
    product_ids: [...s.productIds],
    total_billing_cycles: s.totalBillingCycles,
    completed_cycles: s.completedCycles,
    // An ended subscription bills no more; the workflow keeps the last time QFPay gave (as the
    // NextBillingTime search attribute does not).
    next_billing_time: isTerminal(s.state) ? null : isoOrNull(s.nextBillingTime),
    last_billing_time: isoOrNull(s.lastBillingTime),
    recent_orders: s.orders.slice(-VIEW_ORDERS).map((o) => ({
      order_id: o.orderId,
      sequence_no: o.sequenceNo,
      status: o.status,
      respcd: o.respcd ?? null,
      failures: o.failures,
      first_at: isoTime(o.firstAt),
      last_at: isoTime(o.lastAt),
      paid_at: isoOrNull(o.paidAt),
      amount: o.amount ?? null,
      currency: o.currency ?? null,
      trigger_by: o.triggerBy ?? null,
    })),
    transitions: s.transitions.slice(-VIEW_TRANSITIONS).map((t) => ({
      from: t.from,
      to: t.to,
      at: isoTime(t.at),
      cause: t.cause,
    })),
    dunning: {
      policy: policyView(view.dunning.policy),
      episode: view.dunning.episode ? episodeView(view.dunning.episode) : null,
      // Every closed episode the engine keeps (MAX_EPISODE_HISTORY): what the dunning report counts.
      history: view.dunning.history.map(episodeView),
    },
    billing_paused_by_merchant: view.billingPause?.atGateway === true,
    billing_pause: view.billingPause?.atGateway
      ? {
          since: isoTime(view.billingPause.since),
          resumes_at: isoOrNull(view.billingPause.resumesAt),
          by: view.billingPause.by,
        }
      : null,
    dunning_hold:
      view.billingPause && !view.billingPause.atGateway
        ? {
            since: isoTime(view.billingPause.since),
            until: isoOrNull(view.billingPause.resumesAt),
            by: view.billingPause.by,
          }
        : null,
    scheduled_cancel: view.scheduledCancel
      ? {
          period_end: isoTime(view.scheduledCancel.periodEnd),
          cancel_at: isoTime(view.scheduledCancel.cancelAt),
          scheduled_at: isoTime(view.scheduledCancel.scheduledAt),
        }
      : null,
    reconcile_reason: s.reconcile,
    last_sync_at: isoOrNull(view.lastSyncAt),
    facts_applied: s.factsApplied,
  };
}

/** A manual charge's result, as the API shows it. */
export function chargeResultView(result: ChargeResult, view: SubscriptionView): ChargeResultResponse {
  return {
    order_id: result.orderId,
    outcome: result.outcome,
    respcd: result.respcd,
    respmsg: result.respmsg ?? null,
    subscription: subscriptionView(view),
  };
}

/** A finished creation, as the API shows it. */
export function creationResultView(
  result: CreateSubscriptionResult,
): NonNullable<CreationResponse['result']> {
  return {
    subscription_id: result.subscriptionId,
    workflow_id: result.workflowId,
    customer_id: result.customerId,
    // `''` is how a gateway creation said "no product" before it said null.
    product_id: result.productId || null,
    state: result.state,
    reused_existing: result.reusedExisting,
  };
}
