/**
 * Types of the pure lifecycle module: the facts it applies and the snapshot it keeps. Every
 * snapshot type is plain JSON (no Map, Set, Date or class) because the snapshot is carried
 * through continue-as-new.
 */
import type { LifecycleState, SubscriptionState } from './lifecycle-table';
import type { BillingSchedule } from './billing-interval';

/** Who told the engine: a QFPay notification, a QFPay query, an engine API call, or the engine itself. */
export type FactSource = 'notification' | 'query' | 'api' | 'engine';

/** A `subscription` notification (at = sysdtm) or the result of the engine's own cancel call. */
export interface StateFact {
  kind: 'state';
  subscriptionId: string;
  state: SubscriptionState;
  /** QFPay's time of the change, epoch ms. */
  at: number;
  source: FactSource;
}

/** A `subscription_payment` notification (at = txdtm) or the result of a manual charge. */
export interface PaymentFact {
  kind: 'payment';
  subscriptionId: string;
  /** `sub_ord_<id>_<4-digit sequence>`. */
  orderId: string;
  /** The billing cycle this order pays, from 1. */
  sequenceNo: number;
  succeeded: boolean;
  /** QFPay's response code; `0000` is paid. */
  respcd: string;
  respmsg?: string;
  amount?: number;
  currency?: string;
  syssn?: string;
  at: number;
  /** Notifications do not say; a manual charge's own result says `manual`. */
  triggerBy?: 'auto' | 'manual';
  source: FactSource;
}

/** The answer of `subscription/v1/query` (plus `billing_order/v1/list`), at = when QFPay answered. */
export interface SyncFact {
  kind: 'sync';
  subscriptionId: string;
  at: number;
  remote: RemoteSubscription;
  orders?: RemoteOrder[];
  source: 'query';
}

/** The engine created the subscription (at = when the create call returned). */
export interface CreatedFact {
  kind: 'created';
  subscriptionId: string;
  customerId: string;
  tokenId: string;
  productIds: string[];
  totalBillingCycles: number | null;
  /** When the first payment is due; in the future means a trial. */
  startTime?: number;
  /** The state in the create response (ACTIVE, INCOMPLETE or COMPLETED). */
  state?: SubscriptionState;
  at: number;
  source: 'api';
}

/** The engine changed the subscription's payment token. */
export interface TokenChangedFact {
  kind: 'token_changed';
  subscriptionId: string;
  tokenId: string;
  at: number;
  source: 'api';
}

/** The engine changed `total_billing_cycles` (null: unbounded). */
export interface TotalCyclesChangedFact {
  kind: 'total_cycles_changed';
  subscriptionId: string;
  totalBillingCycles: number | null;
  at: number;
  source: 'api';
}

/** The engine changed the subscription's products (QFPay bills the new plan from the next cycle). */
export interface ProductsChangedFact {
  kind: 'products_changed';
  subscriptionId: string;
  productIds: string[];
  at: number;
  source: 'api';
}

/** Something true about a subscription, stamped with QFPay's time where QFPay gave one. */
export type Fact =
  | StateFact
  | PaymentFact
  | SyncFact
  | CreatedFact
  | TokenChangedFact
  | TotalCyclesChangedFact
  | ProductsChangedFact;

/** A subscription as `subscription/v1/query` describes it (times in epoch ms). */
export interface RemoteSubscription {
  state: SubscriptionState;
  customerId?: string;
  tokenId?: string;
  totalBillingCycles: number | null;
  completedCycles: number;
  nextBillingTime?: number;
  lastBillingTime?: number;
  lastBillingStatus?: string;
  retryAttempts?: number;
  startTime?: number;
  productIds?: string[];
  /**
   * The plan's billing times as the gateway states them (its anchor, interval and calendar
   * offset), when it told them: with it the engine reckons the next billing time after a payment
   * itself instead of asking.
   */
  schedule?: BillingSchedule;
}

/** One row of `billing_order/v1/list`. */
export interface RemoteOrder {
  orderId: string;
  sequenceNo: number;
  triggerBy?: 'auto' | 'manual';
  status?: 'PAID' | 'FAILED';
  respcd?: string;
  at?: number;
  amount?: number;
  currency?: string;
}

/** What the engine knows of one subscription order (one billing cycle). */
export interface OrderRecord {
  orderId: string;
  sequenceNo: number;
  /** PAID once any attempt paid it: a late failure report never un-pays an order. */
  status: 'PAID' | 'FAILED';
  respcd?: string;
  /** Distinct failed attempts reported (each failure fact counts once). */
  failures: number;
  firstAt: number;
  lastAt: number;
  /** The earliest time a payment of this order was reported. */
  paidAt?: number;
  amount?: number;
  currency?: string;
  syssn?: string;
  /** Of the paying attempt once PAID (manual wins), else of the failed attempts. */
  triggerBy?: 'auto' | 'manual';
  /** When QFPay first billed the order on its own (the earliest attempt not known to be manual). */
  billedAt?: number;
}

/** One state change, with a readable cause. */
export interface TransitionRecord {
  from: LifecycleState;
  to: SubscriptionState;
  /** When the new state took effect in QFPay's time. */
  at: number;
  cause: string;
  /** The fact whose arrival made the change. */
  factKey: string;
}

/** Something that does not fit the lifecycle: kept for people and for reconciliation. */
export interface LifecycleAnomaly {
  at: number;
  factKey: string;
  reason: string;
}

/**
 * Position of a fact in QFPay's time: `[at, phase, rank, factKey]`. Within one second, payments
 * come first (they cause state notifications), then created/token/total facts, non-terminal
 * states by progression rank, the query answer (it saw everything of its second), and terminal
 * states last (they win ties).
 *
 * Under the `progress` order ({@link LifecycleTimeline.order}), facts of one second are first
 * ordered by what they are: how far the subscription's orders had got (a failed order n, then its
 * payment, then order n + 1), so that a query answer or a decline that QFPay gave before a payment
 * of the same second never sorts after it. See `progressOf` in lifecycle-timeline.ts.
 */
export type TimelineKey = [at: number, phase: number, rank: number, factKey: string];

/** The part of a fact the timeline keeps to re-derive the state (compact: no amounts, no messages). */
export type TimelineEntry =
  | { kind: 'state'; key: string; at: number; state: SubscriptionState; source: FactSource }
  | {
      kind: 'payment';
      key: string;
      at: number;
      orderId: string;
      sequenceNo: number;
      succeeded: boolean;
      respcd: string;
      manual: boolean;
    }
  | {
      kind: 'sync';
      key: string;
      at: number;
      state: SubscriptionState;
      totalBillingCycles: number | null;
      completedCycles: number;
      nextBillingTime: number | null;
      lastBillingTime: number | null;
      customerId?: string;
      tokenId?: string;
      productIds?: string[];
      /** How far the orders had got when QFPay answered (see `progressOf`); absent in older entries. */
      progress?: number;
      /** The plan's billing times, when the gateway stated them. */
      schedule?: BillingSchedule;
    }
  | {
      kind: 'created';
      key: string;
      at: number;
      state?: SubscriptionState;
      customerId: string;
      tokenId: string;
      productIds: string[];
      totalBillingCycles: number | null;
      startTime?: number;
    }
  | { kind: 'token_changed'; key: string; at: number; tokenId: string }
  | { kind: 'total_cycles_changed'; key: string; at: number; totalBillingCycles: number | null }
  | { kind: 'products_changed'; key: string; at: number; productIds: string[] };

/** What folding the timeline in QFPay's time order yields. */
export interface TimelineState {
  state: LifecycleState;
  stateAt: number | null;
  /** The entry that last set or confirmed the state. */
  stateKey: TimelineKey | null;
  stateCause: string | null;
  /** The state was inferred from a payment rather than reported by QFPay. */
  stateInferred: boolean;
  customerId?: string;
  tokenId?: string;
  productIds: string[];
  totalBillingCycles: number | null;
  nextBillingTime: number | null;
  lastBillingTime: number | null;
  /** The newest query answer folded so far. */
  lastSync: { at: number; completedCycles: number } | null;
  /** The billing schedule of the newest query answer that stated one. */
  schedule?: BillingSchedule;
  /**
   * The payment from which the engine reckoned `nextBillingTime` on the schedule (its key); absent
   * when the time is the gateway's own answer.
   */
  reckonedBy?: string;
  /** Cycles whose payment moved `nextBillingTime` since the newest query answer (none asked after them). */
  reckonedCycles?: number;
}

/**
 * The recent facts in QFPay's time order, from which state and billing data are re-derived on
 * every fact; that is what makes the result independent of arrival order. Entries older than the
 * bound are folded into `base`; a fact older than `horizon` can no longer move the state.
 */
export interface LifecycleTimeline {
  base: TimelineState;
  horizon: TimelineKey | null;
  entries: TimelineEntry[];
  /**
   * How facts of the same second are ordered: `progress` (every snapshot since it existed), or
   * absent: the fixed phases only, kept for snapshots of runs recorded before (their replay must
   * make the same decisions).
   */
  order?: 'progress';
  /**
   * A payment while PAUSED moves no state (the gateway's pause ends by its own report): every
   * snapshot since the rule existed; absent in those of runs recorded before (their replay must
   * make the same decisions).
   */
  pauseHolds?: true;
  /**
   * A paid cycle moves the next billing time one interval along the gateway's stated schedule
   * (`TimelineState.reckonedBy`): every snapshot since the rule existed; absent in those of runs
   * recorded before, which asked the gateway after every payment.
   */
  reckons?: true;
  /**
   * A query answer's key names the orders it read (`factKey`): two answers given in the same
   * second that read different orders are two facts. Every snapshot since the rule existed;
   * absent in those of runs recorded before, which took the second for a duplicate.
   */
  syncKeysOrders?: true;
}

/** The lifecycle's memory of one subscription. Plain JSON only (carried through continue-as-new). */
export interface SubscriptionSnapshot {
  subscriptionId: string;
  customerId?: string;
  tokenId?: string;
  productIds: string[];
  state: LifecycleState;
  stateAt: number | null;
  totalBillingCycles: number | null;
  /** max(paidOrders, the latest query's completed cycles). */
  completedCycles: number;
  /** Orders that became PAID, counted once each (not limited by the bounded `orders`). */
  paidOrders: number;
  lastSequenceNo: number;
  nextBillingTime: number | null;
  lastBillingTime: number | null;
  /** The most recent orders (highest sequence numbers), sorted by sequence number. */
  orders: OrderRecord[];
  /** The most recent state changes. */
  transitions: TransitionRecord[];
  /** Keys of applied facts (dedup memory), oldest first, bounded. */
  appliedFactKeys: string[];
  /** Why the workflow should ask QFPay, or null; cleared by a query answer newer than the reason. */
  reconcile: string | null;
  /** QFPay time of the newest fact behind `reconcile`. */
  reconcileAt: number | null;
  anomalies: LifecycleAnomaly[];
  /** The newest `at` among applied facts. */
  lastFactAt: number | null;
  /** Facts applied (duplicates excluded). */
  factsApplied: number;
  timeline: LifecycleTimeline;
}

/** How a fact was taken. */
export type ApplyOutcome = 'applied' | 'duplicate' | 'stale' | 'contradiction';

/** The result of {@link applyFact}. */
export interface ApplyResult {
  snapshot: SubscriptionSnapshot;
  outcome: ApplyOutcome;
  /** The state change this fact made, if any. */
  transition?: TransitionRecord;
  /** The reconciliation reason this fact raised, if any. */
  reconcile?: string;
  /** This payment moved the next billing time along the gateway's schedule (`LifecycleTimeline.reckons`). */
  reckoned?: true;
}

/** Bounds of the snapshot's lists. */
export interface ApplyOptions {
  /** @default 64 */
  maxOrders?: number;
  /** @default 64 */
  maxTransitions?: number;
  /** @default 512 */
  maxFactKeys?: number;
  /** Timeline entries kept for re-deriving the state. @default 64 */
  maxTimeline?: number;
  /** @default 32 */
  maxAnomalies?: number;
}
