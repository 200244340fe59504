/**
 * The pure subscription lifecycle: `(snapshot, fact) → result`, no Temporal, no I/O, no clock,
 * no randomness, so it runs unchanged inside the workflow sandbox and replays identically.
 *
 * Why it is built this way (architecture key decision 3):
 * - QFPay delivers notifications more than once, late and out of order. Each fact has a key from
 *   its ids ({@link factKey}) and is applied once.
 * - The state is re-derived from the recent facts sorted by QFPay's time (the snapshot's
 *   `timeline`), not updated in arrival order: the latest fact in QFPay's time decides, an older
 *   one never overrides it, same-second facts are ordered by a fixed tie-break, and the result
 *   depends only on which facts arrived (property-tested by permuting histories).
 * - Terminal states absorb later notifications (a newer ACTIVE after CANCELLED is a
 *   contradiction, and asks for reconciliation); only a query answer, QFPay's own view, moves a
 *   subscription out of one. A terminal state we merely inferred from a payment (COMPLETED on
 *   the last cycle, CANCELLED by a late manual charge) yields to QFPay's own terminal report.
 * - Payments imply states as QFPay would move them; an inference that would take an edge the
 *   table forbids is kept out (and reported), while QFPay's explicit report is applied anyway
 *   (it is the source of truth) and reported too.
 * - Nothing here throws on bad input: contradictions and malformed facts become anomalies.
 */
import { recordOrderReport, type OrderBook } from './lifecycle-orders';
import { isSubscriptionState } from './lifecycle-table';
import { isBillingSchedule, isEpochTime } from './billing-interval';
import {
  compareTimelineKeys,
  entryFromFact,
  foldTimeline,
  initialTimelineState,
  insertEntry,
  timelineKey,
  type FoldNote,
} from './lifecycle-timeline';
import type {
  ApplyOptions,
  ApplyResult,
  Fact,
  FactSource,
  LifecycleAnomaly,
  SubscriptionSnapshot,
  TimelineEntry,
  TimelineState,
  TransitionRecord,
} from './lifecycle-types';

export {
  SUBSCRIPTION_STATES,
  TERMINAL_STATES,
  TRANSITIONS,
  canReach,
  canTransition,
  isSubscriptionState,
  isTerminal,
  type LifecycleState,
  type LifecycleTransition,
  type SubscriptionState,
  type TransitionSource,
} from './lifecycle-table';
export type {
  ApplyOptions,
  ApplyOutcome,
  ApplyResult,
  CreatedFact,
  Fact,
  FactSource,
  LifecycleAnomaly,
  LifecycleTimeline,
  OrderRecord,
  PaymentFact,
  RemoteOrder,
  RemoteSubscription,
  StateFact,
  SubscriptionSnapshot,
  SyncFact,
  TimelineEntry,
  TimelineKey,
  TimelineState,
  TokenChangedFact,
  TotalCyclesChangedFact,
  TransitionRecord,
} from './lifecycle-types';

/** Default bounds of the snapshot's lists; a snapshot stays a few tens of kilobytes. */
export const DEFAULT_LIFECYCLE_LIMITS: Readonly<Required<ApplyOptions>> = Object.freeze({
  maxOrders: 64,
  maxTransitions: 64,
  maxFactKeys: 512,
  maxTimeline: 64,
  maxAnomalies: 32,
});

/**
 * The snapshot of a subscription nothing is known about yet (state `UNKNOWN`).
 * @param subscriptionId QFPay's `sub_…` id; facts for any other id are rejected
 */
export function initialSnapshot(subscriptionId: string): SubscriptionSnapshot {
  return {
    subscriptionId,
    productIds: [],
    state: 'UNKNOWN',
    stateAt: null,
    totalBillingCycles: null,
    completedCycles: 0,
    paidOrders: 0,
    lastSequenceNo: 0,
    nextBillingTime: null,
    lastBillingTime: null,
    orders: [],
    transitions: [],
    appliedFactKeys: [],
    reconcile: null,
    reconcileAt: null,
    anomalies: [],
    lastFactAt: null,
    factsApplied: 0,
    timeline: {
      base: initialTimelineState(),
      horizon: null,
      entries: [],
      order: 'progress',
      pauseHolds: true,
    },
  };
}

/**
 * The snapshot with its same-second facts ordered by `order` (absent: the fixed phases of runs
 * recorded before the progress order existed). The workflow chooses it once per run, patched, so
 * that a recorded history replays with the order it ran under.
 */
export function withTimelineOrder(
  snapshot: SubscriptionSnapshot,
  order: 'progress' | undefined,
): SubscriptionSnapshot {
  if (snapshot.timeline.order === order) return snapshot;
  const { order: _old, ...timeline } = snapshot.timeline;
  const entries = [...timeline.entries].sort((a, b) =>
    compareTimelineKeys(timelineKey(a, order), timelineKey(b, order)),
  );
  return { ...snapshot, timeline: { ...timeline, entries, ...(order === undefined ? {} : { order }) } };
}

/**
 * The snapshot with a payment while PAUSED moving no state (`on`), or as runs recorded before that
 * rule folded it. The workflow chooses it once per run, patched, like {@link withTimelineOrder}.
 */
export function withPauseRule(snapshot: SubscriptionSnapshot, on: boolean): SubscriptionSnapshot {
  if ((snapshot.timeline.pauseHolds === true) === on) return snapshot;
  const { pauseHolds: _old, ...timeline } = snapshot.timeline;
  return { ...snapshot, timeline: { ...timeline, ...(on ? { pauseHolds: true as const } : {}) } };
}

/**
 * The snapshot with a paid cycle moving the next billing time along the gateway's schedule (`on`),
 * or as runs recorded before that rule folded it (they asked the gateway after every payment). The
 * workflow chooses it once per run, patched, like {@link withTimelineOrder}.
 */
export function withBillingReckoning(snapshot: SubscriptionSnapshot, on: boolean): SubscriptionSnapshot {
  if ((snapshot.timeline.reckons === true) === on) return snapshot;
  const { reckons: _old, ...timeline } = snapshot.timeline;
  return { ...snapshot, timeline: { ...timeline, ...(on ? { reckons: true as const } : {}) } };
}

/**
 * The snapshot with a query answer's key naming the orders it read (`on`), or as runs recorded
 * before that rule keyed it. The workflow chooses it once per run, patched, like
 * {@link withTimelineOrder}.
 */
export function withSyncOrderKeys(snapshot: SubscriptionSnapshot, on: boolean): SubscriptionSnapshot {
  if ((snapshot.timeline.syncKeysOrders === true) === on) return snapshot;
  const { syncKeysOrders: _old, ...timeline } = snapshot.timeline;
  return { ...snapshot, timeline: { ...timeline, ...(on ? { syncKeysOrders: true as const } : {}) } };
}

/** The orders a query answer read, in a few characters: their range and how many paid and failed. */
function ordersRead(orders: readonly { sequenceNo: number; status?: string }[] | undefined): string {
  if (orders === undefined || orders.length === 0) return 'o-';
  const seqs = orders.map((o) => o.sequenceNo);
  const count = (status: string) => orders.filter((o) => o.status === status).length;
  return `o${Math.min(...seqs)}-${Math.max(...seqs)}p${count('PAID')}f${count('FAILED')}`;
}

/**
 * The dedup key of a fact, built from its ids and QFPay's time, never from who delivered it: the
 * result of the engine's own manual charge and QFPay's notification of the same attempt
 * (same order, syssn, respcd and time) are one fact.
 * - payment: order id + syssn + respcd + at
 * - state: state + at
 * - sync: at + state + completed cycles + next billing time, and with `syncOrders` the orders it
 *   read: a merchant's sync in the same second as the engine's own query reads older orders too,
 *   and what it brings must not be dropped as a duplicate
 * - created: at; token_changed: token + at; total_cycles_changed: total + at;
 *   products_changed: products + at
 */
export function factKey(fact: Fact, { syncOrders = false }: { syncOrders?: boolean } = {}): string {
  switch (fact.kind) {
    case 'payment':
      return `payment|${fact.orderId}|${fact.syssn ?? '-'}|${fact.respcd}|${fact.at}`;
    case 'state':
      return `state|${fact.state}|${fact.at}`;
    case 'sync':
      return `sync|${fact.at}|${fact.remote.state}|${fact.remote.completedCycles}|${fact.remote.nextBillingTime ?? '-'}${syncOrders ? `|${ordersRead(fact.orders)}` : ''}`;
    case 'created':
      return `created|${fact.at}`;
    case 'token_changed':
      return `token|${fact.tokenId}|${fact.at}`;
    case 'total_cycles_changed':
      return `total|${fact.totalBillingCycles ?? 'unbounded'}|${fact.at}`;
    case 'products_changed':
      return `products|${fact.productIds.join(',')}|${fact.at}`;
  }
}

const isTime = isEpochTime;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isText = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isOptional = (v: unknown, check: (x: unknown) => boolean): boolean => v === undefined || check(v);
const isTrigger = (v: unknown): boolean => v === 'auto' || v === 'manual';

/** A short, never-throwing rendering of an untrusted value for anomaly reasons. */
function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  return typeof value;
}

/** Why a fact cannot be applied, or null. Facts arrive through signals, so types are not trusted. */
function problemWith(fact: unknown, subscriptionId: string): string | null {
  if (typeof fact !== 'object' || fact === null) return 'not an object';
  const f = fact as Record<string, unknown>;
  if (f.subscriptionId !== subscriptionId)
    return `it is about ${shown(f.subscriptionId)}, not ${subscriptionId}`;
  if (!isTime(f.at)) return `invalid time ${shown(f.at)}`;
  switch (f.kind) {
    case 'state':
      if (!isSubscriptionState(f.state)) return `unknown state ${shown(f.state)}`;
      return FACT_SOURCES.includes(f.source as FactSource) ? null : `unknown source ${shown(f.source)}`;
    case 'payment':
      if (!isText(f.orderId)) return 'payment without an order id';
      if (!isCount(f.sequenceNo) || f.sequenceNo < 1) return `invalid sequence number ${shown(f.sequenceNo)}`;
      if (typeof f.succeeded !== 'boolean' || typeof f.respcd !== 'string') return 'payment without a result';
      return isOptional(f.triggerBy, isTrigger) ? null : `invalid trigger ${shown(f.triggerBy)}`;
    case 'sync': {
      const r = f.remote as Record<string, unknown> | null | undefined;
      if (typeof r !== 'object' || r === null) return 'query answer without a subscription';
      if (!isSubscriptionState(r.state)) return `query answer with unknown state ${shown(r.state)}`;
      if (!isCount(r.completedCycles)) return `invalid completed cycles ${shown(r.completedCycles)}`;
      if (!(r.totalBillingCycles === null || isOptional(r.totalBillingCycles, isCount)))
        return 'invalid total cycles';
      if (!isOptional(r.nextBillingTime, isTime) || !isOptional(r.lastBillingTime, isTime))
        return 'invalid billing time';
      if (!isOptional(r.productIds, (p) => Array.isArray(p) && p.every(isText))) return 'invalid product ids';
      if (!isOptional(r.schedule, isBillingSchedule)) return 'invalid billing schedule';
      if (f.orders === undefined) return null;
      if (!Array.isArray(f.orders)) return 'invalid order list';
      const badOrder = (f.orders as unknown[]).some((o) => {
        if (typeof o !== 'object' || o === null) return true;
        const row = o as Record<string, unknown>;
        return (
          !isText(row.orderId) ||
          !isCount(row.sequenceNo) ||
          (row.sequenceNo as number) < 1 ||
          !isOptional(row.at, isTime) ||
          !isOptional(row.status, (x) => x === 'PAID' || x === 'FAILED') ||
          !isOptional(row.triggerBy, isTrigger)
        );
      });
      return badOrder ? 'invalid order in the query answer' : null;
    }
    case 'created':
      if (!isText(f.customerId) || !isText(f.tokenId)) return 'created without customer or token';
      if (!Array.isArray(f.productIds) || !f.productIds.every(isText)) return 'invalid product ids';
      if (!(f.totalBillingCycles === null || isOptional(f.totalBillingCycles, isCount)))
        return 'invalid total cycles';
      if (!isOptional(f.startTime, isTime)) return 'invalid start time';
      return isOptional(f.state, isSubscriptionState) ? null : `unknown state ${shown(f.state)}`;
    case 'token_changed':
      return isText(f.tokenId) ? null : 'token change without a token';
    case 'total_cycles_changed':
      return f.totalBillingCycles === null || isCount(f.totalBillingCycles) ? null : 'invalid total cycles';
    case 'products_changed':
      return Array.isArray(f.productIds) && f.productIds.length > 0 && f.productIds.every(isText)
        ? null
        : 'invalid product ids';
    default:
      return `unknown fact kind ${shown(f.kind)}`;
  }
}

const FACT_SOURCES: readonly FactSource[] = ['notification', 'query', 'api', 'engine'];

const keepLast = <T>(items: readonly T[], max: number): T[] =>
  items.length > max ? items.slice(items.length - max) : items.slice();

function resolveLimits(options: ApplyOptions | undefined): Required<ApplyOptions> {
  const pick = (value: number | undefined, fallback: number): number =>
    value !== undefined && Number.isInteger(value) && value > 0 ? value : fallback;
  const d = DEFAULT_LIFECYCLE_LIMITS;
  return {
    maxOrders: pick(options?.maxOrders, d.maxOrders),
    maxTransitions: pick(options?.maxTransitions, d.maxTransitions),
    maxFactKeys: pick(options?.maxFactKeys, d.maxFactKeys),
    maxTimeline: pick(options?.maxTimeline, d.maxTimeline),
    maxAnomalies: pick(options?.maxAnomalies, d.maxAnomalies),
  };
}

/** Records what the fact says about orders: its payment, or the rows of a query answer. */
function recordOrders(
  snapshot: SubscriptionSnapshot,
  fact: Fact,
  maxOrders: number,
): { book: OrderBook; gap: string | null } {
  let book: OrderBook = {
    orders: snapshot.orders,
    paidOrders: snapshot.paidOrders,
    lastSequenceNo: snapshot.lastSequenceNo,
  };
  let gap: string | null = null;
  if (fact.kind === 'payment') {
    const last = snapshot.lastSequenceNo;
    if (last > 0 && fact.sequenceNo > last + 1) {
      const missing = fact.sequenceNo - 1 === last + 1 ? `${last + 1}` : `${last + 1}–${fact.sequenceNo - 1}`;
      gap = `sequence gap: order ${fact.orderId} (cycle ${fact.sequenceNo}) arrived while cycle(s) ${missing} were never seen`;
    }
    book = recordOrderReport(
      book,
      {
        orderId: fact.orderId,
        sequenceNo: fact.sequenceNo,
        succeeded: fact.succeeded,
        at: fact.at,
        respcd: fact.respcd,
        amount: fact.amount,
        currency: fact.currency,
        syssn: fact.syssn,
        triggerBy: fact.triggerBy,
        distinctAttempt: true,
      },
      maxOrders,
    ).book;
  } else if (fact.kind === 'sync') {
    for (const row of fact.orders ?? []) {
      if (row.status === undefined) {
        book = { ...book, lastSequenceNo: Math.max(book.lastSequenceNo, row.sequenceNo) };
        continue;
      }
      book = recordOrderReport(
        book,
        {
          orderId: row.orderId,
          sequenceNo: row.sequenceNo,
          succeeded: row.status === 'PAID',
          at: row.at ?? fact.at,
          respcd: row.respcd,
          amount: row.amount,
          currency: row.currency,
          triggerBy: row.triggerBy,
          distinctAttempt: false,
        },
        maxOrders,
      ).book;
    }
  }
  return { book, gap };
}

/** A fact too old for the timeline may still fill in ids the snapshot never learned. */
function fillMissingIds(base: TimelineState, entry: TimelineEntry): TimelineState {
  if (entry.kind !== 'created' && entry.kind !== 'sync') return base;
  return {
    ...base,
    ...(base.customerId === undefined && entry.customerId !== undefined
      ? { customerId: entry.customerId }
      : {}),
    ...(base.tokenId === undefined && entry.tokenId !== undefined ? { tokenId: entry.tokenId } : {}),
    ...(base.productIds.length === 0 && entry.productIds !== undefined
      ? { productIds: entry.productIds }
      : {}),
  };
}

const noteId = (n: FoldNote): string => `${n.key}|${n.reason}`;

const orderStatuses = (orders: readonly { orderId: string; status: string }[]): string =>
  orders.map((o) => `${o.orderId}:${o.status}`).join(',');

/**
 * Applies one fact. Never mutates `snapshot`, never throws.
 *
 * Outcomes:
 * - `duplicate`: the key was applied before; the same snapshot object is returned.
 * - `stale`: the fact sorts before the one that decided the current state (or is older than the
 *   retained timeline), did not move the state and brought no new order or order status (a late
 *   failure of an order already paid is stale); details and missing ids are still filled in.
 * - `contradiction`: the fact (or its arrival) makes a claim the lifecycle table forbids, revives
 *   a terminal state, leaves a gap in the order sequence, or is malformed. It is recorded in
 *   `anomalies`; all but malformed facts set `reconcile` so the workflow asks QFPay.
 * - `applied`: anything else.
 *
 * A query answer (`sync`) newer than the current reconcile reason clears it.
 */
export function applyFact(snapshot: SubscriptionSnapshot, input: Fact, options?: ApplyOptions): ApplyResult {
  const limits = resolveLimits(options);
  const problem = problemWith(input, snapshot.subscriptionId);
  if (problem !== null) {
    const raw = (typeof input === 'object' && input !== null ? input : {}) as Record<string, unknown>;
    const anomaly: LifecycleAnomaly = {
      at: isTime(raw.at) ? raw.at || 0 : (snapshot.lastFactAt ?? 0),
      factKey: `rejected|${typeof raw.kind === 'string' ? raw.kind.slice(0, 40) : typeof raw.kind}`,
      reason: `fact rejected: ${problem}`,
    };
    return {
      snapshot: { ...snapshot, anomalies: keepLast([...snapshot.anomalies, anomaly], limits.maxAnomalies) },
      outcome: 'contradiction',
    };
  }

  // -0 would not survive JSON (continue-as-new) unchanged.
  const fact: Fact = Object.is(input.at, -0) ? { ...input, at: 0 } : input;
  const key = factKey(fact, { syncOrders: snapshot.timeline.syncKeysOrders === true });
  const timeline = snapshot.timeline;
  if (snapshot.appliedFactKeys.includes(key) || timeline.entries.some((e) => e.key === key)) {
    return { snapshot, outcome: 'duplicate' };
  }

  const order = timeline.order;
  const pauseHolds = timeline.pauseHolds === true;
  const reckons = timeline.reckons === true;
  const before = foldTimeline(timeline.base, timeline.entries, snapshot, order, pauseHolds, reckons);
  const { book, gap } = recordOrders(snapshot, fact, limits.maxOrders);

  const entry = entryFromFact(fact, key);
  const entryKey = timelineKey(entry, order);
  const beyondHorizon = timeline.horizon !== null && compareTimelineKeys(entryKey, timeline.horizon) <= 0;
  let base = beyondHorizon ? fillMissingIds(timeline.base, entry) : timeline.base;
  let horizon = timeline.horizon;
  let entries = beyondHorizon ? timeline.entries : insertEntry(timeline.entries, entry, order);
  const after = foldTimeline(base, entries, book, order, pauseHolds, reckons);
  let derived = after.state;
  if (entries.length > limits.maxTimeline) {
    const evicted = entries.slice(0, entries.length - limits.maxTimeline);
    base = foldTimeline(base, evicted, book, order, pauseHolds, reckons).state;
    const newest = evicted[evicted.length - 1];
    horizon = newest === undefined ? horizon : timelineKey(newest, order);
    entries = entries.slice(evicted.length);
    derived = foldTimeline(base, entries, book, order, pauseHolds, reckons).state;
  }

  const seen = new Set(before.notes.map(noteId));
  const fresh = after.notes.filter((n) => !seen.has(noteId(n)));
  const noticed = (n: FoldNote): string =>
    n.key === key ? n.reason : `${n.reason} (noticed when ${key} arrived)`;
  const contradictions = fresh.filter((n) => n.contradiction).map((n) => ({ at: n.at, reason: noticed(n) }));
  if (gap !== null) contradictions.push({ at: fact.at, reason: gap });
  const newAnomalies: LifecycleAnomaly[] = [
    ...fresh.map((n) => ({ at: n.at, factKey: n.key, reason: noticed(n) })),
    ...(gap !== null ? [{ at: fact.at, factKey: key, reason: gap }] : []),
  ];

  let reconcile = snapshot.reconcile;
  let reconcileAt = snapshot.reconcileAt;
  const isNewestSync = fact.kind === 'sync' && !beyondHorizon && derived.lastSync?.at === fact.at;
  if (isNewestSync && (reconcileAt === null || fact.at >= reconcileAt)) {
    reconcile = null;
    reconcileAt = null;
  }
  let raised: string | undefined;
  if (contradictions.length > 0) {
    raised = contradictions.map((c) => c.reason).join('; ');
    reconcile = raised;
    reconcileAt = Math.max(reconcileAt ?? -Infinity, ...contradictions.map((c) => c.at));
  }

  let transition: TransitionRecord | undefined;
  if (derived.state !== snapshot.state && derived.state !== 'UNKNOWN') {
    const cause = derived.stateCause ?? key;
    transition = {
      from: snapshot.state,
      to: derived.state,
      at: derived.stateAt ?? fact.at,
      cause: derived.stateKey?.[3] === key ? cause : `${cause} (re-derived when ${key} arrived)`,
      factKey: key,
    };
  }

  const moved = derived.state !== snapshot.state || derived.stateAt !== snapshot.stateAt;
  const olderThanState =
    before.state.stateKey !== null && compareTimelineKeys(entryKey, before.state.stateKey) < 0;
  const newOrderFacts = orderStatuses(book.orders) !== orderStatuses(snapshot.orders);
  const outcome =
    contradictions.length > 0
      ? 'contradiction'
      : !moved && !newOrderFacts && (beyondHorizon || olderThanState)
        ? 'stale'
        : 'applied';

  const next: SubscriptionSnapshot = {
    subscriptionId: snapshot.subscriptionId,
    ...(derived.customerId !== undefined ? { customerId: derived.customerId } : {}),
    ...(derived.tokenId !== undefined ? { tokenId: derived.tokenId } : {}),
    productIds: derived.productIds,
    state: derived.state,
    stateAt: derived.stateAt,
    totalBillingCycles: derived.totalBillingCycles,
    // A cycle reckoned since the last query (none asked after its payment) counts too.
    completedCycles: Math.max(
      book.paidOrders,
      (derived.lastSync?.completedCycles ?? 0) + (derived.reckonedCycles ?? 0),
    ),
    paidOrders: book.paidOrders,
    lastSequenceNo: book.lastSequenceNo,
    nextBillingTime: derived.nextBillingTime,
    lastBillingTime: derived.lastBillingTime,
    orders: book.orders,
    transitions: transition
      ? keepLast([...snapshot.transitions, transition], limits.maxTransitions)
      : snapshot.transitions,
    appliedFactKeys: keepLast([...snapshot.appliedFactKeys, key], limits.maxFactKeys),
    reconcile,
    reconcileAt,
    anomalies:
      newAnomalies.length > 0
        ? keepLast([...snapshot.anomalies, ...newAnomalies], limits.maxAnomalies)
        : snapshot.anomalies,
    lastFactAt: snapshot.lastFactAt === null ? fact.at : Math.max(snapshot.lastFactAt, fact.at),
    factsApplied: snapshot.factsApplied + 1,
    timeline: {
      base,
      horizon,
      entries,
      ...(order === undefined ? {} : { order }),
      ...(pauseHolds ? { pauseHolds: true as const } : {}),
      ...(reckons ? { reckons: true as const } : {}),
      ...(timeline.syncKeysOrders === true ? { syncKeysOrders: true as const } : {}),
    },
  };
  return {
    snapshot: next,
    outcome,
    ...(transition ? { transition } : {}),
    ...(raised !== undefined ? { reconcile: raised } : {}),
    ...(derived.reckonedBy === key ? { reckoned: true as const } : {}),
  };
}

/** Applies facts in the given order; see {@link applyFact}. */
export function applyFacts(
  snapshot: SubscriptionSnapshot,
  facts: readonly Fact[],
  options?: ApplyOptions,
): SubscriptionSnapshot {
  return facts.reduce((s, fact) => applyFact(s, fact, options).snapshot, snapshot);
}

/**
 * The part of a snapshot that depends only on which facts were applied, not on their arrival
 * order: state and when it took effect, ids, cycles, billing times and each order's status.
 * Transitions, anomalies and `reconcile` are left out: they describe the arrival history.
 */
export function essentials(snapshot: SubscriptionSnapshot): unknown {
  return {
    subscriptionId: snapshot.subscriptionId,
    state: snapshot.state,
    stateAt: snapshot.stateAt,
    customerId: snapshot.customerId ?? null,
    tokenId: snapshot.tokenId ?? null,
    productIds: snapshot.productIds,
    totalBillingCycles: snapshot.totalBillingCycles,
    completedCycles: snapshot.completedCycles,
    paidOrders: snapshot.paidOrders,
    lastSequenceNo: snapshot.lastSequenceNo,
    nextBillingTime: snapshot.nextBillingTime,
    lastBillingTime: snapshot.lastBillingTime,
    orders: snapshot.orders.map((o) => ({
      orderId: o.orderId,
      sequenceNo: o.sequenceNo,
      status: o.status,
      paidAt: o.paidAt ?? null,
    })),
  };
}
