/**
 * A QFPay subscription's plan, as the port states it for the merchant's schedule: its products'
 * prices summed, their interval (minutes and hours included), counted in QFPay's region time from
 * the subscription's start.
 */
import type { QfpayClient } from './client';
import { qfpayTimeToMs, type Product, type Subscription } from './schemas';
import { toSubscriptionState } from './facts';
import { parseIntervalUnit } from '../../domain/lifecycle/billing-interval';
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
export async function qfpayProducts(client: QfpayClient, ids: readonly string[]): Promise<Product[]> {
  const products: Product[] = [];
  for (const productId of ids) {
    const page = await client.queryProducts({ product_id: productId, page: 1, page_size: 1 });
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
  const anchor = qfpayTimeToMs(remote.start_time, offset);
  const first = priced[0]?.product;
  const unit = first?.interval === undefined ? undefined : parseIntervalUnit(first.interval);
  const state = toSubscriptionState(remote.state);
  if (anchor === undefined || !first || unit === undefined || !state || priced.some((p) => !p.product)) {
    throw new GatewayError(
      `QFPay's answer for ${remote.subscription_id} lacks its start time, state, products or interval`,
      false,
      502,
    );
  }
  return {
    state,
    amount: priced.reduce((sum, p) => sum + p.product!.txamt * (p.line.quantity ?? 1), 0),
    currency: first.txcurrcd,
    interval: { unit, count: first.interval_count ?? 1 },
    anchor,
    nextBillingTime: qfpayTimeToMs(remote.next_billing_time, offset) ?? null,
    remainingCycles:
      remote.total_billing_cycles === null || remote.total_billing_cycles === undefined
        ? null
        : Math.max(0, remote.total_billing_cycles - (remote.completed_billing_iteration ?? 0)),
    calendarOffset: offset,
  };
}
