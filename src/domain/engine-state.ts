/**
 * What one subscription's workflow knows and owes, as one plain-JSON value, and the pure
 * reducers that change it. The workflow keeps exactly one `EngineState`; its signal handlers and
 * its loop replace it through these functions only, so every change is a pure step that tests
 * can drive without Temporal. It is carried whole through continue-as-new.
 */
import { engineNow, followClock } from './clock/test-clock';
import { heldMetadataOf, metadataValues, type HeldMetadata } from './metadata/metadata';
import type { ReminderKind, ReminderLeads } from './reminders/reminder-kinds';
import { QFPAY_PROFILE, type GatewayProfile } from './gateway-profile';
import type { BillingPause } from './pause/billing-pause';
import type { DunningAttemptRecord, DunningEpisode } from './episode/dunning-episode';

export type { BillingPause } from './pause/billing-pause';
import type { ScheduledCancel } from './cancel/scheduled-cancel-record';
export type { ScheduledCancel } from './cancel/scheduled-cancel-record';
import type { MerchantEvent } from './events/merchant-events';
import {
  DEFAULT_DUNNING_POLICY,
  checkDunningPolicy,
  type DunningPolicy,
  type DunningPolicyOverride,
} from './episode/dunning';
import {
  DEFAULT_LIFECYCLE_LIMITS,
  applyFact,
  initialSnapshot,
  isTerminal,
  type ApplyResult,
  type Fact,
  type PaymentFact,
  type SubscriptionSnapshot,
} from './lifecycle/lifecycle';
import { eventsOfFact, paidOrderEvents, type OutgoingEvent } from './events/outbox';

/** One product line of a plan, as QFPay's `products` parameter carries it. */
export interface PlanLine {
  productId: string;
  quantity: number;
}

/** A merchant's request, queued by an update handler and carried out by the loop. */
export type Intent =
  | { id: number; kind: 'cancel' }
  | { id: number; kind: 'schedule_cancel' }
  | { id: number; kind: 'unschedule_cancel' }
  | { id: number; kind: 'change_token'; tokenId: string }
  | { id: number; kind: 'change_cycles'; totalBillingCycles: number | null }
  | { id: number; kind: 'change_products'; products: PlanLine[] }
  | { id: number; kind: 'change_price'; amount: number; currency: string }
  | { id: number; kind: 'charge_now'; orderId?: string; syncedFirst?: boolean }
  | { id: number; kind: 'sync' }
  | { id: number; kind: 'policy'; override: DunningPolicyOverride }
  | { id: number; kind: 'pause'; resumesAt: number | null; scope?: HoldScope }
  | { id: number; kind: 'resume'; scope?: HoldScope };

/**
 * What a pause stops: `gateway`, billing itself (the gateway pauses the subscription; only a
 * gateway that can does); `dunning`, only the engine's own retries (its manual charges, episodes
 * and final actions), while the gateway goes on billing. Absent in requests from before: the
 * gateway's pause where it has one, else the engine's hold.
 */
export type HoldScope = 'gateway' | 'dunning';

/** Distributes `Omit` over the intent union. */
export type IntentRequest = Intent extends infer I ? (I extends Intent ? Omit<I, 'id'> : never) : never;

/** How the loop answered an intent; the update handler that queued it returns or throws it. */
export type IntentOutcome = { id: number } & IntentAnswer;

/** An intent's answer: a small result (what changed), or a refusal with a stable type. */
export type IntentAnswer =
  | { ok: true; value: Record<string, unknown> }
  | { ok: false; message: string; type: string; details?: unknown[] };

/**
 * A manual charge whose outcome QFPay has not told yet (a timeout, a 5xx, or a "processing"
 * answer). It is confirmed by looking at the order, for a bounded time; no other charge starts
 * meanwhile.
 */
export interface PendingCharge {
  orderId: string;
  sequenceNo: number;
  /** The episode attempt it is (0 for a merchant's charge outside an episode). */
  attempt: number;
  /** When the charge was sent (workflow time). */
  sentAt: number;
  /** When the engine stops looking and counts the charge as not made. */
  confirmUntil: number;
  nextCheckAt: number;
  checks: number;
  respcd?: string;
  /** How the order looked just before the charge was sent, when the activity could look. */
  orderBefore?: string;
}

/** Everything one subscription's workflow holds. Plain JSON only. */
export interface EngineState {
  subscriptionId: string;
  origin: 'created' | 'adopted';
  snapshot: SubscriptionSnapshot;
  policy: DunningPolicy;
  options: SubscriptionWorkflowOptions;
  episode: DunningEpisode | null;
  episodeHistory: DunningEpisode[];
  /** Billing paused on the engine's side, or null. Only a resume (the merchant's, or its timer) ends it. */
  billingPause: BillingPause | null;
  /** Every payment attempt the engine learned of, oldest first (the most recent {@link MAX_PAYMENT_ATTEMPTS}). */
  payments: PaymentAttemptRecord[];
  /** QFPay has confirmed the subscription exists (a creation of ours, or a query that found it). */
  known: boolean;
  /** Queries in a row that did not find the subscription at QFPay. */
  notFound: number;
  /**
   * The run gives a subscription QFPay does not know up after {@link NOT_FOUND_LIMIT} quick
   * queries and fails (set by the workflow, patched); absent: the rule of runs recorded before.
   */
  quickNotFound?: true;
  lastSyncAt: number | null;
  /** When the engine first saw the subscription in a terminal state (workflow time). */
  terminalSince: number | null;
  syncWanted: boolean;
  syncFailures: number;
  syncRetryAt: number | null;
  /** Asking QFPay about a billing time that passed with no payment result. */
  reconcile: { billingTime: number | null; attempts: number };
  /** A new card: try a charge now rather than at the next planned attempt. */
  retryNow: boolean;
  pendingCharge: PendingCharge | null;
  /** Merchant events recorded but not yet handed to their delivery workflows. */
  outbox: MerchantEvent[];
  /** Ids of the events handed over most recently (bounded): an event is never recorded twice. */
  sentEventIds: string[];
  /**
   * A run recorded before the engine's hold had its own name: every pause and hold is reported as
   * `billing_paused` / `billing_resumed`, as it ran (set by the workflow, patched).
   */
  legacyPauseEvents?: true;
  /** Flushes in a row in which a delivery workflow could not be started (absent: none). */
  flushFailures?: number;
  /** When the outbox is flushed again after such a flush (absent: at once). */
  flushRetryAt?: number;
  intents: Intent[];
  resolved: IntentOutcome[];
  nextIntentId: number;
  continuedAsNew: number;
  /**
   * QFPay time of the first fact this subscription's engine applied: an adopted subscription's
   * payments before it are history, not news, and are not reported to the merchant.
   */
  watchingSince: number | null;
  /**
   * An adopted workflow may be one the engine's own creation is about to hand over (QFPay's first
   * notification can overtake it): `awaited` until the handover arrives or the grace after
   * `adoptedAt` has passed. Meanwhile no episode opens for the first order, so the merchant's
   * policy, not the default, judges it. Absent in states carried from before: `done`.
   */
  handover?: { status: 'awaited' | 'done'; adoptedAt: number | null };
  /** The subscription's gateway and what it can do. Absent: QFPay (every state before the port). */
  gateway?: GatewayProfile;
  /** A cancel scheduled for the end of the current period (absent: none). */
  scheduledCancel?: ScheduledCancel;
  /**
   * The merchant's metadata, each value with its digest (absent: none was ever given; runs from
   * before metadata never hold it, and so write neither its memo nor its search attribute).
   */
  metadata?: HeldMetadata;
  /** Per reminder kind, the last billing cycle it was considered for (absent: none yet). */
  reminded?: Partial<Record<ReminderKind, number>>;
  /**
   * On a test clock (`options.testClock`): the clock's time, which the subscription decides with
   * (`test-clock.ts`). Absent on no clock, and before the clock or a fact gave it a time.
   */
  clockNow?: number;
  /** On a test clock: it has told the clock's workflow it lives on it (once; absent: not yet). */
  clockJoined?: true;
}

/**
 * One payment attempt on an order: a `subscription_payment` notification, or the answer to a
 * charge of the engine's own (`manual`). QFPay's order list shows only an order's last attempt.
 */
export type PaymentAttemptRecord = Pick<
  PaymentFact,
  'orderId' | 'sequenceNo' | 'at' | 'succeeded' | 'respcd' | 'respmsg' | 'amount' | 'currency' | 'syssn'
> & {
  /** `manual` for a charge through the charge API; notifications do not say, so `auto` otherwise. */
  triggerBy: 'auto' | 'manual';
};

/** Payment attempts kept (about 60 monthly orders with their retries). */
export const MAX_PAYMENT_ATTEMPTS = 256;

/**
 * The continue-as-new bound the API gives every new subscription workflow (`options`, carried
 * across runs): short runs, so that a cache miss (nearly every payment of a large population: each
 * is paid once a month) replays tens of events, not hundreds. A happy cycle is 7 events and a
 * continued run starts with 7 (npm run bench, history phase): a run holds about 12 cycles, the
 * carry adds about half an event per cycle, and the longest rebuild is about 45 ms here instead of
 * about 0.9 s at the 1,000 events of before (docs/performance.md). It holds an adoption and a
 * dunning episode (about 50 events) in one run.
 */
export const NEW_SUBSCRIPTION_MAX_HISTORY_EVENTS = 100;

/** The defaults of the workflow's tuning options. */
export const ENGINE_DEFAULTS = {
  /**
   * For workflows started without `options.maxHistoryEvents`, i.e. before the API set it: their
   * histories were written under this bound, and a replay must make the same decisions, so it
   * stays. New subscriptions get {@link NEW_SUBSCRIPTION_MAX_HISTORY_EVENTS}.
   */
  maxHistoryEvents: 10_000,
  reconcileGraceMs: 15 * 60_000,
  chargeConfirmWindowMs: 5 * 60_000,
  chargeConfirmIntervalMs: 20_000,
  /** How long an adopted workflow waits for a creation's handover before it judges the first order. */
  handoverGraceMs: 60_000,
} as const;

/** Most reconciliation queries for one billing time. */
export const MAX_RECONCILES_PER_BILLING = 6;
/**
 * Queries in a row that must miss the subscription before the workflow gives it up: the first,
 * and one more {@link NOT_FOUND_RECHECK_MS} later in case QFPay's answer was a passing miss. A
 * subscription QFPay does not know (a ghost notification) so costs a workflow about ten seconds
 * and two queries. Giving up is safe because the run then fails (as not found), which leaves the
 * id free: were the subscription real after all, its next notification or the creation's handover
 * starts its workflow afresh. Runs recorded before (`quickNotFound` absent) asked three times, a
 * minute and two apart, and completed.
 */
export const NOT_FOUND_LIMIT = 2;
/** Before the recorded runs' quick rule: three queries. */
export const LEGACY_NOT_FOUND_LIMIT = 3;
/** The second query of a subscription QFPay did not find, after its first. */
export const NOT_FOUND_RECHECK_MS = 10_000;
/** Closed episodes kept. */
export const MAX_EPISODE_HISTORY = 12;
/** Ids of handed-over events kept to recognise a repeat. */
export const MAX_SENT_EVENT_IDS = 128;

/** The state of a workflow's first run (or of a continued one, from what it carried). */
export function initialState(input: SubscriptionWorkflowInput): EngineState {
  if (input.carried) {
    const { billingPausedByMerchant, ...carried } = input.carried as EngineState & {
      billingPausedByMerchant?: boolean;
    };
    // A run of an earlier version carried only a flag, set by the final action `pause_billing`.
    const billingPause =
      carried.billingPause ??
      (billingPausedByMerchant
        ? { since: carried.lastSyncAt ?? 0, resumesAt: null, by: 'final_action' }
        : null);
    return { ...carried, billingPause, payments: carried.payments ?? [], intents: [], resolved: [] };
  }
  return {
    subscriptionId: input.subscriptionId,
    origin: input.origin,
    snapshot: initialSnapshot(input.subscriptionId),
    policy: input.policy ?? DEFAULT_DUNNING_POLICY,
    options: input.options ?? {},
    episode: null,
    episodeHistory: [],
    billingPause: null,
    payments: [],
    known: false,
    notFound: 0,
    lastSyncAt: null,
    terminalSince: null,
    // A new workflow learns billing times from QFPay first.
    syncWanted: true,
    syncFailures: 0,
    syncRetryAt: null,
    reconcile: { billingTime: null, attempts: 0 },
    retryNow: false,
    pendingCharge: null,
    outbox: [],
    sentEventIds: [],
    intents: [],
    resolved: [],
    nextIntentId: 1,
    continuedAsNew: 0,
    watchingSince: null,
    handover: { status: input.origin === 'adopted' ? 'awaited' : 'done', adoptedAt: null },
    ...(input.gateway ? { gateway: input.gateway } : {}),
  };
}

/**
 * How many orders before the newest a query reads again while the engine last saw them FAILED.
 * An order can be paid until the next one is billed (QFPay's retries, the engine's charges, a
 * pending charge's confirmation soon after); every payment fact brings a query, so two cycles
 * of reading is enough, and an order that stays FAILED for good is not read on every query for
 * the rest of the subscription's life.
 */
export const FAILED_ORDERS_READ_AGAIN = 2;

/**
 * The first order a query should read: the oldest the engine is missing among those it should
 * know (from the first order of a subscription it created, or the first it saw of one it
 * adopted, within the snapshot's bound), or a recent one it last saw FAILED; else its newest. A
 * notification that was lost while a later one arrived leaves such a gap; so does a failed order
 * paid afterwards (QFPay's retry, a charge, a card gateway's next try) whose notification was
 * lost. Reading only from the newest order would never fill either. Undefined before any order:
 * the gateway then reads from the current cycle.
 *
 * The engine's own queries read a FAILED order again for {@link FAILED_ORDERS_READ_AGAIN} cycles
 * only. A merchant's sync (`everyFailed`) reads every FAILED order the engine holds, however old:
 * it is how the merchant makes the engine say what the gateway says after the notifications of
 * several cycles in a row were lost.
 */
export function syncReadsFrom(
  state: Pick<EngineState, 'snapshot' | 'origin'>,
  { everyFailed = false }: { everyFailed?: boolean } = {},
): number | undefined {
  const { lastSequenceNo: last, orders } = state.snapshot;
  if (last <= 0) return undefined;
  const held = new Map(orders.map((o) => [o.sequenceNo, o.status]));
  const windowStart = Math.max(1, last - DEFAULT_LIFECYCLE_LIMITS.maxOrders + 1);
  const firstKnown = state.origin === 'created' ? 1 : Math.min(last, ...held.keys());
  const readAgainFrom = everyFailed ? windowStart : last - FAILED_ORDERS_READ_AGAIN;
  for (let n = Math.max(windowStart, firstKnown); n < last; n += 1) {
    const status = held.get(n);
    if (status === undefined || (status === 'FAILED' && n >= readAgainFrom)) return n;
  }
  return last;
}

/** The subscription's gateway (QFPay when the state names none). */
export function gatewayOf(state: Pick<EngineState, 'gateway'>): GatewayProfile {
  return state.gateway ?? QFPAY_PROFILE;
}

/**
 * Adds events to the outbox when the merchant wants them. An id already recorded (waiting, or
 * handed over recently) is not added again; across runs, the delivery workflow's id does the same.
 */
export function recordEvents(state: EngineState, events: readonly OutgoingEvent[], now: number): EngineState {
  if (!state.options.merchantEvents || events.length === 0) return state;
  const have = new Set([...state.outbox.map((e) => e.id), ...state.sentEventIds]);
  const created_at = new Date(now).toISOString();
  const fresh: MerchantEvent[] = [];
  for (const e of events) {
    // Also once within the batch: a payment report and the order it paid imply the same event.
    if (have.has(e.id)) continue;
    have.add(e.id);
    fresh.push({
      ...e,
      created_at,
      // On a test clock the time is the clock's: the event says so (as Stripe's objects name theirs).
      ...(state.options.testClock !== undefined && { test_clock: state.options.testClock }),
      subscription_id: state.subscriptionId,
      // The subscription's metadata as it is when the event is recorded (as Stripe's objects carry it).
      ...(state.metadata && Object.keys(state.metadata).length > 0
        ? { metadata: metadataValues(state.metadata) }
        : {}),
    } as MerchantEvent);
  }
  return fresh.length === 0 ? state : { ...state, outbox: [...state.outbox, ...fresh] };
}

/**
 * The time of a fact the engine itself caused (a cancel, a token change, a charge result): after
 * every fact it has seen, whatever the clock says, since it acted on them. This keeps its own
 * actions ordered after QFPay's facts when QFPay's clock runs ahead of the worker's.
 */
export function causalAt(state: EngineState, at: number): number {
  return Math.max(at, (state.snapshot.lastFactAt ?? 0) + 1);
}

/**
 * Applies one fact, from whatever source, through the pure lifecycle: records the merchant events
 * it implies and asks for a query where QFPay should be heard (a payment does not carry the next
 * billing time; a contradiction needs QFPay's view). Never throws: a malformed fact (a signal's
 * payload is not trusted) becomes an anomaly in the snapshot.
 */
export function applyFactToState(input: EngineState, fact: Fact, realOrClockNow: number): EngineState {
  // On a test clock, a notification from the clock's world dated `at` shows the clock has reached
  // `at` (answers to the engine's own calls may be stamped with the real time: they do not count).
  const notified = (fact as { source?: unknown } | null)?.source === 'notification';
  const state = notified ? followClock(input, (fact as { at?: unknown }).at) : input;
  const now = state.clockNow === undefined ? realOrClockNow : Math.max(realOrClockNow, state.clockNow);
  const result = applyFact(state.snapshot, fact);
  const next: EngineState = { ...state, snapshot: result.snapshot };
  const rejected = result.snapshot.factsApplied === state.snapshot.factsApplied;
  // The charge's answer after QFPay's notification of it: the same attempt, which was a manual one.
  if (result.outcome === 'duplicate' && fact.kind === 'payment' && fact.triggerBy === 'manual')
    return { ...next, payments: logPayment(next.payments, fact) };
  if (rejected || result.outcome === 'duplicate') return next;
  // A late report of an attempt is still an attempt that was made.
  const logged = fact.kind === 'payment' ? { ...next, payments: logPayment(next.payments, fact) } : next;
  if (result.outcome === 'stale') {
    // It changes no state, but a declined attempt the merchant has not heard of is news all the
    // same (one event per attempt): a manual charge's decline in the second its order was billed.
    const news =
      fact.kind === 'payment' &&
      !fact.succeeded &&
      (state.origin === 'created' || (state.watchingSince !== null && fact.at >= state.watchingSince));
    return news ? recordEvents(logged, eventsOfFact(state.subscriptionId, fact, undefined), now) : logged;
  }
  const since = state.watchingSince ?? fact.at;
  const recorded = recordEvents(
    { ...logged, watchingSince: since },
    [
      ...eventsOfFact(state.subscriptionId, fact, result.transition),
      // A payment learned any other way (a query, after its notification was dropped) is news too.
      ...paidOrderEvents(state.subscriptionId, state.snapshot, result.snapshot, {
        since: state.origin === 'created' ? null : since,
      }),
    ],
    now,
  );
  const wantsSync =
    (fact.kind === 'payment' && !paymentAsExpected(state, result, fact)) ||
    result.reconcile !== undefined ||
    result.snapshot.reconcile !== null;
  return wantsSync ? { ...recorded, syncWanted: true } : recorded;
}

/**
 * A payment that needs no query: the engine reckoned the next billing time from it along the
 * gateway's schedule (a cycle's own payment that leaves the subscription ACTIVE), with no dunning
 * episode, no charge of the engine's own unconfirmed, and the order before it not known FAILED
 * (QFPay's own retry may have paid it since, its notification lost: only a query shows it; an
 * order can be paid until the next one is billed, so an older one was settled by the query the
 * payment after it brought, and a missing one leaves a gap, which asks). A payment that raised
 * something to reconcile asks all the same (below), and the reconciliation at the reckoned billing
 * time (plus its grace) still asks if no payment follows.
 */
function paymentAsExpected(state: EngineState, result: ApplyResult, fact: PaymentFact): boolean {
  const failedBefore = result.snapshot.orders.some(
    (o) => o.status === 'FAILED' && o.sequenceNo >= fact.sequenceNo - 1,
  );
  return result.reckoned === true && state.episode === null && state.pendingCharge === null && !failedBefore;
}

/**
 * Adds a payment attempt to the log. The same attempt reported twice (the charge's answer and its
 * notification: the same order and `syssn`) is one attempt, manual if either says so.
 */
export function logPayment(
  payments: readonly PaymentAttemptRecord[],
  fact: PaymentFact,
): PaymentAttemptRecord[] {
  const same = (p: PaymentAttemptRecord) =>
    p.orderId === fact.orderId && fact.syssn !== undefined && p.syssn === fact.syssn;
  const earlier = payments.find(same);
  const triggerBy = fact.triggerBy === 'manual' || earlier?.triggerBy === 'manual' ? 'manual' : 'auto';
  const record: PaymentAttemptRecord = {
    ...(earlier ?? {}),
    orderId: fact.orderId,
    sequenceNo: fact.sequenceNo,
    at: earlier ? Math.min(earlier.at, fact.at) : fact.at,
    succeeded: fact.succeeded,
    respcd: fact.respcd,
    ...(fact.respmsg === undefined ? {} : { respmsg: fact.respmsg }),
    ...(fact.amount === undefined ? {} : { amount: fact.amount }),
    ...(fact.currency === undefined ? {} : { currency: fact.currency }),
    ...(fact.syssn === undefined ? {} : { syssn: fact.syssn }),
    triggerBy,
  };
  const others = payments.filter((p) => !same(p));
  // In QFPay's time; within a second by what they are (an order's declines come before its payment).
  const progress = (p: PaymentAttemptRecord) => 2 * p.sequenceNo + (p.succeeded ? 1 : 0);
  return [...others, record]
    .sort((a, b) => a.at - b.at || progress(a) - progress(b))
    .slice(-MAX_PAYMENT_ATTEMPTS);
}

/**
 * The creation's handover: what the merchant chose for the subscription wins over the defaults
 * an earlier notification started the workflow with, QFPay has confirmed the subscription, and
 * it is one the engine created.
 */
export function applyHandover(state: EngineState, handover: SubscriptionHandover, now: number): EngineState {
  // A signal's payload is not trusted: a malformed handover is a rejected fact, never a throw.
  if (typeof handover !== 'object' || handover === null)
    return applyFactToState(state, handover as never, now);
  const chosen = handover.policy === undefined ? undefined : checkDunningPolicy(handover.policy);
  const withChoices: EngineState = {
    ...state,
    // Only the engine's own creation hands a subscription over: QFPay's first notification may
    // have started the workflow (as an adoption), but the merchant created it through the API.
    origin: 'created',
    handover: { status: 'done', adoptedAt: state.handover?.adoptedAt ?? null },
    policy: chosen?.ok ? chosen.value : state.policy,
    options: { ...state.options, ...(handover.options ?? {}) },
    known: true,
    // A change the merchant made before the handover arrived is newer than the creation's.
  };
  // The metadata the merchant created the subscription with (a change made before the handover
  // arrived is newer, and stays). Events still waiting in the outbox, recorded before the handover
  // (QFPay's first notification can overtake it), leave with it.
  const metadata = heldMetadataOf(handover.metadata);
  if (state.metadata === undefined && metadata !== undefined) {
    withChoices.metadata = metadata;
    if (Object.keys(metadata).length > 0) {
      const values = metadataValues(metadata);
      withChoices.outbox = state.outbox.map((e) => (e.metadata ? e : { ...e, metadata: values }));
    }
  }
  // On a test clock, the creation's time is the clock's (the handover may come before the clock's).
  const clocked = followClock(withChoices, handover.clockNow);
  return applyFactToState(clocked, handover.fact, engineNow(clocked, now));
}

/** Queues a merchant's request; the loop carries it out in order. */
export function enqueueIntent(
  state: EngineState,
  request: IntentRequest,
): { state: EngineState; id: number } {
  const id = state.nextIntentId;
  const intent = { ...request, id } as Intent;
  return { state: { ...state, intents: [...state.intents, intent], nextIntentId: id + 1 }, id };
}

/** Answers an intent and takes it off the queue. */
export function resolveIntent(state: EngineState, id: number, outcome: IntentAnswer): EngineState {
  return {
    ...state,
    intents: state.intents.filter((i) => i.id !== id),
    resolved: [...state.resolved, { id, ...outcome } as IntentOutcome],
  };
}

/** Takes an answered intent's outcome off the state (the handler that waits for it reads it once). */
export function takeOutcome(state: EngineState, id: number): { state: EngineState; outcome?: IntentOutcome } {
  const outcome = state.resolved.find((r) => r.id === id);
  if (!outcome) return { state };
  return { state: { ...state, resolved: state.resolved.filter((r) => r.id !== id) }, outcome };
}

/** Replaces the open episode's attempt `attempt` (by number). */
export function withAttempt(
  episode: DunningEpisode,
  attempt: number,
  change: (record: DunningAttemptRecord) => DunningAttemptRecord,
): DunningEpisode {
  return { ...episode, attempts: episode.attempts.map((a) => (a.attempt === attempt ? change(a) : a)) };
}

/** Whether the workflow gives the subscription up: QFPay did not know it, query after query. */
export function givenUp(state: Pick<EngineState, 'notFound' | 'known' | 'quickNotFound'>): boolean {
  const limit = state.quickNotFound ? NOT_FOUND_LIMIT : LEGACY_NOT_FOUND_LIMIT;
  return state.notFound >= limit && !state.known;
}

/** Whether the subscription has ended at QFPay (as far as the engine knows). */
export function hasEnded(state: EngineState): boolean {
  return isTerminal(state.snapshot.state);
}

/** Tuning that tests and operators may change. */
export interface SubscriptionWorkflowOptions {
  /** Continue-as-new once history has this many events (Temporal's own suggestion also counts). */
  maxHistoryEvents?: number;
  /** How long after a billing time with no payment result the workflow asks QFPay. */
  reconcileGraceMs?: number;
  /**
   * Who wakes the workflow for that question: `schedule`, the engine's reconciler (one Temporal
   * Schedule that signals every subscription whose `ReconcileAt` search attribute has passed), so
   * a paid cycle moves no timer; absent, a timer of the workflow's own (runs started before).
   */
  reconciler?: 'schedule';
  /** Emit merchant events (child workflows delivering signed webhooks). */
  merchantEvents?: boolean;
  /** How long a charge whose answer never came is confirmed before it counts as not made. */
  chargeConfirmWindowMs?: number;
  /** How often such a charge is looked at meanwhile. */
  chargeConfirmIntervalMs?: number;
  /**
   * The merchant's reminders: for each kind configured, how long before the billing time it is
   * sent (`reminders.ts`). Absent (every run started before, or none configured): none.
   */
  reminders?: ReminderLeads;
  /**
   * The test clock the subscription lives on (only where the gateways are emulators): it decides
   * in the clock's time and sets no Temporal timer (`test-clock.ts`). Absent: real time.
   */
  testClock?: string;
}

/** State carried through continue-as-new: the workflow's whole state, plain JSON only. */
export type CarriedState = EngineState;

export interface SubscriptionWorkflowInput {
  subscriptionId: string;
  /** `created`: started by the engine's creation; `adopted`: by a notification or an operator. */
  origin: 'created' | 'adopted';
  /** Dunning policy for this subscription (already merged with the engine default). */
  policy?: DunningPolicy;
  options?: SubscriptionWorkflowOptions;
  carried?: CarriedState;
  /** The subscription's gateway and its capabilities (absent: QFPay). */
  gateway?: GatewayProfile;
}

/**
 * The engine's creation hands the subscription over with what the merchant chose for it. A
 * signal (not the start arguments) because a notification may have started the workflow first.
 */
export interface SubscriptionHandover {
  fact: Extract<Fact, { kind: 'created' }>;
  policy?: DunningPolicy;
  options?: SubscriptionWorkflowOptions;
  /** The metadata the merchant created the subscription with (absent: none). */
  metadata?: HeldMetadata;
  /**
   * On a test clock: the clock's time when the subscription was made, so that what the handover
   * records is dated in the clock's time even before the clock has told the workflow its time.
   */
  clockNow?: number;
}
