/**
 * The one module that both the API and the workflows import: workflow ids, signals, queries,
 * updates, search attributes and payload types. It holds no workflow implementation, so the
 * API never pulls workflow code (or its dependencies) into its process.
 */
import { defineSearchAttributeKey } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { DUNNING_ATTEMPT_RESULTS } from '../events/merchant-events';
import type { DunningPolicy, DunningPolicyOverride } from './dunning';
import type { Fact, SubscriptionSnapshot, SubscriptionState } from './lifecycle';

export type { Fact, SubscriptionSnapshot, SubscriptionState } from './lifecycle';
export type { DunningPolicy, DunningPolicyInput, DunningPolicyOverride } from './dunning';

/** Workflow type names, used by the API to start workflows without importing their code. */
export const WORKFLOW_TYPES = {
  subscription: 'subscriptionWorkflow',
  createSubscription: 'createSubscriptionWorkflow',
  createCustomer: 'createCustomerWorkflow',
  createProduct: 'createProductWorkflow',
  customerTokens: 'customerTokensWorkflow',
  merchantEventDelivery: 'merchantEventDeliveryWorkflow',
} as const;

/**
 * Workflow identity is derived, never looked up (architecture, decision 1): a notification for
 * `sub_X` is routed to this id with signal-with-start, whether or not the engine created it.
 */
export function subscriptionWorkflowId(subscriptionId: string): string {
  return `qfpay-subscription:${subscriptionId}`;
}

/**
 * The id of the durable creation of one merchant request. `requestDigest` is a keyed HMAC of the
 * merchant and its Idempotency-Key (computed by the API): a workflow id is plaintext in Temporal,
 * so it never carries the key itself.
 */
export function creationWorkflowId(
  kind: 'subscription' | 'customer' | 'product',
  requestDigest: string,
): string {
  return `qfpay-create:${kind}:${requestDigest}`;
}

/** The id of the workflow that records a customer's payment tokens. */
export function customerTokensWorkflowId(customerId: string): string {
  return `qfpay-customer-tokens:${customerId}`;
}

/** Search attributes the engine keeps current for the Temporal UI (no personal data). */
export const SEARCH_ATTRIBUTES = {
  state: defineSearchAttributeKey('SubscriptionState', 'KEYWORD'),
  nextBillingTime: defineSearchAttributeKey('NextBillingTime', 'DATETIME'),
  customerId: defineSearchAttributeKey('QfpayCustomerId', 'KEYWORD'),
  subscriptionId: defineSearchAttributeKey('QfpaySubscriptionId', 'KEYWORD'),
  dunningStage: defineSearchAttributeKey('DunningStage', 'KEYWORD'),
  dunningAttempts: defineSearchAttributeKey('DunningAttempts', 'INT'),
  dunningNextAttemptAt: defineSearchAttributeKey('DunningNextAttemptAt', 'DATETIME'),
} as const;

/** Every search attribute, for registering them on a server. */
export const ALL_SEARCH_ATTRIBUTE_KEYS = Object.values(SEARCH_ATTRIBUTES);

/** Where a dunning episode stands. */
export type DunningStage =
  'none' | 'retrying' | 'escalating' | 'recovered' | 'exhausted' | 'lost' | 'stopped';

export interface DunningAttemptRecord {
  attempt: number;
  scheduledAt: number;
  startedAt: number;
  finishedAt: number;
  result: (typeof DUNNING_ATTEMPT_RESULTS)[number];
  respcd?: string;
  detail?: string;
}

/** A dunning episode: the recovery of one failed order before the next billing time. */
export interface DunningEpisode {
  orderId: string;
  sequenceNo: number;
  openedAt: number;
  failureAt: number;
  nextBillingTime: number;
  deadline: number;
  schedule: number[];
  attempts: DunningAttemptRecord[];
  stage: DunningStage;
  escalationStepsDone: string[];
  closedAt?: number;
  outcome?: 'recovered' | 'exhausted' | 'lost' | 'stopped';
  outcomeDetail?: string;
}

/** What the query returns: the lifecycle snapshot plus what the workflow itself knows. */
export interface SubscriptionView {
  subscriptionId: string;
  workflowId: string;
  snapshot: SubscriptionSnapshot;
  dunning: { policy: DunningPolicy; episode: DunningEpisode | null; history: DunningEpisode[] };
  billingPausedByMerchant: boolean;
  origin: 'created' | 'adopted';
  continuedAsNew: number;
  lastSyncAt: number | null;
}

/** Tuning that tests and operators may change. */
export interface SubscriptionWorkflowOptions {
  /** Continue-as-new once history has this many events (Temporal's own suggestion also counts). */
  maxHistoryEvents?: number;
  /** How long after a billing time with no payment result the workflow asks QFPay. */
  reconcileGraceMs?: number;
  /** Emit merchant events (child workflows delivering signed webhooks). */
  merchantEvents?: boolean;
}

/** State carried through continue-as-new: plain JSON only. */
export interface CarriedState {
  snapshot: SubscriptionSnapshot;
  policy: DunningPolicy;
  episode: DunningEpisode | null;
  episodeHistory: DunningEpisode[];
  eventSeq: number;
  billingPausedByMerchant: boolean;
  lastSyncAt: number | null;
  continuedAsNew: number;
  reconcile: { billingTime: number | null; attempts: number };
}

export interface SubscriptionWorkflowInput {
  subscriptionId: string;
  /** `created`: started by the engine's creation; `adopted`: by a notification or an operator. */
  origin: 'created' | 'adopted';
  /** Dunning policy for this subscription (already merged with the engine default). */
  policy?: DunningPolicy;
  options?: SubscriptionWorkflowOptions;
  carried?: CarriedState;
}

/** Every QFPay fact about a subscription arrives through this signal (notifications, sync). */
export const factSignal = defineSignal<[Fact]>('qfpayFact');

/**
 * The engine's creation hands the subscription over with what the merchant chose for it. A
 * signal (not the start arguments) because a notification may have started the workflow first.
 */
export interface SubscriptionHandover {
  fact: Extract<Fact, { kind: 'created' }>;
  policy?: DunningPolicy;
  options?: SubscriptionWorkflowOptions;
}
export const handoverSignal = defineSignal<[SubscriptionHandover]>('handover');

export const snapshotQuery = defineQuery<SubscriptionView>('snapshot');

export interface CancelRequest {
  reason?: string;
}
export interface ChangeTokenRequest {
  tokenId: string;
}
export interface ChangeCyclesRequest {
  totalBillingCycles: number | null;
}
export interface ChargeNowRequest {
  orderId?: string;
}

/** The outcome of a manual charge made through the API. */
export interface ChargeResult {
  orderId: string;
  outcome: 'succeeded' | 'failed' | 'pending';
  respcd: string;
  respmsg?: string;
  view: SubscriptionView;
}

export const cancelUpdate = defineUpdate<SubscriptionView, [CancelRequest]>('cancel');
export const changePaymentTokenUpdate = defineUpdate<SubscriptionView, [ChangeTokenRequest]>(
  'changePaymentToken',
);
export const changeTotalBillingCyclesUpdate = defineUpdate<SubscriptionView, [ChangeCyclesRequest]>(
  'changeTotalBillingCycles',
);
export const chargeNowUpdate = defineUpdate<ChargeResult, [ChargeNowRequest]>('chargeNow');
export const syncNowUpdate = defineUpdate<SubscriptionView, []>('syncNow');
export const changeDunningPolicyUpdate = defineUpdate<SubscriptionView, [DunningPolicyOverride]>(
  'changeDunningPolicy',
);

/** A customer to create at QFPay. */
export interface CreateCustomerInput {
  name?: string;
  email?: string;
  phone?: string;
  billingAddress?: Record<string, unknown>;
}

/** A recurring product to create at QFPay. */
export interface CreateProductInput {
  name: string;
  description?: string;
  amount: number;
  currency: string;
  interval: string;
  intervalCount: number;
}

/** Input of the durable, idempotent creation. Either ids or inline objects to create. */
export interface CreateSubscriptionInput {
  customer: { customerId: string } | { create: CreateCustomerInput };
  product: { productId: string } | { create: CreateProductInput };
  quantity?: number;
  tokenId: string;
  totalBillingCycles?: number | null;
  startTime?: number;
  policy?: DunningPolicy;
  options?: SubscriptionWorkflowOptions;
}

export interface CreateSubscriptionResult {
  subscriptionId: string;
  customerId: string;
  productId: string;
  state: SubscriptionState | 'UNKNOWN';
  workflowId: string;
  reusedExisting: boolean;
}

/** A payment token the engine learned from a `payment_token` notification (masked card only). */
export interface PaymentTokenRecord {
  tokenId: string;
  customerId: string;
  event: 'NEW' | 'MATCH' | 'CONFLICT' | string;
  cardMasked?: string;
  cardScheme?: string;
  expiry?: string;
  receivedAt: number;
  at: number;
}

export const paymentTokenSignal = defineSignal<[PaymentTokenRecord]>('paymentToken');
export const tokensQuery = defineQuery<PaymentTokenRecord[]>('tokens');

/** A signed webhook the engine sends to the merchant (schemas in `src/events/merchant-events.ts`). */
export type { MerchantEvent, MerchantEventData, MerchantEventType } from '../events/merchant-events';
