/**
 * The shapes of the engine's activities as the workflows see them. Workflows import these as
 * types only; the implementations (which do I/O) live beside this file and run in the worker.
 */
import type { SubscriptionHandover, SubscriptionWorkflowInput } from '../workflows/definitions';
import type { RemoteOrder, RemoteSubscription } from '../domain/lifecycle/lifecycle';
import type { SubscriptionStartFacts } from '../workflows/summaries';
import type { GatewayCreateInput, GatewayCreateResult } from '../gateways/port';
import type { ChargeOutcome, ConfirmOutcome, SyncResult } from '../domain/gateway-answers';
import type { QfpayCreationActivities } from '../gateways/qfpay/activities';
import type { MemberReading } from '../domain/clock/advance';

export type { ChargeOutcome, ConfirmOutcome, SyncResult } from '../domain/gateway-answers';

/**
 * What a subscription's workflow asks of its gateway, whatever the gateway: the activities route
 * each call by the subscription's engine id to the gateway's adapter (the port). Their names are
 * QFPay's from before the port, so every running workflow replays unchanged; the doc of each says
 * what QFPay's adapter does.
 */
export interface SubscriptionActivities {
  /**
   * `subscription/v1/query` + `subscription/billing_order/v1/list`, as a sync fact. Only orders
   * from `sinceSequence` on are read (newest first), so a long plan costs a page, not its history.
   */
  syncSubscription(subscriptionId: string, options?: { sinceSequence?: number }): Promise<SyncResult>;
  /** `subscription/v1/cancel`; an already-cancelled subscription counts as done. */
  cancelSubscription(subscriptionId: string): Promise<{ at: number }>;
  /** `subscription/v1/update` for the token, the total billing cycles and/or the products. */
  updateSubscription(input: {
    subscriptionId: string;
    tokenId?: string;
    totalBillingCycles?: number | null;
    products?: Array<{ productId: string; quantity: number }>;
    /** The subscription's own price from its next billing on (`capabilities.changePrice`). */
    price?: { amount: number; currency: string };
  }): Promise<{ at: number }>;
  /**
   * `subscription/v1/charge` for one failed order. It looks at the order first (a retried
   * activity may follow a charge that went through), and sends nothing once `notAfter` has passed.
   * The workflow passes the charge window's latest start (deadline − minimum attempt window), so
   * a retry sent late still has the window's time to finish before the deadline.
   */
  chargeOrder(input: { subscriptionId: string; orderId: string; notAfter: number }): Promise<ChargeOutcome>;
  /**
   * Looks at an order for the outcome of a charge whose answer never came: an attempt QFPay
   * recorded since `orderBefore` (or, without it, since `sentAt`) is that charge's.
   */
  confirmCharge(input: {
    subscriptionId: string;
    orderId: string;
    sentAt: number;
    orderBefore?: string;
  }): Promise<ConfirmOutcome>;
}

/** QFPay's own creation (customers, products and tokens at QFPay): its extension beside the port. */
export type { QfpayCreationActivities } from '../gateways/qfpay/activities';

/** Everything QFPay's activities implement: the subscription calls and QFPay's own creation. */
export type QfpayActivities = SubscriptionActivities & QfpayCreationActivities;

/** The gateway world of a test clock at the emulator (`/_emulator/test_clocks/:id`). */
export interface TestClockWorld {
  /** Its time, epoch ms. */
  nowMs: number;
  /** When anything on it is due next, or null. */
  nextDueMs: number | null;
  /** What its last move processed (events and delivery attempts); 0 for a read. */
  processed: number;
}

/** What a test clock's advance does outside its workflow. */
export interface TestClockActivities {
  /** The clock's world at the gateway emulator. */
  readTestClockWorld(clockId: string): Promise<TestClockWorld>;
  /**
   * Moves the clock's world to `to`, everything due on it on the way processed in time order
   * and its notifications delivered; at the world's own time, it processes what is due then.
   */
  advanceTestClockWorld(clockId: string, to: number): Promise<TestClockWorld>;
  /**
   * Each member subscription's reading: its clock status, or `ended` when its workflow is closed
   * (or gone). With `idleAt`, waits (heartbeating) until each has reached that time with nothing
   * left to do, or a while has passed: the caller judges the readings.
   */
  readTestClockMembers(workflowIds: string[], options?: { idleAt?: number }): Promise<MemberReading[]>;
}

export interface EngineActivities {
  /**
   * Signal-with-start of a new subscription's workflow with its handover (created fact, policy,
   * options): starts it, or signals the one a notification already started. `ended` when that
   * workflow has already run to its end (the subscription stays ended). `price` (when the creation
   * made the product) only feeds the workflow's summary in the Web UI.
   */
  handOverSubscription(
    input: SubscriptionWorkflowInput,
    handover: SubscriptionHandover,
    price?: SubscriptionStartFacts['price'],
  ): Promise<'handed_over' | 'ended'>;
  /**
   * When a customer's card token expires (QFPay's `token_expiry_date` from its `payment_token`
   * notification, which the customer's token record keeps), epoch ms; null when the engine has no
   * expiry for it.
   */
  tokenExpiry(input: { customerId: string; tokenId: string }): Promise<number | null>;
}

/** What one sweep of the reconciler did. */
export interface ReconcileSweep {
  /** Running subscriptions whose `ReconcileAt` had passed, as the listing found them. */
  due: number;
  /** Of those, signalled. */
  signalled: number;
  /** Of those, ended between the listing and the signal. */
  gone: number;
}

export interface ReconcilerActivities {
  /**
   * Lists the running subscriptions of the activity's own task queue whose `ReconcileAt` is at or
   * before `dueBy`, and signals each (`reconcile`).
   */
  signalDueSubscriptions(input: { dueBy: number }): Promise<ReconcileSweep>;
}

export type { MerchantEventActivities, MerchantEventAttempt } from './merchant-events';

export type { RemoteOrder, RemoteSubscription };

/** Calls only the gateways behind the port make (QFPay's have their own activities above). */
export interface GatewayActivities {
  /**
   * Creates a subscription on a gateway by the merchant's reference (idempotent: a retry finds
   * what an earlier attempt created). Returns the engine's subscription id (`<gateway>:<id>`).
   */
  createOnGateway(input: { gateway: string; create: GatewayCreateInput }): Promise<GatewayCreateResult>;
  /** Pauses (true) or resumes (false) billing at a gateway that pauses (`capabilities.pause`). */
  setPausedAtGateway(input: { subscriptionId: string; paused: boolean }): Promise<{ at: number }>;
  /**
   * What the subscription's next billing will charge, from the gateway's plan (QFPay: its
   * subscription and products), for a reminder; nulls when the gateway has no plan to read.
   */
  upcomingBilling(input: {
    subscriptionId: string;
  }): Promise<{ amount: number | null; currency: string | null }>;
}
