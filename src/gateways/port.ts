/**
 * The gateway port: what the engine needs of a recurring-payments gateway, and nothing else.
 *
 * The engine keeps one lifecycle (QFPay's nine states, `domain/lifecycle/lifecycle-table.ts`) and one
 * vocabulary of facts (`domain/lifecycle/lifecycle-types.ts`). A gateway adapter translates both ways:
 * engine operations into the gateway's requests, and the gateway's answers and notifications
 * into the engine's facts. Each gateway lives in its own folder under `src/gateways/` and is
 * registered by one line in `src/gateways/registry.ts`.
 *
 * Identity: a subscription's engine id is `<gateway>:<the gateway's own id>` for every gateway
 * but QFPay, whose ids (`sub_…`) are used bare (they were before the port existed, and running
 * workflows keep them). The registry splits and joins these ids; an adapter only ever sees its
 * own ids.
 */
import type { ChargeOutcome, ConfirmOutcome, SyncResult } from '../domain/gateway-answers';
import type { Fact } from '../domain/lifecycle/lifecycle-types';
import type { SubscriptionState } from '../domain/lifecycle/lifecycle-table';
import type { GatewayCapabilities } from '../domain/gateway-profile';
import type { PaymentTokenRecord } from '../domain/payment-tokens';
import type { BillingInterval } from '../domain/lifecycle/billing-interval';
import { TEST_CLOCK_HEADER } from './test-clock-header';
import { isLoopbackHost } from '../loopback';

export type { GatewayCapabilities, GatewayProfile } from '../domain/gateway-profile';

/** A billing interval. */
export interface GatewayInterval {
  unit: 'day' | 'week' | 'month' | 'year';
  count: number;
}

/**
 * A creation on a gateway other than QFPay (QFPay keeps its own richer creation: customers,
 * products and tokens at QFPay). Amounts are in minor units (cents).
 */
export interface GatewayCreateInput {
  /**
   * The merchant's idempotency key, sent as the gateway's merchant reference (a title, an order
   * number): a retried creation finds what an earlier attempt created instead of creating twice.
   */
  reference: string;
  customer: { id: string; email?: string; name?: string };
  plan: {
    name: string;
    amount: number;
    currency: string;
    interval: GatewayInterval;
    /** Cycles in all (null: until cancelled). */
    totalCycles: number | null;
    /** No billing after this time (epoch ms); absent: none. Not every gateway takes one. */
    endDate?: number;
  };
  /**
   * The payment method, as the gateway takes it (a token or card reference). The engine never
   * receives a card number: a PAN is refused at the API.
   */
  paymentMethod?: { token: string };
  /**
   * The test clock the subscription lives on (only where the gateway is an emulator): the
   * creation's calls name it (the emulator-only {@link TEST_CLOCK_HEADER}), so what they make is
   * in the clock's world; every later call reaches it by its id alone.
   */
  testClock?: string;
}

/**
 * Input of a creation the gateway cannot take, found before anything is sent. `path` names the
 * field of {@link GatewayCreateInput} (e.g. `['plan', 'totalCycles']`); the API shows it as the
 * merchant wrote it (`plan.total_cycles`).
 */
export interface GatewayInputIssue {
  path: readonly string[];
  message: string;
}

/**
 * Refuses input with issues as the gateway would (a `GatewayError` that is not retryable): the
 * adapter's own guard, for callers that did not ask {@link GatewayModule.createInputIssues} first.
 * @throws GatewayError naming every issue, when there is one
 */
export function refuseInputIssues(gateway: string, issues: readonly GatewayInputIssue[]): void {
  if (issues.length === 0) return;
  const said = issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  throw new GatewayError(`${gateway} cannot take this subscription: ${said}`, false);
}

/** What a creation left at the gateway. `subscriptionId` is the gateway's own id. */
export interface GatewayCreateResult {
  subscriptionId: string;
  state: SubscriptionState | 'UNKNOWN';
  /** An earlier attempt with the same reference had created it. */
  reusedExisting: boolean;
  /** The gateway's time of the creation (epoch ms), or when the call returned. */
  at: number;
}

/**
 * A subscription's plan as the gateway bills it, for the merchant's schedule
 * (`GET /v1/subscriptions/{id}/schedule`). Billing times are whole intervals after `anchor`,
 * calendar units counted at the gateway's `calendarOffset` (UTC unless it says otherwise), a
 * month-end day kept at the month's end (Jan 31 → Feb 28 → Mar 31).
 */
export interface GatewayPlan {
  state: SubscriptionState;
  /** Per cycle, in minor units. */
  amount: number;
  currency: string;
  /** Every `count` units; QFPay's plans may also bill by the minute or the hour. */
  interval: BillingInterval;
  /** The first billing time (cycle 1), epoch ms. */
  anchor: number;
  /** The next billing the gateway has set, or null when it bills no more (cancelled, ended, paused). */
  nextBillingTime: number | null;
  /** Cycles still to bill (null: until cancelled). */
  remainingCycles: number | null;
  /** No billing after this time (epoch ms), or null. */
  endDate?: number | null;
  /** The UTC offset the gateway counts days, months and years in (QFPay: its region's). @default '+00:00' */
  calendarOffset?: string;
}

/** One order as the gateway's own order list shows it, for the merchant's order list. */
export interface GatewayListedOrder {
  orderId: string;
  sequenceNo: number;
  status: 'PAID' | 'FAILED';
  /** When the gateway bills (or billed) it, epoch ms, when its list says. */
  billingTime?: number;
  amount?: number;
  currency?: string;
  triggerBy?: 'auto' | 'manual';
  /** The last attempt the list shows, when it shows one. */
  lastAttempt?: {
    at: number;
    triggerBy: 'auto' | 'manual';
    succeeded: boolean;
    respcd?: string;
    respmsg?: string;
    amount?: number;
    currency?: string;
    /** The gateway's transaction id of the attempt. */
    syssn?: string;
  };
}

/** The worker's side of a gateway: every call the engine makes to it. Ids are the gateway's own. */
export interface GatewayAdapter {
  readonly name: string;
  readonly capabilities: GatewayCapabilities;
  /** Creates the subscription, or finds the one an earlier attempt with this reference created. */
  create(input: GatewayCreateInput): Promise<GatewayCreateResult>;
  /**
   * The subscription's state and its newest orders (billing cycles), as the engine's sync fact
   * (`fact.subscriptionId` is the gateway's own id; the registry namespaces it).
   */
  sync(subscriptionId: string, options?: { sinceSequence?: number }): Promise<SyncResult>;
  /**
   * The plan as the gateway bills it; undefined when the gateway has no such subscription. A
   * gateway whose answer lacks what the plan needs throws a `GatewayError` (502).
   */
  plan?(subscriptionId: string): Promise<GatewayPlan | undefined>;
  /**
   * Every order of the subscription as the gateway's own list shows it (QFPay's billing orders,
   * with their billing times), for the merchant's order list; undefined when the gateway has no
   * such subscription. Absent: the API lists the orders of a sync from the first cycle.
   */
  orders?(subscriptionId: string): Promise<GatewayListedOrder[] | undefined>;
  /** Cancels; an already-cancelled subscription counts as done. */
  cancel(subscriptionId: string): Promise<{ at: number }>;
  /**
   * Present when any of `capabilities.changeToken`, `changeCycles`, `changeProducts`: changes the
   * subscription's payment token, total cycles and/or products (see
   * `SubscriptionActivities.updateSubscription`).
   */
  update?(input: {
    subscriptionId: string;
    tokenId?: string;
    totalBillingCycles?: number | null;
    products?: Array<{ productId: string; quantity: number }>;
    /** The subscription's own price from its next billing on (`capabilities.changePrice`). */
    price?: { amount: number; currency: string };
  }): Promise<{ at: number }>;
  /** Present when `capabilities.manualCharge`: see `SubscriptionActivities.chargeOrder`. */
  charge?(input: { subscriptionId: string; orderId: string; notAfter: number }): Promise<ChargeOutcome>;
  /** Present when `capabilities.manualCharge`: see `SubscriptionActivities.confirmCharge`. */
  confirmCharge?(input: {
    subscriptionId: string;
    orderId: string;
    sentAt: number;
    orderBefore?: string;
  }): Promise<ConfirmOutcome>;
  /** Present when `capabilities.pause`: pauses (true) or resumes (false) billing at the gateway. */
  setPaused?(subscriptionId: string, paused: boolean): Promise<{ at: number }>;
}

/** Headers as Node gives them (lower-case names). */
export type WebhookHeaders = Record<string, string | string[] | undefined>;

/** What one notification meant. Facts carry the gateway's own subscription ids. */
export type WebhookReading = (
  | { kind: 'facts'; facts: Fact[] }
  /** A customer's payment token was made or matched (masked card only): kept with the customer. */
  | { kind: 'payment_token'; token: PaymentTokenRecord }
  /** A notification the engine has no use for (another event type): acknowledged, not applied. */
  | { kind: 'ignored'; reason: string }
) & {
  /** The notification's type as the gateway names it, for the webhook metric (default `<gateway>:notification`). */
  type?: string;
};

/** One field of a refused notification and what is wrong with it. */
export interface WebhookIssue {
  path: string;
  message: string;
}

/**
 * Why a notification was refused: 401 for authenticity, 400 for shape (with the field, or every
 * field in `details`). `type` is the notification's type when it was read (the metric counts it
 * `rejected` then, and `malformed` when it was not).
 */
export class WebhookRejection extends Error {
  readonly details: readonly WebhookIssue[];
  readonly type: string | undefined;
  constructor(
    readonly status: 400 | 401,
    message: string,
    readonly field?: string,
    options: { details?: readonly WebhookIssue[]; type?: string } = {},
  ) {
    super(message);
    this.name = 'WebhookRejection';
    this.details = options.details ?? (status === 400 ? [{ path: field ?? 'body', message }] : []);
    this.type = options.type;
  }
}

/** The API's side of a gateway: the notification route `POST /webhooks/<name>`. */
export interface GatewayWebhook {
  /**
   * Verifies the signature over the raw bytes, then parses. Throws {@link WebhookRejection}
   * (401 for a bad or missing signature, 400 for a malformed body). Must not do I/O.
   */
  read(rawBody: Buffer, headers: WebhookHeaders, receivedAt: number): WebhookReading;
  /** The acknowledgement the gateway expects once the facts are recorded. */
  readonly ack: { status: number; contentType: string; body: string };
}

/** A running emulator of the gateway (for `npm start`, tests and the bench). */
export interface GatewayEmulatorHandle {
  url: string;
  close(): Promise<void>;
}

/**
 * The emulator's root behind a gateway API URL such as `http://127.0.0.1:4010/api/v1` (its API
 * under `apiPath`): the URL without it, when it names this machine; undefined for anything else
 * (a real gateway, or an address this engine cannot tell is an emulator).
 */
export function loopbackEmulatorRoot(
  apiUrl: string | undefined,
  apiPath: string,
  /** Other host names of the emulator (a compose service's). */
  emulatorHosts: readonly string[] = [],
): string | undefined {
  if (!apiUrl) return undefined;
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    return undefined;
  }
  const local = isLoopbackHost(url.hostname, emulatorHosts);
  const path = url.pathname.replace(/\/+$/, '');
  if (!local || !path.endsWith(apiPath)) return undefined;
  return `${url.origin}${path.slice(0, path.length - apiPath.length)}`;
}

/** The headers a creation's calls add: the test clock's, when it lives on one. */
export function testClockHeaders(input: Pick<GatewayCreateInput, 'testClock'>): Record<string, string> {
  return input.testClock === undefined ? {} : { [TEST_CLOCK_HEADER]: input.testClock };
}

/** Environment for one gateway, by its own variable names (each gateway documents them). */
export type GatewayEnv = Record<string, string | undefined>;

/**
 * An environment that reads `top` first and `base` after, `base` as it is when read (a stack that
 * adds an emulator's variables to `base` later is heard).
 */
export function layeredEnv(base: GatewayEnv, top: GatewayEnv): GatewayEnv {
  return new Proxy(base, {
    get: (target, name) => (typeof name === 'string' && name in top ? top[name] : target[name as string]),
    has: (target, name) => name in top || name in target,
  });
}

/** One call an adapter made to its gateway's API, as it reports it. */
export interface GatewayRequestEvent {
  /** The gateway's endpoint (a path, without ids). */
  endpoint: string;
  durationMs: number;
  /** `success`, or how the call failed (the gateway's own words: `transient`, `permanent`, …). */
  outcome: string;
  reason?: string;
}

/**
 * What the worker hears of an adapter's calls, for its metrics and logs. Every part is optional;
 * an adapter reports what it can (QFPay's reports every call and every failed activity).
 */
export interface GatewayObserver {
  request?(event: GatewayRequestEvent): void;
  /** A call that failed with the gateway's own error, by its kind and reason. */
  failure?(failure: { kind: string; reason: string }): void;
}

/**
 * One gateway, as registered: its profile, and how to build each side. Building must not do I/O;
 * a gateway that is not configured (`configured(env)` false) is still listed, and its routes
 * answer 503 until it is.
 */
export interface GatewayModule {
  readonly name: string;
  /** How people write its name ("QorePay"): the Web UI's summaries say it. */
  readonly label: string;
  readonly capabilities: GatewayCapabilities;
  /** A line for the docs and `GET /v1/gateways`. */
  readonly description: string;
  /** Every environment variable the gateway reads (its README says what each means). */
  readonly variables: readonly string[];
  configured(env: GatewayEnv): boolean;
  /**
   * What of a creation's input this gateway cannot take (empty when it can): pure, no I/O, so the
   * API answers 400 naming each field before a workflow starts; the adapter refuses the same.
   */
  createInputIssues(input: GatewayCreateInput): GatewayInputIssue[];
  adapter(env: GatewayEnv, observer?: GatewayObserver): GatewayAdapter;
  webhook(env: GatewayEnv): GatewayWebhook;
  /**
   * The root URL of the gateway's emulator (where its control API, `/_emulator`, answers) when
   * `env` points the gateway at one on this machine, else undefined. Test clocks exist only where
   * the gateways are emulators: each emulator keeps a world of its own per clock
   * (`/_emulator/test_clocks`), and a gateway configured for real refuses them.
   */
  emulatorUrl(env: GatewayEnv): string | undefined;
  /**
   * Starts the gateway's emulator on `port` (0: any), sending notifications to `notifyUrl`, and
   * returns its URL and the environment that points an adapter and a webhook at it.
   */
  startEmulator(options: {
    port: number;
    host?: string;
    notifyUrl?: string;
    /** The emulator's time at start, epoch ms. @default the real now */
    startMs?: number;
  }): Promise<GatewayEmulatorHandle & { env: GatewayEnv }>;
}

/**
 * A gateway call that failed. `retryable` false means the gateway refused the request as made
 * (a 4xx): repeating it cannot help. Everything else (5xx, timeouts, the network) is retryable:
 * the activity's retries, then the workflow's own backoff, take it up.
 */
export class GatewayError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}
