/**
 * The one module that both the API and the workflows import: workflow ids, signals, queries,
 * updates, search attributes and payload types. It holds no workflow implementation, so the
 * API never pulls workflow code (or its dependencies) into its process.
 */
import type { GatewayCreateInput } from '../gateways/port';
import { engineSubscriptionId, splitSubscriptionId, type GatewayProfile } from '../domain/gateway-profile';
import { defineSearchAttributeKey, type SearchAttributePair } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { DunningPolicy, DunningPolicyOverride } from '../domain/episode/dunning';
import type { HeldMetadata, Metadata, MetadataChange } from '../domain/metadata/metadata';
import type { Fact, SubscriptionSnapshot, SubscriptionState } from '../domain/lifecycle/lifecycle';
import type { DunningEpisode } from '../domain/episode/dunning-episode';
import type { ClockStatus } from '../domain/clock/test-clock';
import type { PaymentTokenRecord } from '../domain/payment-tokens';
import type {
  BillingPause,
  HoldScope,
  PaymentAttemptRecord,
  PendingCharge,
  PlanLine,
  SubscriptionHandover,
  SubscriptionWorkflowOptions,
} from '../domain/engine-state';

export type { Fact, SubscriptionSnapshot, SubscriptionState } from '../domain/lifecycle/lifecycle';
export type { PaymentTokenRecord } from '../domain/payment-tokens';
export type { DunningPolicy, DunningPolicyInput, DunningPolicyOverride } from '../domain/episode/dunning';
export type {
  BillingPause,
  CarriedState,
  HoldScope,
  PaymentAttemptRecord,
  PlanLine,
  SubscriptionHandover,
  SubscriptionWorkflowInput,
  SubscriptionWorkflowOptions,
} from '../domain/engine-state';
export type {
  ChargeTrigger,
  DunningAttemptRecord,
  DunningEpisode,
  DunningStage,
  FinalActionRecord,
} from '../domain/episode/dunning-episode';

/** Workflow type names, used by the API to start workflows without importing their code. */
export const WORKFLOW_TYPES = {
  subscription: 'subscriptionWorkflow',
  createSubscription: 'createSubscriptionWorkflow',
  createGatewaySubscription: 'createGatewaySubscriptionWorkflow',
  createCustomer: 'createCustomerWorkflow',
  createProduct: 'createProductWorkflow',
  customerTokens: 'customerTokensWorkflow',
  merchantEventDelivery: 'merchantEventDeliveryWorkflow',
  merchantEndpoint: 'merchantEndpointWorkflow',
  reconciler: 'reconcilerWorkflow',
  metadataRecord: 'metadataRecordWorkflow',
  testClock: 'testClockWorkflow',
} as const;

/**
 * Workflow identity is derived, never looked up (architecture, decision 1): a notification for
 * `sub_X` is routed to this id with signal-with-start, whether or not the engine created it.
 */
export function subscriptionWorkflowId(subscriptionId: string): string {
  // `qfpay-subscription:sub_…` for QFPay; `qorepay-subscription:<QorePay's id>` and so on.
  const { gateway, gatewayId } = splitSubscriptionId(subscriptionId);
  return `${gateway}-subscription:${gatewayId}`;
}

/** The engine subscription id of a subscription workflow's id (undefined for any other workflow). */
export function subscriptionIdOfWorkflow(workflowId: string): string | undefined {
  const match = /^([a-z][a-z0-9]*)-subscription:(.+)$/.exec(workflowId);
  return match ? engineSubscriptionId(match[1]!, match[2]!) : undefined;
}

/**
 * How a subscription's workflow id may be reused by signal-with-start. A subscription that ended
 * stays ended (architecture, decision 10): a late notification must not start a new run, which
 * would tell the merchant again what it already knows. Only a run that failed or was terminated
 * may be started afresh.
 */
export const SUBSCRIPTION_WORKFLOW_REUSE_POLICY = 'ALLOW_DUPLICATE_FAILED_ONLY' as const;

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
  /** The customer's id at the subscription's gateway. */
  customerId: defineSearchAttributeKey('CustomerId', 'KEYWORD'),
  /** The subscription's engine id (`sub_…`, `qorepay:…`); a delivery's: its event's subscription. */
  subscriptionId: defineSearchAttributeKey('SubscriptionId', 'KEYWORD'),
  /** The subscription's gateway: `qfpay`, `qorepay`, `madfintech`. */
  gateway: defineSearchAttributeKey('Gateway', 'KEYWORD'),
  dunningStage: defineSearchAttributeKey('DunningStage', 'KEYWORD'),
  dunningAttempts: defineSearchAttributeKey('DunningAttempts', 'INT'),
  dunningNextAttemptAt: defineSearchAttributeKey('DunningNextAttemptAt', 'DATETIME'),
  /**
   * The latest time (Unix ms) a dunning episode of the subscription opened or closed: the dunning
   * report reads only the subscriptions with one at or after its range's start. An Int, as SQL
   * visibility has no fourth Datetime column.
   */
  dunningActivityAt: defineSearchAttributeKey('DunningActivityAt', 'INT'),
  /**
   * When a subscription whose run has the reconciler wants to be asked about its billing time
   * (its next billing time plus the grace, backing off): the reconciler lists those passed.
   */
  reconcileAt: defineSearchAttributeKey('ReconcileAt', 'DATETIME'),
  /** A merchant event delivery's status: `pending`, `retrying`, `delivered` or `failed`. */
  merchantEventStatus: defineSearchAttributeKey('MerchantEventStatus', 'KEYWORD'),
  /** A merchant event delivery's event type, e.g. `subscription.payment_failed`. */
  merchantEventType: defineSearchAttributeKey('MerchantEventType', 'KEYWORD'),
  /** How many times a merchant event delivery has sent its event. */
  merchantEventAttempts: defineSearchAttributeKey('MerchantEventAttempts', 'INT'),
  /**
   * The keyed digests of a subscription's metadata, one per key and value
   * (`ApiDigests.metadataDigest`): the list by one key and value asks for its digest, and no value
   * is written in clear. Only a run that holds metadata writes it.
   */
  metadataDigests: defineSearchAttributeKey('MetadataDigests', 'KEYWORD_LIST'),
  /**
   * The test clock a subscription lives on (`clock_…`), and a clock's own workflow's: set when
   * the workflow starts, so that `TestClock = "clock_…"` lists a clock's subscriptions. Only
   * workflows on a clock have it.
   */
  testClock: defineSearchAttributeKey('TestClock', 'KEYWORD'),
} as const;

/**
 * The search attributes a workflow on test clock `testClock` starts with (none on no clock): a
 * start's `typedSearchAttributes`.
 */
export function testClockSearchAttributes(testClock: string | undefined): {
  typedSearchAttributes?: SearchAttributePair[];
} {
  return testClock === undefined
    ? {}
    : { typedSearchAttributes: [{ key: SEARCH_ATTRIBUTES.testClock, value: testClock }] };
}

/**
 * The names `customerId` and `subscriptionId` had when only QFPay was billed. Runs recorded before
 * the gateway-neutral names carry them (closed runs for ever); new runs never write them. Still
 * registered, and every query asks for a value under both names.
 */
export const LEGACY_SEARCH_ATTRIBUTES = {
  customerId: defineSearchAttributeKey('QfpayCustomerId', 'KEYWORD'),
  subscriptionId: defineSearchAttributeKey('QfpaySubscriptionId', 'KEYWORD'),
} as const;

/** Every search attribute, the names before included, for registering them on a server. */
export const ALL_SEARCH_ATTRIBUTE_KEYS = [
  ...Object.values(SEARCH_ATTRIBUTES),
  ...Object.values(LEGACY_SEARCH_ATTRIBUTES),
];

/** What the query returns: the lifecycle snapshot plus what the workflow itself knows. */
export interface SubscriptionView {
  subscriptionId: string;
  workflowId: string;
  /** The subscription's gateway (absent in views of engines before the port: QFPay). */
  gateway?: string;
  snapshot: SubscriptionSnapshot;
  dunning: { policy: DunningPolicy; episode: DunningEpisode | null; history: DunningEpisode[] };
  /** The engine's billing pause is on (the merchant's, or the final action `pause_billing`). */
  billingPausedByMerchant: boolean;
  billingPause: BillingPause | null;
  origin: 'created' | 'adopted';
  continuedAsNew: number;
  lastSyncAt: number | null;
  /** A manual charge being confirmed (its answer never came), if any. */
  pendingCharge: PendingCharge | null;
  /** A cancel scheduled for the period's end, while the subscription has not ended (absent in older workers' views). */
  scheduledCancel?: ScheduledCancelResult | null;
  /**
   * Merchant events recorded but not yet handed to their delivery workflow (a start that failed
   * is tried again). Not in the API's answer; tools wait on it (absent in older workers' views).
   */
  eventsWaiting?: number;
  /** The merchant's metadata (absent in older workers' views: none). */
  metadata?: Metadata;
  /** The test clock it lives on and its time there (absent: it lives in real time). */
  testClock?: { id: string; now: number | null };
}

/**
 * Every fact from a subscription's gateway (its notifications, and syncs) arrives through this
 * signal. Its wire name, `qfpayFact`, is the one from before the port: running workflows and
 * their histories know it, so it stays.
 */
export const factSignal = defineSignal<[Fact]>('qfpayFact');

export const handoverSignal = defineSignal<[SubscriptionHandover]>('handover');

/**
 * The reconciler's wake-up: the subscription's `ReconcileAt` has passed. It carries nothing; the
 * workflow decides from its own state whether a question is due (a stale one changes nothing).
 */
export const reconcileSignal = defineSignal('reconcile');

/**
 * A test clock's time, from the clock's advance: a subscription on that clock decides with it
 * from now on (an earlier time than it has is ignored; one on no clock ignores it).
 */
export const testClockTimeSignal = defineSignal<[{ now: number }]>('testClockTime');
/** What a test clock's advance reads between its steps: null for a subscription on no clock. */
export const clockStatusQuery = defineQuery<ClockStatus | null>('clockStatus');

export const snapshotQuery = defineQuery<SubscriptionView>('snapshot');

/** The workflow of test clock `id`: it holds the clock's time and runs its advances. */
export const testClockWorkflowId = (id: string): string => `test-clock:${id}`;

/** A test clock, as its workflow holds it. */
export interface TestClockView {
  id: string;
  name: string | null;
  /** The clock's time, epoch ms. */
  now: number;
  /** `advancing` while an advance runs (to `target`), else `ready`. */
  status: 'ready' | 'advancing';
  target: number | null;
  /** The workflow ids of the subscriptions on it. */
  members: string[];
  /** The moments its advances have stepped through so far. */
  steps: number;
}

export interface TestClockInput {
  id: string;
  name: string | null;
  frozenTime: number;
  /** The state a previous run carried through continue-as-new. */
  carried?: TestClockView;
}

/** A subscription on the clock joins it (its workflow id); it gets the clock's time at once. */
export const testClockMemberSignal = defineSignal<[string]>('testClockMember');
/** Starts an advance to `to` (epoch ms, not before the clock's time); answered once it has begun. */
export const advanceTestClockUpdate = defineUpdate<TestClockView, [{ to: number }]>('advanceTestClock');
export const testClockQuery = defineQuery<TestClockView>('testClock');
/** Every payment attempt the workflow learned of, oldest first (bounded). */
export const paymentsQuery = defineQuery<PaymentAttemptRecord[]>('payments');

/** A cancel carries nothing: the merchant's reason stays with the merchant (no free text in history). */
export type CancelRequest = Record<string, never>;
export interface ChangeTokenRequest {
  tokenId: string;
}
export interface ChangeCyclesRequest {
  totalBillingCycles: number | null;
}
export interface ChargeNowRequest {
  orderId?: string;
}
/** The whole new plan: QFPay bills it from the next billing cycle on. */
export interface ChangeProductsRequest {
  products: PlanLine[];
}
/** The subscription's own price, in its currency's minor unit, from its next billing on. */
export interface ChangePriceRequest {
  amount: number;
  currency: string;
}
export interface PauseBillingRequest {
  /** When the engine resumes by itself (epoch ms), or null: until the merchant resumes. */
  resumesAt: number | null;
  /** The gateway's pause of billing, or the engine's hold of its dunning (see `HoldScope`). */
  scope?: HoldScope;
}
export interface ResumeBillingRequest {
  /** What to start again: the gateway's billing, or the engine's dunning (see `HoldScope`). */
  scope?: HoldScope;
}

/**
 * What an update returns: only what changed (the API reads the whole view with a query when it
 * needs it), so a long-lived subscription's updates stay small in history.
 */
export interface CancelResult {
  state: SubscriptionState | 'UNKNOWN';
  stateAt: number | null;
}
/** A scheduled cancel: the period's end, when the engine cancels, when it was scheduled (epoch ms). */
export interface ScheduledCancelResult {
  periodEnd: number;
  cancelAt: number;
  scheduledAt: number;
}
export type UnscheduleCancelResult = { unscheduled: false } | ({ unscheduled: true } & ScheduledCancelResult);
export interface ChangeTokenResult {
  tokenId: string;
}
export interface ChangeCyclesResult {
  totalBillingCycles: number | null;
}
export interface SyncNowResult {
  state: SubscriptionState | 'UNKNOWN';
  lastSyncAt: number;
}
export interface ChangePolicyResult {
  policy: DunningPolicy;
}
export interface ChangeProductsResult {
  products: PlanLine[];
}
export interface ChangePriceResult {
  amount: number;
  currency: string;
}
export interface PauseBillingResult {
  pause: BillingPause;
}
export interface ResumeBillingResult {
  resumedAt: number;
}

/** The outcome of a manual charge made through the API (`pending`: QFPay has not answered yet). */
export interface ChargeResult {
  orderId: string;
  outcome: 'succeeded' | 'failed' | 'pending';
  respcd: string;
  respmsg?: string;
}

export const cancelUpdate = defineUpdate<CancelResult, [CancelRequest]>('cancel');
/** Cancel at the end of the current period; answered with the schedule (`scheduled-cancel.ts`). */
export const scheduleCancelUpdate = defineUpdate<ScheduledCancelResult, [CancelRequest]>('scheduleCancel');
/** Take a scheduled cancel back. */
export const unscheduleCancelUpdate = defineUpdate<UnscheduleCancelResult, []>('unscheduleCancel');
export const changePaymentTokenUpdate = defineUpdate<ChangeTokenResult, [ChangeTokenRequest]>(
  'changePaymentToken',
);
export const changeTotalBillingCyclesUpdate = defineUpdate<ChangeCyclesResult, [ChangeCyclesRequest]>(
  'changeTotalBillingCycles',
);
export const chargeNowUpdate = defineUpdate<ChargeResult, [ChargeNowRequest]>('chargeNow');
export const syncNowUpdate = defineUpdate<SyncNowResult, []>('syncNow');
export const changeDunningPolicyUpdate = defineUpdate<ChangePolicyResult, [DunningPolicyOverride]>(
  'changeDunningPolicy',
);
export const changeProductsUpdate = defineUpdate<ChangeProductsResult, [ChangeProductsRequest]>(
  'changeProducts',
);
export const changePriceUpdate = defineUpdate<ChangePriceResult, [ChangePriceRequest]>('changePrice');
export const pauseBillingUpdate = defineUpdate<PauseBillingResult, [PauseBillingRequest]>('pauseBilling');
export const resumeBillingUpdate = defineUpdate<ResumeBillingResult, [ResumeBillingRequest]>('resumeBilling');
/**
 * Sets or removes metadata keys (a null entry removes its key); answered with the metadata after
 * it. The subscription's workflow and a customer's or product's metadata record both take it.
 */
export const setMetadataUpdate = defineUpdate<Metadata, [MetadataChange]>('setMetadata');
/** A metadata record's metadata. */
export const metadataQuery = defineQuery<Metadata>('metadata');

/** What a metadata record holds the metadata of: a customer or a product (at QFPay). */
export type MetadataOwner = 'customer' | 'product';

/** The memo field that holds an entity's metadata (encrypted with the other payloads). */
export const METADATA_MEMO = 'metadata';

/** The workflow that holds a customer's or a product's metadata. */
export function metadataRecordWorkflowId(owner: MetadataOwner, id: string): string {
  return `metadata-${owner}:${id}`;
}

/** A metadata record's input: what it holds (carried through continue-as-new). */
export interface MetadataRecordInput {
  owner: MetadataOwner;
  id: string;
  held?: HeldMetadata;
}

/** A customer to create at QFPay. */
export interface CreateCustomerInput {
  name?: string;
  email?: string;
  phone?: string;
  billingAddress?: Record<string, unknown>;
  /** The test clock it is made on (only where QFPay is the emulator); absent: none. */
  testClock?: string;
}

/** A recurring product to create at QFPay. */
export interface CreateProductInput {
  name: string;
  description?: string;
  amount: number;
  currency: string;
  interval: string;
  intervalCount: number;
  /** The test clock it is made on (only where QFPay is the emulator); absent: none. */
  testClock?: string;
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
  /** The merchant's metadata, with its digests (absent: none). */
  metadata?: HeldMetadata;
}

/** A creation on a gateway behind the port (`POST /v1/subscriptions` with a `gateway`). */
export interface CreateGatewaySubscriptionInput {
  gateway: GatewayProfile;
  create: GatewayCreateInput;
  policy?: DunningPolicy;
  options?: SubscriptionWorkflowOptions;
  /** The merchant's metadata, with its digests (absent: none). */
  metadata?: HeldMetadata;
}

export interface CreateSubscriptionResult {
  subscriptionId: string;
  customerId: string;
  /**
   * QFPay's product; null on a gateway behind the port, which has none (creations that finished
   * before this said `''`).
   */
  productId: string | null;
  state: SubscriptionState | 'UNKNOWN';
  workflowId: string;
  reusedExisting: boolean;
}

export const paymentTokenSignal = defineSignal<[PaymentTokenRecord]>('paymentToken');
export const tokensQuery = defineQuery<PaymentTokenRecord[]>('tokens');

/** Where a merchant event's delivery stands (its `MerchantEventStatus` search attribute). */
export type MerchantEventDeliveryStatus = 'pending' | 'retrying' | 'delivered' | 'failed';

/** The last attempt at sending a merchant event, as the delivery's memo keeps it. */
export interface MerchantEventAttemptRecord {
  attempt: number;
  /** When it was made, ISO-8601. */
  at: string;
  /** The endpoint's HTTP status; 0 when no answer came (or nothing was sent). */
  httpStatus: number;
  /** What happened, for an operator (never the response body). */
  reason: string;
}

/** The memo of a merchant event delivery: what its list shows beside the search attributes. */
export interface MerchantEventDeliveryMemo {
  lastAttempt?: MerchantEventAttemptRecord;
  /** When the next attempt is due (while retrying), ISO-8601. */
  nextAttemptAt?: string;
  /** Why the delivery gave up (when failed). */
  failure?: string;
}

/** How a merchant event delivery ended. */
export interface MerchantEventDeliveryResult {
  delivered: boolean;
  status?: 'delivered' | 'failed';
  attempts?: number;
  failure?: string;
}

/** Why the merchant's endpoint was turned off (the memo of its switch workflow). */
export interface MerchantEndpointOff {
  /** The endpoint, without query string or credentials. */
  endpoint: string;
  /** The event whose delivery was answered with 410. */
  eventId: string;
  status: number;
  /** When, ISO-8601. */
  at: string;
}

/** Turns a merchant endpoint that answered 410 back on: its switch workflow ends. */
export const enableMerchantEndpointSignal = defineSignal('enableMerchantEndpoint');

/** A signed webhook the engine sends to the merchant (schemas in `src/events/merchant-events.ts`). */
export type { MerchantEvent, MerchantEventData, MerchantEventType } from '../events/merchant-events';
