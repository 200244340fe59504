/**
 * Steps of the workflow's pure loop for the unit tests of the engine's promises: QFPay's answers
 * (a query, a charge, a look at an unconfirmed charge) and the states a dunning episode passes
 * through (attempt made, escalated with the final action `cancel` pending).
 */
import type { ChargeOutcome, SyncResult } from '../../src/activities/contracts';
import { decide, settle } from '../../src/domain/decide';
import type { Action } from '../../src/domain/actions';
import { DEFAULT_DUNNING_POLICY, mergePolicy } from '../../src/domain/episode/dunning';
import type { EngineState } from '../../src/domain/engine-state';
import type { RemoteOrder } from '../../src/domain/lifecycle/lifecycle';
import type { Outcome } from '../../src/domain/actions';
import { afterSync } from '../../src/domain/sync/sync';
import { DAY, HOUR, SUB, T, order, pastDue } from './engine-states';

export const noHint = { continueAsNewSuggested: false };

/** One attempt an hour after the failure, then the final action `cancel`. */
export const CANCEL_POLICY = mergePolicy(DEFAULT_DUNNING_POLICY, {
  attemptOffsets: ['1h'],
  finalAction: 'cancel',
});

/** The loop's pure half at `now`: settle, then what decide would do. */
export function step(s: EngineState, now: number): { s: EngineState; action: Action } {
  const settled = settle(s, now);
  return { s: settled, action: decide(settled, now, noHint) };
}

/** The episode's first attempt (at T + 1 h) was made and failed with a retryable code. */
export function withFailedFirstAttempt(s: EngineState): EngineState {
  const failed = {
    attempt: 1,
    scheduledAt: T + HOUR,
    startedAt: T + HOUR,
    finishedAt: T + HOUR,
    result: 'failed' as const,
    respcd: '1205',
  };
  return { ...s, episode: { ...s.episode!, attempts: [failed] } };
}

/**
 * Cycle 2's episode under {@link CANCEL_POLICY}, exhausted at T + 2 h: the final action `cancel`
 * is pending since then. QFPay was last asked at T.
 */
export function escalated(): EngineState {
  const s = settle(withFailedFirstAttempt(settle(pastDue(CANCEL_POLICY), T + 60_000)), T + 2 * HOUR);
  if (s.episode?.finalAction?.status !== 'pending') throw new Error('the episode did not escalate');
  return s;
}

/** QFPay's answer to a query: cycle 2 (and any `more` orders) as given, next billing at T + 30 d. */
export function syncAnswer(
  at: number,
  {
    state = 'PAST_DUE',
    order2 = 'FAILED',
    more = [],
    nextBillingTime = T + 30 * DAY,
  }: {
    state?: 'PAST_DUE' | 'ACTIVE' | 'CANCELLED';
    order2?: 'FAILED' | 'PAID';
    more?: RemoteOrder[];
    nextBillingTime?: number;
  } = {},
): Outcome<SyncResult> {
  return {
    ok: true,
    value: {
      found: true,
      fact: {
        kind: 'sync',
        subscriptionId: SUB,
        at,
        source: 'query',
        remote: {
          state,
          totalBillingCycles: null,
          completedCycles: order2 === 'PAID' ? 2 : 1,
          nextBillingTime,
          lastBillingTime: T,
        },
        orders: [
          ...more,
          {
            orderId: order(2),
            sequenceNo: 2,
            status: order2,
            respcd: order2 === 'PAID' ? '0000' : '1205',
            at: order2 === 'PAID' ? at : T,
          },
        ],
      },
    },
  };
}

/** A charge's answer for cycle 2's order. */
export function chargeAnswer(
  outcome: ChargeOutcome['outcome'],
  at: number,
  extra: Partial<ChargeOutcome> = {},
): Outcome<ChargeOutcome> {
  return { ok: true, value: { orderId: order(2), sequenceNo: 2, outcome, at, ...extra } };
}

/** An ACTIVE subscription, cycle 2 paid, no episode, nothing to tell; next billing at T + 30 d. */
export function active(): EngineState {
  const s = afterSync(
    pastDue(),
    { kind: 'sync', reason: 'wanted' },
    syncAnswer(T, { state: 'ACTIVE', order2: 'PAID' }),
    T,
    T,
  );
  return { ...settle(s, T), outbox: [], episodeHistory: [] };
}
