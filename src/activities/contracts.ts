/**
 * The shapes of the engine's activities as the workflows see them. Workflows import these as
 * types only; the implementations (which do I/O) live beside this file and run in the worker.
 */
import type {
  CreateSubscriptionInput,
  MerchantEvent,
  SubscriptionHandover,
  SubscriptionWorkflowInput,
} from '../workflows/definitions';
import type { Fact, RemoteOrder, RemoteSubscription, SubscriptionState } from '../workflows/lifecycle';

/** What QFPay said about one charge attempt. */
export interface ChargeOutcome {
  orderId: string;
  sequenceNo: number;
  /** `pending`: QFPay answered 1143/1145/1298; confirm by query, never repeat blindly. */
  outcome: 'succeeded' | 'failed' | 'pending';
  respcd: string;
  respmsg?: string;
  syssn?: string;
  amount?: number;
  currency?: string;
  /** QFPay's time of the payment when it told us, else when the call returned (epoch ms). */
  at: number;
  stateAfter?: SubscriptionState;
}

/** The result of asking QFPay about a subscription (query + billing orders). */
export type SyncResult =
  | { found: true; fact: Extract<Fact, { kind: 'sync' }> }
  | { found: false; subscriptionId: string; at: number };

export interface QfpayActivities {
  /** `subscription/v1/query` + `subscription/billing_order/v1/list`, as a sync fact. */
  syncSubscription(subscriptionId: string): Promise<SyncResult>;
  /** `subscription/v1/cancel`; an already-cancelled subscription counts as done. */
  cancelSubscription(subscriptionId: string): Promise<{ at: number }>;
  /** `subscription/v1/update` for the token and/or the total billing cycles. */
  updateSubscription(input: {
    subscriptionId: string;
    tokenId?: string;
    totalBillingCycles?: number | null;
  }): Promise<{ at: number }>;
  /** `subscription/v1/charge` for one failed order. */
  chargeOrder(input: { subscriptionId: string; orderId: string }): Promise<ChargeOutcome>;
  /** Confirms a pending charge through the billing order list; throws (retryable) while unknown. */
  confirmCharge(input: { subscriptionId: string; orderId: string }): Promise<ChargeOutcome>;

  ensureCustomer(
    input: Extract<CreateSubscriptionInput['customer'], { create: unknown }>['create'],
  ): Promise<string>;
  ensureProduct(
    input: Extract<CreateSubscriptionInput['product'], { create: unknown }>['create'],
  ): Promise<string>;
  /**
   * Creates the subscription, or on a retried attempt first finds the one an earlier attempt
   * may have created (same customer, token and product), so a timeout never bills twice.
   */
  findOrCreateSubscription(input: {
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
  /** Signal-with-start of a new subscription's workflow with its handover (created fact, policy, options). */
  handOverSubscription(input: SubscriptionWorkflowInput, handover: SubscriptionHandover): Promise<void>;
  /** Runs one escalation step of an exhausted dunning episode (a signed merchant notification). */
  runEscalationStep(input: { step: string; event: MerchantEvent }): Promise<{ delivered: boolean }>;
}

export type { MerchantEventActivities } from './merchant-events';

export type { RemoteOrder, RemoteSubscription };
