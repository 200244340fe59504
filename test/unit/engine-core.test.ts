/**
 * The subscription workflow's pure core, example by example: what continue-as-new carries, how
 * each intent is refused once the subscription has ended, the charge window's edge, and the
 * validator's extra check for a charge already queued. (The properties over random episodes are
 * in decide-properties.test.ts.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide, intentProblem, settle } from '../../src/workflows/decide';
import { DEFAULT_DUNNING_POLICY, mergePolicy } from '../../src/workflows/dunning';
import {
  applyFactToState,
  enqueueIntent,
  initialState,
  type EngineState,
  type IntentRequest,
} from '../../src/workflows/engine-state';

import { DAY, HOUR, MINUTE, SUB, T, order, pastDue } from '../helpers/engine-states';

void describe('the engine core', () => {
  void it('carries its whole state through continue-as-new, as plain JSON', () => {
    let s = settle(pastDue(), T + MINUTE);
    s = {
      ...s,
      syncWanted: true,
      syncFailures: 2,
      syncRetryAt: T + 5 * MINUTE,
      reconcile: { billingTime: T, attempts: 3 },
      retryNow: true,
      pendingCharge: {
        orderId: order(2),
        sequenceNo: 2,
        attempt: 1,
        sentAt: T + MINUTE,
        confirmUntil: T + 6 * MINUTE,
        nextCheckAt: T + 2 * MINUTE,
        checks: 1,
        orderBefore: 'FAILED|1205',
      },
      billingPausedByMerchant: true,
      sentEventIds: ['evt.a', 'evt.b'],
      continuedAsNew: 4,
    };
    assert.ok(s.episode, 'an episode is open');
    assert.ok(s.outbox.length > 0, 'events are waiting');
    const carried = JSON.parse(JSON.stringify(s)) as EngineState;
    const next = initialState({ subscriptionId: SUB, origin: 'created', carried });
    assert.deepEqual(next, { ...s, intents: [], resolved: [] });
  });

  void it('refuses every change to a subscription that has ended, naming its state', () => {
    let s = pastDue();
    s = applyFactToState(
      s,
      { kind: 'state', subscriptionId: SUB, state: 'CANCELLED', at: T + HOUR, source: 'notification' },
      T + HOUR,
    );
    const changes: IntentRequest[] = [
      { kind: 'cancel' },
      { kind: 'change_token', tokenId: 'tk_new' },
      { kind: 'change_cycles', totalBillingCycles: 12 },
      { kind: 'charge_now' },
    ];
    for (const change of changes) {
      const problem = intentProblem(s, change, T + HOUR, { queued: false });
      assert.match(problem ?? '', /CANCELLED/, change.kind);
      const queued = enqueueIntent(s, change).state;
      const action = decide(settle(queued, T + HOUR), T + HOUR, { continueAsNewSuggested: false });
      assert.equal(action.kind, 'refuse', change.kind);
    }
    assert.equal(intentProblem(s, { kind: 'sync' }, T + HOUR, { queued: false }), undefined);
  });

  void it('starts a charge at the latest safe start, and not a millisecond after', () => {
    const policy = mergePolicy(DEFAULT_DUNNING_POLICY, {
      attemptOffsets: ['1h'],
      safetyMargin: '2h',
      minAttemptWindow: '5m',
    });
    const latestStart = T + 30 * DAY - 2 * HOUR - 5 * MINUTE;
    const base = { ...pastDue(policy), retryNow: true };
    const at = (now: number) => {
      const s = settle(base, T + MINUTE);
      // The first attempt was made; a new card makes the engine want one more now.
      const tried = {
        ...s,
        episode: {
          ...s.episode!,
          attempts: [
            {
              attempt: 1,
              scheduledAt: T + HOUR,
              startedAt: T + HOUR,
              finishedAt: T + HOUR,
              result: 'failed' as const,
              respcd: '1205',
            },
          ],
        },
        retryNow: true,
      };
      return decide(settle(tried, now), now, { continueAsNewSuggested: false });
    };
    assert.equal(at(latestStart).kind, 'charge');
    assert.notEqual(at(latestStart + 1).kind, 'charge');
  });

  void it('refuses a second charge-now while one is queued, at the validator; the loop takes the first', () => {
    const s = enqueueIntent(pastDue(), { kind: 'charge_now' }).state;
    assert.match(
      intentProblem(s, { kind: 'charge_now' }, T + MINUTE, { queued: true }) ?? '',
      /already in progress/,
    );
    assert.equal(intentProblem(s, { kind: 'charge_now' }, T + MINUTE, { queued: false }), undefined);
    assert.equal(decide(settle(s, T + MINUTE), T + MINUTE, { continueAsNewSuggested: false }).kind, 'charge');
  });

  void it('sends nothing to the merchant for a subscription QFPay does not know', () => {
    let s = initialState({ subscriptionId: SUB, origin: 'adopted', options: { merchantEvents: true } });
    s = applyFactToState(
      s,
      { kind: 'state', subscriptionId: SUB, state: 'ACTIVE', at: T, source: 'notification' },
      T,
    );
    assert.ok(s.outbox.length > 0);
    s = { ...s, notFound: 3, syncWanted: false };
    const action = decide(settle(s, T), T, { continueAsNewSuggested: false });
    assert.deepEqual(action, { kind: 'end', reason: 'not_found' });
  });

  void it("reports a payment it learned from a query (its notification was dropped) once, under the payment's id", () => {
    const s = pastDue();
    const paidIds = (x: EngineState) =>
      x.outbox.filter((e) => e.type === 'subscription.payment_succeeded').map((e) => e.id);
    // The query's answer: cycle 2 was paid (by QFPay's own retry), and no notification said so.
    const learned = applyFactToState(
      s,
      {
        kind: 'sync',
        subscriptionId: SUB,
        at: T + HOUR,
        source: 'query',
        remote: {
          state: 'ACTIVE',
          totalBillingCycles: null,
          completedCycles: 2,
          nextBillingTime: T + 30 * DAY,
          lastBillingTime: T,
        },
        orders: [{ orderId: order(2), sequenceNo: 2, status: 'PAID', respcd: '0000', at: T + HOUR }],
      },
      T + HOUR,
    );
    assert.deepEqual(paidIds(learned), [`evt.${SUB}.paid.0001`, `evt.${SUB}.paid.0002`]);
    const event = learned.outbox.find((e) => e.id === `evt.${SUB}.paid.0002`)!;
    assert.equal((event.data as { order_id: string }).order_id, order(2));
    // The late notification of the same payment reports nothing new.
    const late = applyFactToState(
      learned,
      {
        kind: 'payment',
        subscriptionId: SUB,
        orderId: order(2),
        sequenceNo: 2,
        succeeded: true,
        respcd: '0000',
        at: T + HOUR - MINUTE,
        source: 'notification',
      },
      T + 2 * HOUR,
    );
    assert.deepEqual(paidIds(late), paidIds(learned));
  });
});
