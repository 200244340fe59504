/**
 * Activities that call QFPay. Each maps QFPay's answer into what the workflows need and turns a
 * `QfpayError` into a Temporal failure with a stable `type`: transient errors stay retryable,
 * permanent ones do not, and a charge whose outcome is unknown is reported as `pending` so the
 * workflow confirms it by query instead of charging again.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import {
  type QfpayClient,
  isQfpayError,
  classifyRespcd,
  subscriptionTimesMs,
  qfpayTimeToMs,
  orderSequenceFromOrderId,
  type BillingOrder,
  type Subscription,
} from '../qfpay';
import { recordQfpayActivityFailure } from '../observability/worker-metrics';
import { toSubscriptionState } from '../workflows/facts';
import type { RemoteOrder, RemoteSubscription } from '../workflows/lifecycle';
import type { ChargeOutcome, QfpayActivities, SyncResult } from './contracts';

/** Most billing-order pages read per sync (100 orders each). */
const MAX_ORDER_PAGES = 10;

/** The Temporal failure for a QFPay error: retryable only when QFPay said "try again". */
export function toFailure(err: unknown): unknown {
  if (!isQfpayError(err)) return err;
  recordQfpayActivityFailure(err);
  return ApplicationFailure.create({
    type: `QfpayError:${err.reason}`,
    message: err.message,
    nonRetryable: err.kind !== 'transient',
    details: [err.toJSON()],
    cause: err,
    nextRetryDelay: err.retryAfterMs,
  });
}

async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toFailure(err);
  }
}

function activitySignal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined; // called outside an activity (tests, scripts)
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
}

/** Builds the QFPay activities around one client (dependencies injected, as in tests). */
export function createQfpayActivities({
  client,
  timeOffset,
  now = Date.now,
}: QfpayActivityDeps): QfpayActivities {
  async function findSubscription(subscriptionId: string): Promise<Subscription | undefined> {
    const page = await client.querySubscriptions(
      { subscription_id: subscriptionId, page: 1, page_size: 10 },
      { signal: activitySignal() },
    );
    return page.items.find((s) => s.subscription_id === subscriptionId);
  }

  async function allOrders(subscriptionId: string): Promise<BillingOrder[]> {
    const orders: BillingOrder[] = [];
    for (let page = 1; page <= MAX_ORDER_PAGES; page += 1) {
      const result = await client.listBillingOrders(
        { subscription_id: subscriptionId, page, page_size: 100 },
        { signal: activitySignal() },
      );
      orders.push(...result.items);
      if (result.items.length < 100) break;
    }
    return orders;
  }

  function chargeOutcome(
    orderId: string,
    respcd: string,
    extra: Partial<ChargeOutcome> & { txdtm?: string },
  ): ChargeOutcome {
    const kind =
      respcd === '0000' ? 'succeeded' : classifyRespcd(respcd).kind === 'pending' ? 'pending' : 'failed';
    const { txdtm, ...rest } = extra;
    return {
      orderId,
      sequenceNo: orderSequenceFromOrderId(orderId) ?? 0,
      outcome: kind,
      respcd,
      ...rest,
      at: qfpayTimeToMs(txdtm, timeOffset) ?? now(),
    };
  }

  return {
    async syncSubscription(subscriptionId): Promise<SyncResult> {
      return call(async () => {
        const row = await findSubscription(subscriptionId);
        if (!row) return { found: false, subscriptionId, at: now() };
        const orders = (await allOrders(subscriptionId)).map((o) => remoteOrder(o, timeOffset));
        const remote = remoteSubscription(row, timeOffset);
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

    async updateSubscription({ subscriptionId, tokenId, totalBillingCycles }) {
      await call(() =>
        client.updateSubscription(
          { subscription_id: subscriptionId, token_id: tokenId, total_billing_cycles: totalBillingCycles },
          { signal: activitySignal() },
        ),
      );
      return { at: now() };
    },

    async chargeOrder({ subscriptionId, orderId }): Promise<ChargeOutcome> {
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
          stateAfter: toSubscriptionState(data?.state),
        });
      } catch (err) {
        if (!isQfpayError(err)) throw err;
        // The charge may have happened (no answer, or QFPay said "processing"): confirm, never repeat.
        if (err.kind === 'pending' || ['timeout', 'network', 'server_error'].includes(err.reason)) {
          return chargeOutcome(orderId, err.respcd ?? '1145', { respmsg: err.message });
        }
        if (err.reason === 'rate_limited') throw toFailure(err);
        // A payment refused by the card or the bank is an answer, not an error.
        if (err.respcd && (err.reason === 'declined' || err.kind === 'transient')) {
          return { ...chargeOutcome(orderId, err.respcd, { respmsg: err.respmsg }), outcome: 'failed' };
        }
        throw toFailure(err);
      }
    },

    async confirmCharge({ subscriptionId, orderId }): Promise<ChargeOutcome> {
      return call(async () => {
        const orders = await allOrders(subscriptionId);
        const row = orders.find((o) => o.subscription_order_id === orderId);
        if (!row) throw ApplicationFailure.nonRetryable(`order ${orderId} not found`, 'QfpayOrderNotFound');
        const status = row.status?.toUpperCase();
        if (status === 'PAID' || status === 'SUCCESS') {
          return chargeOutcome(orderId, '0000', {
            syssn: row.syssn,
            amount: row.txamt,
            currency: row.txcurrcd,
            txdtm: row.txdtm,
          });
        }
        const sub = await findSubscription(subscriptionId);
        const state = toSubscriptionState(sub?.state);
        if (state === 'ACTIVE' && sub?.last_billing_status?.toUpperCase() === 'SUCCESS') {
          return chargeOutcome(orderId, '0000', {});
        }
        // Not known yet: Temporal retries this activity until the charge's deadline.
        throw ApplicationFailure.retryable(`charge of ${orderId} not confirmed yet`, 'ChargeNotConfirmed');
      });
    },

    async ensureCustomer(input) {
      return call(async () => {
        if (attempt() > 1 && (input.email || input.phone)) {
          const page = await client.queryCustomers({
            email: input.email,
            phone: input.phone,
            page: 1,
            page_size: 100,
          });
          const match = page.items.find(
            (c) => (c.name ?? undefined) === input.name && (c.email ?? undefined) === input.email,
          );
          if (match) return match.customer_id;
        }
        const created = await client.createCustomer(
          { name: input.name, email: input.email, phone: input.phone, billing_address: input.billingAddress },
          { signal: activitySignal() },
        );
        return created.customer_id;
      });
    },

    async ensureProduct(input) {
      return call(async () => {
        // Identical recurring products are interchangeable: reuse one rather than make a twin.
        const page = await client.queryProducts({
          name: input.name,
          txcurrcd: input.currency,
          page: 1,
          page_size: 100,
        });
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
          { signal: activitySignal() },
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
          const existing = page.items.find(
            (s) =>
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
