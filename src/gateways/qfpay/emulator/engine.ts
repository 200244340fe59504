/**
 * The emulated QFPay: customers, products, payment tokens and subscriptions, and the
 * subscription lifecycle of qfpay-lifecycle.md driven by the emulator clock.
 *
 * Every method here is synchronous: a state change and the notifications it causes happen
 * together, so an API call and a scheduled event can never interleave half-way.
 */
import type { Logger } from 'pino';
import { formatQfpayNaiveTime } from '../time';
import {
  addIntervals,
  parseIntervalUnit,
  sameInterval,
  type BillingInterval,
} from '../../../domain/lifecycle/billing-interval';
import {
  behaviourAt,
  cardFingerprint,
  cardScheme,
  formatTokenExpiry,
  maskCardNumber,
  planBehaviour,
  verificationOutcome,
  type CardExpiry,
} from './cards';
import type { EmulatorClock } from './clock';
import { notFound, parameterError, QfpayApiError, EmulatorRequestError } from './errors';
import {
  MANUAL_CHARGE_STATES,
  TERMINAL_STATES,
  type ChargeAttempt,
  type ChargeBehaviour,
  type ChargeTrigger,
  type Customer,
  type PaymentToken,
  type Product,
  type ProductLine,
  type Subscription,
  type SubscriptionOrder,
  type SubscriptionState,
} from './model';
import type { Notifier } from './notifier';
import type { ScheduledEvent, Scheduler, StateEventKind } from './scheduler';
import { newId, type EmulatorStore } from './store';

/** QFPay's automatic retries of a failed recurring charge: 1/10 and 2/10 of the interval after the failure. */
export const DEFAULT_RETRY_FRACTIONS: readonly number[] = [0.1, 0.2];

/** The `respcd` a declining token answers when none is given: "failed, try again later". */
export const DEFAULT_DECLINE_RESPCD = '1205';

/** Options of {@link EmulatorEngine}. */
export interface EngineOptions {
  /** QFPay's region offset for naive times and calendar billing. */
  timeOffset: string;
  /**
   * QFPay's automatic retries after a failed recurring charge, each a fraction of the billing
   * interval after the failure; a retry that would fall at or after the next billing time is not made.
   * PAST_DUE becomes UNPAID when the last retry made fails; with none (`[]`) it stays PAST_DUE.
   * @default {@link DEFAULT_RETRY_FRACTIONS}
   */
  retryFractions?: readonly number[];
  /** The `userid` (QFPay store id) in query rows and token notifications. @default 1000001 */
  userid?: number;
}

/** Fields of a new customer. */
export interface CustomerInput {
  name?: string;
  phone?: string;
  email?: string;
  billingAddress?: unknown;
}

/** Fields of a new product. */
export interface ProductInput {
  name: string;
  type: 'onetime' | 'recurring';
  description?: string;
  txamt: number;
  txcurrcd: string;
  interval?: string;
  intervalCount?: number;
}

/** Fields of a new payment token. */
export interface TokenInput {
  customerId: string;
  cardNumber: string;
  expiry?: CardExpiry;
  holderName?: string;
}

/** Fields of a new subscription. */
export interface SubscriptionInput {
  customerId: string;
  tokenId: string;
  products: ProductLine[];
  totalBillingCycles: number | null;
  /** Epoch ms; absent or past = charge the first order now. */
  startTime?: number;
}

/** Changes to a subscription; absent fields stay. */
export interface SubscriptionChanges {
  tokenId?: string;
  products?: ProductLine[];
  totalBillingCycles?: number | null;
  startTime?: number;
}

/** Filters of the subscription query. */
export interface SubscriptionFilter {
  subscriptionId?: string;
  customerId?: string;
  tokenId?: string;
  state?: string;
}

/** The outcome of `/subscription/v1/charge`. */
export interface ManualChargeResult {
  subscription: Subscription;
  order: SubscriptionOrder;
  /** The attempt made now; absent when the charge is pending (`1145`). */
  attempt?: ChargeAttempt;
  pending: boolean;
}

/** The `event` of a `payment_token` notification. */
export type TokenEvent = 'NEW' | 'MATCH' | 'CONFLICT';

/** Number of PAID orders: QFPay's `completed_billing_iteration`. */
export function paidCycles(subscription: Subscription): number {
  let paid = 0;
  for (const order of subscription.orders) if (order.status === 'PAID') paid += 1;
  return paid;
}

/** The `respmsg` of a payment `respcd`. */
export function paymentMessage(respcd: string): string {
  switch (respcd) {
    case '0000':
      return 'success';
    case '1145':
      return 'processing, please query the result later';
    case '1205':
      return 'transaction failed, please try again later';
    case '1294':
      return 'transaction declined by the issuer, do not retry';
    default:
      return 'transaction declined';
  }
}

/** The subscription order id QFPay documents: `sub_ord_<hex of the subscription id>_<4-digit sequence>`. */
export function subscriptionOrderId(subscriptionId: string, sequenceNo: number): string {
  return `sub_ord_${subscriptionId.replace(/^sub_/, '')}_${String(sequenceNo).padStart(4, '0')}`;
}

/** The emulated QFPay back end. */
export class EmulatorEngine {
  private readonly retryFractions: readonly number[];
  /** QFPay store id shown in rows and notifications. */
  readonly userid: number;

  constructor(
    private readonly store: EmulatorStore,
    private readonly clock: EmulatorClock,
    private readonly scheduler: Scheduler,
    private readonly notifier: Notifier,
    private readonly logger: Logger,
    private readonly options: EngineOptions,
  ) {
    this.retryFractions = options.retryFractions ?? DEFAULT_RETRY_FRACTIONS;
    this.userid = options.userid ?? 1_000_001;
  }

  // ---- customers ----

  /** Creates a customer. */
  createCustomer(input: CustomerInput): Customer {
    const customer: Customer = { customerId: newId('cust_'), ...input, createdAt: this.clock.now() };
    this.store.customers.set(customer.customerId, customer);
    this.store.touch();
    return customer;
  }

  /** Changes a customer's fields (`1136` for an unknown customer). */
  updateCustomer(customerId: string, changes: CustomerInput): Customer {
    const customer = this.customer(customerId);
    Object.assign(customer, changes);
    this.store.touch();
    return customer;
  }

  /** Customers whose fields equal every given filter, oldest first. */
  queryCustomers(filter: CustomerInput & { customerId?: string }): Customer[] {
    return candidates(this.store.customers, filter.customerId).filter(
      (c) =>
        (filter.customerId === undefined || c.customerId === filter.customerId) &&
        (filter.name === undefined || c.name === filter.name) &&
        (filter.phone === undefined || c.phone === filter.phone) &&
        (filter.email === undefined || c.email === filter.email),
    );
  }

  /** Deletes a customer and cancels every subscription of theirs that is still running. */
  deleteCustomer(customerId: string): { cancelledSubscriptionIds: string[] } {
    this.customer(customerId);
    const at = this.clock.now();
    const cancelled: string[] = [];
    for (const sub of this.store.subscriptions.values()) {
      if (sub.customerId !== customerId || TERMINAL_STATES.has(sub.state)) continue;
      this.transition(sub, 'CANCELLED', at, 'customer deleted');
      cancelled.push(sub.subscriptionId);
    }
    this.store.customers.delete(customerId);
    this.store.touch();
    return { cancelledSubscriptionIds: cancelled };
  }

  // ---- products ----

  /** Creates a product (the QFPay layer has validated the fields). */
  createProduct(input: ProductInput): Product {
    const product: Product = {
      productId: newId('prod_'),
      name: input.name,
      type: input.type,
      ...(input.description !== undefined && { description: input.description }),
      txamt: input.txamt,
      txcurrcd: input.txcurrcd,
      ...(input.interval !== undefined && { interval: input.interval }),
      ...(input.intervalCount !== undefined && { intervalCount: input.intervalCount }),
      usageType: 'licensed',
      createdAt: this.clock.now(),
    };
    this.store.products.set(product.productId, product);
    this.store.touch();
    return product;
  }

  /** Changes a product's name or description (`1136` for an unknown product). */
  updateProduct(productId: string, changes: { name?: string; description?: string }): Product {
    const product = this.product(productId);
    if (changes.name !== undefined) product.name = changes.name;
    if (changes.description !== undefined) product.description = changes.description;
    this.store.touch();
    return product;
  }

  /** Products matching every given filter (currency and interval case-insensitively), oldest first. */
  queryProducts(filter: {
    productId?: string;
    name?: string;
    description?: string;
    txcurrcd?: string;
    interval?: string;
  }): Product[] {
    return candidates(this.store.products, filter.productId).filter(
      (p) =>
        (filter.productId === undefined || p.productId === filter.productId) &&
        (filter.name === undefined || p.name === filter.name) &&
        (filter.description === undefined || p.description === filter.description) &&
        (filter.txcurrcd === undefined || p.txcurrcd.toUpperCase() === filter.txcurrcd.toUpperCase()) &&
        (filter.interval === undefined || p.interval?.toLowerCase() === filter.interval.toLowerCase()),
    );
  }

  /** Deletes a product that no subscription uses (QFPay refuses otherwise: `1104`). */
  deleteProduct(productId: string): void {
    this.product(productId);
    for (const sub of this.store.subscriptions.values()) {
      if (sub.products.some((line) => line.productId === productId)) {
        throw parameterError(`product ${productId} is used by subscription ${sub.subscriptionId}`);
      }
    }
    this.store.products.delete(productId);
    this.store.touch();
  }

  // ---- payment tokens (emulator-only: QFPay makes them in the browser) ----

  /**
   * Tokenises a card for a customer, as QFPay's Payment Element would, and notifies `payment_token`.
   * @throws EmulatorRequestError 404 for an unknown customer, 402 for a card declined at verification or 3DS
   */
  createToken(input: TokenInput): { token: PaymentToken; event: TokenEvent } {
    const customer = this.store.customers.get(input.customerId);
    if (customer === undefined) {
      throw new EmulatorRequestError(
        404,
        'customer_not_found',
        `customer ${input.customerId} does not exist`,
      );
    }
    const outcome = verificationOutcome(input.cardNumber);
    if (outcome === 'declined_at_verification') {
      throw new EmulatorRequestError(402, 'card_declined', 'card declined at verification (QFPay test card)');
    }
    if (outcome === 'declined_at_3ds') {
      throw new EmulatorRequestError(
        402,
        'three_ds_declined',
        'card declined at 3DS frictionless (QFPay test card)',
      );
    }
    const at = this.clock.now();
    const fingerprint = cardFingerprint(input.cardNumber);
    const expiryDate = input.expiry ? formatTokenExpiry(input.expiry) : undefined;
    let event: TokenEvent;
    let token = [...this.store.tokens.values()].find(
      (t) => t.customerId === customer.customerId && t.cardFingerprint === fingerprint,
    );
    if (token !== undefined) {
      const differs =
        (expiryDate !== undefined && expiryDate !== token.tokenExpiryDate) ||
        (input.holderName !== undefined && input.holderName !== token.holderName);
      event = differs ? 'CONFLICT' : 'MATCH';
      if (differs) {
        if (expiryDate !== undefined) token.tokenExpiryDate = expiryDate;
        if (input.holderName !== undefined) token.holderName = input.holderName;
      }
    } else {
      const now = new Date(at);
      token = {
        tokenId: newId('tk_'),
        customerId: customer.customerId,
        cardFingerprint: fingerprint,
        cardcd: maskCardNumber(input.cardNumber),
        cardScheme: cardScheme(input.cardNumber),
        tokenExpiryDate:
          expiryDate ?? formatTokenExpiry({ year: now.getUTCFullYear() + 3, month: now.getUTCMonth() + 1 }),
        ...(input.holderName !== undefined && { holderName: input.holderName }),
        behaviour: { charges: 'approve' },
        createdAt: at,
      };
      this.store.tokens.set(token.tokenId, token);
      event = 'NEW';
    }
    this.notifier.emit(
      'payment_token',
      {
        notify_type: 'payment_token',
        userid: this.userid,
        event,
        tokenid: token.tokenId,
        token_expiry_date: token.tokenExpiryDate,
        cardcd: token.cardcd,
        card_scheme: token.cardScheme,
        respcd: '0000',
        respmsg: 'success',
        sysdtm: this.naive(at),
        customer_id: token.customerId,
        token_reason: 'SUBSCRIPTION',
        token_reference: token.tokenId.replace(/^tk_/, 'ref_'),
      },
      at,
      { customerId: token.customerId, tokenId: token.tokenId },
    );
    this.store.touch();
    return { token, event };
  }

  /**
   * Makes a token's charges approve or decline from now on, or from `fromMs` on (this world's
   * clock): a card that starts declining, or is fixed, at a planned time.
   * @throws EmulatorRequestError 404 for an unknown token
   */
  setTokenBehaviour(tokenId: string, behaviour: ChargeBehaviour, fromMs?: number): PaymentToken {
    const token = this.store.tokens.get(tokenId);
    if (token === undefined)
      throw new EmulatorRequestError(404, 'token_not_found', `token ${tokenId} does not exist`);
    const now = this.clock.now();
    const plan = planBehaviour(token, { fromMs: fromMs ?? now, behaviour }, now);
    token.behaviour = plan.behaviour;
    if (plan.planned?.length) token.planned = plan.planned;
    else delete token.planned;
    this.store.touch();
    return token;
  }

  // ---- subscriptions ----

  /**
   * Creates a subscription. Without a future `startTime` the first order is charged at once
   * (ACTIVE, COMPLETED for a single cycle, or INCOMPLETE on decline); with one it is TRIAL until then.
   */
  createSubscription(input: SubscriptionInput): Subscription {
    this.customer(input.customerId);
    this.tokenOf(input.customerId, input.tokenId);
    const interval = this.billingIntervalOf(input.products);
    const now = this.clock.now();
    const anchor = input.startTime !== undefined && input.startTime > now ? input.startTime : now;
    const sub: Subscription = {
      subscriptionId: newId('sub_'),
      customerId: input.customerId,
      tokenId: input.tokenId,
      products: input.products.map((line) => ({ ...line })),
      totalBillingCycles: input.totalBillingCycles,
      state: 'INCOMPLETE',
      createdAt: now,
      startTime: anchor,
      interval,
      cycleIndex: 0,
      nextBillingTime: anchor,
      lastBillingTime: null,
      lastBillingStatus: null,
      retryAttempts: 0,
      pendingRetry: null,
      pendingCharge: null,
      orders: [],
      history: [],
    };
    this.store.subscriptions.set(sub.subscriptionId, sub);
    if (anchor > now) {
      this.transition(sub, 'TRIAL', now, 'created with a future start_time');
      this.scheduler.schedule('bill', sub.subscriptionId, anchor);
    } else {
      this.billCycle(sub, now, 'first payment');
    }
    this.store.touch();
    return sub;
  }

  /**
   * Changes a running subscription's token, products, total billing cycles, or (before the
   * first charge) start time.
   */
  updateSubscription(subscriptionId: string, changes: SubscriptionChanges): Subscription {
    const sub = this.subscription(subscriptionId);
    if (TERMINAL_STATES.has(sub.state)) {
      throw parameterError(`subscription ${subscriptionId} is ${sub.state} and cannot be updated`);
    }
    if (changes.tokenId !== undefined) this.tokenOf(sub.customerId, changes.tokenId);
    if (
      changes.products !== undefined &&
      !sameInterval(this.billingIntervalOf(changes.products), sub.interval)
    ) {
      throw parameterError('the new products must bill on the subscription’s interval');
    }
    const paid = paidCycles(sub);
    if (typeof changes.totalBillingCycles === 'number' && changes.totalBillingCycles < paid) {
      throw parameterError(`total_billing_cycles cannot be below the ${paid} cycles already paid`);
    }
    if (changes.startTime !== undefined && sub.orders.length > 0) {
      throw parameterError('start_time can only change before the first charge');
    }
    const at = this.clock.now();
    if (changes.tokenId !== undefined) sub.tokenId = changes.tokenId;
    if (changes.products !== undefined) sub.products = changes.products.map((line) => ({ ...line }));
    if (changes.totalBillingCycles !== undefined) sub.totalBillingCycles = changes.totalBillingCycles;
    if (sub.totalBillingCycles !== null && paid >= sub.totalBillingCycles) {
      this.transition(sub, 'COMPLETED', at, 'total_billing_cycles reached');
    } else if (changes.startTime !== undefined) {
      const anchor = Math.max(changes.startTime, at);
      sub.startTime = anchor;
      sub.nextBillingTime = anchor;
      if (anchor <= at) {
        this.billCycle(sub, at, 'start_time reached');
      } else {
        this.scheduler.schedule('bill', sub.subscriptionId, anchor);
      }
    }
    this.store.touch();
    return sub;
  }

  /** Subscriptions matching every given filter (`state` case-insensitively), oldest first. */
  querySubscriptions(filter: SubscriptionFilter): Subscription[] {
    const state = filter.state?.toUpperCase();
    return candidates(this.store.subscriptions, filter.subscriptionId).filter(
      (s) =>
        (filter.subscriptionId === undefined || s.subscriptionId === filter.subscriptionId) &&
        (filter.customerId === undefined || s.customerId === filter.customerId) &&
        (filter.tokenId === undefined || s.tokenId === filter.tokenId) &&
        (state === undefined || s.state === state),
    );
  }

  /** Cancels a running subscription at once (`1104` when it has already ended). */
  cancelSubscription(subscriptionId: string): Subscription {
    const sub = this.subscription(subscriptionId);
    if (TERMINAL_STATES.has(sub.state)) {
      throw parameterError(`subscription ${subscriptionId} is already ${sub.state}`);
    }
    this.transition(sub, 'CANCELLED', this.clock.now(), 'cancelled through the API');
    this.store.touch();
    return sub;
  }

  /** A subscription's orders, by sequence (`1136` for an unknown subscription). */
  listOrders(subscriptionId: string): SubscriptionOrder[] {
    return this.subscription(subscriptionId).orders;
  }

  /**
   * `/subscription/v1/charge`: charges a failed order now (seed 001). Allowed only in UNPAID,
   * INCOMPLETE or PAST_DUE with a failed order. Success before the order's next billing time →
   * ACTIVE (COMPLETED when that was the last cycle); success at or after it → CANCELLED; failure →
   * state unchanged.
   * @param subscriptionOrderId the order to charge; default the latest failed one
   * @param deferMs when given, answer "processing" and complete the charge this many emulator ms later
   */
  chargeSubscription(
    subscriptionId: string,
    subscriptionOrderId?: string,
    deferMs?: number,
  ): ManualChargeResult {
    const sub = this.subscription(subscriptionId);
    if (!MANUAL_CHARGE_STATES.has(sub.state)) {
      throw parameterError(`manual charge is not allowed in state ${sub.state}`);
    }
    const order = this.failedOrderToCharge(sub, subscriptionOrderId);
    if (sub.pendingCharge !== null && sub.pendingCharge.subscriptionOrderId === order.subscriptionOrderId) {
      return { subscription: sub, order, pending: true };
    }
    const at = this.clock.now();
    if (deferMs !== undefined) {
      sub.pendingCharge = {
        subscriptionOrderId: order.subscriptionOrderId,
        at: at + deferMs,
        requestedAt: at,
      };
      this.scheduler.schedule('pending_charge', sub.subscriptionId, sub.pendingCharge.at);
      this.store.touch();
      return { subscription: sub, order, pending: true };
    }
    const attempt = this.manualCharge(sub, order, at);
    this.store.touch();
    return { subscription: sub, order, attempt, pending: false };
  }

  // ---- emulator-only lifecycle controls ----

  /**
   * Pauses an ACTIVE subscription: its billing cycles pass without a charge until resumed.
   * @throws EmulatorRequestError 404 unknown subscription, 409 not ACTIVE
   */
  pauseSubscription(subscriptionId: string): Subscription {
    const sub = this.subscriptionForControl(subscriptionId);
    if (sub.state !== 'ACTIVE') {
      throw new EmulatorRequestError(
        409,
        'invalid_state',
        `only an ACTIVE subscription can be paused, not ${sub.state}`,
      );
    }
    this.transition(sub, 'PAUSED', this.clock.now(), 'paused (emulator control)');
    this.store.touch();
    return sub;
  }

  /**
   * Resumes a PAUSED subscription: ACTIVE, billing again from the next cycle.
   * @throws EmulatorRequestError 404 unknown subscription, 409 not PAUSED
   */
  resumeSubscription(subscriptionId: string): Subscription {
    const sub = this.subscriptionForControl(subscriptionId);
    if (sub.state !== 'PAUSED') {
      throw new EmulatorRequestError(
        409,
        'invalid_state',
        `only a PAUSED subscription can be resumed, not ${sub.state}`,
      );
    }
    this.transition(sub, 'ACTIVE', this.clock.now(), 'resumed (emulator control)');
    this.store.touch();
    return sub;
  }

  /**
   * A subscription for the inspection API.
   * @throws EmulatorRequestError 404 when unknown
   */
  subscriptionForControl(subscriptionId: string): Subscription {
    const sub = this.store.subscriptions.get(subscriptionId);
    if (sub === undefined) {
      throw new EmulatorRequestError(
        404,
        'subscription_not_found',
        `subscription ${subscriptionId} does not exist`,
      );
    }
    return sub;
  }

  // ---- scheduled events ----

  /**
   * Processes a scheduled state event at its time, if the subscription still expects it
   * (a rescheduled or cancelled subscription leaves stale events behind; they are ignored).
   * @returns whether the event changed anything
   */
  handleEvent(event: ScheduledEvent<StateEventKind>): boolean {
    const sub = this.store.subscriptions.get(event.ref);
    if (sub === undefined || TERMINAL_STATES.has(sub.state)) return false;
    const at = event.at;
    let handled = false;
    switch (event.kind) {
      case 'bill':
        if (sub.nextBillingTime === at) {
          this.onBillingTime(sub, at);
          handled = true;
        }
        break;
      case 'retry':
        if (sub.pendingRetry !== null && sub.pendingRetry.at === at) {
          this.onRetry(sub, at);
          handled = true;
        }
        break;
      case 'pending_charge':
        if (sub.pendingCharge !== null && sub.pendingCharge.at === at) {
          this.onPendingChargeDue(sub, at);
          handled = true;
        }
        break;
    }
    if (handled) this.store.touch();
    return handled;
  }

  /** Puts every subscription's future events back on the agenda (after loading a state file). */
  rescheduleAll(): void {
    for (const sub of this.store.subscriptions.values()) {
      if (TERMINAL_STATES.has(sub.state)) continue;
      if (sub.nextBillingTime !== null)
        this.scheduler.schedule('bill', sub.subscriptionId, sub.nextBillingTime);
      if (sub.pendingRetry !== null)
        this.scheduler.schedule('retry', sub.subscriptionId, sub.pendingRetry.at);
      if (sub.pendingCharge !== null) {
        this.scheduler.schedule('pending_charge', sub.subscriptionId, sub.pendingCharge.at);
      }
    }
  }

  private onBillingTime(sub: Subscription, at: number): void {
    switch (sub.state) {
      case 'INCOMPLETE':
        this.transition(sub, 'INCOMPLETE_EXPIRED', at, 'no successful payment by the next billing time');
        return;
      case 'PAUSED':
        // The cycle passes unbilled; the schedule keeps its anchor.
        sub.cycleIndex += 1;
        sub.nextBillingTime = this.billingTimeOf(sub, sub.cycleIndex);
        this.scheduler.schedule('bill', sub.subscriptionId, sub.nextBillingTime);
        return;
      case 'TRIAL':
        this.billCycle(sub, at, 'trial ended: first payment');
        return;
      default:
        this.billCycle(sub, at, 'recurring payment');
    }
  }

  /** Opens the order of the next billing cycle and charges it. */
  private billCycle(sub: Subscription, at: number, reason: string): void {
    const isFirstPayment = sub.orders.length === 0;
    const order = this.openOrder(sub);
    sub.cycleIndex += 1;
    sub.nextBillingTime = order.deadline;
    sub.pendingRetry = null;
    sub.retryAttempts = 0;
    const attempt = this.charge(sub, order, 'auto', 'cycle', at);
    if (attempt.approved) {
      this.activateOrComplete(sub, at, `${reason} succeeded`);
    } else if (isFirstPayment) {
      this.transition(sub, 'INCOMPLETE', at, `${reason} failed`);
    } else {
      // With no retry to make (none configured, or none fits before the next billing time)
      // nothing is ever "exhausted": the subscription stays PAST_DUE until the next cycle.
      this.transition(sub, 'PAST_DUE', at, `${reason} failed`);
      this.scheduleRetry(sub, order, 1, at);
    }
    if (!TERMINAL_STATES.has(sub.state) && sub.nextBillingTime !== null) {
      this.scheduler.schedule('bill', sub.subscriptionId, sub.nextBillingTime);
    }
  }

  private onRetry(sub: Subscription, at: number): void {
    const retry = sub.pendingRetry;
    sub.pendingRetry = null;
    if (retry === null || sub.state !== 'PAST_DUE') return;
    const order = sub.orders.find((o) => o.subscriptionOrderId === retry.subscriptionOrderId);
    if (order === undefined || order.status !== 'FAILED') return;
    sub.retryAttempts += 1;
    const attempt = this.charge(sub, order, 'auto', 'retry', at);
    if (attempt.approved) {
      this.activateOrComplete(sub, at, `QFPay retry ${retry.retryNumber} succeeded`);
    } else if (!this.scheduleRetry(sub, order, retry.retryNumber + 1, at)) {
      this.transition(sub, 'UNPAID', at, 'QFPay retries exhausted');
    }
  }

  private onPendingChargeDue(sub: Subscription, at: number): void {
    const pending = sub.pendingCharge;
    sub.pendingCharge = null;
    if (pending === null) return;
    const order = sub.orders.find((o) => o.subscriptionOrderId === pending.subscriptionOrderId);
    if (!MANUAL_CHARGE_STATES.has(sub.state) || order === undefined || order.status !== 'FAILED') {
      this.logger.info(
        { subscriptionId: sub.subscriptionId, state: sub.state },
        'pending manual charge no longer applicable; not charged',
      );
      return;
    }
    this.manualCharge(sub, order, at);
  }

  private manualCharge(sub: Subscription, order: SubscriptionOrder, at: number): ChargeAttempt {
    const attempt = this.charge(sub, order, 'manual', 'manual', at);
    if (!attempt.approved) return attempt;
    if (at >= order.deadline) {
      this.transition(sub, 'CANCELLED', at, 'manual charge succeeded after the next billing time');
      return attempt;
    }
    if (sub.pendingRetry?.subscriptionOrderId === order.subscriptionOrderId) sub.pendingRetry = null;
    this.activateOrComplete(sub, at, 'manual charge succeeded');
    return attempt;
  }

  private failedOrderToCharge(sub: Subscription, subscriptionOrderId: string | undefined): SubscriptionOrder {
    if (subscriptionOrderId !== undefined) {
      const order = sub.orders.find((o) => o.subscriptionOrderId === subscriptionOrderId);
      if (order === undefined) {
        throw new QfpayApiError(
          'order_not_found',
          `order ${subscriptionOrderId} not found for subscription ${sub.subscriptionId}`,
        );
      }
      if (order.status !== 'FAILED') throw parameterError(`order ${subscriptionOrderId} is ${order.status}`);
      return order;
    }
    for (let i = sub.orders.length - 1; i >= 0; i -= 1) {
      const order = sub.orders[i];
      if (order?.status === 'FAILED') return order;
    }
    throw parameterError(`subscription ${sub.subscriptionId} has no failed order`);
  }

  private activateOrComplete(sub: Subscription, at: number, reason: string): void {
    if (sub.totalBillingCycles !== null && paidCycles(sub) >= sub.totalBillingCycles) {
      this.transition(sub, 'COMPLETED', at, `${reason}; all ${sub.totalBillingCycles} billing cycles paid`);
    } else {
      this.transition(sub, 'ACTIVE', at, reason);
    }
  }

  /** Schedules QFPay's retry number `retryNumber` of a failed order; false when none is left before the deadline. */
  private scheduleRetry(
    sub: Subscription,
    order: SubscriptionOrder,
    retryNumber: number,
    now: number,
  ): boolean {
    const fraction = this.retryFractions[retryNumber - 1];
    const failedAt = order.attempts[0]?.at ?? order.billingTime;
    if (fraction === undefined) return false;
    const at = failedAt + Math.round(fraction * (order.deadline - order.billingTime));
    if (at <= now || at >= order.deadline) return false;
    sub.pendingRetry = { subscriptionOrderId: order.subscriptionOrderId, at, retryNumber };
    this.scheduler.schedule('retry', sub.subscriptionId, at);
    return true;
  }

  private openOrder(sub: Subscription): SubscriptionOrder {
    const sequenceNo = sub.orders.length + 1;
    const { txamt, txcurrcd } = this.amountOf(sub.products);
    const order: SubscriptionOrder = {
      subscriptionOrderId: subscriptionOrderId(sub.subscriptionId, sequenceNo),
      sequenceNo,
      cycleIndex: sub.cycleIndex,
      billingTime: this.billingTimeOf(sub, sub.cycleIndex),
      deadline: this.billingTimeOf(sub, sub.cycleIndex + 1),
      status: 'FAILED',
      txamt,
      txcurrcd,
      attempts: [],
      paidAt: null,
    };
    sub.orders.push(order);
    return order;
  }

  /** Charges the subscription's token for an order, records the attempt, notifies `subscription_payment`. */
  private charge(
    sub: Subscription,
    order: SubscriptionOrder,
    trigger: ChargeTrigger,
    kind: ChargeAttempt['kind'],
    at: number,
  ): ChargeAttempt {
    const token = this.store.tokens.get(sub.tokenId);
    const behaviour: ChargeBehaviour = token
      ? behaviourAt(token, at)
      : { charges: 'decline', respcd: DEFAULT_DECLINE_RESPCD };
    const approved = behaviour.charges === 'approve';
    const respcd = behaviour.charges === 'approve' ? '0000' : behaviour.respcd;
    const attempt: ChargeAttempt = {
      at,
      trigger,
      kind,
      approved,
      respcd,
      respmsg: paymentMessage(respcd),
      syssn: this.newSyssn(at),
      txamt: order.txamt,
      txcurrcd: order.txcurrcd,
    };
    order.attempts.push(attempt);
    if (approved) {
      order.status = 'PAID';
      order.paidAt = at;
    }
    sub.lastBillingTime = at;
    sub.lastBillingStatus = approved ? 'SUCCESS' : 'FAILED';
    this.notifier.emit(
      'subscription_payment',
      {
        notify_type: 'subscription_payment',
        subscription_id: sub.subscriptionId,
        subscription_order_id: order.subscriptionOrderId,
        respcd,
        respmsg: attempt.respmsg,
        syssn: attempt.syssn,
        txdtm: this.naive(at),
        txamt: String(order.txamt),
        txcurrcd: order.txcurrcd,
        customer_id: sub.customerId,
        product_id: sub.products.map((line) => line.productId).join(','),
        cardcd: token?.cardcd ?? '',
        ...(approved && { card_scheme: token?.cardScheme ?? '' }),
        current_iteration: String(order.sequenceNo),
        reason: approved ? 'AUTHORISED' : 'REFUSED',
      },
      at,
      { subscriptionId: sub.subscriptionId, customerId: sub.customerId, tokenId: sub.tokenId },
    );
    return attempt;
  }

  /** Moves a subscription to a state, records it and notifies `subscription` (only on a real change). */
  private transition(sub: Subscription, to: SubscriptionState, at: number, reason: string): void {
    const from = sub.history.length === 0 ? null : sub.state;
    if (from === to) return;
    sub.state = to;
    sub.history.push({ at, from, to, reason });
    if (TERMINAL_STATES.has(to)) {
      sub.nextBillingTime = null;
      sub.pendingRetry = null;
      sub.pendingCharge = null;
    }
    this.notifier.emit(
      'subscription',
      { notify_type: 'subscription', subscription_id: sub.subscriptionId, state: to, sysdtm: this.naive(at) },
      at,
      { subscriptionId: sub.subscriptionId, customerId: sub.customerId },
    );
  }

  private billingTimeOf(sub: Subscription, cycleIndex: number): number {
    return addIntervals(sub.startTime, sub.interval, cycleIndex, this.options.timeOffset);
  }

  /** The common billing interval of a subscription's products (all recurring, one interval, one currency). */
  private billingIntervalOf(lines: ProductLine[]): BillingInterval {
    if (lines.length === 0) throw parameterError('products must list at least one product');
    let interval: BillingInterval | undefined;
    let currency: string | undefined;
    for (const line of lines) {
      const product = this.product(line.productId);
      if (
        product.type !== 'recurring' ||
        product.interval === undefined ||
        product.intervalCount === undefined
      ) {
        throw parameterError(`product ${product.productId} is not a recurring product`);
      }
      const own = productInterval(product);
      if (interval !== undefined && !sameInterval(interval, own)) {
        throw parameterError('all products of a subscription must have the same interval');
      }
      if (currency !== undefined && currency !== product.txcurrcd) {
        throw parameterError('all products of a subscription must have the same currency');
      }
      interval = own;
      currency = product.txcurrcd;
    }
    if (interval === undefined) throw parameterError('products must list at least one product');
    return interval;
  }

  private amountOf(lines: ProductLine[]): { txamt: number; txcurrcd: string } {
    let txamt = 0;
    let txcurrcd = '';
    for (const line of lines) {
      const product = this.store.products.get(line.productId);
      if (product === undefined) continue;
      txamt += product.txamt * line.quantity;
      txcurrcd = product.txcurrcd;
    }
    return { txamt, txcurrcd };
  }

  private newSyssn(at: number): string {
    const date = this.naive(at).slice(0, 10).replace(/-/g, '');
    return `${date}${String(this.store.nextSyssnCounter()).padStart(18, '0')}`;
  }

  private naive(at: number): string {
    return formatQfpayNaiveTime(at, this.options.timeOffset);
  }

  private customer(customerId: string): Customer {
    const customer = this.store.customers.get(customerId);
    if (customer === undefined) throw notFound(`customer ${customerId} not found`);
    return customer;
  }

  private product(productId: string): Product {
    const product = this.store.products.get(productId);
    if (product === undefined) throw notFound(`product ${productId} not found`);
    return product;
  }

  private subscription(subscriptionId: string): Subscription {
    const sub = this.store.subscriptions.get(subscriptionId);
    if (sub === undefined) throw notFound(`subscription ${subscriptionId} not found`);
    return sub;
  }

  private tokenOf(customerId: string, tokenId: string): PaymentToken {
    const token = this.store.tokens.get(tokenId);
    if (token === undefined) throw notFound(`token ${tokenId} not found`);
    if (token.customerId !== customerId) throw parameterError(`token ${tokenId} belongs to another customer`);
    return token;
  }
}

/** The records a query by id can match: the one with that id, or all of them. */
function candidates<T>(records: Map<string, T>, id: string | undefined): T[] {
  if (id === undefined) return [...records.values()];
  const record = records.get(id);
  return record === undefined ? [] : [record];
}

/** A recurring product's interval (products are validated when created). */
function productInterval(product: Product): BillingInterval {
  const unit = parseIntervalUnit(product.interval ?? '');
  if (unit === undefined) throw parameterError(`product ${product.productId} has an unknown interval`);
  return { unit, count: product.intervalCount ?? 1 };
}
