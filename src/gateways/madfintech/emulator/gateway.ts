/**
 * The emulated gateway's books and billing, without HTTP: orders paid at creation by a bound
 * card, the recurring subscription created by that payment, its schedule billed as the emulator's
 * own clock passes each charge date, and a declined cycle retried (3 tries, a day apart) before
 * the recurring subscription fails. Every charge attempt and status change is handed to `notify`.
 */
import type { Order, OrderStatus, Payment, PaymentStatus, Recurring, RecurringStatus } from '../schemas';

export const DAY_MS = 86_400_000;
/** Tries of one cycle before it is `failed` (Assumption). */
export const MAX_TRIES = 3;
/** An order whose first payment was declined expires after this long (Assumption). */
export const ORDER_LIFETIME_MS = DAY_MS;

type Unit = Recurring['intervalType'];

interface Entry {
  chargeDate: number;
  status: 'schedule' | 'successful' | 'failed';
  tries: Array<{ date: number; status: PaymentStatus }>;
}

interface Sub {
  id: number;
  orderNumber: string;
  customerId: string;
  amount: string;
  currency: string;
  unit: Unit;
  quantity: number;
  paymentCount: number | null;
  /** No charge date after it (epoch ms), or null. */
  endDate: number | null;
  /** The card charged (a test number; payments show it masked), or null until paid on the page. */
  card: { number: string } | null;
  orderStatus: OrderStatus;
  createdAt: number;
  updatedAt: number;
  paidAt?: number;
  payments: Payment[];
  recurringId?: string;
  recurringStatus?: RecurringStatus;
  recurringUpdatedAt?: number;
  cancelledAt?: number;
  failedAt?: number;
  schedule: Entry[];
  approve?: boolean;
}

export interface NewOrder {
  orderNumber: string;
  customerId: string;
  amount: string;
  currency: string;
  intervalType: Unit;
  billingIntervalQuantity: number;
  paymentCount: number | null;
  endDate: number | null;
  /** The card data given, or null: the customer pays on the hosted page. */
  card: { number: string } | null;
}

/** The seed's time format: whole seconds with an offset (`2023-08-29T15:34:56+00:00`). */
const iso = (ms: number): string =>
  new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, '+00:00');

/** `start` plus `count` units, months clamped to the month's last day. */
export function addInterval(start: number, unit: Unit, count: number): number {
  if (unit === 'day' || unit === 'week') return start + count * (unit === 'day' ? 1 : 7) * DAY_MS;
  const d = new Date(start);
  const months = unit === 'month' ? count : count * 12;
  const target = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(d.getUTCDate(), lastDay));
  return target.getTime() + (start - Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
}

/** Where a gateway's order ids (and so its recurring ids, `sub_<id>`) come from. */
export type OrderIds = () => number;

/** A gateway's own count of order ids, from 54 000 (the seed's neighbourhood). */
export function orderIdsFrom(first = 54_000): OrderIds {
  let next = first;
  return () => next++;
}

export class EmulatedGateway {
  private readonly subs = new Map<string, Sub>();
  private readonly byRecurring = new Map<string, Sub>();
  private nextTx = 1;
  approveByDefault = true;

  /**
   * @param ids where order ids come from: the gateway's own count unless given; the test clocks'
   *   worlds share one, clear of the main world's, so that a recurring id names one record only
   */
  constructor(
    public readonly shopId: string,
    private readonly notify: (order: Order) => void,
    private nowMs: number = Date.now(),
    private readonly ids: OrderIds = orderIdsFrom(),
  ) {}

  get now(): number {
    return this.nowMs;
  }

  orderNumbers(): string[] {
    return [...this.subs.keys()];
  }

  /** Card behaviour: for one order, or for every order without its own setting. */
  setApprove(approve: boolean, orderNumber?: string): boolean {
    if (orderNumber === undefined) {
      this.approveByDefault = approve;
      return true;
    }
    const sub = this.subs.get(orderNumber);
    if (sub) sub.approve = approve;
    return sub !== undefined;
  }

  has(orderNumber: string): boolean {
    return this.subs.has(orderNumber);
  }

  /** Whether a recurring subscription of that id lives here. */
  hasRecurring(recurringId: string): boolean {
    return this.byRecurring.has(recurringId);
  }

  /** Creates the order and charges its card at once (none: it waits for the hosted page). */
  create(input: NewOrder): void {
    const id = this.ids();
    const sub: Sub = {
      id,
      orderNumber: input.orderNumber,
      customerId: input.customerId,
      amount: input.amount,
      currency: input.currency,
      unit: input.intervalType,
      quantity: input.billingIntervalQuantity,
      paymentCount: input.paymentCount,
      endDate: input.endDate,
      card: input.card,
      orderStatus: 'new',
      createdAt: this.nowMs,
      updatedAt: this.nowMs,
      payments: [],
      schedule: [],
    };
    this.subs.set(sub.orderNumber, sub);
    if (sub.card === null) return; // the hosted page: nothing is charged until the customer pays
    this.firstPayment(sub);
  }

  /** The customer pays on the hosted page: `ok`, or why not. */
  payOnPage(orderNumber: string): 'ok' | 'missing' | OrderStatus {
    const sub = this.subs.get(orderNumber);
    if (!sub) return 'missing';
    if (sub.orderStatus !== 'new') return sub.orderStatus;
    sub.card = { number: '4111111111111111' };
    this.firstPayment(sub);
    return 'ok';
  }

  /** The first charge: paid, it starts the recurring subscription (the seed's `in_progress` order). */
  private firstPayment(sub: Sub): void {
    const paid = this.charge(sub);
    sub.orderStatus = paid ? 'in_progress' : 'declined';
    if (paid) {
      sub.paidAt = this.nowMs;
      sub.recurringId = `sub_${sub.id}`;
      sub.recurringStatus = 'active';
      sub.recurringUpdatedAt = this.nowMs;
      sub.schedule.push({ chargeDate: this.nowMs, status: 'successful', tries: [] });
      this.byRecurring.set(sub.recurringId, sub);
      this.extendSchedule(sub);
    }
    this.notify(this.order(sub));
  }

  order(subOrNumber: Sub | string): Order {
    const sub = typeof subOrNumber === 'string' ? this.subs.get(subOrNumber) : subOrNumber;
    if (!sub) throw new Error('no such order');
    return {
      id: sub.id,
      shopId: Number(this.shopId) || this.shopId,
      orderNumber: sub.orderNumber,
      orderStatus: sub.orderStatus,
      cost: { amount: sub.amount, currency: sub.currency },
      recurringPayments: sub.recurringId
        ? {
            recurringId: sub.recurringId,
            status: sub.recurringStatus,
            updatedAt: iso(sub.recurringUpdatedAt ?? sub.createdAt),
          }
        : null,
      orderCreatedAt: iso(sub.createdAt),
      orderPaidAt: sub.paidAt === undefined ? null : iso(sub.paidAt),
      orderUpdatedAt: iso(sub.updatedAt),
      autoCapture: true,
      payments: sub.payments.map((p) => structuredClone(p)),
      customer: { customerId: sub.customerId },
    };
  }

  recurring(recurringId: string): Recurring | undefined {
    const sub = this.byRecurring.get(recurringId);
    if (!sub || !sub.recurringStatus) return undefined;
    return {
      id: recurringId,
      parentId: String(sub.id),
      customerId: sub.customerId,
      shopId: this.shopId,
      orderNumber: sub.orderNumber,
      intervalType: sub.unit,
      billingIntervalQuantity: sub.quantity,
      endDate: sub.endDate === null ? null : iso(sub.endDate),
      paymentCount: sub.paymentCount,
      status: sub.recurringStatus,
      createdAt: iso(sub.paidAt ?? sub.createdAt),
      cancelledAt: sub.cancelledAt === undefined ? null : iso(sub.cancelledAt),
      failedAt: sub.failedAt === undefined ? null : iso(sub.failedAt),
      amount: sub.amount,
      currency: sub.currency,
      recurringPayments: sub.schedule.map((e, n) => ({
        chargeDate: iso(e.chargeDate),
        endDate: iso(this.chargeDate(sub, n + 1)),
        status: e.status,
        tries: e.tries.map((t) => ({ date: iso(t.date), status: t.status })),
      })),
    } as Recurring;
  }

  /** Cancels: `ok`, or why not (`missing`, or the status that forbids it). */
  cancel(recurringId: string): 'ok' | 'missing' | RecurringStatus {
    const sub = this.byRecurring.get(recurringId);
    if (!sub?.recurringStatus) return 'missing';
    if (sub.recurringStatus !== 'active' && sub.recurringStatus !== 'failed') return sub.recurringStatus;
    this.setRecurringStatus(sub, 'canceled');
    sub.cancelledAt = this.nowMs;
    this.notify(this.order(sub));
    return 'ok';
  }

  /**
   * Moves the clock, running every charge, retry and expiry that falls due, in time order.
   * @returns how many of them changed state or notified (a test clock's advance reports it)
   */
  advance(ms: number): number {
    const target = this.nowMs + ms;
    let ran = 0;
    for (;;) {
      let next: { sub: Sub; at: number } | undefined;
      for (const sub of this.subs.values()) {
        const at = this.dueAt(sub);
        if (at !== undefined && at <= target && (next === undefined || at < next.at)) next = { sub, at };
      }
      if (next === undefined) break;
      this.nowMs = Math.max(this.nowMs, next.at);
      if (this.runDue(next.sub)) ran += 1;
    }
    this.nowMs = target;
    return ran;
  }

  /** The earliest time anything here falls due (a charge, a retry, an expiry), or undefined. */
  nextDueAt(): number | undefined {
    let earliest: number | undefined;
    for (const sub of this.subs.values()) {
      const at = this.dueAt(sub);
      if (at !== undefined && (earliest === undefined || at < earliest)) earliest = at;
    }
    return earliest;
  }

  /** In whole seconds, as the gateway reports it: what it says is when it bills. */
  private chargeDate(sub: Sub, index: number): number {
    const anchor = Math.floor((sub.paidAt ?? sub.createdAt) / 1000) * 1000;
    return addInterval(anchor, sub.unit, sub.quantity * index);
  }

  /** Keeps the schedule complete (bounded plans) or one cycle ahead (unbounded ones). */
  private extendSchedule(sub: Sub): void {
    const wanted = sub.paymentCount ?? sub.schedule.filter((e) => e.status !== 'schedule').length + 1;
    // No charge date after the plan's end date.
    while (
      sub.schedule.length < wanted &&
      (sub.endDate === null || this.chargeDate(sub, sub.schedule.length) <= sub.endDate)
    ) {
      sub.schedule.push({
        chargeDate: this.chargeDate(sub, sub.schedule.length),
        status: 'schedule',
        tries: [],
      });
    }
    if (sub.schedule.every((e) => e.status === 'successful')) this.setRecurringStatus(sub, 'finished');
  }

  private dueAt(sub: Sub): number | undefined {
    if (sub.recurringStatus === 'active') {
      const entry = sub.schedule.find((e) => e.status === 'schedule');
      return entry === undefined ? undefined : entry.chargeDate + entry.tries.length * DAY_MS;
    }
    if (sub.recurringId === undefined && sub.orderStatus === 'declined')
      return sub.createdAt + ORDER_LIFETIME_MS;
    return undefined;
  }

  /** Runs what is due on `sub`; false when nothing was (no state changed, nothing notified). */
  private runDue(sub: Sub): boolean {
    if (sub.recurringStatus !== 'active') {
      sub.orderStatus = 'expired';
      sub.updatedAt = this.nowMs;
      this.notify(this.order(sub));
      return true;
    }
    const entry = sub.schedule.find((e) => e.status === 'schedule');
    if (!entry) return false;
    if (this.charge(sub)) {
      entry.status = 'successful';
      this.extendSchedule(sub);
    } else {
      entry.tries.push({ date: this.nowMs, status: 'declined' });
      if (entry.tries.length >= MAX_TRIES) {
        entry.status = 'failed';
        sub.failedAt = this.nowMs;
        this.setRecurringStatus(sub, 'failed');
      }
    }
    this.notify(this.order(sub));
    return true;
  }

  private setRecurringStatus(sub: Sub, status: RecurringStatus): void {
    sub.recurringStatus = status;
    sub.recurringUpdatedAt = this.nowMs;
  }

  /** One attempt on the bound card; the payment is appended to the order. */
  private charge(sub: Sub): boolean {
    const approved = sub.approve ?? this.approveByDefault;
    const tx = this.nextTx++;
    const number = sub.card?.number ?? '4111111111111111';
    sub.payments.push({
      paymentId: String(tx),
      paymentType: 'payment',
      cost: { amount: sub.amount, currency: sub.currency },
      acquirer: { code: 'emulatorAcquirer' },
      provider: { code: 'emulatorProvider' },
      instrumentType: 'card',
      paymentStatus: approved ? { status: 'completed' } : { status: 'declined', reason: 'card_declined' },
      paymentDetails: {
        paymentSystem: 'visa',
        authCode: approved ? `auth${String(tx).padStart(8, '0')}` : null,
        rrn: `rrn${String(tx).padStart(12, '0')}`,
        maskedCardNumber: `${number.slice(0, 6)}${'*'.repeat(number.length - 10)}${number.slice(-4)}`,
      },
      providerPaymentId: String(900_000 + tx),
      transactionId: `tx${String(tx).padStart(12, '0')}`,
      // Not in the seed (its payments carry no time): the emulator's own addition.
      createdAt: iso(this.nowMs),
    });
    sub.updatedAt = this.nowMs;
    return approved;
  }
}
