/**
 * Pure decisions about dunning episodes, kept out of the workflow so they are tested fast and
 * exhaustively: when an episode opens, when it ends and why, and what the next step is.
 */
import type { DunningEpisode } from './definitions';
import type { DunningPolicy } from './dunning';
import { attemptDeadline, isRetryableFailure, scheduleAttempts } from './dunning';
import { isTerminal, type OrderRecord, type SubscriptionSnapshot } from './lifecycle';

/** States in which QFPay accepts a manual charge for a failed order (seed 001). */
export const CHARGEABLE_STATES = ['PAST_DUE', 'UNPAID', 'INCOMPLETE'] as const;

export function isChargeableState(state: string): boolean {
  return (CHARGEABLE_STATES as readonly string[]).includes(state);
}

/** The latest order, if it failed and is still the subscription's current order. */
export function currentFailedOrder(snapshot: SubscriptionSnapshot): OrderRecord | undefined {
  const latest = snapshot.orders.reduce<OrderRecord | undefined>(
    (best, o) => (best === undefined || o.sequenceNo > best.sequenceNo ? o : best),
    undefined,
  );
  if (!latest || latest.status !== 'FAILED' || latest.sequenceNo < snapshot.lastSequenceNo) return undefined;
  return latest;
}

export type OpenDecision =
  | { open: false; reason: 'no_failed_order' | 'not_chargeable_state' | 'already_handled' | 'paused' }
  | { open: false; reason: 'needs_next_billing_time' }
  | { open: true; order: OrderRecord; nextBillingTime: number };

/**
 * Whether a dunning episode should open now: a failed current order, a chargeable state, a known
 * next billing time, and no episode (open or closed) for that order yet.
 */
export function decideOpen(
  snapshot: SubscriptionSnapshot,
  handledOrderIds: readonly string[],
  billingPausedByMerchant: boolean,
): OpenDecision {
  if (billingPausedByMerchant) return { open: false, reason: 'paused' };
  const order = currentFailedOrder(snapshot);
  if (!order) return { open: false, reason: 'no_failed_order' };
  if (!isChargeableState(snapshot.state)) return { open: false, reason: 'not_chargeable_state' };
  if (handledOrderIds.includes(order.orderId)) return { open: false, reason: 'already_handled' };
  if (snapshot.nextBillingTime === null || snapshot.nextBillingTime <= order.firstAt) {
    return { open: false, reason: 'needs_next_billing_time' };
  }
  return { open: true, order, nextBillingTime: snapshot.nextBillingTime };
}

/** Opens an episode for a failed order, with its attempt schedule fixed at opening. */
export function openEpisode(
  order: OrderRecord,
  nextBillingTime: number,
  now: number,
  policy: DunningPolicy,
): DunningEpisode {
  const retryable = isRetryableFailure(order.respcd ?? '', policy);
  const schedule = retryable
    ? scheduleAttempts({ failureTime: order.firstAt, nextBillingTime, now, policy, attemptsMade: 0 })
    : [];
  return {
    orderId: order.orderId,
    sequenceNo: order.sequenceNo,
    openedAt: now,
    failureAt: order.firstAt,
    nextBillingTime,
    deadline: attemptDeadline(nextBillingTime, policy),
    schedule,
    attempts: [],
    stage: schedule.length > 0 ? 'retrying' : 'escalating',
    escalationStepsDone: [],
    outcomeDetail: retryable ? undefined : `failure ${order.respcd ?? '?'} is not worth retrying`,
  };
}

export type EpisodeEnd =
  { ended: true; outcome: 'recovered' | 'lost' | 'stopped'; detail: string } | { ended: false };

/**
 * Whether something outside the episode ended it: the order got paid (by the customer, QFPay's
 * own retry, or a manual charge), the subscription ended, or a new billing time passed (the
 * order can no longer be charged without cancelling the plan, so it is lost).
 */
export function episodeEndedBy(
  snapshot: SubscriptionSnapshot,
  episode: DunningEpisode,
  now: number,
): EpisodeEnd {
  const order = snapshot.orders.find((o) => o.orderId === episode.orderId);
  if (order?.status === 'PAID')
    return { ended: true, outcome: 'recovered', detail: `order ${episode.orderId} paid` };
  if (isTerminal(snapshot.state)) {
    return { ended: true, outcome: 'stopped', detail: `subscription ${snapshot.state}` };
  }
  if (snapshot.lastSequenceNo > episode.sequenceNo) {
    return {
      ended: true,
      outcome: 'lost',
      detail: `a new billing cycle (${snapshot.lastSequenceNo}) started before order ${episode.orderId} was recovered`,
    };
  }
  if (now >= episode.nextBillingTime) {
    return {
      ended: true,
      outcome: 'lost',
      detail: 'the next billing time passed before the order was recovered',
    };
  }
  return { ended: false };
}

/** The time of the next attempt still to make, or undefined when the schedule is used up. */
export function nextAttemptTime(episode: DunningEpisode): number | undefined {
  return episode.schedule[episode.attempts.length];
}
