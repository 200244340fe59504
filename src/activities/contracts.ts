/**
 * The shapes of the engine's activities as the workflows see them. Workflows import these as
 * types only; the implementations (which do I/O) live beside this file and run in the worker.
 */
import type {
  CreateSubscriptionInput,
  SubscriptionHandover,
  SubscriptionWorkflowInput,
} from '../workflows/definitions';
import type { Fact, RemoteOrder, RemoteSubscription, SubscriptionState } from '../workflows/lifecycle';
import type { SubscriptionStartFacts } from '../workflows/summaries';
import type { GatewayCreateInput, GatewayCreateResult } from '../gateways/port';

/**
 * What became of one manual charge:
 * - `succeeded`: QFPay paid the order (now, or it was already paid when the engine looked first);
 * - `failed`: QFPay declined it;
 * - `pending`: QFPay said it is processing (1143/1145/1298): confirm by looking, never repeat;
 * - `unknown`: no answer (a timeout, a 5xx, the network): it may have reached QFPay, so confirm;
 * - `not_sent`: nothing was sent (its window had closed by the time the activity ran).
 */
export interface ChargeOutcome {
  orderId: string;
  sequenceNo: number;
  outcome: 'succeeded' | 'failed' | 'pending' | 'unknown' | 'not_sent';
  respcd?: string;
  respmsg?: string;
  syssn?: string;
  amount?: number;
  currency?: string;
  /** QFPay's time of the payment when it told us, else when the call returned (epoch ms). */
  at: number;
  /**
   * `at` is QFPay's own time of the payment (its `txdtm`): the fact sorts where QFPay's
   * notification of the same attempt does, and is the same fact. Absent: the engine's time.
   */
  atFromQfpay?: true;
  /** The order was already paid when the engine looked before charging: nothing was sent. */
  alreadyPaid?: boolean;
  /** Why, for a charge not sent or not answered. */
  detail?: string;
  /**
   * For an unanswered charge: how the order looked just before it was sent (see
   * `orderFingerprint`), so that a later look can tell whether QFPay recorded an attempt since.
   */
  orderBefore?: string;
}

/** What a look at an unconfirmed charge found: a result of an attempt after it was sent, or nothing yet. */
export type ConfirmOutcome = { status: 'paid' | 'failed'; charge: ChargeOutcome } | { status: 'unknown' };

/** The result of asking QFPay about a subscription (query + billing orders). */
export type SyncResult =
  | { found: true; fact: Extract<Fact, { kind: 'sync' }> }
  | { found: false; subscriptionId: string; at: number };

export interface QfpayActivities {
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
  /** The ids of the subscriptions a customer already has on a token (before a creation begins). */
  listSubscriptionIds(input: { customerId: string; tokenId: string }): Promise<string[]>;

  ensureCustomer(
    input: Extract<CreateSubscriptionInput['customer'], { create: unknown }>['create'],
  ): Promise<string>;
  ensureProduct(
    input: Extract<CreateSubscriptionInput['product'], { create: unknown }>['create'],
  ): Promise<string>;
  /**
   * Creates the subscription, or on a retried attempt first finds the one an earlier attempt
   * may have created (same customer, token and product, and not among `existingIds`, the ones
   * that existed before this creation began), so a timeout never bills twice.
   */
  findOrCreateSubscription(input: {
    existingIds: string[];
    customerId: string;
    tokenId: string;
    productId: string;
    quantity: number;
    totalBillingCycles: number | null;
    startTime?: number;
  }): Promise<{
    subscriptionId: string;
    state: SubscriptionState | 'UNKNOWN';
    reusedExisting: boolean;
    at: number;
  }>;
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
}
