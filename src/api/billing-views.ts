/**
 * Two reads that join a gateway's records with the engine's: a subscription's orders with every
 * payment attempt, and the schedule of its next billings (computed from the plan its gateway
 * states: whole intervals counted from the anchor, calendar months at the gateway's offset,
 * QFPay's region time for QFPay).
 */
import { addIntervals, cycleAtOrAfter, type BillingInterval } from '../domain/lifecycle/billing-interval';
import type { GatewayListedOrder, GatewayPlan } from '../gateways/port';
import type { PaymentAttemptRecord, SubscriptionView } from '../workflows/definitions';
import type { RemoteOrder } from '../domain/lifecycle/lifecycle-types';
import type { OrderListResponse, ScheduleResponse } from './schemas';
import { isoOrNull, isoTime } from './views';

type OrderView = OrderListResponse['data'][number];
type AttemptView = OrderView['attempts'][number];

function engineAttempt(p: PaymentAttemptRecord): AttemptView {
  return {
    at: isoTime(p.at),
    trigger_by: p.triggerBy,
    succeeded: p.succeeded,
    respcd: p.respcd,
    respmsg: p.respmsg ?? null,
    amount: p.amount ?? null,
    currency: p.currency ?? null,
    syssn: p.syssn ?? null,
    source: 'engine',
  };
}

/** An order as a gateway lists it, with the last attempt its list shows. */
interface ListedOrder {
  order: OrderView;
  listed?: AttemptView;
}

/**
 * Every order, newest first, each with every attempt (oldest first): the attempts the engine
 * learned of (notifications, its own charges), and the last attempt of the gateway's list when the
 * engine did not hear of that one.
 */
function joinAttempts(
  listed: readonly ListedOrder[],
  payments: readonly PaymentAttemptRecord[],
): OrderView[] {
  const orders = new Map<string, OrderView>(listed.map(({ order }) => [order.order_id, order]));
  for (const p of payments) {
    let order = orders.get(p.orderId);
    if (!order) {
      // The gateway's list has not caught up with a notification yet.
      order = {
        order_id: p.orderId,
        sequence_no: p.sequenceNo,
        status: 'FAILED',
        billing_time: null,
        amount: p.amount ?? null,
        currency: p.currency ?? null,
        trigger_by: null,
        attempts: [],
      };
      orders.set(p.orderId, order);
    }
    order.attempts.push(engineAttempt(p));
    if (p.succeeded) order.status = 'PAID';
  }
  for (const { order, listed: last } of listed) {
    const known = order.attempts.some(
      (a) => (last?.syssn != null && a.syssn === last.syssn) || (last?.syssn == null && a.at === last?.at),
    );
    if (last && !known) order.attempts.push(last);
    order.attempts.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  }
  return [...orders.values()].sort((a, b) => b.sequence_no - a.sequence_no);
}

/**
 * Every order of a subscription, newest first, each with every attempt (see
 * {@link joinAttempts}): the orders its gateway lists, and the workflow's payment log.
 */
export function ordersView(
  listed: readonly GatewayListedOrder[],
  payments: readonly PaymentAttemptRecord[],
): OrderView[] {
  return joinAttempts(
    listed.map((o) => ({
      order: {
        order_id: o.orderId,
        sequence_no: o.sequenceNo,
        status: o.status,
        billing_time: isoOrNull(o.billingTime),
        amount: o.amount ?? null,
        currency: o.currency ?? null,
        trigger_by: o.triggerBy ?? null,
        attempts: [],
      },
      ...(o.lastAttempt
        ? {
            listed: {
              at: isoTime(o.lastAttempt.at),
              trigger_by: o.lastAttempt.triggerBy,
              succeeded: o.lastAttempt.succeeded,
              respcd: o.lastAttempt.respcd ?? null,
              respmsg: o.lastAttempt.respmsg ?? null,
              amount: o.lastAttempt.amount ?? null,
              currency: o.lastAttempt.currency ?? null,
              syssn: o.lastAttempt.syssn ?? null,
              source: 'gateway_order_list' as const,
            },
          }
        : {}),
    })),
    payments,
  );
}

/**
 * The orders of a sync (from the first cycle) as a list of the gateway's orders, for a gateway
 * whose adapter lists none of its own: no billing time, the order's last attempt when it says one.
 */
export function listedFromSync(remote: readonly RemoteOrder[]): GatewayListedOrder[] {
  return remote.map((o) => ({
    orderId: o.orderId,
    sequenceNo: o.sequenceNo,
    status: o.status === 'PAID' ? 'PAID' : 'FAILED',
    ...(o.amount === undefined ? {} : { amount: o.amount }),
    ...(o.currency === undefined ? {} : { currency: o.currency }),
    ...(o.triggerBy === undefined ? {} : { triggerBy: o.triggerBy }),
    ...(o.at !== undefined && o.status !== undefined
      ? {
          lastAttempt: {
            at: o.at,
            triggerBy: o.triggerBy ?? 'auto',
            succeeded: o.status === 'PAID',
            ...(o.respcd === undefined ? {} : { respcd: o.respcd }),
            ...(o.amount === undefined ? {} : { amount: o.amount }),
            ...(o.currency === undefined ? {} : { currency: o.currency }),
          },
        }
      : {}),
  }));
}

/** The open episode's planned attempts, or null: the same for every gateway. */
function dunningPlan(view: SubscriptionView): ScheduleResponse['dunning'] {
  const episode = view.dunning.episode;
  return episode && episode.stage === 'retrying'
    ? {
        order_id: episode.orderId,
        deadline: isoTime(episode.deadline),
        attempts: episode.schedule.map(isoTime),
      }
    : null;
}

/**
 * Up to `count` billings from the first cycle billed at or after `next`, stopping after
 * `remaining` (null: none).
 */
function billingsFrom(
  plan: { anchor: number; interval: BillingInterval; amount: number; currency: string },
  next: number | undefined,
  count: number,
  remaining: number | null,
  offset: string,
): ScheduleResponse['billings'] {
  const billings: ScheduleResponse['billings'] = [];
  if (next === undefined) return billings;
  const start = cycleAtOrAfter(plan.anchor, plan.interval, next, offset);
  for (let k = start; billings.length < Math.min(count, remaining ?? count); k += 1) {
    billings.push({
      cycle: k + 1,
      at: isoTime(addIntervals(plan.anchor, plan.interval, k, offset)),
      amount: plan.amount,
      currency: plan.currency,
    });
  }
  return billings;
}

/**
 * The next `count` billings of a subscription, as its gateway states its plan (whole intervals
 * after its anchor, calendar units at the gateway's offset), and the open episode's planned
 * attempts.
 */
export function gatewaySchedule({
  subscriptionId,
  plan,
  view,
  count,
}: {
  subscriptionId: string;
  plan: GatewayPlan;
  view: SubscriptionView;
  count: number;
}): ScheduleResponse {
  return {
    subscription_id: subscriptionId,
    state: plan.state,
    anchor: isoTime(plan.anchor),
    billing_paused: view.billingPausedByMerchant,
    billings: billingsFrom(
      plan,
      plan.nextBillingTime ?? undefined,
      count,
      plan.remainingCycles,
      plan.calendarOffset ?? '+00:00',
    ).filter((b) => plan.endDate == null || Date.parse(b.at) <= plan.endDate),
    dunning: dunningPlan(view),
  };
}
