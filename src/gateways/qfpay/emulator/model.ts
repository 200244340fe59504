/**
 * The emulator's records. All plain JSON (times are epoch ms), so the whole state can be
 * written to and read back from the state file unchanged.
 */
import type { BillingInterval } from '../../../domain/lifecycle/billing-interval';

/** Subscription states as QFPay's API and notifications spell them (qfpay-lifecycle.md). */
export const SUBSCRIPTION_STATES = [
  'TRIAL',
  'INCOMPLETE',
  'INCOMPLETE_EXPIRED',
  'ACTIVE',
  'PAST_DUE',
  'UNPAID',
  'PAUSED',
  'CANCELLED',
  'COMPLETED',
] as const;

/** A subscription state. */
export type SubscriptionState = (typeof SUBSCRIPTION_STATES)[number];

/** States a subscription never leaves. */
export const TERMINAL_STATES: ReadonlySet<SubscriptionState> = new Set<SubscriptionState>([
  'INCOMPLETE_EXPIRED',
  'CANCELLED',
  'COMPLETED',
]);

/** States in which `/subscription/v1/charge` may charge a failed order (seed 001). */
export const MANUAL_CHARGE_STATES: ReadonlySet<SubscriptionState> = new Set<SubscriptionState>([
  'UNPAID',
  'INCOMPLETE',
  'PAST_DUE',
]);

/** A QFPay customer object. */
export interface Customer {
  customerId: string;
  name?: string;
  phone?: string;
  email?: string;
  billingAddress?: unknown;
  createdAt: number;
}

/** A QFPay product object. */
export interface Product {
  productId: string;
  name: string;
  type: 'onetime' | 'recurring';
  description?: string;
  txamt: number;
  txcurrcd: string;
  /** The `interval` exactly as created (e.g. `monthly`, `minutes`). */
  interval?: string;
  intervalCount?: number;
  usageType: 'licensed';
  createdAt: number;
}

/** How a token's charges go: approved, or declined with a respcd (emulator control). */
export type ChargeBehaviour = { charges: 'approve' } | { charges: 'decline'; respcd: string };

/** A change of a token's charge behaviour planned for a time on its world's clock (emulator control). */
export interface PlannedBehaviour {
  /** From this time on (epoch ms, the world's clock), charges go this way. */
  fromMs: number;
  behaviour: ChargeBehaviour;
}

/** A payment token (QFPay creates these in the browser; the emulator through `/_emulator/tokens`). */
export interface PaymentToken {
  tokenId: string;
  customerId: string;
  /** Fingerprint of the card number; the number itself is never stored. */
  cardFingerprint: string;
  /** Masked like `5200****1096`. */
  cardcd: string;
  cardScheme: string;
  /** `YYYY-MM-DD 00:00:00`, the last day of the expiry month. */
  tokenExpiryDate: string;
  holderName?: string;
  behaviour: ChargeBehaviour;
  /**
   * Changes planned for later, in time order: a charge at time `t` goes the way of the last one
   * whose `fromMs` ≤ `t`, or of `behaviour` when none has come. Absent in state files from before.
   */
  planned?: PlannedBehaviour[];
  createdAt: number;
}

/** One product of a subscription, as the API's `products` list carries it. */
export interface ProductLine {
  productId: string;
  quantity: number;
}

/** Who started a charge: QFPay's scheduler (`auto`) or the merchant's `/subscription/v1/charge` (`manual`). */
export type ChargeTrigger = 'auto' | 'manual';

/** One attempt to take a payment for an order. */
export interface ChargeAttempt {
  /** Emulator time of the charge, epoch ms. */
  at: number;
  trigger: ChargeTrigger;
  /** `cycle`: the scheduled charge of a billing cycle; `retry`: QFPay's automatic retry; `manual`: the charge API. */
  kind: 'cycle' | 'retry' | 'manual';
  approved: boolean;
  respcd: string;
  respmsg: string;
  syssn: string;
  txamt: number;
  txcurrcd: string;
}

/** A subscription order: one billing cycle's payment, with every attempt made for it. */
export interface SubscriptionOrder {
  subscriptionOrderId: string;
  /** 1-based iteration of the subscription (the order id's 4-digit suffix). */
  sequenceNo: number;
  /** The billing cycle this order pays (0 = first payment), counting cycles skipped while paused. */
  cycleIndex: number;
  /** When the cycle was due. */
  billingTime: number;
  /** The next billing time after this cycle: a manual charge at or after it cancels the plan (seed 001). */
  deadline: number;
  status: 'PAID' | 'FAILED';
  txamt: number;
  txcurrcd: string;
  attempts: ChargeAttempt[];
  paidAt: number | null;
}

/** One entry of a subscription's state history. */
export interface StateChange {
  at: number;
  from: SubscriptionState | null;
  to: SubscriptionState;
  reason: string;
}

/** A QFPay subscription, with everything the emulator knows about it. */
export interface Subscription {
  subscriptionId: string;
  customerId: string;
  tokenId: string;
  products: ProductLine[];
  /** `null` means it bills until cancelled. */
  totalBillingCycles: number | null;
  state: SubscriptionState;
  createdAt: number;
  /** The first billing time (the anchor of every later cycle). */
  startTime: number;
  interval: BillingInterval;
  /** The next cycle to bill (0 = first payment). */
  cycleIndex: number;
  /** When the next cycle is billed (or, for INCOMPLETE, when it expires); `null` once terminal. */
  nextBillingTime: number | null;
  lastBillingTime: number | null;
  lastBillingStatus: 'SUCCESS' | 'FAILED' | null;
  /** QFPay's automatic retries made for the current failed order. */
  retryAttempts: number;
  pendingRetry: { subscriptionOrderId: string; at: number; retryNumber: number } | null;
  /** A manual charge answered with `1145` (fault injection) that completes at `at`. */
  pendingCharge: { subscriptionOrderId: string; at: number; requestedAt: number } | null;
  orders: SubscriptionOrder[];
  history: StateChange[];
}

/** One attempt to deliver a notification. */
export interface DeliveryAttempt {
  at: number;
  ok: boolean;
  httpStatus: number | null;
  responseBody?: string;
  error?: string;
}

/** A notification and its delivery history. */
export interface NotificationRecord {
  id: string;
  notifyType: 'subscription' | 'subscription_payment' | 'payment_token';
  subscriptionId?: string;
  customerId?: string;
  tokenId?: string;
  createdAt: number;
  /** The exact JSON body sent (and signed). */
  body: string;
  status: 'pending' | 'delivered' | 'given_up' | 'dropped';
  nextAttemptAt: number | null;
  attempts: DeliveryAttempt[];
  /** Set when fault injection changed this notification's fate. */
  fault?: 'duplicate' | 'delayed' | 'dropped';
  duplicateOf?: string;
}
