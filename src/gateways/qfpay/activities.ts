/**
 * QFPay's calls, as the worker's activities run them: the subscription calls behind the port
 * ({@link qfpayAdapter}) and QFPay's own creation (customers, products, tokens). Each maps QFPay's answer into what the workflows need and turns a
 * `QfpayError` into a Temporal failure with a stable `type`: transient errors stay retryable,
 * permanent ones do not, and a charge whose outcome is unknown is reported as `pending` so the
 * workflow confirms it by query instead of charging again.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { QfpayClient } from './client';
import { classifyRespcd, isQfpayError } from './errors';
import {
  orderSequenceFromOrderId,
  qfpayTimeToMs,
  subscriptionTimesMs,
  type BillingOrder,
  type Subscription,
} from './schemas';
import { toSubscriptionState } from './facts';
import { qfpayProducts, qfpayScheduleOf } from './plan';
import type { RemoteOrder, RemoteSubscription, SubscriptionState } from '../../domain/lifecycle/lifecycle';
import { QFPAY_CAPABILITIES, QFPAY_GATEWAY } from '../../domain/gateway-profile';
import type { ChargeOutcome, ConfirmOutcome, SyncResult } from '../../domain/gateway-answers';
import { GatewayError, type GatewayAdapter, type GatewayObserver } from '../port';

/** A customer to create at QFPay. */
export interface QfpayCustomerInput {
  name?: string;
  email?: string;
  phone?: string;
  billingAddress?: Record<string, unknown>;
  /** The test clock it is made on (the emulator's world of that clock); absent: none. */
  testClock?: string;
}

/** A recurring product to create at QFPay. */
export interface QfpayProductInput {
  name: string;
  description?: string;
  amount: number;
  currency: string;
  interval: string;
  intervalCount: number;
  /** The test clock it is made on (the emulator's world of that clock); absent: none. */
  testClock?: string;
}

/** Every call QFPay's activities make: the subscription calls, and QFPay's own creation. */
export interface QfpayActivities {
  syncSubscription: GatewayAdapter['sync'];
  cancelSubscription: GatewayAdapter['cancel'];
  updateSubscription: NonNullable<GatewayAdapter['update']>;
  chargeOrder: NonNullable<GatewayAdapter['charge']>;
  confirmCharge: NonNullable<GatewayAdapter['confirmCharge']>;
  /** The ids of the subscriptions a customer already has on a token (before a creation begins). */
  listSubscriptionIds(input: { customerId: string; tokenId: string }): Promise<string[]>;
  ensureCustomer(input: QfpayCustomerInput): Promise<string>;
  ensureProduct(input: QfpayProductInput): Promise<string>;
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

/** QFPay's own creation, beside the port. */
export type QfpayCreationActivities = Pick<
  QfpayActivities,
  'listSubscriptionIds' | 'ensureCustomer' | 'ensureProduct' | 'findOrCreateSubscription'
>;

/** Billing-order page size: QFPay's maximum. */
const ORDER_PAGE_SIZE = 100;
/** Most billing-order pages read at once (from the page of the first order wanted, forward). */
const MAX_ORDER_PAGES = 10;
/** How far QFPay's clock and ours may disagree when matching an order's attempt to our charge. */
const CLOCK_SKEW_MS = 5_000;

/** The Temporal failure for a QFPay error: retryable only when QFPay said "try again". */
export function qfpayFailure(err: unknown, observer?: GatewayObserver): unknown {
  if (!isQfpayError(err)) return err;
  observer?.failure?.({ kind: err.kind, reason: err.reason });
  return ApplicationFailure.create({
    type: `QfpayError:${err.reason}`,
    message: err.message,
    nonRetryable: err.kind !== 'transient',
    details: [err.toJSON()],
    cause: err,
    nextRetryDelay: err.retryAfterMs,
  });
}

function activitySignal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined; // called outside an activity (tests, scripts)
  }
}

/**
 * The order as an earlier try of this charge activity saw it before sending its charge (its
 * heartbeat's details), or undefined on a first try (or outside an activity).
 */
export function orderBeforeEarlierTry(): string | undefined {
  try {
    const details: unknown = Context.current().info.heartbeatDetails;
    return typeof details === 'string' ? details : undefined;
  } catch {
    return undefined;
  }
}

/** Records, for a later try of this activity, the order as it is before the charge is sent. */
export function recordOrderBeforeSending(before: string): void {
  try {
    Context.current().heartbeat(before);
  } catch {
    // outside an activity (tests, scripts): no later try to tell
  }
}

function attempt(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1;
  }
}

function remoteSubscription(row: Subscription, offset: string): RemoteSubscription {
  const state = toSubscriptionState(row.state);
  if (!state) {
    throw ApplicationFailure.nonRetryable(
      `QFPay reported an unknown state "${row.state}"`,
      'QfpayUnknownState',
    );
  }
  const times = subscriptionTimesMs(row, offset);
  return {
    state,
    customerId: row.customer_id,
    tokenId: row.token_id,
    totalBillingCycles: row.total_billing_cycles ?? null,
    completedCycles: row.completed_billing_iteration ?? 0,
    nextBillingTime: times.nextBillingTime,
    lastBillingTime: times.lastBillingTime,
    lastBillingStatus: row.last_billing_status,
    retryAttempts: row.retry_attempts,
    startTime: times.startTime,
    productIds: row.products?.map((p) => p.product_id),
  };
}

function remoteOrder(row: BillingOrder, offset: string): RemoteOrder {
  const status = row.status?.toUpperCase();
  return {
    orderId: row.subscription_order_id,
    sequenceNo: row.sequence_no,
    triggerBy: row.trigger_by === 'manual' ? 'manual' : row.trigger_by === 'auto' ? 'auto' : undefined,
    status: status === 'PAID' || status === 'SUCCESS' ? 'PAID' : status === 'FAILED' ? 'FAILED' : undefined,
    respcd: row.respcd,
    at: qfpayTimeToMs(row.txdtm, offset) ?? qfpayTimeToMs(row.charged_at, offset),
    amount: row.txamt,
    currency: row.txcurrcd,
  };
}

export interface QfpayActivityDeps {
  client: QfpayClient;
  /** Zone of QFPay's naive times (`QFPAY_TIME_OFFSET`). */
  timeOffset: string;
  now?: () => number;
  /** Told of each call that fails with QFPay's error (the worker's metrics). */
  observer?: GatewayObserver;
}

/** Runs a QFPay call, its failure as Temporal should see it. */
function caller(observer: GatewayObserver | undefined) {
  return async function call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw qfpayFailure(err, observer);
    }
  };
}

/** Builds the QFPay activities around one client (dependencies injected, as in tests). */
export function createQfpayActivities(deps: QfpayActivityDeps): QfpayActivities {
  return { ...qfpaySubscriptionCalls(deps), ...qfpayCreationCalls(deps) };
}

/** The subscription calls behind the port: sync, cancel, update, charge and its confirmation. */
function qfpaySubscriptionCalls({
  client,
  timeOffset,
  now = Date.now,
  observer,
}: QfpayActivityDeps): Omit<QfpayActivities, keyof QfpayCreationActivities> {
  const toFailure = (err: unknown): unknown => qfpayFailure(err, observer);
  const call = caller(observer);

  async function findSubscription(subscriptionId: string): Promise<Subscription | undefined> {
    const page = await client.querySubscriptions(
      { subscription_id: subscriptionId, page: 1, page_size: 10 },
      { signal: activitySignal() },
    );
    return page.items.find((s) => s.subscription_id === subscriptionId);
  }

  /**
   * The orders from sequence `since` on, newest first. QFPay's list has no sort parameter and no
   * total; it lists a subscription's orders by sequence number, one row per order (as its
   * sequence-numbered ids suggest), so order `n` is on page `ceil(n / 100)`. Reading starts at
   * the page of `since` and goes forward to the last, short, page; if that page starts later than
   * `since` (the assumption does not hold), it steps back one page at a time.
   */
  async function ordersSince(subscriptionId: string, since: number): Promise<BillingOrder[]> {
    const read = async (page: number) =>
      (
        await client.listBillingOrders(
          { subscription_id: subscriptionId, page, page_size: ORDER_PAGE_SIZE },
          { signal: activitySignal() },
        )
      ).items;
    const first = Math.max(1, Math.ceil(since / ORDER_PAGE_SIZE));
    const rows: BillingOrder[] = [];
    let page = first;
    for (let n = 0; n < MAX_ORDER_PAGES; n += 1, page += 1) {
      const items = await read(page);
      rows.push(...items);
      if (items.length < ORDER_PAGE_SIZE) break;
    }
    for (let back = first - 1; back >= 1 && !rows.some((o) => o.sequence_no <= since); back -= 1) {
      const items = await read(back);
      if (items.length === 0) break;
      rows.push(...items);
    }
    return rows.filter((o) => o.sequence_no >= since).sort((a, b) => b.sequence_no - a.sequence_no);
  }

  async function findOrder(subscriptionId: string, orderId: string): Promise<BillingOrder | undefined> {
    const sequence = orderSequenceFromOrderId(orderId) ?? 1;
    return (await ordersSince(subscriptionId, sequence)).find((o) => o.subscription_order_id === orderId);
  }

  /** What changes when QFPay records an attempt on an order (independent of either clock). */
  const fingerprint = (row: BillingOrder | undefined) =>
    row === undefined ? 'absent' : [row.status, row.respcd, row.syssn, row.txdtm, row.attempts].join('|');

  function noAnswer(
    orderId: string,
    outcome: 'unknown' | 'not_sent',
    detail: string,
    before?: string,
  ): ChargeOutcome {
    return {
      orderId,
      sequenceNo: orderSequenceFromOrderId(orderId) ?? 0,
      outcome,
      at: now(),
      detail,
      ...(before === undefined ? {} : { orderBefore: before }),
    };
  }

  const isPaid = (row: BillingOrder) => ['PAID', 'SUCCESS'].includes(row.status?.toUpperCase() ?? '');

  /**
   * The attempt a declined charge made, from the order's row when QFPay's answer did not name it:
   * the row shows the order's last attempt, which is this one when it changed since the charge was
   * sent and carries the same code. Undefined when that cannot be told (or the look fails).
   */
  async function declinedAttempt(
    subscriptionId: string,
    orderId: string,
    respcd: string,
    before: string,
  ): Promise<{ syssn?: string; txdtm?: string } | undefined> {
    const row = await findOrder(subscriptionId, orderId).catch(() => undefined);
    if (!row || fingerprint(row) === before || row.respcd !== respcd) return undefined;
    return {
      ...(row.syssn ? { syssn: row.syssn } : {}),
      ...(row.txdtm ? { txdtm: row.txdtm } : {}),
    };
  }

  function paidOutcome(
    orderId: string,
    row: BillingOrder,
    extra: Partial<ChargeOutcome> = {},
  ): ChargeOutcome {
    return chargeOutcome(orderId, '0000', {
      syssn: row.syssn,
      amount: row.txamt,
      currency: row.txcurrcd,
      txdtm: row.txdtm ?? undefined,
      ...extra,
    });
  }

  function chargeOutcome(
    orderId: string,
    respcd: string,
    extra: Partial<ChargeOutcome> & { txdtm?: string },
  ): ChargeOutcome {
    const kind =
      respcd === '0000' ? 'succeeded' : classifyRespcd(respcd).kind === 'pending' ? 'pending' : 'failed';
    const { txdtm, ...rest } = extra;
    const qfpayAt = qfpayTimeToMs(txdtm, timeOffset);
    return {
      orderId,
      sequenceNo: orderSequenceFromOrderId(orderId) ?? 0,
      outcome: kind,
      respcd,
      ...rest,
      at: qfpayAt ?? now(),
      ...(qfpayAt === undefined ? {} : { atFromQfpay: true as const }),
    };
  }

  return {
    async syncSubscription(subscriptionId, options = {}): Promise<SyncResult> {
      return call(async () => {
        const row = await findSubscription(subscriptionId);
        if (!row) return { found: false, subscriptionId, at: now() };
        const products = await qfpayProducts(
          client,
          (row.products ?? []).map((line) => line.product_id),
          { signal: activitySignal() },
        );
        const schedule = qfpayScheduleOf(row, products, timeOffset);
        const remote = { ...remoteSubscription(row, timeOffset), ...(schedule ? { schedule } : {}) };
        // A workflow that knows no order yet (an adopted subscription) reads from the current cycle.
        const since = options.sinceSequence ?? Math.max(1, remote.completedCycles);
        const orders = (await ordersSince(subscriptionId, since)).map((o) => remoteOrder(o, timeOffset));
        // The answer is at least as new as the latest event it reports. Stamping it with that
        // (not only our clock) keeps it ordered after those events when QFPay's clock runs ahead
        // of ours (clock skew, or the emulator's test clock).
        const at = Math.max(now(), remote.lastBillingTime ?? 0, ...orders.map((o) => o.at ?? 0));
        return { found: true, fact: { kind: 'sync', subscriptionId, at, remote, orders, source: 'query' } };
      });
    },

    async cancelSubscription(subscriptionId) {
      try {
        await client.cancelSubscription({ subscription_id: subscriptionId }, { signal: activitySignal() });
      } catch (err) {
        // A retried cancel after a lost response: QFPay refuses to cancel twice. Check.
        if (isQfpayError(err) && err.kind === 'permanent' && err.reason === 'validation') {
          const row = await call(() => findSubscription(subscriptionId));
          if (row && toSubscriptionState(row.state) === 'CANCELLED') return { at: now() };
        }
        throw toFailure(err);
      }
      return { at: now() };
    },

    async updateSubscription({ subscriptionId, tokenId, totalBillingCycles, products }) {
      await call(() =>
        client.updateSubscription(
          {
            subscription_id: subscriptionId,
            token_id: tokenId,
            total_billing_cycles: totalBillingCycles,
            products: products?.map((p) => ({ product_id: p.productId, quantity: p.quantity })),
          },
          { signal: activitySignal() },
        ),
      );
      return { at: now() };
    },

    async chargeOrder({ subscriptionId, orderId, notAfter }): Promise<ChargeOutcome> {
      // Look first: a retried attempt may follow a charge that went through.
      const row = await call(() => findOrder(subscriptionId, orderId));
      if (row && isPaid(row)) return paidOutcome(orderId, row, { alreadyPaid: true });
      // An earlier try whose answer was lost (its worker gone) may have charged: an attempt QFPay
      // recorded since that try looked is its answer. Charging again would be a second attempt.
      const earlier = orderBeforeEarlierTry();
      if (earlier !== undefined && row?.respcd && fingerprint(row) !== earlier) {
        return {
          ...chargeOutcome(orderId, row.respcd, {
            ...(row.syssn ? { syssn: row.syssn } : {}),
            ...(row.txdtm ? { txdtm: row.txdtm } : {}),
          }),
          outcome: 'failed',
        };
      }
      if (now() >= notAfter)
        return noAnswer(orderId, 'not_sent', 'the charge window closed before it could be sent');
      const before = fingerprint(row);
      recordOrderBeforeSending(before);
      try {
        const data = await client.chargeSubscription(
          { subscription_id: subscriptionId, subscription_order_id: orderId },
          { signal: activitySignal() },
        );
        return chargeOutcome(data?.subscription_order_id ?? orderId, data?.respcd ?? '0000', {
          syssn: data?.syssn,
          amount: data?.txamt,
          currency: data?.txcurrcd,
          txdtm: data?.txdtm,
        });
      } catch (err) {
        if (!isQfpayError(err)) throw err;
        // QFPay said "processing": confirm later, never repeat.
        if (err.kind === 'pending') {
          return chargeOutcome(orderId, err.respcd ?? '1145', { respmsg: err.message, orderBefore: before });
        }
        // No answer: the charge may have happened. Confirm by looking, never repeat blindly.
        if (['timeout', 'network', 'server_error'].includes(err.reason)) {
          return noAnswer(orderId, 'unknown', `no answer from QFPay (${err.reason})`, before);
        }
        if (err.reason === 'rate_limited') throw toFailure(err);
        // A payment refused by the card or the bank is an answer, not an error. It is the attempt
        // QFPay's notification reports too: named by its syssn and time, so that both are one fact.
        if (err.respcd && (err.reason === 'declined' || err.kind === 'transient')) {
          const payment = err.payment ?? (await declinedAttempt(subscriptionId, orderId, err.respcd, before));
          return {
            ...chargeOutcome(orderId, err.respcd, {
              respmsg: err.respmsg,
              ...(payment?.syssn === undefined ? {} : { syssn: payment.syssn }),
              ...(payment?.txdtm === undefined ? {} : { txdtm: payment.txdtm }),
            }),
            outcome: 'failed',
          };
        }
        throw toFailure(err);
      }
    },

    async confirmCharge({ subscriptionId, orderId, sentAt, orderBefore }): Promise<ConfirmOutcome> {
      return call(async () => {
        const row = await findOrder(subscriptionId, orderId);
        if (!row) return { status: 'unknown' };
        if (isPaid(row)) return { status: 'paid', charge: paidOutcome(orderId, row) };
        const lastAttemptAt =
          qfpayTimeToMs(row.txdtm, timeOffset) ?? qfpayTimeToMs(row.charged_at, timeOffset);
        const attemptSince =
          orderBefore !== undefined
            ? fingerprint(row) !== orderBefore
            : lastAttemptAt !== undefined && lastAttemptAt >= sentAt - CLOCK_SKEW_MS;
        // A failed attempt QFPay recorded since the charge was sent is that charge's answer.
        if (attemptSince && row.respcd) {
          const failed = chargeOutcome(orderId, row.respcd, {
            syssn: row.syssn,
            txdtm: row.txdtm ?? undefined,
          });
          return { status: 'failed', charge: { ...failed, outcome: 'failed' } };
        }
        return { status: 'unknown' };
      });
    },
  };
}

/** QFPay's own creation: customers, products, and a subscription found again on a retry. */
function qfpayCreationCalls({
  client,
  now = Date.now,
  observer,
}: QfpayActivityDeps): QfpayCreationActivities {
  const call = caller(observer);
  return {
    async listSubscriptionIds({ customerId, tokenId }) {
      return call(async () => {
        const ids: string[] = [];
        for (let page = 1; page <= MAX_ORDER_PAGES; page += 1) {
          const result = await client.querySubscriptions(
            { customer_id: customerId, token_id: tokenId, page, page_size: 100 },
            { signal: activitySignal() },
          );
          ids.push(...result.items.map((s) => s.subscription_id));
          if (result.items.length < 100) break;
        }
        return ids;
      });
    },

    async ensureCustomer(input) {
      const onClock = input.testClock === undefined ? {} : { testClock: input.testClock };
      return call(async () => {
        if (attempt() > 1 && (input.email || input.phone)) {
          const page = await client.queryCustomers(
            { email: input.email, phone: input.phone, page: 1, page_size: 100 },
            onClock,
          );
          const match = page.items.find(
            (c) => (c.name ?? undefined) === input.name && (c.email ?? undefined) === input.email,
          );
          if (match) return match.customer_id;
        }
        const created = await client.createCustomer(
          { name: input.name, email: input.email, phone: input.phone, billing_address: input.billingAddress },
          { signal: activitySignal(), ...onClock },
        );
        return created.customer_id;
      });
    },

    async ensureProduct(input) {
      const onClock = input.testClock === undefined ? {} : { testClock: input.testClock };
      return call(async () => {
        // Identical recurring products are interchangeable: reuse one rather than make a twin.
        const page = await client.queryProducts(
          { name: input.name, txcurrcd: input.currency, page: 1, page_size: 100 },
          onClock,
        );
        const match = page.items.find(
          (p) =>
            p.name === input.name &&
            p.txamt === input.amount &&
            p.interval === input.interval &&
            p.interval_count === input.intervalCount,
        );
        if (match) return match.product_id;
        const created = await client.createProduct(
          {
            name: input.name,
            description: input.description,
            type: 'recurring',
            txamt: input.amount,
            txcurrcd: input.currency,
            interval: input.interval,
            interval_count: input.intervalCount,
          },
          { signal: activitySignal(), ...onClock },
        );
        return created.product_id;
      });
    },

    async findOrCreateSubscription(input) {
      return call(async () => {
        if (attempt() > 1) {
          // An earlier attempt may have created it and lost the answer: look before creating.
          const page = await client.querySubscriptions({
            customer_id: input.customerId,
            token_id: input.tokenId,
            page: 1,
            page_size: 100,
          });
          // Never one that existed before this creation began: that is somebody else's plan.
          const existing = page.items.find(
            (s) =>
              !input.existingIds.includes(s.subscription_id) &&
              s.customer_id === input.customerId &&
              s.token_id === input.tokenId &&
              (s.products ?? []).some((p) => p.product_id === input.productId),
          );
          if (existing) {
            return {
              subscriptionId: existing.subscription_id,
              state: toSubscriptionState(existing.state) ?? 'UNKNOWN',
              reusedExisting: true,
              at: now(),
            };
          }
        }
        const created = await client.createSubscription(
          {
            customer_id: input.customerId,
            token_id: input.tokenId,
            products: [{ product_id: input.productId, quantity: input.quantity }],
            total_billing_cycles: input.totalBillingCycles,
            start_time: input.startTime,
          },
          { signal: activitySignal() },
        );
        return {
          subscriptionId: created.subscription_id,
          state: toSubscriptionState(created.state) ?? 'UNKNOWN',
          reusedExisting: false,
          at: now(),
        };
      });
    },
  };
}

/**
 * QFPay behind the port: its subscription activities as a gateway adapter, so that the workflows'
 * calls reach QFPay as they reach every other gateway. Its creation stays its own (customers,
 * products and tokens: `QfpayCreationActivities`); its failures keep QFPay's types.
 */
export function qfpayAdapter(
  activities: QfpayActivities,
  reads: Pick<GatewayAdapter, 'plan' | 'orders'> = {},
): GatewayAdapter {
  return {
    name: QFPAY_GATEWAY,
    capabilities: QFPAY_CAPABILITIES,
    create() {
      return Promise.reject(
        new GatewayError(
          'QFPay subscriptions are created by their own workflow (customers, products, tokens)',
          false,
        ),
      );
    },
    sync: (subscriptionId, options) => activities.syncSubscription(subscriptionId, options),
    cancel: (subscriptionId) => activities.cancelSubscription(subscriptionId),
    update: (input) => activities.updateSubscription(input),
    charge: (input) => activities.chargeOrder(input),
    confirmCharge: (input) => activities.confirmCharge(input),
    ...reads,
  };
}
