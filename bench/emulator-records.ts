/**
 * What QFPay records before it sends a notification, written straight into the emulator's store
 * for the benchmark's fake subscriptions: the subscription when its first notification reports it,
 * and each payment before its notification is sent. The engine's syncs then find what a real
 * subscription would show at that moment (its state, its product and billing schedule, the orders
 * paid so far, the next billing time on the schedule), so an adopted fake subscription costs what
 * a real one costs.
 *
 * The shortcut: the records skip QFPay's creation (customer, token, product and subscription
 * calls), which production pays once per subscription and the creation phase measures on its own.
 */
import type { EmulatorStore } from '../src/gateways/qfpay/emulator/store';
import type { Product, Subscription, SubscriptionOrder } from '../src/gateways/qfpay/emulator/model';
import { BENCH_SCHEDULE, benchBillingTime, type BenchNotification } from './notifications';

const AMOUNT = 9900;
const CURRENCY = 'HKD';

/** The fake subscription's product: the bench's monthly plan, as QFPay's product query shows it. */
function product(productId: string, at: number): Product {
  return {
    productId,
    name: 'Bench plan',
    type: 'recurring',
    txamt: AMOUNT,
    txcurrcd: CURRENCY,
    interval: 'monthly',
    intervalCount: BENCH_SCHEDULE.interval.count,
    usageType: 'licensed',
    createdAt: at,
  };
}

function newSubscription(subscriptionId: string, at: number): Subscription {
  const hex = subscriptionId.slice('sub_'.length);
  return {
    subscriptionId,
    customerId: `cust_${hex.slice(0, 16)}`,
    tokenId: `tk_${hex.slice(0, 16)}`,
    products: [{ productId: `prod_${hex.slice(16)}`, quantity: 1 }],
    totalBillingCycles: null,
    state: 'ACTIVE',
    createdAt: at,
    startTime: BENCH_SCHEDULE.anchor,
    interval: BENCH_SCHEDULE.interval,
    cycleIndex: 0,
    nextBillingTime: benchBillingTime(1),
    lastBillingTime: null,
    lastBillingStatus: null,
    retryAttempts: 0,
    pendingRetry: null,
    pendingCharge: null,
    orders: [],
    history: [{ at, from: null, to: 'ACTIVE', reason: 'bench' }],
  };
}

/**
 * Records at the emulator what `n` reports, before it is sent: idempotent (a notification sent
 * twice records once). The subscription bills on the bench's schedule (`BENCH_SCHEDULE`, a day
 * ahead): its next billing time is the cycle after the last one paid.
 */
export function recordAtEmulator(
  store: EmulatorStore,
  n: Pick<BenchNotification, 'subscriptionId' | 'fact'>,
): void {
  const { fact } = n;
  let sub = store.subscriptions.get(n.subscriptionId);
  if (!sub) {
    sub = newSubscription(n.subscriptionId, fact.at);
    store.subscriptions.set(n.subscriptionId, sub);
    for (const line of sub.products) store.products.set(line.productId, product(line.productId, fact.at));
  }
  if (fact.kind !== 'payment' || sub.orders.some((o) => o.subscriptionOrderId === fact.orderId)) return;
  const order: SubscriptionOrder = {
    subscriptionOrderId: fact.orderId,
    sequenceNo: fact.sequenceNo,
    cycleIndex: fact.sequenceNo - 1,
    billingTime: fact.at,
    deadline: benchBillingTime(fact.sequenceNo + 1),
    status: fact.succeeded ? 'PAID' : 'FAILED',
    txamt: fact.amount ?? AMOUNT,
    txcurrcd: fact.currency ?? CURRENCY,
    attempts: [
      {
        at: fact.at,
        trigger: 'auto',
        kind: 'cycle',
        approved: fact.succeeded,
        respcd: fact.respcd,
        respmsg: fact.respmsg ?? (fact.succeeded ? 'Approved' : 'Declined'),
        syssn: fact.syssn ?? `bench${fact.sequenceNo}`,
        txamt: fact.amount ?? AMOUNT,
        txcurrcd: fact.currency ?? CURRENCY,
      },
    ],
    paidAt: fact.succeeded ? fact.at : null,
  };
  sub.orders = [...sub.orders, order].sort((a, b) => a.sequenceNo - b.sequenceNo);
  sub.cycleIndex = Math.max(sub.cycleIndex, fact.sequenceNo);
  sub.lastBillingTime = Math.max(sub.lastBillingTime ?? 0, fact.at);
  sub.lastBillingStatus = fact.succeeded ? 'SUCCESS' : 'FAILED';
  sub.nextBillingTime = Math.max(sub.nextBillingTime ?? 0, benchBillingTime(fact.sequenceNo + 1));
}
