/** Engine states the unit tests start from. */
import { DEFAULT_DUNNING_POLICY } from '../../src/domain/episode/dunning';
import { applyFactToState, initialState, type EngineState } from '../../src/domain/engine-state';
import type { Fact } from '../../src/domain/lifecycle/lifecycle';
import { DAY } from '../../src/domain/duration';
export { MINUTE, HOUR, DAY } from '../../src/domain/duration';

export const SUB = 'sub_0123456789abcdef';
export const T = Date.UTC(2027, 0, 15, 3, 0, 0);
export const order = (seq: number) => `sub_ord_0123456789abcdef_${String(seq).padStart(4, '0')}`;

/** QFPay's answer at `at`: PAST_DUE, cycle 2 FAILED at T (and, with `withFirst`, cycle 1 PAID). */
export function pastDueSync(at = T, withFirst = true): Extract<Fact, { kind: 'sync' }> {
  return {
    kind: 'sync',
    subscriptionId: SUB,
    at,
    source: 'query',
    remote: {
      state: 'PAST_DUE',
      totalBillingCycles: null,
      completedCycles: 1,
      nextBillingTime: T + 30 * DAY,
      lastBillingTime: T,
    },
    orders: [
      { orderId: order(2), sequenceNo: 2, status: 'FAILED', respcd: '1205', at: T },
      ...(withFirst
        ? [{ orderId: order(1), sequenceNo: 1, status: 'PAID' as const, respcd: '0000', at: T - 30 * DAY }]
        : []),
    ],
  };
}

/** A PAST_DUE subscription whose cycle 2 failed at T; next billing T + 30 d; QFPay has answered. */
export function pastDue(policy = DEFAULT_DUNNING_POLICY): EngineState {
  let s = initialState({ subscriptionId: SUB, origin: 'created', policy, options: { merchantEvents: true } });
  const facts: Fact[] = [pastDueSync()];
  for (const fact of facts) s = applyFactToState(s, fact, T);
  return { ...s, known: true, lastSyncAt: T, syncWanted: false };
}

/** QFPay's notification of a payment of cycle `sequenceNo` at `at` (paid unless `succeeded` is false). */
export function paymentNotice(
  sequenceNo: number,
  at: number,
  succeeded = true,
): Extract<Fact, { kind: 'payment' }> {
  return {
    kind: 'payment',
    subscriptionId: SUB,
    orderId: order(sequenceNo),
    sequenceNo,
    succeeded,
    respcd: succeeded ? '0000' : '1205',
    at,
    source: 'notification',
  };
}
