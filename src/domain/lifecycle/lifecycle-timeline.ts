/**
 * The timeline: facts kept in QFPay's time order and folded from a base into the subscription's
 * state. Re-folding on every fact (instead of updating the state in arrival order) is what makes
 * the outcome depend only on the set of facts seen, not on the order QFPay delivered them in.
 */
import {
  STATE_RANK,
  canReach,
  canTransition,
  isTerminal,
  type LifecycleState,
  type SubscriptionState,
} from './lifecycle-table';
import type {
  Fact,
  LifecycleTimeline,
  OrderRecord,
  TimelineEntry,
  TimelineKey,
  TimelineState,
} from './lifecycle-types';
import { billingAfter, type BillingSchedule } from './billing-interval';

/** The fold's starting point for a subscription nothing is known about. */
export function initialTimelineState(): TimelineState {
  return {
    state: 'UNKNOWN',
    stateAt: null,
    stateKey: null,
    stateCause: null,
    stateInferred: false,
    productIds: [],
    totalBillingCycles: null,
    nextBillingTime: null,
    lastBillingTime: null,
    lastSync: null,
  };
}

/** How facts of one second are ordered; see {@link LifecycleTimeline.order}. */
export type TimelineOrder = LifecycleTimeline['order'];

/** A terminal state reported in a second comes after everything else of that second. */
const TERMINAL_PROGRESS = 2 ** 40;

/**
 * How far a subscription's orders had got when QFPay produced this fact: `2n` once order n had
 * failed, `2n + 1` once it was paid. A payment says it itself; a query answer from the newest
 * order it lists (or from its cycle count and state). A state notification says nothing of its
 * order: a non-terminal one goes before the payments of its second (the payment is what QFPay
 * reports first), a terminal one after everything (it wins ties).
 */
export function progressOf(entry: TimelineEntry): number {
  switch (entry.kind) {
    case 'payment':
      return 2 * entry.sequenceNo + (entry.succeeded ? 1 : 0);
    case 'sync':
      return entry.progress ?? syncProgress(entry.state, entry.completedCycles, undefined);
    case 'state':
      return isTerminal(entry.state) ? TERMINAL_PROGRESS : -1;
    default:
      return -1;
  }
}

/** A query answer's progress: its newest order with a status, else its cycles and state. */
export function syncProgress(
  state: SubscriptionState,
  completedCycles: number,
  orders: readonly { sequenceNo: number; status?: 'PAID' | 'FAILED' }[] | undefined,
): number {
  let newest: { sequenceNo: number; status?: 'PAID' | 'FAILED' } | undefined;
  for (const o of orders ?? []) {
    if (o.status !== undefined && (newest === undefined || o.sequenceNo > newest.sequenceNo)) newest = o;
  }
  if (newest !== undefined) return 2 * newest.sequenceNo + (newest.status === 'PAID' ? 1 : 0);
  // No order listed: the cycles paid, and a failed next order when the state says so.
  const failing =
    state === 'PAST_DUE' || state === 'UNPAID' || (state === 'INCOMPLETE' && completedCycles === 0);
  return failing ? 2 * (completedCycles + 1) : 2 * completedCycles + 1;
}

/**
 * The position of an entry in QFPay's time; see {@link TimelineKey} for the order within a second.
 * Under the `progress` order, the phase also carries {@link progressOf} (phases stay below 8).
 */
export function timelineKey(entry: TimelineEntry, order?: TimelineOrder): TimelineKey {
  const [phase, rank] = phaseOf(entry);
  return [entry.at, order === 'progress' ? progressOf(entry) * 8 + phase : phase, rank, entry.key];
}

function phaseOf(entry: TimelineEntry): [phase: number, rank: number] {
  switch (entry.kind) {
    case 'payment':
      return [0, 0];
    case 'created':
    case 'token_changed':
    case 'total_cycles_changed':
    case 'products_changed':
      return [1, 0];
    case 'state':
      return [isTerminal(entry.state) ? 4 : 2, STATE_RANK[entry.state]];
    case 'sync':
      return [3, 0];
  }
}

/** Total order on timeline keys (string comparison by code unit, never locale-dependent). */
export function compareTimelineKeys(a: TimelineKey, b: TimelineKey): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2] || (a[3] < b[3] ? -1 : a[3] > b[3] ? 1 : 0);
}

/** Inserts `entry` at its place in time; returns a new array. */
export function insertEntry(
  entries: readonly TimelineEntry[],
  entry: TimelineEntry,
  order?: TimelineOrder,
): TimelineEntry[] {
  const key = timelineKey(entry, order);
  let index = entries.length;
  while (index > 0) {
    const before = entries[index - 1];
    if (before === undefined || compareTimelineKeys(timelineKey(before, order), key) <= 0) break;
    index -= 1;
  }
  return [...entries.slice(0, index), entry, ...entries.slice(index)];
}

/** The compact timeline form of a (validated) fact. */
export function entryFromFact(fact: Fact, key: string): TimelineEntry {
  switch (fact.kind) {
    case 'state':
      return { kind: 'state', key, at: fact.at, state: fact.state, source: fact.source };
    case 'payment':
      return {
        kind: 'payment',
        key,
        at: fact.at,
        orderId: fact.orderId,
        sequenceNo: fact.sequenceNo,
        succeeded: fact.succeeded,
        respcd: fact.respcd,
        manual: fact.triggerBy === 'manual',
      };
    case 'sync': {
      const r = fact.remote;
      return {
        kind: 'sync',
        key,
        at: fact.at,
        state: r.state,
        totalBillingCycles: r.totalBillingCycles ?? null,
        completedCycles: r.completedCycles,
        nextBillingTime: r.nextBillingTime ?? null,
        lastBillingTime: r.lastBillingTime ?? null,
        progress: syncProgress(r.state, r.completedCycles, fact.orders),
        ...(r.customerId !== undefined ? { customerId: r.customerId } : {}),
        ...(r.tokenId !== undefined ? { tokenId: r.tokenId } : {}),
        ...(r.productIds !== undefined ? { productIds: [...r.productIds] } : {}),
        ...(r.schedule !== undefined ? { schedule: copySchedule(r.schedule) } : {}),
      };
    }
    case 'created':
      return {
        kind: 'created',
        key,
        at: fact.at,
        customerId: fact.customerId,
        tokenId: fact.tokenId,
        productIds: [...fact.productIds],
        totalBillingCycles: fact.totalBillingCycles ?? null,
        ...(fact.state !== undefined ? { state: fact.state } : {}),
        ...(fact.startTime !== undefined ? { startTime: fact.startTime } : {}),
      };
    case 'token_changed':
      return { kind: 'token_changed', key, at: fact.at, tokenId: fact.tokenId };
    case 'total_cycles_changed':
      return { kind: 'total_cycles_changed', key, at: fact.at, totalBillingCycles: fact.totalBillingCycles };
    case 'products_changed':
      return { kind: 'products_changed', key, at: fact.at, productIds: [...fact.productIds] };
  }
}

function copySchedule(schedule: BillingSchedule): BillingSchedule {
  const { anchor, interval, offset } = schedule;
  return { anchor, interval: { unit: interval.unit, count: interval.count }, offset };
}

/** A readable name for an entry, e.g. `payment sub_ord_…_0003 failed (1205)`. */
export function describeEntry(entry: TimelineEntry): string {
  switch (entry.kind) {
    case 'state':
      return `${entry.source}: state ${entry.state}`;
    case 'payment': {
      const what = entry.manual ? 'manual charge' : 'payment';
      return entry.succeeded
        ? `${what} ${entry.orderId} paid`
        : `${what} ${entry.orderId} failed (${entry.respcd})`;
    }
    case 'sync':
      return `query: state ${entry.state}`;
    case 'created':
      return 'created';
    case 'token_changed':
      return `token changed to ${entry.tokenId}`;
    case 'total_cycles_changed':
      return `total billing cycles changed to ${entry.totalBillingCycles ?? 'unbounded'}`;
    case 'products_changed':
      return `products changed to ${entry.productIds.join(', ')}`;
  }
}

/** `2024-04-24T07:19:37Z` for a QFPay time (inputs are validated to be in Date's range). */
export function isoTime(at: number): string {
  return new Date(at).toISOString().replace('.000Z', 'Z');
}

/** Something the fold found wrong with one entry. */
export interface FoldNote {
  key: string;
  at: number;
  reason: string;
  /** False for notes that are only informational (a query answer QFPay is trusted on). */
  contradiction: boolean;
}

/** The order data the fold reads (set-derived, so the fold stays order-independent). */
export interface FoldOrders {
  orders: readonly OrderRecord[];
  paidOrders: number;
}

interface Claim {
  to: SubscriptionState;
  cause: string;
  /** An explicit report from QFPay (applied even off the table) rather than an inference. */
  explicit: boolean;
}

/**
 * Folds `entries` (sorted) over `start`.
 *
 * Rules, in QFPay's time order:
 * - a query answer sets the state outright (it is QFPay's own view and may leave a terminal
 *   state); one that no path of the table reaches is noted but not a contradiction;
 * - any other fact claims a state (a `state` fact explicitly, a payment by inference, a
 *   `created` fact only as the very first state); a terminal state absorbs every later claim of
 *   another state (a contradiction), except that QFPay's explicit report of a terminal state
 *   replaces a terminal state we only inferred; a claim off the table is a contradiction, still
 *   applied when QFPay stated it explicitly, kept out when it was only our inference.
 */
export function foldTimeline(
  start: TimelineState,
  entries: readonly TimelineEntry[],
  orderData: FoldOrders,
  order?: TimelineOrder,
  pauseHolds = false,
  reckons = false,
): { state: TimelineState; notes: FoldNote[] } {
  const s: TimelineState = { ...start };
  const notes: FoldNote[] = [];
  const records = new Map(orderData.orders.map((o) => [o.orderId, o] as const));
  const paidSeen = new Set<string>();

  const claim = (entry: TimelineEntry, c: Claim): void => {
    const from: LifecycleState = s.state;
    const accept = (): void => {
      // An inference that the state did not change (a recurring payment, a failed retry) is no
      // news: stateAt stays with the fact that set the state or QFPay's latest report of it.
      if (!c.explicit && c.to === from) return;
      s.state = c.to;
      s.stateAt = entry.at;
      s.stateKey = timelineKey(entry, order);
      s.stateCause = c.cause;
      s.stateInferred = !c.explicit;
    };
    const note = (reason: string): void => {
      notes.push({
        key: entry.key,
        at: entry.at,
        reason: `${c.cause} at ${isoTime(entry.at)}: ${reason}`,
        contradiction: true,
      });
    };
    if (isTerminal(from)) {
      if (c.to === from) {
        accept();
      } else if (s.stateInferred && c.explicit && isTerminal(c.to)) {
        // Our inference (paid cycles reached the total, a charge after the next billing time) may
        // lack a fact QFPay had; its own report of how the subscription ended wins.
        note(`QFPay reports ${c.to} after ${from}, which was only inferred from a payment; applied`);
        accept();
      } else {
        note(`${c.to} after terminal ${from}; terminal states are absorbing, state kept`);
      }
      return;
    }
    if (canTransition(from, c.to)) {
      accept();
    } else if (c.explicit) {
      note(`${from} → ${c.to} is not in the lifecycle table; applied because QFPay reports it`);
      accept();
    } else {
      note(`implies ${from} → ${c.to}, which the lifecycle table does not allow; state kept`);
    }
  };

  for (const entry of entries) {
    switch (entry.kind) {
      case 'sync': {
        if (s.state !== 'UNKNOWN' && !canReach(s.state, entry.state)) {
          notes.push({
            key: entry.key,
            at: entry.at,
            reason: `query at ${isoTime(entry.at)} reports ${entry.state} after ${s.state}: no path in the lifecycle table; applied because the query is authoritative`,
            contradiction: false,
          });
        }
        s.state = entry.state;
        s.stateAt = entry.at;
        s.stateKey = timelineKey(entry, order);
        s.stateCause = describeEntry(entry);
        s.stateInferred = false;
        s.totalBillingCycles = entry.totalBillingCycles;
        s.nextBillingTime = entry.nextBillingTime;
        s.lastBillingTime = entry.lastBillingTime;
        s.lastSync = { at: entry.at, completedCycles: entry.completedCycles };
        if (entry.schedule !== undefined) s.schedule = entry.schedule;
        else delete s.schedule;
        delete s.reckonedBy;
        delete s.reckonedCycles;
        if (entry.customerId !== undefined) s.customerId = entry.customerId;
        if (entry.tokenId !== undefined) s.tokenId = entry.tokenId;
        if (entry.productIds !== undefined) s.productIds = entry.productIds;
        break;
      }
      case 'created': {
        s.customerId = entry.customerId;
        s.tokenId = entry.tokenId;
        s.productIds = entry.productIds;
        s.totalBillingCycles = entry.totalBillingCycles;
        // A start time in the future is a trial: its end is the first billing time.
        const trialEnd = entry.startTime !== undefined && entry.startTime > entry.at ? entry.startTime : null;
        if (trialEnd !== null) s.nextBillingTime = trialEnd;
        // The create response is the first state; anything QFPay already said is as new or newer.
        if (s.state === 'UNKNOWN') {
          const to = entry.state ?? (trialEnd !== null ? 'TRIAL' : 'INCOMPLETE');
          claim(entry, { to, cause: `created: state ${to}`, explicit: true });
        }
        break;
      }
      case 'token_changed':
        s.tokenId = entry.tokenId;
        break;
      case 'total_cycles_changed':
        s.totalBillingCycles = entry.totalBillingCycles;
        break;
      case 'products_changed':
        s.productIds = entry.productIds;
        break;
      case 'state':
        claim(entry, { to: entry.state, cause: describeEntry(entry), explicit: true });
        break;
      case 'payment': {
        const implied = impliedByPayment(entry, s, records, orderData, paidSeen, pauseHolds);
        if (implied) claim(entry, { ...implied, explicit: false });
        if (reckons && implied) reckonNextBilling(entry, s);
        break;
      }
    }
  }
  return { state: s, notes };
}

type PaymentEntry = Extract<TimelineEntry, { kind: 'payment' }>;

/**
 * A cycle's first payment that leaves the subscription ACTIVE, in the cycle of the known next
 * billing time (at or after it, before the one after it), while the gateway's stated schedule
 * holds that time: the next billing time moves one interval along the schedule, as the gateway
 * moves it. Anything else leaves it to the next query.
 */
function reckonNextBilling(entry: PaymentEntry, s: TimelineState): void {
  const due = s.nextBillingTime;
  // Only a paid order leaves it ACTIVE: a decline never gets here. A manual charge counts too (it
  // pays the order of its cycle; one after the next billing time cancels the plan instead).
  if (s.state !== 'ACTIVE' || due === null || !s.schedule) return;
  const next = billingAfter(s.schedule, due);
  if (next === undefined || entry.at < due - 999 || entry.at >= next) return;
  s.lastBillingTime = due;
  s.nextBillingTime = next;
  s.reckonedBy = entry.key;
  s.reckonedCycles = (s.reckonedCycles ?? 0) + 1;
}

/**
 * The state a payment implies, as QFPay would move: a paid order → ACTIVE, COMPLETED when the
 * paid cycles reach the total, CANCELLED for a manual charge at/after the next billing time; a
 * failed first order → INCOMPLETE; a failed recurring order → PAST_DUE (UNPAID and INCOMPLETE
 * stay); a failed manual charge keeps the state. Reports about an order already paid earlier
 * imply nothing (PAID dominates; only its first payment moves the state), and, with `pauseHolds`,
 * neither does any payment while PAUSED (the gateway's pause ends by its own report).
 */
function impliedByPayment(
  entry: PaymentEntry,
  s: TimelineState,
  records: ReadonlyMap<string, OrderRecord>,
  orderData: FoldOrders,
  paidSeen: Set<string>,
  pauseHolds: boolean,
): Omit<Claim, 'explicit'> | null {
  const record = records.get(entry.orderId);
  const described = describeEntry(entry);
  if (!entry.succeeded) {
    if (record?.paidAt !== undefined && record.paidAt <= entry.at) return null;
    if (entry.manual) return null;
    // A pause is the gateway's to end: an order it settles meanwhile (one billed before the
    // pause, retried) moves nothing; only its own report (a state, a query) does.
    if (pauseHolds && s.state === 'PAUSED') return null;
    if (entry.sequenceNo === 1) return { to: 'INCOMPLETE', cause: described };
    if (s.state === 'UNPAID' || s.state === 'INCOMPLETE') return { to: s.state, cause: described };
    return { to: 'PAST_DUE', cause: described };
  }
  if (paidSeen.has(entry.orderId) || (record?.paidAt !== undefined && record.paidAt < entry.at)) return null;
  paidSeen.add(entry.orderId);
  if (pauseHolds && s.state === 'PAUSED') return null;
  const manual = entry.manual || (record?.status === 'PAID' && record.triggerBy === 'manual');
  if (manual && manualChargeCancelsPlan(entry, record, s, orderData.orders)) {
    return {
      to: 'CANCELLED',
      cause: `manual charge ${entry.orderId} paid at/after the next billing time: plan cancelled`,
    };
  }
  const total = s.totalBillingCycles;
  if (total !== null && paidCyclesThrough(entry.at, s, orderData) >= total) {
    return { to: 'COMPLETED', cause: `${described}: last billing cycle (${total})` };
  }
  return { to: 'ACTIVE', cause: described };
}

/**
 * Seed 001: a manual charge paid after the next billing time cancels the plan. The next billing
 * time counts only when it lies after the charged order was billed (one reported earlier is that
 * order's own billing time); a later order QFPay billed before the charge shows the same thing.
 */
function manualChargeCancelsPlan(
  entry: PaymentEntry,
  record: OrderRecord | undefined,
  s: TimelineState,
  orders: readonly OrderRecord[],
): boolean {
  const next = s.nextBillingTime;
  if (next !== null && entry.at >= next && (record?.billedAt === undefined || next > record.billedAt))
    return true;
  return orders.some(
    (o) => o.sequenceNo > entry.sequenceNo && o.billedAt !== undefined && o.billedAt <= entry.at,
  );
}

/**
 * Cycles paid by time `at`: orders paid by then, or the latest query's count (folded so far)
 * plus the orders paid since that query, whichever is larger.
 */
function paidCyclesThrough(at: number, s: TimelineState, orderData: FoldOrders): number {
  let paidLater = 0;
  let paidSinceSync = 0;
  for (const o of orderData.orders) {
    if (o.paidAt === undefined) continue;
    if (o.paidAt > at) paidLater += 1;
    else if (s.lastSync !== null && o.paidAt > s.lastSync.at) paidSinceSync += 1;
  }
  const byOrders = orderData.paidOrders - paidLater;
  return s.lastSync === null ? byOrders : Math.max(byOrders, s.lastSync.completedCycles + paidSinceSync);
}
