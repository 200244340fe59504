/**
 * QFPay notification bodies for the benchmark, in the shapes QFPay (and the emulator) send, signed
 * like QFPay signs them. Subscription ids are fresh fake ids: the engine adopts any subscription a
 * notification names, and the bench records each at the emulator as its notifications are sent
 * (`emulator-records.ts`), so the engine's syncs find it.
 */
import { randomBytes } from 'node:crypto';
import { signNotification } from '../src/gateways/qfpay/signing';
import { DEFAULT_QFPAY_TIME_OFFSET, formatQfpayNaiveTime } from '../src/gateways/qfpay/time';
import { subscriptionOrderId } from '../src/gateways/qfpay/emulator/engine';
import { factFromNotification } from '../src/gateways/qfpay/facts';
import { parseNotificationBody } from '../src/gateways/qfpay/notifications';
import type { Fact, SubscriptionWorkflowInput } from '../src/workflows/definitions';
import { DEFAULT_DUNNING_POLICY } from '../src/domain/episode/dunning';
import { MINUTE } from '../src/domain/duration';
import { NEW_SUBSCRIPTION_MAX_HISTORY_EVENTS } from '../src/domain/engine-state';
import { addIntervals, type BillingSchedule } from '../src/domain/lifecycle/billing-interval';

/** One notification as sent: the raw body, its `X-QF-SIGN`, and what it should change. */
export interface BenchNotification {
  subscriptionId: string;
  body: string;
  signature: string;
  /** The order a payment notification adds (its effect), or undefined for a state notification. */
  orderId?: string;
  /** The fact the webhook makes of it (what the ceiling signals directly). */
  fact: Fact;
}

/** A fake QFPay subscription id (32 hex digits, like QFPay's). */
export function fakeSubscriptionId(): string {
  return `sub_${randomBytes(16).toString('hex')}`;
}

/**
 * The fake subscriptions' plan: monthly from their first billing a day ahead (whole seconds), so
 * that every payment a run sends is its cycle's, on the schedule the emulator states, and no billing
 * time the engine reckons from it falls due (and asks QFPay) while the run lasts.
 */
export const BENCH_SCHEDULE = {
  anchor: Math.floor((Date.now() + 86_400_000) / 1000) * 1000,
  interval: { unit: 'month', count: 1 },
  offset: DEFAULT_QFPAY_TIME_OFFSET,
} as const satisfies BillingSchedule;

/** When the fake subscriptions' cycle `n` (from 1) is billed. */
export function benchBillingTime(n: number): number {
  return addIntervals(BENCH_SCHEDULE.anchor, BENCH_SCHEDULE.interval, n - 1, BENCH_SCHEDULE.offset);
}

/** `subscription` notification: the state QFPay reports at `at`. */
export function stateNotificationBody(subscriptionId: string, state: string, at: number): string {
  return JSON.stringify({
    notify_type: 'subscription',
    subscription_id: subscriptionId,
    state,
    sysdtm: formatQfpayNaiveTime(at),
  });
}

/** `subscription_payment` notification: cycle `sequenceNo` was paid at `at`. */
export function paymentNotificationBody(subscriptionId: string, sequenceNo: number, at: number): string {
  const hex = subscriptionId.slice('sub_'.length);
  return JSON.stringify({
    notify_type: 'subscription_payment',
    subscription_id: subscriptionId,
    subscription_order_id: subscriptionOrderId(subscriptionId, sequenceNo),
    respcd: '0000',
    respmsg: 'Approved',
    reason: 'AUTHORISED',
    syssn: `2025${String(sequenceNo).padStart(4, '0')}${hex.slice(0, 12)}`,
    txdtm: formatQfpayNaiveTime(at),
    txamt: '9900',
    txcurrcd: 'HKD',
    customer_id: `cust_${hex.slice(0, 16)}`,
    product_id: `prod_${hex.slice(16)}`,
    cardcd: '400000******1091',
    card_scheme: 'VISA',
    current_iteration: String(sequenceNo),
  });
}

/** The fact the webhook makes of a notification body. */
function factOf(body: string): Fact {
  const parsed = parseNotificationBody(body);
  if (parsed.notify_type === 'payment_token') throw new TypeError('not a subscription notification');
  const built = factFromNotification(parsed, Date.now());
  if (!built.ok) throw new TypeError(`bench notification unusable: ${built.reason}`);
  return built.fact;
}

/** The fact of a `subscription` notification reporting `state` at `at`. */
export function stateFact(subscriptionId: string, state: string, at: number): Fact {
  return factOf(stateNotificationBody(subscriptionId, state, at));
}

/** What the API gives a subscription a notification adopts (merchant events off). */
export const ADOPTED_OPTIONS: NonNullable<SubscriptionWorkflowInput['options']> = {
  merchantEvents: false,
  maxHistoryEvents: NEW_SUBSCRIPTION_MAX_HISTORY_EVENTS,
  reconciler: 'schedule',
};

/** The input of an adopted subscription's workflow, as the webhook starts it (merchant events off). */
export function adoptedInput(
  subscriptionId: string,
  extra: Partial<SubscriptionWorkflowInput> = {},
): SubscriptionWorkflowInput {
  return {
    subscriptionId,
    origin: 'adopted',
    policy: DEFAULT_DUNNING_POLICY,
    options: ADOPTED_OPTIONS,
    ...extra,
  };
}

function build(subscriptionId: string, body: string, appKey: string, orderId?: string): BenchNotification {
  return {
    subscriptionId,
    body,
    signature: signNotification(body, appKey),
    fact: factOf(body),
    ...(orderId ? { orderId } : {}),
  };
}

/**
 * The `index`-th notification of a run over `subscriptionIds`: round-robin over the
 * subscriptions; a subscription's first notification reports it ACTIVE, each later one pays
 * its next cycle (so every notification is a new fact, never a duplicate).
 */
export function benchNotification(
  subscriptionIds: readonly string[],
  index: number,
  appKey: string,
): BenchNotification {
  const subscriptionId = subscriptionIds[index % subscriptionIds.length]!;
  return roundNotification(subscriptionId, Math.floor(index / subscriptionIds.length), appKey);
}

/**
 * A subscription's notification of round `round`: round 0 reports it ACTIVE, round k ≥ 1 pays
 * its cycle k.
 */
export function roundNotification(subscriptionId: string, round: number, appKey: string): BenchNotification {
  if (round === 0) {
    const at = BENCH_SCHEDULE.anchor - MINUTE;
    return build(subscriptionId, stateNotificationBody(subscriptionId, 'ACTIVE', at), appKey);
  }
  const body = paymentNotificationBody(subscriptionId, round, benchBillingTime(round));
  return build(subscriptionId, body, appKey, subscriptionOrderId(subscriptionId, round));
}

/** `count` notifications over `subscriptions` fresh fake subscriptions, built up front. */
export function notificationRun(
  subscriptions: number,
  count: number,
  appKey: string,
): {
  subscriptionIds: string[];
  notifications: BenchNotification[];
} {
  const subscriptionIds = Array.from({ length: subscriptions }, fakeSubscriptionId);
  const notifications = Array.from({ length: count }, (_, i) =>
    benchNotification(subscriptionIds, i, appKey),
  );
  return { subscriptionIds, notifications };
}
