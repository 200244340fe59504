/**
 * The subscription workflow's pure core, example by example: what continue-as-new carries, how
 * each intent is refused once the subscription has ended, the charge window's edge, the
 * validator's extra check for a charge already queued, the billing pause (no charge while it
 * lasts, a re-plan when it ends, its timer) and a plan change. (The properties over random
 * episodes are in decide-properties.test.ts.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide, settle, wakeTime } from '../../src/domain/decide';
import { intentProblem } from '../../src/domain/intents/intents';
import type { Action } from '../../src/domain/actions';
import { DEFAULT_DUNNING_POLICY, mergePolicy } from '../../src/domain/episode/dunning';
import { loadConfig } from '../../src/config';
import { workflowOptions } from '../../src/api/context';
import {
  ENGINE_DEFAULTS,
  NEW_SUBSCRIPTION_MAX_HISTORY_EVENTS,
  applyFactToState,
  applyHandover,
  enqueueIntent,
  initialState,
  syncReadsFrom,
  type EngineState,
  type IntentRequest,
} from '../../src/domain/engine-state';
import { afterChange } from '../../src/domain/intents/intents';
import { afterSync } from '../../src/domain/sync/sync';
import { applyPause, applyResume } from '../../src/domain/pause/pause';

import { DAY, HOUR, MINUTE, SUB, T, order, pastDue } from '../helpers/engine-states';

/** The state with the episode's first attempt (scheduled at T + 1 h) made and failed with 1205. */
function withFailedFirstAttempt(s: EngineState): EngineState {
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
      billingPause: { since: T, resumesAt: T + 40 * DAY, by: 'merchant' },
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
      { kind: 'change_products', products: [{ productId: 'prod_b', quantity: 2 }] },
      { kind: 'pause', resumesAt: null },
      { kind: 'resume' },
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
      const tried = { ...withFailedFirstAttempt(s), retryNow: true };
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

  void it("waits for a creation's handover before it judges a first order it adopted: the merchant's policy, not the default", () => {
    // QFPay's first notification (the first charge failed) overtook the creation's handover.
    let s = initialState({ subscriptionId: SUB, origin: 'adopted' });
    s = settle(s, T);
    const failed = {
      kind: 'payment' as const,
      subscriptionId: SUB,
      orderId: order(1),
      sequenceNo: 1,
      succeeded: false,
      respcd: '1205',
      syssn: 'ko-1',
      at: T,
      source: 'notification' as const,
    };
    const synced = {
      kind: 'sync' as const,
      subscriptionId: SUB,
      at: T + 1_000,
      source: 'query' as const,
      remote: {
        state: 'INCOMPLETE' as const,
        totalBillingCycles: null,
        completedCycles: 0,
        nextBillingTime: T + HOUR,
        lastBillingTime: T,
      },
      orders: [{ orderId: order(1), sequenceNo: 1, status: 'FAILED' as const, respcd: '1205', at: T }],
    };
    s = applyFactToState(applyFactToState(s, failed, T), synced, T + 1_000);
    s = { ...settle({ ...s, syncWanted: false, lastSyncAt: T + 1_000 }, T + 1_000) };
    assert.equal(s.episode, null, 'no episode under the default policy yet');
    const graceEnds = T + ENGINE_DEFAULTS.handoverGraceMs;
    assert.equal(wakeTime(s, T + 1_000), graceEnds, 'the grace has a timer');

    // The handover brings the merchant's policy: the episode opens under it at once.
    const merchant = mergePolicy(DEFAULT_DUNNING_POLICY, { attemptOffsets: ['30s'], safetyMargin: '15s' });
    const handedOver = settle(
      applyHandover(s, { policy: merchant, fact: synced } as never, T + 2_000),
      T + 2_000,
    );
    assert.equal(handedOver.episode?.orderId, order(1));
    assert.equal(s.origin, 'adopted');
    assert.equal(handedOver.origin, 'created', 'the engine created it: the merchant sees origin created');
    assert.equal(handedOver.episode?.stage, 'retrying', 'inside the hourly window under 15 s of margin');
    assert.deepEqual(handedOver.episode?.schedule, [T + 30_000]);

    // No handover: at the end of the grace the default policy judges it (its 2 h margin leaves an
    // hourly plan no window: exhausted at once).
    assert.equal(settle(s, graceEnds - 1).episode, null);
    assert.equal(settle(s, graceEnds - 1).episodeHistory.length, 0);
    const judged = settle(s, graceEnds);
    assert.equal(judged.episodeHistory.at(-1)?.orderId, order(1));
    assert.equal(judged.episodeHistory.at(-1)?.outcome, 'exhausted');

    // A subscription the engine created never waits.
    const created = settle({ ...s, handover: { status: 'done', adoptedAt: null } }, T + 1_000);
    assert.equal(created.episodeHistory.at(-1)?.orderId, order(1));
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

  void it('counts a query from when it began: an end noticed before its answer was applied gets a query of its own', () => {
    const began = T + MINUTE;
    const applied = T + 2 * MINUTE;
    // While the query is on its way, QFPay's COMPLETED notification arrives.
    let s = applyFactToState(
      pastDue(),
      { kind: 'state', subscriptionId: SUB, state: 'COMPLETED', at: began + 1_000, source: 'notification' },
      applied,
    );
    const stale = {
      kind: 'sync' as const,
      subscriptionId: SUB,
      at: began + 500,
      source: 'query' as const,
      remote: {
        state: 'PAST_DUE' as const,
        totalBillingCycles: 2,
        completedCycles: 1,
        nextBillingTime: T + 30 * DAY,
        lastBillingTime: T,
      },
      orders: [],
    };
    s = afterSync(
      s,
      { kind: 'sync', reason: 'wanted' },
      { ok: true, value: { found: true, fact: stale } },
      began,
      applied,
    );
    assert.equal(s.lastSyncAt, began);
    const next = decide(settle(s, applied), applied, { continueAsNewSuggested: false });
    assert.deepEqual(next, { kind: 'sync', reason: 'final' });
  });

  void it('takes a query whose own answer says the subscription ended as the final one: no second query', () => {
    const began = T + MINUTE;
    const applied = T + 2 * MINUTE;
    const ended = {
      kind: 'sync' as const,
      subscriptionId: SUB,
      at: began + 500,
      source: 'query' as const,
      remote: {
        state: 'COMPLETED' as const,
        totalBillingCycles: 2,
        completedCycles: 2,
        lastBillingTime: T + 30_000,
      },
      orders: [{ orderId: order(2), sequenceNo: 2, status: 'PAID' as const, respcd: '0000', at: T + 30_000 }],
    };
    const s = afterSync(
      { ...pastDue(), outbox: [] },
      { kind: 'sync', reason: 'wanted' },
      { ok: true, value: { found: true, fact: ended } },
      began,
      applied,
    );
    const next = decide(settle({ ...s, outbox: [] }, applied), applied, { continueAsNewSuggested: false });
    assert.deepEqual(next, { kind: 'end', reason: 'ended' });
  });

  void describe('the engine’s hold on its dunning (QFPay: no pause)', () => {
    const noHint = { continueAsNewSuggested: false };
    /** Runs the loop's pure half at `now`: settle, then what decide would do. */
    const next = (s: EngineState, now: number): { s: EngineState; action: Action } => {
      const settled = settle(s, now);
      return { s: settled, action: decide(settled, now, noHint) };
    };
    /** Queues an intent and carries it out as the loop does (only pure actions here). */
    const request = (s: EngineState, intent: IntentRequest, now: number): EngineState => {
      const { s: settled, action } = next(enqueueIntent(s, intent).state, now);
      if (action.kind === 'pause') return applyPause(settled, action, now);
      if (action.kind === 'resume') return applyResume(settled, action, now);
      throw new Error(`unexpected ${JSON.stringify(action)}`);
    };
    const kinds = (s: EngineState) => s.outbox.map((e) => e.type);

    void it('stops planned charges: nothing is charged while paused, however long, and the episode is not exhausted', () => {
      let s = settle(pastDue(), T + MINUTE);
      assert.deepEqual(s.episode?.schedule, [T + HOUR, T + DAY, T + 3 * DAY]);
      s = request(s, { kind: 'pause', resumesAt: null, scope: 'dunning' }, T + 2 * MINUTE);
      assert.deepEqual(s.billingPause, { since: T + 2 * MINUTE, resumesAt: null, by: 'merchant' });
      assert.ok(kinds(s).includes('subscription.dunning_held'));
      for (const at of [T + HOUR, T + DAY, T + 3 * DAY, T + 10 * DAY]) {
        const { s: settled, action } = next({ ...s, retryNow: true }, at);
        assert.notEqual(action.kind, 'charge', `no charge at +${(at - T) / HOUR} h`);
        assert.equal(settled.episode?.stage, 'retrying');
        assert.deepEqual(settled.episode?.schedule, []);
        assert.equal(settled.retryNow, false, 'a new card waits for the resume too');
      }
      assert.match(
        intentProblem(s, { kind: 'charge_now' }, T + DAY, { queued: true }) ?? '',
        /billing is paused/,
      );
    });

    void it('resume re-plans: the attempts that fell due collapse into one charge now, after QFPay is asked', () => {
      let s = request(
        settle(pastDue(), T + MINUTE),
        { kind: 'pause', resumesAt: null, scope: 'dunning' },
        T + 2 * MINUTE,
      );
      s = { ...next(s, T + 2 * DAY).s, outbox: [] };
      s = request(s, { kind: 'resume', scope: 'dunning' }, T + 2 * DAY);
      assert.equal(s.billingPause, null);
      assert.deepEqual(kinds(s), ['subscription.dunning_released']);
      assert.deepEqual(s.resolved.at(-1), {
        id: s.nextIntentId - 1,
        ok: true,
        value: { resumedAt: T + 2 * DAY },
      });
      let step = next(s, T + 2 * DAY);
      assert.deepEqual(step.s.episode?.schedule, [T + 2 * DAY, T + 3 * DAY]);
      assert.equal(step.action.kind, 'sync', 'QFPay first');
      step = next({ ...step.s, syncWanted: false, lastSyncAt: T + 2 * DAY }, T + 2 * DAY);
      assert.equal(step.action.kind, 'charge');
      assert.equal(step.action.kind === 'charge' && step.action.scheduledAt, T + 2 * DAY);
    });

    void it('ends by itself at resumes_at: the time is a wake time, and the resume is told', () => {
      const resumesAt = T + 5 * DAY;
      let s = request(
        settle(pastDue(), T + MINUTE),
        { kind: 'pause', resumesAt, scope: 'dunning' },
        T + 2 * MINUTE,
      );
      const waiting = next(
        { ...s, outbox: [], episode: null, episodeHistory: [], syncWanted: false },
        T + 4 * DAY,
      );
      assert.deepEqual(waiting.action, { kind: 'wait', until: resumesAt });
      assert.ok(waiting.s.billingPause, 'still paused before its time');
      s = next(s, resumesAt).s;
      assert.equal(s.billingPause, null);
      const resumed = s.outbox.find((e) => e.type === 'subscription.dunning_released');
      assert.deepEqual(resumed?.data, {
        released_by: 'schedule',
        held_since: new Date(T + 2 * MINUTE).toISOString(),
        released_at: new Date(resumesAt).toISOString(),
      });
      assert.equal(s.syncWanted, true);
    });

    void it('pausing again changes only when it resumes; no second paused event', () => {
      let s = request(
        settle(pastDue(), T + MINUTE),
        { kind: 'pause', resumesAt: T + DAY, scope: 'dunning' },
        T + 2 * MINUTE,
      );
      s = request(s, { kind: 'pause', resumesAt: null, scope: 'dunning' }, T + HOUR);
      assert.deepEqual(s.billingPause, { since: T + 2 * MINUTE, resumesAt: null, by: 'merchant' });
      assert.equal(kinds(s).filter((k) => k === 'subscription.dunning_held').length, 1);
      assert.ok(next(s, T + 2 * DAY).s.billingPause, 'no timer any more');
    });

    void it('refuses a pause or resume at QFPay, which would go on charging, and says what to do instead', () => {
      const s = settle(pastDue(), T + MINUTE);
      for (const intent of [
        { kind: 'pause' as const, resumesAt: null, scope: 'gateway' as const },
        { kind: 'resume' as const, scope: 'gateway' as const },
      ]) {
        const problem = intentProblem(s, intent, T + MINUTE, { queued: true }) ?? '';
        assert.match(problem, /qfpay cannot pause billing: it would go on charging the card/);
        assert.match(problem, /cancel the subscription/);
        assert.match(problem, /dunning\/hold/);
        assert.equal(decide(enqueueIntent(s, intent).state, T + MINUTE, noHint).kind, 'refuse');
      }
    });

    void it('refuses a release when dunning is not held, and an until that is not in the future', () => {
      const s = settle(pastDue(), T + MINUTE);
      assert.equal(
        intentProblem(s, { kind: 'resume', scope: 'dunning' }, T + MINUTE, { queued: true }),
        'dunning is not held',
      );
      assert.match(
        intentProblem(s, { kind: 'pause', resumesAt: T + MINUTE, scope: 'dunning' }, T + MINUTE, {
          queued: true,
        }) ?? '',
        /in the future/,
      );
      assert.equal(
        intentProblem(s, { kind: 'pause', resumesAt: T + 2 * MINUTE, scope: 'dunning' }, T + MINUTE, {
          queued: true,
        }),
        undefined,
      );
      assert.equal(
        decide(enqueueIntent(s, { kind: 'resume', scope: 'dunning' }).state, T, noHint).kind,
        'refuse',
      );
    });

    void it('holds the final action while paused; the resume lets it run', () => {
      const policy = mergePolicy(DEFAULT_DUNNING_POLICY, { attemptOffsets: ['1h'], finalAction: 'cancel' });
      let s = settle(pastDue(policy), T + MINUTE);
      s = settle({ ...withFailedFirstAttempt(s), lastSyncAt: T + 2 * HOUR }, T + 2 * HOUR);
      assert.equal(s.episode?.stage, 'escalating');
      assert.equal(next(s, T + 2 * HOUR).action.kind, 'cancel');
      s = request(s, { kind: 'pause', resumesAt: null, scope: 'dunning' }, T + 2 * HOUR);
      assert.equal(next({ ...s, outbox: [] }, T + 3 * HOUR).action.kind, 'wait');
      s = request(s, { kind: 'resume', scope: 'dunning' }, T + 4 * HOUR);
      const after = next({ ...s, outbox: [], syncWanted: false, lastSyncAt: T + 4 * HOUR }, T + 4 * HOUR);
      assert.deepEqual(after.action, { kind: 'cancel', cause: 'final_action', orderId: order(2) });
    });

    void it('the final action hold_dunning (earlier pause_billing) holds with no end; only a release ends it', () => {
      const policy = mergePolicy(DEFAULT_DUNNING_POLICY, {
        attemptOffsets: ['1h'],
        finalAction: 'hold_dunning',
      });
      let s = settle(pastDue(policy), T + MINUTE);
      s = settle(withFailedFirstAttempt(s), T + 2 * HOUR);
      assert.deepEqual(s.billingPause, { since: T + 2 * HOUR, resumesAt: null, by: 'final_action' });
      assert.equal(s.episodeHistory.at(-1)?.outcome, 'exhausted');
      for (const at of [T + 40 * DAY, T + 400 * DAY]) assert.ok(settle(s, at).billingPause, 'still paused');
      s = request(s, { kind: 'resume', scope: 'dunning' }, T + 5 * DAY);
      assert.equal(s.billingPause, null);
    });

    void it("QFPay's own PAUSED: the engine charges nothing and opens no episode; its own pause is untouched", () => {
      let s = initialState({ subscriptionId: SUB, origin: 'created', options: { merchantEvents: true } });
      s = applyFactToState(
        s,
        {
          kind: 'sync',
          subscriptionId: SUB,
          at: T,
          source: 'query',
          remote: {
            state: 'PAUSED',
            totalBillingCycles: null,
            completedCycles: 1,
            nextBillingTime: T + 30 * DAY,
          },
          orders: [{ orderId: order(2), sequenceNo: 2, status: 'FAILED', respcd: '1205', at: T }],
        },
        T,
      );
      s = { ...s, known: true, lastSyncAt: T, syncWanted: false };
      for (const at of [T + HOUR, T + DAY, T + 10 * DAY]) {
        const step = next(s, at);
        assert.equal(step.s.episode, null);
        assert.notEqual(step.action.kind, 'charge');
        assert.equal(step.s.billingPause, null);
      }
      assert.match(intentProblem(s, { kind: 'charge_now' }, T + HOUR, { queued: true }) ?? '', /PAUSED/);
      assert.equal(
        intentProblem(s, { kind: 'pause', resumesAt: null }, T + HOUR, { queued: true }),
        undefined,
      );
    });
  });

  void describe('a plan change', () => {
    const change = (products: unknown) =>
      intentProblem(pastDue(), { kind: 'change_products', products } as IntentRequest, T, { queued: true });

    void it('checks the plan before QFPay is asked', () => {
      assert.equal(change([{ productId: 'prod_a', quantity: 3 }]), undefined);
      assert.match(change([]) ?? '', /1 to 20/);
      assert.match(change([{ productId: 'x', quantity: 1 }]) ?? '', /prod_/);
      assert.match(change([{ productId: 'prod_a', quantity: 0 }]) ?? '', /quantity/);
      assert.match(change([{ productId: 'prod_a', quantity: 1.5 }]) ?? '', /quantity/);
      assert.match(
        change([
          { productId: 'prod_a', quantity: 1 },
          { productId: 'prod_a', quantity: 2 },
        ]) ?? '',
        /twice/,
      );
      assert.match(change(undefined) ?? '', /product lines/);
    });

    void it('records the new products once QFPay took them, and asks QFPay for the rest', () => {
      const products = [{ productId: 'prod_b', quantity: 3 }];
      const queued = enqueueIntent(settle(pastDue(), T + MINUTE), { kind: 'change_products', products });
      const action = decide(queued.state, T + MINUTE, { continueAsNewSuggested: false });
      assert.deepEqual(action, { kind: 'change_products', intentId: queued.id, products });
      if (action.kind !== 'change_products') return;
      const done = afterChange(queued.state, action, { ok: true, value: { at: T + MINUTE } }, T + MINUTE);
      assert.deepEqual(done.snapshot.productIds, ['prod_b']);
      assert.equal(done.syncWanted, true);
      assert.deepEqual(done.resolved, [{ id: queued.id, ok: true, value: { products } }]);
      const refused = afterChange(
        queued.state,
        action,
        { ok: false, failure: { message: 'QFPay refused', type: 'QfpayError:validation', refused: true } },
        T + MINUTE,
      );
      assert.deepEqual(refused.snapshot.productIds, queued.state.snapshot.productIds);
      assert.equal(refused.resolved[0]?.ok, false);
    });
  });
});

describe('the continue-as-new bound', () => {
  // `npm run bench` (history phase) measured a cache miss at about 0.5 ms of replay per history
  // event on this machine, a happy cycle at 7 events, a continued run's start at 7 and a dunning
  // episode at about 50. Short runs keep a cache miss (nearly every payment in a large population)
  // at tens of events, while the carry stays a small share of a run.
  it('is tens of events for every new subscription the API or a notification starts', () => {
    const options = workflowOptions(loadConfig({ NODE_ENV: 'test', API_KEYS: 'k' }));
    assert.equal(options.maxHistoryEvents, NEW_SUBSCRIPTION_MAX_HISTORY_EVENTS);
    assert.ok(NEW_SUBSCRIPTION_MAX_HISTORY_EVENTS <= 100);
    // An adoption (15 events) and a dunning episode with a margin fit in one run, and at least ten
    // happy cycles after a continued run's start: the carry is at most a tenth of a run.
    assert.ok(NEW_SUBSCRIPTION_MAX_HISTORY_EVENTS >= 15 + 60);
    assert.ok(NEW_SUBSCRIPTION_MAX_HISTORY_EVENTS >= 7 + 10 * 7);
  });

  it('stays 10,000 for workflows started without it: a replay of their histories decides as they ran', () => {
    assert.equal(ENGINE_DEFAULTS.maxHistoryEvents, 10_000);
  });

  void it('reads from the oldest order it is missing or saw fail, so a lost notification is filled by the next query', () => {
    const withOrders = (
      origin: 'created' | 'adopted',
      seqs: number[],
      failed: number[] = [],
    ): Pick<EngineState, 'snapshot' | 'origin'> => {
      const s = initialState({ subscriptionId: SUB, origin });
      const orders = seqs.map((n) => ({
        orderId: order(n),
        sequenceNo: n,
        status: failed.includes(n) ? ('FAILED' as const) : ('PAID' as const),
        failures: 0,
        firstAt: T + n,
        lastAt: T + n,
      }));
      return { origin, snapshot: { ...s.snapshot, orders, lastSequenceNo: Math.max(0, ...seqs) } };
    };
    assert.equal(syncReadsFrom(withOrders('created', [])), undefined, 'nothing known: the current cycle');
    assert.equal(syncReadsFrom(withOrders('created', [1, 2, 3])), 3, 'no gap: the newest only');
    assert.equal(syncReadsFrom(withOrders('created', [1, 3, 4])), 2);
    assert.equal(syncReadsFrom(withOrders('created', [2, 3])), 1, 'a subscription it created starts at 1');
    assert.equal(syncReadsFrom(withOrders('adopted', [5, 7])), 6, 'one it adopted, at the first it saw');
    assert.equal(syncReadsFrom(withOrders('adopted', [5, 6])), 6);
    const long = Array.from({ length: 64 }, (_, i) => 100 + i);
    assert.equal(syncReadsFrom(withOrders('created', long)), 163, 'orders below the bound are not asked for');
    assert.equal(syncReadsFrom(withOrders('created', [...long.slice(0, 10), ...long.slice(11)])), 110);
    // A failed order may still be paid (QFPay's retry, a charge) and that report may be lost.
    assert.equal(syncReadsFrom(withOrders('created', [1, 2, 3], [2])), 2, 'a failed order is read again');
    assert.equal(syncReadsFrom(withOrders('created', [1, 2, 4], [2])), 2, 'before a gap after it');
    assert.equal(syncReadsFrom(withOrders('created', [1, 3, 4], [3])), 2, 'after a gap before it');
    assert.equal(syncReadsFrom(withOrders('adopted', [5, 6, 7], [5, 6])), 5);
    assert.equal(syncReadsFrom(withOrders('created', [1, 2, 3], [3])), 3, 'the newest failed: itself');
    assert.equal(syncReadsFrom(withOrders('created', long, [120, 161])), 161, 'two before the newest');
    assert.equal(syncReadsFrom(withOrders('created', long, [160])), 163, 'a failure long settled');
    // A merchant's sync reads every failed order the engine holds, within the bound.
    const every = { everyFailed: true };
    assert.equal(syncReadsFrom(withOrders('created', [1, 2, 3, 4, 5], [2]), every), 2, 'however old');
    assert.equal(syncReadsFrom(withOrders('created', long, [100, 161]), every), 100);
    assert.equal(syncReadsFrom(withOrders('created', long, [163]), every), 163, 'the newest failed: itself');
    assert.equal(syncReadsFrom(withOrders('created', [1, 2, 3, 4, 5]), every), 5, 'none failed: the newest');
    assert.equal(syncReadsFrom(withOrders('adopted', [5, 6, 9], [5]), every), 5);
  });
});
