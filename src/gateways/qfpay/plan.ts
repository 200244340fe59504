/**
 * A QFPay subscription's plan, as the port states it for the merchant's schedule: its products'
 * prices summed, their interval (minutes and hours included), counted in QFPay's region time from
 * the subscription's start.
 */
import type { CallOptions, QfpayClient } from './client';
import { qfpayTimeToMs, type Product, type Subscription } from './schemas';
import { toSubscriptionState } from './facts';
import {
  parseIntervalUnit,
  sameInterval,
  type BillingInterval,
  type BillingSchedule,
} from '../../domain/lifecycle/billing-interval';
import { GatewayError, type GatewayPlan } from '../port';

/** The subscription as QFPay has it, or undefined. */
export async function qfpaySubscription(
  client: QfpayClient,
  subscriptionId: string,
): Promise<Subscription | undefined> {
  const found = await client.querySubscriptions({ subscription_id: subscriptionId, page: 1, page_size: 1 });
  return found.items.find((r) => r.subscription_id === subscriptionId);
}

/** The products QFPay has among `ids`, in their order (one it does not know is left out). */
export async function qfpayProducts(
  client: QfpayClient,
  ids: readonly string[],
  options?: CallOptions,
): Promise<Product[]> {
  const products: Product[] = [];
  for (const productId of ids) {
    const page = await client.queryProducts({ product_id: productId, page: 1, page_size: 1 }, options);
    products.push(...page.items.filter((p) => p.product_id === productId));
  }
  return products;
}

/**
 * The plan of `subscriptionId`, or undefined when QFPay has no such subscription.
 * @param offset QFPay's region offset (`QFPAY_TIME_OFFSET`)
 * @throws GatewayError (not retryable, 502) when QFPay's answer lacks its start, products or interval
 */
export async function qfpayPlan(
  client: QfpayClient,
  subscriptionId: string,
  offset: string,
): Promise<GatewayPlan | undefined> {
  const remote = await qfpaySubscription(client, subscriptionId);
  if (!remote) return undefined;
  const products = await qfpayProducts(
    client,
    (remote.products ?? []).map((line) => line.product_id),
  );
  return qfpayPlanOf(remote, products, offset);
}

/**
 * The plan of a subscription as QFPay answered it, with its products (pure).
 * @throws GatewayError (not retryable, 502) when the answer lacks its start, state, products or interval
 */
export function qfpayPlanOf(remote: Subscription, products: readonly Product[], offset: string): GatewayPlan {
  const priced = (remote.products ?? []).map((line) => ({
    line,
    product: products.find((p) => p.product_id === line.product_id),
  }));
  const first = priced[0]?.product;
  const schedule = qfpayScheduleOf(remote, products, offset);
  const state = toSubscriptionState(remote.state);
  if (schedule === undefined || !first || !state || priced.some((p) => !p.product)) {
    throw new GatewayError(
      `QFPay's answer for ${remote.subscription_id} lacks its start time, state, products or interval`,
      false,
      502,
    );
  }
  const { anchor, interval } = schedule;
  return {
    state,
    amount: priced.reduce((sum, p) => sum + p.product!.txamt * (p.line.quantity ?? 1), 0),
    currency: first.txcurrcd,
    interval,
    anchor,
    nextBillingTime: qfpayTimeToMs(remote.next_billing_time, offset) ?? null,
    remainingCycles:
      remote.total_billing_cycles === null || remote.total_billing_cycles === undefined
        ? null
        : Math.max(0, remote.total_billing_cycles - (remote.completed_billing_iteration ?? 0)),
    calendarOffset: offset,
  };
}

/** A product's billing interval, or undefined when it states none QFPay knows. */
function intervalOf(product: Product | undefined): BillingInterval | undefined {
  const unit = product?.interval === undefined ? undefined : parseIntervalUnit(product.interval);
  return unit === undefined ? undefined : { unit, count: product?.interval_count ?? 1 };
}

/**
 * The billing schedule of a subscription as QFPay answered it, with its products (pure): whole
 * intervals from its start time, in QFPay's region time. Undefined when the answer lacks its start
 * or a product, or its products do not share one interval: the engine then asks QFPay after each
 * payment instead of reckoning.
 */
export function qfpayScheduleOf(
  remote: Subscription,
  products: readonly Product[],
  offset: string,
): BillingSchedule | undefined {
  const anchor = qfpayTimeToMs(remote.start_time, offset);
  const intervals = (remote.products ?? []).map((line) =>
    intervalOf(products.find((p) => p.product_id === line.product_id)),
  );
  const first = intervals[0];
  if (anchor === undefined || first === undefined) return undefined;
  const shared = intervals.every((i) => i !== undefined && sameInterval(i, first));
  return shared ? { anchor, interval: first, offset } : undefined;
}
