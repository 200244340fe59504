/**
 * A QFPay subscription's orders as its billing-order list shows them (`billing_order/v1/list`,
 * every page), for the merchant's order list: billing times, and each order's last attempt.
 */
import { paginate, type QfpayClient } from './client';
import { qfpayTimeToMs, type BillingOrder } from './schemas';
import type { GatewayListedOrder } from '../port';

/** One row of QFPay's list as the port lists an order (pure). */
export function qfpayListedOrder(row: BillingOrder, offset: string): GatewayListedOrder {
  const billingTime =
    typeof row.billing_time === 'string' ? qfpayTimeToMs(row.billing_time, offset) : undefined;
  const at =
    qfpayTimeToMs(typeof row.charged_at === 'string' ? row.charged_at : undefined, offset) ??
    qfpayTimeToMs(row.txdtm, offset);
  const triggerBy = row.trigger_by === 'manual' || row.trigger_by === 'auto' ? row.trigger_by : undefined;
  return {
    orderId: row.subscription_order_id,
    sequenceNo: row.sequence_no,
    status: row.status === 'PAID' ? 'PAID' : 'FAILED',
    ...(billingTime === undefined ? {} : { billingTime }),
    ...(row.txamt === undefined ? {} : { amount: row.txamt }),
    ...(row.txcurrcd === undefined ? {} : { currency: row.txcurrcd }),
    ...(triggerBy === undefined ? {} : { triggerBy }),
    ...(at === undefined || row.respcd === undefined
      ? {}
      : {
          lastAttempt: {
            at,
            triggerBy: row.trigger_by === 'manual' ? 'manual' : 'auto',
            succeeded: row.respcd === '0000',
            respcd: row.respcd,
            ...(typeof row.respmsg === 'string' ? { respmsg: row.respmsg } : {}),
            ...(row.txamt === undefined ? {} : { amount: row.txamt }),
            ...(row.txcurrcd === undefined ? {} : { currency: row.txcurrcd }),
            ...(row.syssn === undefined ? {} : { syssn: row.syssn }),
          },
        }),
  };
}

/**
 * Every order of `subscriptionId` on QFPay's list (empty for one QFPay lists nothing of).
 * @param offset QFPay's region offset (`QFPAY_TIME_OFFSET`)
 */
export async function qfpayOrders(
  client: QfpayClient,
  subscriptionId: string,
  offset: string,
): Promise<GatewayListedOrder[]> {
  const orders: GatewayListedOrder[] = [];
  for await (const row of paginate((page, pageSize) =>
    client.listBillingOrders({ subscription_id: subscriptionId, page, page_size: pageSize }),
  ))
    orders.push(qfpayListedOrder(row, offset));
  return orders;
}
