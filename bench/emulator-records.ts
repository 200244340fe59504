/**
 * What QFPay records before it sends a notification, written straight into the emulator's store
 * for the benchmark's fake subscriptions: the subscription when its first notification reports it,
 * and each payment before its notification is sent. The engine's syncs then find what a real
 * subscription would show at that moment (its state, the orders paid so far, a next billing time
 * a month ahead), so an adopted fake subscription costs what a real one costs.
 *
 * The shortcut: the records skip QFPay's creation (customer, token, product and subscription
 * calls), which production pays once per subscription and the creation phase measures on its own.
 */
import type { EmulatorStore } from '../src/gateways/qfpay/emulator/store';
import type { Subscription, SubscriptionOrder } from '../src/gateways/qfpay/emulator/model';
import type { BenchNotification } from './notifications';

const MONTH_MS = 30 * 86_400_000;
const AMOUNT = 9900;
const CURRENCY = 'HKD';

function newSubscription(subscriptionId: string, at: number, now: number): Subscription {
  const hex = subscriptionId.slice('sub_'.length);
  return {
    subscriptionId,
    customerId: `cust_${hex.slice(0, 16)}`,
    tokenId: `tk_${hex.slice(0, 16)}`,
    products: [{ productId: `prod_${hex.slice(16)}`, quantity: 1 }],
    totalBillingCycles: null,
    state: 'ACTIVE',
    createdAt: at,
    startTime: at,
    interval: { unit: 'month', count: 1 },
    cycleIndex: 0,
    nextBillingTime: now + MONTH_MS,
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
 * twice records once).
 * @param now real time, for the next billing time (a month ahead: no reconcile falls due during the run)
 */
export function recordAtEmulator(
  store: EmulatorStore,
  n: Pick<BenchNotification, 'subscriptionId' | 'fact'>,
  now = Date.now(),
): void {
  const { fact } = n;
  let sub = store.subscriptions.get(n.subscriptionId);
  if (!sub) {
    sub = newSubscription(n.subscriptionId, fact.at, now);
    store.subscriptions.set(n.subscriptionId, sub);
  }
  if (fact.kind !== 'payment' || sub.orders.some((o) => o.subscriptionOrderId === fact.orderId)) return;
  const order: SubscriptionOrder = {
    subscriptionOrderId: fact.orderId,
    sequenceNo: fact.sequenceNo,
    cycleIndex: fact.sequenceNo - 1,
    billingTime: fact.at,
    deadline: fact.at + MONTH_MS,
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
  sub.nextBillingTime = Math.max(sub.nextBillingTime ?? 0, now + MONTH_MS);
}
