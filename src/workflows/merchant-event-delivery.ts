/**
 * Delivers one merchant event. A child workflow per event (abandoned by its parent) so that a
 * merchant endpoint that is down for days never blocks the subscription's lifecycle, and the
 * delivery survives the parent continuing-as-new or ending. Its id, `merchant-event:<event id>`,
 * makes it the event's delivery log: its search attributes say where it stands (`pending`,
 * `retrying`, `delivered`, `failed`; `GET /v1/merchant-events?status=failed`), its memo holds the
 * last attempt, and a new run of the same id is a redelivery.
 *
 * Attempts follow the Standard Webhooks guidance: exponential backoff with jitter for about three
 * days, never sooner than the endpoint's `Retry-After`; a `410 Gone` turns the endpoint off.
 */
import type { FailureType } from '../domain/failure-types';
import {
  ActivityFailure,
  isCancellation,
  patched,
  proxyActivities,
  setCurrentDetails,
  sleep,
  upsertMemo,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import type { MerchantEventActivities, MerchantEventAttempt } from '../activities/contracts';
import { DELIVERY_SCHEDULE, formatWait, retryDelayMs } from '../domain/events/delivery-schedule';
import { splitSubscriptionId } from '../domain/gateway-profile';
import { GATEWAY_NEUTRAL_NAMES_PATCH } from './visibility';
import {
  LEGACY_SEARCH_ATTRIBUTES,
  SEARCH_ATTRIBUTES,
  type MerchantEvent,
  type MerchantEventAttemptRecord,
  type MerchantEventDeliveryMemo,
  type MerchantEventDeliveryResult,
  type MerchantEventDeliveryStatus,
} from './definitions';

/** Marks the histories of deliveries whose attempts this workflow schedules itself. */
export const SCHEDULED_ATTEMPTS_PATCH = 'merchant-event-scheduled-attempts';

/** Deliveries started before the patch: one activity retried by Temporal for three days. */
const legacy = proxyActivities<MerchantEventActivities>({
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '3 days',
  retry: {
    initialInterval: '10s',
    backoffCoefficient: 2,
    maximumInterval: '1h',
    nonRetryableErrorTypes: ['MerchantEndpointRejected' satisfies FailureType],
  },
});

/** One attempt per activity: the workflow schedules the next (its timer shows when and why). */
const attempts = proxyActivities<MerchantEventActivities>({
  // The request's own timeout is 15-30 s; this only bounds a worker that died mid-attempt.
  startToCloseTimeout: '45s',
  retry: { maximumAttempts: 1 },
});

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** One attempt; an activity that failed (a lost worker, Temporal unreachable) counts as a failed attempt. */
async function attempt(event: MerchantEvent, n: number): Promise<MerchantEventAttempt> {
  try {
    return await attempts.sendMerchantEvent.executeWithOptions(
      { summary: `send ${event.type} to the merchant endpoint (attempt ${n})` },
      [event],
    );
  } catch (err) {
    if (isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
    return {
      result: 'failed',
      httpStatus: 0,
      reason: `the attempt did not finish: ${err.cause?.message ?? err.message}`,
    };
  }
}

function record(
  status: MerchantEventDeliveryStatus,
  count: number,
  memo: MerchantEventDeliveryMemo,
  details: string,
): void {
  upsertSearchAttributes([
    { key: SEARCH_ATTRIBUTES.merchantEventStatus, value: status },
    { key: SEARCH_ATTRIBUTES.merchantEventAttempts, value: count },
  ]);
  // Every key, so one left from an earlier attempt is cleared (undefined removes it).
  upsertMemo({ lastAttempt: memo.lastAttempt, nextAttemptAt: memo.nextAttemptAt, failure: memo.failure });
  setCurrentDetails(details);
}

export async function merchantEventDeliveryWorkflow(
  event: MerchantEvent,
): Promise<MerchantEventDeliveryResult> {
  if (!patched(SCHEDULED_ATTEMPTS_PATCH)) {
    const { delivered } = await legacy.deliverMerchantEvent(event);
    return { delivered };
  }
  const startedAt = Date.now();
  const giveUpAt = startedAt + DELIVERY_SCHEDULE.windowMs;
  // Deliveries recorded before the gateway-neutral names replay with the QFPay-only one; this
  // upsert is their only one of it, so a delivery under way keeps it to its end.
  const subscription: SearchAttributeUpdatePair[] = patched(GATEWAY_NEUTRAL_NAMES_PATCH)
    ? [
        { key: SEARCH_ATTRIBUTES.subscriptionId, value: event.subscription_id },
        { key: SEARCH_ATTRIBUTES.gateway, value: splitSubscriptionId(event.subscription_id).gateway },
      ]
    : [{ key: LEGACY_SEARCH_ATTRIBUTES.subscriptionId, value: event.subscription_id }];
  upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.merchantEventType, value: event.type }, ...subscription]);
  record('pending', 0, {}, `**pending** · ${event.type} for ${event.subscription_id}`);

  for (let n = 1; ; n += 1) {
    const outcome = await attempt(event, n);
    const lastAttempt: MerchantEventAttemptRecord = {
      attempt: n,
      at: new Date().toISOString(),
      httpStatus: outcome.httpStatus,
      reason: outcome.reason,
    };
    if (outcome.result === 'delivered') {
      record('delivered', n, { lastAttempt }, `**delivered** · attempt ${n} · ${outcome.reason}`);
      return { delivered: true, status: 'delivered', attempts: n };
    }
    let failure: string | undefined;
    let delay = 0;
    if (outcome.result !== 'failed') {
      failure = outcome.reason;
    } else {
      delay = retryDelayMs(n, Math.random(), outcome.retryAfterMs);
      if (Date.now() + delay > giveUpAt) {
        failure = `gave up after ${n} attempts over ${formatWait(Date.now() - startedAt)}; last: ${outcome.reason}`;
      }
    }
    if (failure !== undefined) {
      record('failed', n, { lastAttempt, failure }, `**failed** · ${failure}`);
      return { delivered: false, status: 'failed', attempts: n, failure };
    }
    const next = Date.now() + delay;
    const waited = outcome.result === 'failed' && outcome.retryAfterMs !== undefined ? ' (Retry-After)' : '';
    record(
      'retrying',
      n,
      { lastAttempt, nextAttemptAt: new Date(next).toISOString() },
      `**retrying** · attempt ${n}: ${outcome.reason} · next at ${iso(next)}${waited}`,
    );
    await sleep(delay, {
      summary: `retry ${event.type}: attempt ${n + 1} in ${formatWait(delay)}${waited} after ${outcome.reason}`,
    });
  }
}
