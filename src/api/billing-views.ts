/**
 * Two reads that join a gateway's records with the engine's: a subscription's orders with every
 * payment attempt, and the schedule of its next billings (computed from the plan its gateway
 * states: whole intervals counted from the anchor, calendar months at the gateway's offset,
 * QFPay's region time for QFPay).
 */
import { addIntervals, type BillingInterval } from '../domain/lifecycle/billing-interval';
import { qfpayTimeToMs, type BillingOrder } from '../gateways/qfpay/schemas';
import type { GatewayPlan } from '../gateways/port';
import type { PaymentAttemptRecord, SubscriptionView } from '../workflows/definitions';
import type { RemoteOrder } from '../domain/lifecycle/lifecycle-types';
import type { OrderListResponse, ScheduleResponse } from './schemas';
import { isoOrNull, isoTime } from './views';

type OrderView = OrderListResponse['data'][number];
type AttemptView = OrderView['attempts'][number];

const DAY_MS = 86_400_000;

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

/** The last attempt QFPay's order list shows, when the engine heard nothing of it. */
function listedAttempt(row: BillingOrder, offset: string): AttemptView | undefined {
  const at =
    qfpayTimeToMs(typeof row.charged_at === 'string' ? row.charged_at : undefined, offset) ??
    qfpayTimeToMs(row.txdtm, offset);
  if (at === undefined || row.respcd === undefined) return undefined;
  return {
    at: isoTime(at),
    trigger_by: row.trigger_by === 'manual' ? 'manual' : 'auto',
    succeeded: row.respcd === '0000',
    respcd: row.respcd,
    respmsg: typeof row.respmsg === 'string' ? row.respmsg : null,
    amount: row.txamt ?? null,
    currency: row.txcurrcd ?? null,
    syssn: row.syssn ?? null,
    source: 'qfpay_order_list',
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
 * Every order of a QFPay subscription, newest first, each with every attempt: see
 * {@link joinAttempts}.
 * @param rows QFPay's `billing_order/v1/list`, all pages
 * @param payments the workflow's payment log
 * @param offset the zone of QFPay's naive times
 */
export function ordersWithAttempts(
  rows: readonly BillingOrder[],
  payments: readonly PaymentAttemptRecord[],
  offset: string,
): OrderView[] {
  return joinAttempts(
    rows.map((row) => {
      const billingTime =
        typeof row.billing_time === 'string' ? qfpayTimeToMs(row.billing_time, offset) : undefined;
      const listed = listedAttempt(row, offset);
      return {
        order: {
          order_id: row.subscription_order_id,
          sequence_no: row.sequence_no,
          status: row.status === 'PAID' ? 'PAID' : 'FAILED',
          billing_time: isoOrNull(billingTime),
          amount: row.txamt ?? null,
          currency: row.txcurrcd ?? null,
          trigger_by: row.trigger_by === 'manual' || row.trigger_by === 'auto' ? row.trigger_by : null,
          attempts: [],
        },
        ...(listed ? { listed } : {}),
      };
    }),
    payments,
  );
}

/**
 * Every order of a subscription on a gateway behind the port (its sync's orders, all of them),
 * newest first, each with every attempt: see {@link joinAttempts}. The gateways' orders carry no
 * billing time of their own: `billing_time` is null.
 */
export function gatewayOrdersWithAttempts(
  remote: readonly RemoteOrder[],
  payments: readonly PaymentAttemptRecord[],
): OrderView[] {
  return joinAttempts(
    remote.map((o) => ({
      order: {
        order_id: o.orderId,
        sequence_no: o.sequenceNo,
        status: o.status === 'PAID' ? 'PAID' : 'FAILED',
        billing_time: null,
        amount: o.amount ?? null,
        currency: o.currency ?? null,
        trigger_by: o.triggerBy ?? null,
        attempts: [],
      },
      ...(o.at !== undefined && o.status !== undefined
        ? {
            listed: {
              at: isoTime(o.at),
              trigger_by: o.triggerBy ?? 'auto',
              succeeded: o.status === 'PAID',
              respcd: o.respcd ?? null,
              respmsg: null,
              amount: o.amount ?? null,
              currency: o.currency ?? null,
              syssn: null,
              source: 'gateway_order_list' as const,
            },
          }
        : {}),
    })),
    payments,
  );
}

/** The longest one interval can be, so that counting from an estimate never overshoots. */
function longestInterval(interval: BillingInterval): number {
  switch (interval.unit) {
    case 'month':
      return 31 * DAY_MS * interval.count;
    case 'year':
      return 366 * DAY_MS * interval.count;
    default:
      return addIntervals(0, interval, 1, '+00:00');
  }
}

/** The index (0 = the first payment) of the first cycle billed at or after `at`. */
export function cycleAtOrAfter(
  anchor: number,
  interval: BillingInterval,
  at: number,
  offset: string,
): number {
  let k = Math.max(0, Math.floor((at - anchor) / longestInterval(interval)));
  // QFPay's times have whole seconds: a billing time within a second of `at` is that billing.
  while (addIntervals(anchor, interval, k, offset) < at - 999) k += 1;
  return k;
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
