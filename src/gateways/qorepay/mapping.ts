/**
 * Pure translations between QorePay's vocabulary and the engine's: ids, billing periods,
 * purchase and subscriber statuses, and the facts built from them. No I/O.
 */
import type { PaymentFact, RemoteOrder, StateFact } from '../../domain/lifecycle/lifecycle-types';
import type { SubscriptionState } from '../../domain/lifecycle/lifecycle-table';
import type { GatewayInterval } from '../port';
import type { Purchase, PurchaseStatus, SubscriberStatus } from './wire';

/** Joins a billing template id and a client id into the engine's id (URL-safe, in no UUID). */
export const ID_SEPARATOR = '~';

export function joinSubscriptionId(templateId: string, clientId: string): string {
  return `${templateId}${ID_SEPARATOR}${clientId}`;
}

/** The two halves of an id made by {@link joinSubscriptionId}, or null for anything else. */
export function splitSubscriptionId(id: string): { templateId: string; clientId: string } | null {
  const parts = id.split(ID_SEPARATOR);
  if (parts.length !== 2 || !parts[0] || !parts[1]) return null;
  return { templateId: parts[0], clientId: parts[1] };
}

/**
 * The billing cycle of each of a subscriber's purchases: its place in the order QorePay created
 * them (1 = the first). Seed 003 gives a purchase no cycle number; its creation time and its id,
 * which it does document, give the place. Purchases of one second go by the emulator's `#<n>`
 * reference when there is one, then by id.
 */
export function purchaseCycles(purchases: readonly Purchase[]): Map<string, number> {
  const ordered = [...purchases].sort(
    (a, b) =>
      a.created_on - b.created_on ||
      (cycleOfReference(a.reference) ?? Infinity) - (cycleOfReference(b.reference) ?? Infinity) ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  return new Map(ordered.map((p, i) => [p.id, i + 1]));
}

/**
 * The emulator's generated purchase `reference`: the template title and the cycle number. Real
 * QorePay's references are not defined by seed 003, so the adapter never depends on this: a
 * notification without it is acknowledged and left to the next sync ({@link purchaseCycles}).
 */
export function purchaseReference(title: string, cycle: number): string {
  return `${title}#${cycle}`;
}

/** The cycle number at the end of a purchase `reference` (`…#<n>`, n ≥ 1), or null. */
export function cycleOfReference(reference: string): number | null {
  const match = /#([1-9]\d{0,8})$/.exec(reference);
  return match ? Number(match[1]) : null;
}

export type PeriodUnits = 'days' | 'weeks' | 'months';

/** The template's `subscription_period(_units)` for an interval (a year is 12 months). */
export function periodOf(interval: GatewayInterval): { period: number; units: PeriodUnits } {
  switch (interval.unit) {
    case 'day':
      return { period: interval.count, units: 'days' };
    case 'week':
      return { period: interval.count, units: 'weeks' };
    case 'month':
      return { period: interval.count, units: 'months' };
    case 'year':
      return { period: interval.count * 12, units: 'months' };
  }
}

/**
 * The interval of a template's `subscription_period(_units)` (the inverse of {@link periodOf};
 * 12 months read back as a year). Undefined for units the engine does not know.
 */
export function intervalOf(period: number, units: string): GatewayInterval | undefined {
  switch (units) {
    case 'days':
      return { unit: 'day', count: period };
    case 'weeks':
      return { unit: 'week', count: period };
    case 'months':
      return period % 12 === 0 ? { unit: 'year', count: period / 12 } : { unit: 'month', count: period };
    default:
      return undefined;
  }
}

/** What a purchase means for its billing cycle. */
export type CycleOutcome = 'paid' | 'failed' | 'overdue' | 'pending';

const OUTCOME: Readonly<Record<PurchaseStatus, CycleOutcome>> = Object.freeze({
  created: 'pending',
  sent: 'pending',
  viewed: 'pending',
  pending_execute: 'pending',
  pending_charge: 'pending',
  hold: 'pending',
  preauthorized: 'pending',
  paid: 'paid',
  cleared: 'paid',
  settled: 'paid',
  // Refunds and chargebacks happen to a paid cycle; they are outside the subscription lifecycle.
  pending_refund: 'paid',
  refunded: 'paid',
  chargeback: 'paid',
  // A charge failed and the purchase is still payable (QorePay's retries run until `due`).
  error: 'failed',
  overdue: 'overdue',
  expired: 'overdue',
  cancelled: 'overdue',
  blocked: 'overdue',
});

/** The outcome of a purchase status; an unknown status is taken as still pending. */
export function cycleOutcome(status: string): CycleOutcome {
  return Object.hasOwn(OUTCOME, status) ? OUTCOME[status as PurchaseStatus] : 'pending';
}

/**
 * The engine's state of a subscriber: cancelled and paused as QorePay says; otherwise from its
 * newest purchase that is not pending: paid → ACTIVE, failed within its due period → PAST_DUE
 * (INCOMPLETE while no cycle was ever paid), overdue → UNPAID; none → INCOMPLETE.
 */
export function subscriptionState(
  status: SubscriberStatus,
  purchases: ReadonlyArray<{ status: string; cycle: number }>,
): SubscriptionState {
  if (status === 'subscription_cancelled') return 'CANCELLED';
  if (status === 'subscription_paused') return 'PAUSED';
  const settled = purchases
    .map((p) => ({ cycle: p.cycle, outcome: cycleOutcome(p.status) }))
    .filter((p) => p.outcome !== 'pending')
    .sort((a, b) => b.cycle - a.cycle);
  const newest = settled[0];
  if (newest === undefined) return 'INCOMPLETE';
  switch (newest.outcome) {
    case 'paid':
      return 'ACTIVE';
    case 'overdue':
      return 'UNPAID';
    default:
      return settled.some((p) => p.outcome === 'paid') ? 'PAST_DUE' : 'INCOMPLETE';
  }
}

/** The engine's success code for a paid cycle. */
export const RESPCD_PAID = '0000';
/** The failure code when QorePay gave none. */
export const RESPCD_FAILED = 'payment_failure';

function lastFailure(p: Purchase): { code: string; message?: string; at?: number } {
  const failed = (p.transaction_data?.attempts ?? []).filter((a) => !a.successful);
  const last = failed[failed.length - 1];
  return {
    code: last?.error?.code || RESPCD_FAILED,
    message: last?.error?.message,
    at: last ? last.processing_time * 1000 : undefined,
  };
}

/** When the purchase's latest outcome happened, epoch ms. */
export function purchaseTime(p: Purchase): number {
  if (p.payment && cycleOutcome(p.status) === 'paid') return p.payment.paid_on * 1000;
  return lastFailure(p).at ?? p.updated_on * 1000;
}

/** One billing cycle (`sequenceNo`, from {@link purchaseCycles}) as the engine's order, or null while pending. */
export function remoteOrder(p: Purchase, sequenceNo: number): RemoteOrder | null {
  const outcome = cycleOutcome(p.status);
  if (outcome === 'pending') return null;
  const paid = outcome === 'paid';
  return {
    orderId: p.id,
    sequenceNo,
    triggerBy: 'auto',
    status: paid ? 'PAID' : 'FAILED',
    respcd: paid ? RESPCD_PAID : outcome === 'overdue' ? p.status : lastFailure(p).code,
    at: purchaseTime(p),
    amount: p.payment?.amount ?? p.purchase.total,
    currency: p.payment?.currency ?? p.purchase.currency,
  };
}

/** A `purchase.paid` / `purchase.payment_failure` notification as a payment fact. */
export function paymentFact(
  subscriptionId: string,
  p: Purchase,
  sequenceNo: number,
  succeeded: boolean,
): PaymentFact {
  const failure = succeeded ? undefined : lastFailure(p);
  return {
    kind: 'payment',
    subscriptionId,
    orderId: p.id,
    sequenceNo,
    succeeded,
    respcd: failure ? failure.code : RESPCD_PAID,
    ...(failure?.message ? { respmsg: failure.message } : {}),
    amount: p.payment?.amount ?? p.purchase.total,
    currency: p.payment?.currency ?? p.purchase.currency,
    at: succeeded && p.payment ? p.payment.paid_on * 1000 : (failure?.at ?? p.updated_on * 1000),
    triggerBy: 'auto',
    source: 'notification',
  };
}

/** A subscriber's cancellation as a state fact. */
export function cancelledFact(subscriptionId: string, updatedOnSeconds: number): StateFact {
  return {
    kind: 'state',
    subscriptionId,
    state: 'CANCELLED',
    at: updatedOnSeconds * 1000,
    source: 'notification',
  };
}

/** A product line as seed 003 shows it (`discount` in minor units, `tax_percent` a decimal string). */
export interface ProductLine {
  name: string;
  price: number;
  quantity: string | number;
  discount?: number;
  tax_percent?: string | number;
  [field: string]: unknown;
}

/** Purchase terms: the template's, or a subscriber's `invoice_override`. */
export interface PurchaseTerms {
  products?: ProductLine[];
  /** The total billed, whatever the lines say. */
  total_override?: number | null;
  [field: string]: unknown;
}

/**
 * What a purchase bills: `total_override` when given, else each line's quantity × price less its
 * discount, plus its `tax_percent` (rounded to the minor unit). Assumption: seed 003 names these
 * fields without their arithmetic.
 */
export function purchaseTotal(terms: PurchaseTerms, fallback: readonly ProductLine[]): number {
  if (typeof terms.total_override === 'number') return terms.total_override;
  return (terms.products ?? fallback).reduce((sum, line) => {
    const net = line.price * Number(line.quantity) - (line.discount ?? 0);
    return sum + net + Math.round((net * Number(line.tax_percent ?? 0)) / 100);
  }, 0);
}
