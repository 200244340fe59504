/**
 * Pure translation between MadFintech's vocabulary and the engine's: statuses to lifecycle
 * states, payments to billing cycles and facts, amounts, and the order number made from the
 * engine's reference. No I/O, no clock.
 */
import { createHash } from 'node:crypto';
import type { PaymentFact, RemoteOrder } from '../../domain/lifecycle/lifecycle-types';
import type { SubscriptionState } from '../../domain/lifecycle/lifecycle-table';
import type { Order, OrderStatus, Payment, PaymentStatus, Recurring, RecurringStatus } from './schemas';

/** The engine's `respcd` for a paid cycle. */
export const PAID_RESPCD = '0000';

/** A recurring subscription's status as a lifecycle state (`active` may be PAST_DUE: see {@link subscriptionState}). */
export function recurringState(status: RecurringStatus): SubscriptionState {
  switch (status) {
    case 'active':
      return 'ACTIVE';
    case 'canceled':
    case 'cancelled':
      return 'CANCELLED';
    case 'failed':
      return 'UNPAID';
    case 'finished':
      return 'COMPLETED';
  }
}

/** An order's status as a lifecycle state, for an order that has no recurring subscription (yet). */
export function orderState(status: OrderStatus): SubscriptionState {
  switch (status) {
    case 'new':
    case 'in_progress':
    case 'declined':
      return 'INCOMPLETE';
    case 'paid':
      return 'ACTIVE';
    case 'expired':
      return 'INCOMPLETE_EXPIRED';
    case 'cancelled':
    case 'refunded':
      return 'CANCELLED';
  }
}

/** What a payment status means for its cycle. */
export function paymentOutcome(status: PaymentStatus): 'paid' | 'failed' | 'pending' {
  switch (status) {
    case 'completed':
    case 'refunded':
      return 'paid';
    case 'declined':
    case 'failed':
    case 'cancelled':
      return 'failed';
    case 'new':
    case 'in_progress':
    case 'authorized':
      return 'pending';
  }
}

/** The schedule entry being billed: the first not yet settled one. */
export function currentEntry(recurring: Recurring): { index: number; tries: number } | undefined {
  const index = recurring.recurringPayments.findIndex((e) => e.status === 'schedule');
  const entry = recurring.recurringPayments[index];
  return entry === undefined ? undefined : { index, tries: entry.tries?.length ?? 0 };
}

/**
 * The subscription's state: the recurring status once there is one (an `active` one whose current
 * cycle has a declined try is PAST_DUE), else the order's.
 */
export function subscriptionState(order: Order, recurring?: Recurring): SubscriptionState {
  if (recurring === undefined) {
    const status = order.recurringPayments?.status;
    return order.recurringPayments?.recurringId && status
      ? recurringState(status)
      : orderState(order.orderStatus);
  }
  if (recurring.status === 'active' && (currentEntry(recurring)?.tries ?? 0) > 0) return 'PAST_DUE';
  return recurringState(recurring.status);
}

/**
 * The billing cycle of each payment: the initial payment is cycle 1, and a cycle ends with its
 * completed payment (declined tries before it belong to the same cycle).
 */
export function paymentCycles(payments: readonly Payment[]): number[] {
  let completed = 0;
  return payments.map((p) => {
    const cycle = completed + 1;
    if (paymentOutcome(p.paymentStatus.status) === 'paid') completed += 1;
    return cycle;
  });
}

/** The engine's order id of a cycle: `<orderNumber>:<cycle>` (stable, known before the recurringId). */
export const cycleOrderId = (orderNumber: string, cycle: number): string => `${orderNumber}:${cycle}`;

const failureCode = (p: Payment): string => p.paymentStatus.reason ?? p.paymentStatus.status;

const DAY_MS = 86_400_000;

/**
 * When `order.payments[index]` was made. Its own `createdAt` if it has one (the seed's payments
 * have none); else, for the first cycle, the order's payment time (or its creation); for a later
 * cycle, the recurring schedule's time of it when the schedule shows it settled (a paid cycle: its
 * charge date plus a day per declined try before it; a declined try: that try's date); else
 * `fallbackAt`, when the engine learned of it (the callback's arrival, the query's time).
 */
export function paymentTime(order: Order, index: number, fallbackAt: number, recurring?: Recurring): number {
  const p = order.payments[index];
  if (p?.createdAt !== undefined) return Date.parse(p.createdAt);
  const cycles = paymentCycles(order.payments);
  const cycle = cycles[index] ?? 1;
  const outcome = p === undefined ? 'pending' : paymentOutcome(p.paymentStatus.status);
  if (cycle === 1) {
    const at = outcome === 'paid' ? (order.orderPaidAt ?? order.orderCreatedAt) : order.orderCreatedAt;
    return Date.parse(at);
  }
  const entry = recurring?.recurringPayments[cycle - 1];
  if (entry !== undefined && outcome === 'paid' && entry.status === 'successful') {
    return Date.parse(entry.chargeDate) + (entry.tries?.length ?? 0) * DAY_MS;
  }
  if (entry !== undefined && outcome === 'failed') {
    // This payment's place among its cycle's declined tries.
    const before = order.payments
      .slice(0, index)
      .filter((q, i) => cycles[i] === cycle && paymentOutcome(q.paymentStatus.status) === 'failed').length;
    const tryAt = entry.tries?.[before]?.date;
    if (tryAt !== undefined) return Date.parse(tryAt);
  }
  return fallbackAt;
}

/**
 * One order per cycle that has a settled attempt: PAID if any attempt paid, else FAILED (newest
 * failure). A payment's time as {@link paymentTime} finds it (`fallbackAt`: the query's time).
 */
export function remoteOrders(
  order: Order,
  recurring: Recurring | undefined,
  fallbackAt: number,
): RemoteOrder[] {
  const { orderNumber, payments } = order;
  const cycles = paymentCycles(payments);
  const byCycle = new Map<number, RemoteOrder>();
  payments.forEach((p, i) => {
    const outcome = paymentOutcome(p.paymentStatus.status);
    const sequenceNo = cycles[i] ?? 1;
    const existing = byCycle.get(sequenceNo);
    if (outcome === 'pending' || existing?.status === 'PAID') return;
    byCycle.set(sequenceNo, {
      orderId: cycleOrderId(orderNumber, sequenceNo),
      sequenceNo,
      triggerBy: 'auto',
      status: outcome === 'paid' ? 'PAID' : 'FAILED',
      respcd: outcome === 'paid' ? PAID_RESPCD : failureCode(p),
      at: paymentTime(order, i, fallbackAt, recurring),
      amount: toMinorUnits(p.cost.amount, p.cost.currency),
      currency: p.cost.currency,
    });
  });
  return [...byCycle.values()].sort((a, b) => a.sequenceNo - b.sequenceNo);
}

/**
 * The payment fact of `order.payments[index]`, or undefined while that payment is pending. Its
 * time as {@link paymentTime} finds it (`fallbackAt`: when the callback came).
 */
export function paymentFact(
  order: Order,
  index: number,
  source: PaymentFact['source'],
  fallbackAt: number,
): PaymentFact | undefined {
  const p = order.payments[index];
  if (p === undefined) return undefined;
  const outcome = paymentOutcome(p.paymentStatus.status);
  if (outcome === 'pending') return undefined;
  const sequenceNo = paymentCycles(order.payments)[index] ?? 1;
  return {
    kind: 'payment',
    subscriptionId: order.orderNumber,
    orderId: cycleOrderId(order.orderNumber, sequenceNo),
    sequenceNo,
    succeeded: outcome === 'paid',
    respcd: outcome === 'paid' ? PAID_RESPCD : failureCode(p),
    respmsg: p.paymentStatus.status,
    amount: toMinorUnits(p.cost.amount, p.cost.currency),
    currency: p.cost.currency,
    ...(p.transactionId === undefined ? {} : { syssn: p.transactionId }),
    at: paymentTime(order, index, fallbackAt),
    triggerBy: 'auto',
    source,
  };
}

const ZERO_DECIMAL = new Set([
  'BIF',
  'CLP',
  'DJF',
  'GNF',
  'ISK',
  'JPY',
  'KMF',
  'KRW',
  'PYG',
  'RWF',
  'UGX',
  'VND',
  'VUV',
  'XAF',
  'XOF',
  'XPF',
]);
const THREE_DECIMAL = new Set(['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND']);

/** Minor-unit digits of a currency (ISO 4217; 2 unless listed). */
export function currencyExponent(currency: string): number {
  if (ZERO_DECIMAL.has(currency)) return 0;
  return THREE_DECIMAL.has(currency) ? 3 : 2;
}

/** Minor units as MadFintech's decimal string: 5699 USD → "56.99". */
export function toDecimalAmount(minor: number, currency: string): string {
  if (!Number.isSafeInteger(minor) || minor < 0)
    throw new RangeError(`not an amount in minor units: ${minor}`);
  const exp = currencyExponent(currency);
  if (exp === 0) return String(minor);
  const digits = String(minor).padStart(exp + 1, '0');
  return `${digits.slice(0, -exp)}.${digits.slice(-exp)}`;
}

/** MadFintech's decimal string as minor units: "56.99" USD → 5699 (extra zero decimals allowed). */
export function toMinorUnits(amount: string, currency: string): number {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(amount);
  if (match === null) throw new RangeError(`not a decimal amount: ${amount}`);
  const exp = currencyExponent(currency);
  const fraction = (match[2] ?? '').padEnd(exp, '0');
  if (/[^0]/.test(fraction.slice(exp))) throw new RangeError(`${amount} has more than ${exp} decimals`);
  return Number(`${match[1]}${fraction.slice(0, exp)}`);
}

const SAFE_ORDER_NUMBER = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The order number for an engine reference: the reference itself when it is 1–64 of
 * `[A-Za-z0-9_-]` and does not start with `h-`; otherwise `h-` + the first 40 hex digits of its
 * SHA-256 (deterministic, so a retried creation finds the same order).
 */
export function orderNumberFor(reference: string): string {
  if (SAFE_ORDER_NUMBER.test(reference) && !reference.startsWith('h-')) return reference;
  return `h-${createHash('sha256').update(reference, 'utf8').digest('hex').slice(0, 40)}`;
}
