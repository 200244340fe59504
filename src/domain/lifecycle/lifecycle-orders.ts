/**
 * Merging payment reports into order records. Each merge is commutative (PAID dominates, times
 * are min/max, counts are per distinct report), so the records do not depend on arrival order.
 */
import type { OrderRecord } from './lifecycle-types';

/** The orders part of a snapshot. */
export interface OrderBook {
  orders: OrderRecord[];
  paidOrders: number;
  lastSequenceNo: number;
}

/** One report about an order: a payment fact, or a row of a query answer. */
export interface OrderReport {
  orderId: string;
  sequenceNo: number;
  succeeded: boolean;
  at: number;
  respcd?: string;
  amount?: number;
  currency?: string;
  syssn?: string;
  triggerBy?: 'auto' | 'manual';
  /** A failure fact is one more attempt; a query row only says the order failed at least once. */
  distinctAttempt: boolean;
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function newRecord(r: OrderReport): OrderRecord {
  return withoutUndefined<OrderRecord>({
    orderId: r.orderId,
    sequenceNo: r.sequenceNo,
    status: r.succeeded ? 'PAID' : 'FAILED',
    respcd: r.respcd,
    failures: r.succeeded ? 0 : 1,
    firstAt: r.at,
    lastAt: r.at,
    paidAt: r.succeeded ? r.at : undefined,
    amount: r.amount,
    currency: r.currency,
    syssn: r.syssn,
    triggerBy: r.triggerBy,
    billedAt: r.triggerBy === 'manual' ? undefined : r.at,
  });
}

/** A manual charge is the more telling trigger: it is what decides whether a payment cancels the plan. */
const strongerTrigger = (
  a: OrderRecord['triggerBy'],
  b: OrderRecord['triggerBy'],
): OrderRecord['triggerBy'] => (a === 'manual' || b === 'manual' ? 'manual' : (a ?? b));

function mergeRecord(rec: OrderRecord, r: OrderReport): OrderRecord {
  const wasPaid = rec.status === 'PAID';
  const paid = wasPaid || r.succeeded;
  // The paying report's details win; among several, the earliest one (a deterministic choice).
  const takesDetails = r.succeeded && (!wasPaid || rec.paidAt === undefined || r.at < rec.paidAt);
  const fillsGaps = !paid || r.succeeded; // a failure report never details a paid order
  const pick = <T>(reported: T | undefined, recorded: T | undefined): T | undefined =>
    takesDetails ? (reported ?? recorded) : (recorded ?? (fillsGaps ? reported : undefined));
  let triggerBy = rec.triggerBy;
  if (r.succeeded) triggerBy = wasPaid ? strongerTrigger(rec.triggerBy, r.triggerBy) : r.triggerBy;
  else if (!wasPaid) triggerBy = strongerTrigger(rec.triggerBy, r.triggerBy);
  let respcd = rec.respcd;
  if (r.succeeded && takesDetails) respcd = r.respcd ?? rec.respcd;
  else if (!paid && r.at >= rec.lastAt) respcd = r.respcd ?? rec.respcd;
  let failures = rec.failures;
  if (!r.succeeded) failures = r.distinctAttempt ? rec.failures + 1 : Math.max(rec.failures, 1);
  let billedAt = rec.billedAt;
  if (r.triggerBy !== 'manual') billedAt = Math.min(rec.billedAt ?? r.at, r.at);
  return withoutUndefined<OrderRecord>({
    orderId: rec.orderId,
    sequenceNo: rec.sequenceNo,
    status: paid ? 'PAID' : 'FAILED',
    respcd,
    failures,
    firstAt: Math.min(rec.firstAt, r.at),
    lastAt: Math.max(rec.lastAt, r.at),
    paidAt: r.succeeded ? Math.min(rec.paidAt ?? r.at, r.at) : rec.paidAt,
    amount: pick(r.amount, rec.amount),
    currency: pick(r.currency, rec.currency),
    syssn: pick(r.syssn, rec.syssn),
    triggerBy,
    billedAt,
  });
}

/**
 * Records one report in the book.
 *
 * The book keeps the `maxOrders` highest sequence numbers. A report about an order below that
 * window while the book is full is not retained: it was evicted already (and counted then) or
 * is older than everything kept, so counting it could count an order twice.
 * @returns the new book (the input is not changed) and whether the report was retained
 */
export function recordOrderReport(
  book: OrderBook,
  report: OrderReport,
  maxOrders: number,
): { book: OrderBook; retained: boolean } {
  const lastSequenceNo = Math.max(book.lastSequenceNo, report.sequenceNo);
  const index = book.orders.findIndex((o) => o.orderId === report.orderId);
  const existing = index >= 0 ? book.orders[index] : undefined;
  if (existing === undefined) {
    const lowest = book.orders[0];
    if (book.orders.length >= maxOrders && (lowest === undefined || report.sequenceNo < lowest.sequenceNo)) {
      return { book: { ...book, lastSequenceNo }, retained: false };
    }
    const record = newRecord(report);
    const orders = [...book.orders, record].sort(
      (a, b) => a.sequenceNo - b.sequenceNo || (a.orderId < b.orderId ? -1 : a.orderId > b.orderId ? 1 : 0),
    );
    return {
      book: {
        orders: orders.length > maxOrders ? orders.slice(orders.length - maxOrders) : orders,
        paidOrders: book.paidOrders + (record.status === 'PAID' ? 1 : 0),
        lastSequenceNo,
      },
      retained: true,
    };
  }
  const merged = mergeRecord(existing, report);
  const orders = book.orders.slice();
  orders[index] = merged;
  const becamePaid = existing.status !== 'PAID' && merged.status === 'PAID';
  return {
    book: { orders, paidOrders: book.paidOrders + (becamePaid ? 1 : 0), lastSequenceNo },
    retained: true,
  };
}
