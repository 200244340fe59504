/**
 * Pure decisions about dunning episodes, kept out of the workflow so they are tested fast and
 * exhaustively: when an episode opens, when it ends and why, the window in which a manual charge
 * may start, and the attempts still planned.
 */
import type { DunningEpisode } from './dunning-episode';
import type { DunningPolicy } from './dunning';
import { attemptDeadline, isRetryableFailure, scheduleAttempts } from './dunning';
import { isTerminal, type OrderRecord, type SubscriptionSnapshot } from '../lifecycle/lifecycle';

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

/**
 * When a manual charge of an order may still start. QFPay cancels the plan for a manual charge
 * that succeeds after the next billing time, so every charge must be over by
 * `nextBillingTime − safetyMargin` (`deadline`), and may start no later than
 * `deadline − minAttemptWindow` (`latestStart`).
 */
export type ChargeWindow =
  | { open: true; nextBillingTime: number; deadline: number; latestStart: number }
  | { open: false; reason: 'earlier_cycle' | 'unknown_next_billing_time' };

/**
 * The charge window of `order`, from the next billing time the snapshot knows now (recomputed on
 * every call, so a sync or a policy change moves it at once).
 */
export function chargeWindow(
  snapshot: SubscriptionSnapshot,
  order: Pick<OrderRecord, 'sequenceNo' | 'firstAt'>,
  policy: DunningPolicy,
): ChargeWindow {
  if (order.sequenceNo < snapshot.lastSequenceNo) return { open: false, reason: 'earlier_cycle' };
  const next = snapshot.nextBillingTime;
  if (next === null || next <= order.firstAt) return { open: false, reason: 'unknown_next_billing_time' };
  const deadline = attemptDeadline(next, policy);
  return { open: true, nextBillingTime: next, deadline, latestStart: deadline - policy.minAttemptWindow };
}

/** Whether a charge may start at `now` inside `window`. */
export function mayStartCharge(window: ChargeWindow, now: number): boolean {
  return window.open && now <= window.latestStart;
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
  billingPaused: boolean,
): OpenDecision {
  if (billingPaused) return { open: false, reason: 'paused' };
  const order = currentFailedOrder(snapshot);
  if (!order) return { open: false, reason: 'no_failed_order' };
  if (!isChargeableState(snapshot.state)) return { open: false, reason: 'not_chargeable_state' };
  if (handledOrderIds.includes(order.orderId)) return { open: false, reason: 'already_handled' };
  if (snapshot.nextBillingTime === null || snapshot.nextBillingTime <= order.firstAt) {
    return { open: false, reason: 'needs_next_billing_time' };
  }
  return { open: true, order, nextBillingTime: snapshot.nextBillingTime };
}

/** The latest start among an episode's attempts, or null before the first. */
export function lastAttemptStart(episode: DunningEpisode): number | null {
  return episode.attempts.reduce<number | null>(
    (t, a) => (t === null ? a.startedAt : Math.max(t, a.startedAt)),
    null,
  );
}

/** Whether the episode's latest attempt failed for a reason the policy says is not worth retrying. */
export function endedByPermanentFailure(episode: DunningEpisode, policy: DunningPolicy): boolean {
  const last = episode.attempts.at(-1);
  return last?.result === 'failed' && !isRetryableFailure(last.respcd, policy);
}

/**
 * The attempts still planned for an episode at `now`: the policy's offsets from the failure that
 * can still start inside the order's charge window, offsets already served by an earlier attempt
 * left out, and overdue ones (after an outage) collapsed into one attempt now. Empty when the
 * failure is not worth retrying, when the window is closed or unknown, or when every offset has
 * been served. Recomputed from the current snapshot and policy on every call.
 */
export function planAttempts(
  snapshot: SubscriptionSnapshot,
  episode: DunningEpisode,
  policy: DunningPolicy,
  now: number,
): number[] {
  if (!isRetryableFailure(episode.failureRespcd, policy) || endedByPermanentFailure(episode, policy))
    return [];
  const window = chargeWindow(
    snapshot,
    { sequenceNo: episode.sequenceNo, firstAt: episode.failureAt },
    policy,
  );
  if (!window.open) return [];
  return scheduleAttempts({
    failureTime: episode.failureAt,
    nextBillingTime: window.nextBillingTime,
    now,
    policy,
    lastAttemptAt: lastAttemptStart(episode),
  });
}

/** Opens an episode for a failed order; its plan is derived later, from the state of the moment. */
export function openEpisode(
  order: OrderRecord,
  nextBillingTime: number,
  now: number,
  policy: DunningPolicy,
): DunningEpisode {
  const retryable = isRetryableFailure(order.respcd ?? '', policy);
  return {
    orderId: order.orderId,
    sequenceNo: order.sequenceNo,
    openedAt: now,
    ladder: { attemptOffsets: [...policy.attemptOffsets], finalAction: policy.finalAction },
    failureAt: order.firstAt,
    failureRespcd: order.respcd ?? '',
    nextBillingTime,
    deadline: attemptDeadline(nextBillingTime, policy),
    schedule: [],
    attempts: [],
    stage: 'retrying',
    escalationStepsDone: [],
    ...(retryable ? {} : { outcomeDetail: `failure ${order.respcd ?? '?'} is not worth retrying` }),
  };
}

export type EpisodeEnd =
  { ended: true; outcome: 'recovered' | 'lost' | 'stopped'; detail: string } | { ended: false };

/**
 * Whether something outside the episode ended it: the order got paid (by the customer, QFPay's
 * own retry, or a manual charge), the subscription ended, or a new billing time passed (the
 * order can no longer be charged without cancelling the plan, so it is lost).
 *
 * With `billingTimeEnds: false` (a gateway that recovers on its own, and may report its next
 * retry as the next billing time) only a new cycle that has started ends it as lost.
 */
export function episodeEndedBy(
  snapshot: SubscriptionSnapshot,
  episode: DunningEpisode,
  now: number,
  billingTimeEnds = true,
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
  if (billingTimeEnds && now >= episode.nextBillingTime) {
    return {
      ended: true,
      outcome: 'lost',
      detail: 'the next billing time passed before the order was recovered',
    };
  }
  return { ended: false };
}
