/**
 * The loop's own bookkeeping in `decide.ts`, one rule at a time: what `settle` notices (the end
 * of the subscription, a creation's handover, a missing next billing time, a query or a
 * reconciliation that fell due, an episode's end and how it is recorded), the order in which
 * `decide` takes what is due (an unknown subscription, a query and its back-off, the events,
 * continue-as-new, the final query before the end), the checks `decide` keeps for itself when it
 * runs on a state that was not settled, and every time `wakeTime` waits for.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide, settle, wakeTime } from '../../src/domain/decide';
import { handoverWaitUntil, reconcileDueAt, reconcileTime } from '../../src/domain/sync/sync';
import { resumeBilling } from '../../src/domain/pause/pause';
import type { DunningEpisode } from '../../src/workflows/definitions';
import { DEFAULT_DUNNING_POLICY, mergePolicy } from '../../src/domain/episode/dunning';
import {
  ENGINE_DEFAULTS,
  MAX_EPISODE_HISTORY,
  MAX_RECONCILES_PER_BILLING,
  LEGACY_NOT_FOUND_LIMIT,
  NOT_FOUND_LIMIT,
  applyFactToState,
  initialState,
  type EngineState,
} from '../../src/domain/engine-state';
import { afterCharge } from '../../src/domain/charge/charge';
import { afterSync } from '../../src/domain/sync/sync';
import { DAY, HOUR, MINUTE, SUB, T, order, pastDue } from '../helpers/engine-states';
import {
  active,
  CANCEL_POLICY,
  chargeAnswer,
  escalated,
  noHint,
  step,
  syncAnswer,
  withFailedFirstAttempt,
} from '../helpers/engine-steps';

const BILLING = T + 30 * DAY;
const GRACE = ENGINE_DEFAULTS.reconcileGraceMs;

/** The default episode (attempts at T + 1 h, 1 d, 3 d), nothing to tell. */
function retrying(policy = DEFAULT_DUNNING_POLICY): EngineState {
  return { ...settle(pastDue(policy), T + MINUTE), outbox: [] };
}

function ended(state: 'CANCELLED' | 'COMPLETED' = 'CANCELLED', at = T + HOUR): EngineState {
  return applyFactToState(
    { ...active() },
    { kind: 'state', subscriptionId: SUB, state, at, source: 'notification' },
    at,
  );
}

void describe('settle', () => {
  void it("forgets a new card's try-now when no episode is retrying", () => {
    assert.equal(settle({ ...active(), retryNow: true }, T + HOUR).retryNow, false, 'no episode');
    assert.equal(settle({ ...escalated(), retryNow: true }, T + 3 * HOUR).retryNow, false, 'escalated');
    assert.equal(settle({ ...retrying(), retryNow: true }, T + 2 * MINUTE).retryNow, true, 'retrying');
  });

  void it('notes when it first saw the subscription ended, and forgets it if QFPay says otherwise', () => {
    const s = settle(ended(), T + 2 * HOUR);
    assert.equal(s.terminalSince, T + 2 * HOUR);
    assert.equal(settle(s, T + 3 * HOUR).terminalSince, T + 2 * HOUR, 'the first time stays');
    const reopened = { ...s, snapshot: { ...s.snapshot, state: 'ACTIVE' as const } };
    assert.equal(settle(reopened, T + 3 * HOUR).terminalSince, null);
    assert.equal(settle(active(), T + HOUR).terminalSince, null);
  });

  void it("waits a grace for a creation's handover, from when it adopted the subscription, then stops waiting", () => {
    const adopted = initialState({ subscriptionId: SUB, origin: 'adopted' });
    assert.equal(handoverWaitUntil(adopted), null, 'not adopted yet');
    const s = settle(adopted, T);
    assert.deepEqual(s.handover, { status: 'awaited', adoptedAt: T });
    const until = T + ENGINE_DEFAULTS.handoverGraceMs;
    assert.equal(handoverWaitUntil(s), until);
    assert.deepEqual(settle(s, until - 1).handover, { status: 'awaited', adoptedAt: T });
    assert.deepEqual(settle(s, until).handover, { status: 'done', adoptedAt: T });
    assert.equal(handoverWaitUntil(settle(s, until)), null);
    // A state carried from before the handover existed has none, and waits for nothing.
    const { handover: _handover, ...old } = pastDue();
    const settled = settle(old as EngineState, T + MINUTE);
    assert.equal(settled.handover, undefined);
    assert.equal(handoverWaitUntil(settled), null);
    assert.equal(settled.episode?.orderId, order(2));
  });

  void it("does not make a later cycle's failed order wait for the handover", () => {
    const s = { ...pastDue(), handover: { status: 'awaited' as const, adoptedAt: T } };
    const settled = settle(s, T + 1_000);
    assert.equal(settled.episode?.orderId, order(2), 'only the first order waits');
    assert.equal(settled.handover?.status, 'awaited');
    // Before the loop opened it, the time it waits for is not the handover's grace either.
    assert.equal(wakeTime(s, T + 1_000), BILLING + GRACE);
  });

  void it('asks QFPay for the next billing time of a failed order it never asked about, once', () => {
    const failed = applyFactToState(
      initialState({ subscriptionId: SUB, origin: 'created' }),
      {
        kind: 'payment',
        subscriptionId: SUB,
        orderId: order(1),
        sequenceNo: 1,
        succeeded: false,
        respcd: '1205',
        at: T,
        source: 'notification',
      },
      T,
    );
    const unknownState = applyFactToState(
      failed,
      { kind: 'state', subscriptionId: SUB, state: 'INCOMPLETE', at: T, source: 'notification' },
      T,
    );
    const quiet = { ...unknownState, syncWanted: false };
    assert.equal(settle(quiet, T).syncWanted, true);
    assert.equal(settle({ ...quiet, lastSyncAt: T }, T).syncWanted, false, 'asked already: it waits');
    assert.equal(settle({ ...quiet, lastSyncAt: T }, T).episode, null);
  });

  void it('opens no episode while billing is paused: the resume re-plans from then', () => {
    const paused = { ...pastDue(), billingPause: { since: T, resumesAt: null, by: 'merchant' as const } };
    const s = settle(paused, T + MINUTE);
    assert.equal(s.episode, null);
    assert.equal(s.syncWanted, false);
    assert.equal(settle({ ...paused, billingPause: null }, T + MINUTE).episode?.orderId, order(2));
  });

  void it('wants no query of a subscription it never asked about for any other reason', () => {
    const s = { ...active(), lastSyncAt: null, syncWanted: false };
    assert.equal(settle(s, T + HOUR).syncWanted, false, 'no failed order: nothing to learn first');
  });

  void it('moves the open episode to the next billing time QFPay reports', () => {
    const s = retrying();
    const moved = afterSync(
      s,
      { kind: 'sync', reason: 'wanted' },
      syncAnswer(T + HOUR, { nextBillingTime: T + 31 * DAY }),
      T + HOUR,
      T + HOUR,
    );
    const settled = settle(moved, T + HOUR);
    assert.equal(settled.episode?.nextBillingTime, T + 31 * DAY);
    assert.equal(settled.episode?.deadline, T + 31 * DAY - DEFAULT_DUNNING_POLICY.safetyMargin);
  });

  void it('escalates an exhausted episode once: its steps, its final action and its reason', () => {
    const s = escalated();
    const episode = s.episode!;
    assert.equal(episode.stage, 'escalating');
    assert.deepEqual(episode.schedule, []);
    assert.deepEqual(episode.escalationStepsDone, CANCEL_POLICY.escalation);
    assert.deepEqual(episode.finalAction, {
      action: 'cancel',
      status: 'pending',
      since: T + 2 * HOUR,
      attempts: 0,
    });
    assert.equal(episode.outcomeDetail, 'attempts exhausted; final action cancel');
    const later = settle(s, T + 5 * HOUR);
    assert.deepEqual(later.episode, episode, 'settling again changes nothing');
  });

  void it('plans no attempt for an escalated episode, even when a policy change would leave some', () => {
    const s = escalated();
    const policy = mergePolicy(CANCEL_POLICY, { attemptOffsets: ['1h', '1d', '3d'] });
    const changed = settle({ ...s, policy }, T + 3 * HOUR);
    assert.deepEqual(changed.episode?.schedule, []);
    const reopened = { ...changed, episode: { ...changed.episode!, stage: 'retrying' as const } };
    assert.deepEqual(settle(reopened, T + 3 * HOUR).episode?.schedule, [T + DAY, T + 3 * DAY]);
  });

  void it('closes an episode whose final action needs no call as exhausted, the action done, and tells no recovery', () => {
    const s = settle(
      withFailedFirstAttempt(retrying(mergePolicy(DEFAULT_DUNNING_POLICY, { attemptOffsets: ['1h'] }))),
      T + 2 * HOUR,
    );
    const closed = s.episodeHistory.at(-1)!;
    assert.equal(s.episode, null);
    assert.equal(closed.outcome, 'exhausted');
    assert.equal(closed.stage, 'exhausted');
    assert.equal(closed.closedAt, T + 2 * HOUR);
    assert.deepEqual(closed.finalAction, {
      action: 'leave_to_gateway',
      status: 'done',
      since: T + 2 * HOUR,
      attempts: 0,
    });
    assert.equal(closed.outcomeDetail, 'attempts exhausted; final action leave_to_gateway');
    assert.equal(
      s.outbox.some((e) => e.type === 'subscription.dunning_recovered'),
      false,
    );
  });

  void it("takes a paid order as the end of an episode before the final action's give-up", () => {
    const s = escalated();
    const gaveUp: DunningEpisode = {
      ...s.episode!,
      finalAction: { ...s.episode!.finalAction!, status: 'failed' },
      outcomeDetail: undefined,
    };
    const paid = {
      ...s,
      episode: gaveUp,
      snapshot: {
        ...s.snapshot,
        orders: s.snapshot.orders.map((o) =>
          o.orderId === order(2) ? { ...o, status: 'PAID' as const } : o,
        ),
      },
    };
    assert.equal(settle(paid, T + 3 * HOUR).episodeHistory.at(-1)?.outcome, 'recovered');
    const unpaid = settle({ ...s, episode: gaveUp }, T + 3 * HOUR).episodeHistory.at(-1);
    assert.equal(unpaid?.outcome, 'exhausted');
    assert.equal(unpaid?.outcomeDetail, 'attempts exhausted', 'an episode carried without its reason');
  });

  void it('settles an unconfirmed attempt with the episode: lost when the billing time passed, the charge cleared, no retry left', () => {
    const { s: at, action } = step(retrying(), T + HOUR);
    assert.equal(action.kind, 'charge');
    if (action.kind !== 'charge') return;
    const pending = {
      ...afterCharge(at, action, chargeAnswer('unknown', T + HOUR), T + HOUR, T + HOUR),
      retryNow: true,
    };
    const lost = settle(pending, BILLING);
    const closed = lost.episodeHistory.at(-1)!;
    assert.equal(closed.outcome, 'lost');
    // An attempt with a result keeps it.
    const withResult = {
      ...pending.episode!,
      attempts: [{ ...pending.episode!.attempts[0]!, result: 'failed' as const }],
    };
    assert.equal(
      settle({ ...pending, episode: withResult }, BILLING).episodeHistory.at(-1)?.attempts[0]?.result,
      'failed',
    );
    assert.deepEqual(closed.schedule, []);
    assert.deepEqual(
      closed.attempts.map((a) => [a.result, a.finishedAt, a.detail]),
      [['error', BILLING, 'unconfirmed when the episode closed (lost)']],
    );
    assert.equal(lost.pendingCharge, null);
    assert.equal(lost.retryNow, false);
    assert.equal(
      lost.outbox.some((e) => e.type === 'subscription.dunning_recovered'),
      false,
    );

    const paid = afterSync(
      pending,
      { kind: 'sync', reason: 'wanted' },
      syncAnswer(T + 2 * HOUR, { state: 'ACTIVE', order2: 'PAID' }),
      T + 2 * HOUR,
      T + 2 * HOUR,
    );
    const recovered = settle(paid, T + 2 * HOUR).episodeHistory.at(-1)!;
    assert.deepEqual(
      recovered.attempts.map((a) => [a.result, a.detail]),
      [['succeeded', 'the order was found paid']],
    );
  });

  void it(`keeps the ${MAX_EPISODE_HISTORY} most recent closed episodes`, () => {
    const s = retrying();
    const old = Array.from({ length: MAX_EPISODE_HISTORY }, (_, i) => ({
      ...s.episode!,
      orderId: `old-${i}`,
    }));
    const lost = settle({ ...s, episodeHistory: old }, BILLING).episodeHistory;
    assert.equal(lost.length, MAX_EPISODE_HISTORY);
    assert.equal(lost[0]?.orderId, 'old-1');
    assert.equal(lost.at(-1)?.orderId, order(2));
  });

  void it("asks QFPay when a query's back-off has passed, and not before", () => {
    const s = { ...active(), syncRetryAt: T + HOUR };
    assert.deepEqual(
      [settle(s, T + HOUR - 1).syncWanted, settle(s, T + HOUR - 1).syncRetryAt],
      [false, T + HOUR],
    );
    assert.deepEqual([settle(s, T + HOUR).syncWanted, settle(s, T + HOUR).syncRetryAt], [true, null]);
  });

  void it('asks QFPay about a billing time that passed with no payment result, backing off, at most six times', () => {
    const s = active();
    assert.equal(settle(s, BILLING + GRACE - 1).syncWanted, false);
    let r = settle(s, BILLING + GRACE);
    assert.equal(r.syncWanted, true);
    assert.deepEqual(r.reconcile, { billingTime: BILLING, attempts: 1 });
    r = settle({ ...r, syncWanted: false }, BILLING + 2 * GRACE);
    assert.deepEqual(r.reconcile, { billingTime: BILLING, attempts: 2 });
    // A new billing time starts over.
    const next = {
      ...r,
      syncWanted: false,
      snapshot: { ...r.snapshot, nextBillingTime: BILLING + 30 * DAY },
    };
    assert.deepEqual(settle(next, BILLING + 30 * DAY + GRACE).reconcile, {
      billingTime: BILLING + 30 * DAY,
      attempts: 1,
    });
    // Nothing to reconcile once the subscription ended, or with no billing time.
    assert.equal(settle({ ...ended(), syncWanted: false }, BILLING + GRACE).syncWanted, false);
    const none = { ...s, snapshot: { ...s.snapshot, nextBillingTime: null } };
    assert.equal(settle(none, BILLING + GRACE).syncWanted, false);
  });

  void it('times the reconciliation queries: the grace, doubled after each, none after the sixth', () => {
    const s = active();
    assert.equal(reconcileTime(s, BILLING), BILLING + GRACE);
    const asked = (attempts: number, billingTime = BILLING) => ({
      ...s,
      reconcile: { billingTime, attempts },
    });
    assert.equal(reconcileTime(asked(3), BILLING), BILLING + 8 * GRACE);
    assert.equal(
      reconcileTime(asked(3, T), BILLING),
      BILLING + GRACE,
      'counts only for its own billing time',
    );
    assert.equal(reconcileTime(asked(MAX_RECONCILES_PER_BILLING - 1), BILLING), BILLING + 32 * GRACE);
    assert.equal(reconcileTime(asked(MAX_RECONCILES_PER_BILLING), BILLING), undefined);
    const quick = { ...s, options: { ...s.options, reconcileGraceMs: MINUTE } };
    assert.equal(reconcileTime(quick, BILLING), BILLING + MINUTE);
  });

  void it('ends a pause only when it is paused: a resume of nothing changes nothing', () => {
    const s = active();
    assert.equal(resumeBilling(s, T, 'merchant'), s);
  });
});

void describe('decide', () => {
  void it('gives up a subscription only when QFPay missed it often enough and never knew it', () => {
    const missed = { ...active(), known: false, notFound: NOT_FOUND_LIMIT, quickNotFound: true as const };
    assert.deepEqual(decide(missed, T, noHint), { kind: 'end', reason: 'not_found' });
    assert.notEqual(decide({ ...missed, notFound: NOT_FOUND_LIMIT - 1 }, T, noHint).kind, 'end');
    assert.notEqual(decide({ ...missed, known: true }, T, noHint).kind, 'end');
    // A run recorded before the quick give-up asked QFPay three times.
    const { quickNotFound: _quick, ...legacy } = missed;
    assert.notEqual(decide(legacy, T, noHint).kind, 'end');
    assert.deepEqual(decide({ ...legacy, notFound: LEGACY_NOT_FOUND_LIMIT }, T, noHint), {
      kind: 'end',
      reason: 'not_found',
    });
  });

  void it('asks QFPay when a query is wanted and its back-off has passed', () => {
    const s = { ...active(), syncWanted: true, syncRetryAt: T + HOUR };
    assert.deepEqual(decide(s, T + HOUR - 1, noHint), { kind: 'wait', until: T + HOUR });
    assert.deepEqual(decide(s, T + HOUR, noHint), { kind: 'sync', reason: 'wanted' });
    assert.deepEqual(decide({ ...s, syncRetryAt: null }, T, noHint), { kind: 'sync', reason: 'wanted' });
  });

  void it('hands events over only for a subscription QFPay knows, then continues as new when asked to', () => {
    const withEvents = ended();
    const open = { ...active(), outbox: withEvents.outbox };
    assert.deepEqual(decide(open, T, noHint), { kind: 'flush' });
    assert.equal(decide({ ...open, known: false }, T, noHint).kind, 'wait');
    assert.deepEqual(decide(active(), T, { continueAsNewSuggested: true }), { kind: 'continue_as_new' });
    assert.deepEqual(decide(open, T, { continueAsNewSuggested: true }), { kind: 'flush' }, 'events first');
  });

  void it('asks QFPay once after the end before it closes the mirror, backing off, then hands over the last events', () => {
    const s = settle(ended(), T + 2 * HOUR);
    assert.deepEqual(decide(s, T + 2 * HOUR, noHint), { kind: 'sync', reason: 'final' });
    assert.deepEqual(decide({ ...s, terminalSince: null }, T + 2 * HOUR, noHint), {
      kind: 'sync',
      reason: 'final',
    });
    const waiting = { ...s, syncRetryAt: T + 3 * HOUR };
    assert.deepEqual(decide(waiting, T + 3 * HOUR - 1, noHint), { kind: 'wait', until: T + 3 * HOUR });
    assert.deepEqual(decide(waiting, T + 3 * HOUR, noHint), { kind: 'sync', reason: 'final' });
    const synced = { ...s, lastSyncAt: T + 2 * HOUR };
    assert.deepEqual(decide(synced, T + 2 * HOUR, noHint), { kind: 'flush' });
    assert.deepEqual(decide({ ...synced, known: false }, T + 2 * HOUR, noHint), {
      kind: 'end',
      reason: 'ended',
    });
    assert.deepEqual(decide({ ...synced, outbox: [] }, T + 2 * HOUR, noHint), {
      kind: 'end',
      reason: 'ended',
    });
    assert.deepEqual(decide({ ...synced, lastSyncAt: T + 2 * HOUR - 1 }, T + 2 * HOUR, noHint), {
      kind: 'sync',
      reason: 'final',
    });
  });

  void describe('on a state that was not settled', () => {
    void it('charges nothing for an episode that escalated, even with a new card', () => {
      const s = { ...escalated(), retryNow: true, lastSyncAt: null };
      const action = decide({ ...s, episode: { ...s.episode!, schedule: [T + HOUR] } }, T + 3 * HOUR, noHint);
      assert.notEqual(action.kind, 'charge');
    });

    void it('charges nothing while QFPay itself has paused the subscription', () => {
      const s = retrying();
      const paused = { ...s, snapshot: { ...s.snapshot, state: 'PAUSED' as const } };
      assert.equal(decide(s, T + HOUR, noHint).kind, 'charge');
      assert.notEqual(decide(paused, T + HOUR, noHint).kind, 'charge');
    });

    void it('charges nothing when no attempt is planned and no new card waits', () => {
      const s = retrying();
      const empty = { ...s, episode: { ...s.episode!, schedule: [] } };
      assert.notEqual(decide(empty, T + HOUR, noHint).kind, 'charge');
    });

    void it('never cancels twice: a final action that ran is not run again', () => {
      const s = { ...escalated(), lastSyncAt: T + 3 * HOUR, outbox: [] };
      assert.equal(decide(s, T + 3 * HOUR, noHint).kind, 'cancel');
      const ran = {
        ...s,
        episode: { ...s.episode!, finalAction: { ...s.episode!.finalAction!, status: 'done' as const } },
      };
      assert.notEqual(decide(ran, T + 3 * HOUR, noHint).kind, 'cancel');
      const skipped = {
        ...s,
        episode: { ...s.episode!, finalAction: { ...s.episode!.finalAction!, status: 'skipped' as const } },
      };
      assert.notEqual(decide(skipped, T + 3 * HOUR, noHint).kind, 'cancel');
    });

    void it('cancels nothing for an order it no longer holds', () => {
      const s = { ...escalated(), lastSyncAt: T + 3 * HOUR, outbox: [] };
      const forgotten = {
        ...s,
        snapshot: { ...s.snapshot, orders: s.snapshot.orders.filter((o) => o.orderId !== order(2)) },
      };
      assert.notEqual(decide(forgotten, T + 3 * HOUR, noHint).kind, 'cancel');
    });
  });
});

void describe('wakeTime', () => {
  void it("leaves a billing time's question to the reconciler when the run has one: no timer, the time it lists", () => {
    const own = active();
    const scheduled: EngineState = { ...own, options: { ...own.options, reconciler: 'schedule' } };
    assert.equal(wakeTime(own, T + MINUTE), BILLING + GRACE, 'a run of its own waits on a timer');
    assert.equal(wakeTime(scheduled, T + MINUTE), null, "the reconciler's signal wakes it instead");
    assert.equal(reconcileDueAt(scheduled), BILLING + GRACE, 'what it lists as ReconcileAt');
    // Woken at or after that time, the question falls due as with a timer; woken early, nothing.
    assert.equal(settle(scheduled, BILLING + GRACE - 1).syncWanted, false);
    const asked = settle(scheduled, BILLING + GRACE);
    assert.equal(asked.syncWanted, true);
    assert.equal(reconcileDueAt({ ...asked, syncWanted: false }), BILLING + 2 * GRACE, 'then backs off');
    const givenUp = {
      ...scheduled,
      reconcile: { billingTime: BILLING, attempts: MAX_RECONCILES_PER_BILLING },
    };
    assert.equal(reconcileDueAt(givenUp), null, 'none after the last question');
    assert.equal(reconcileDueAt({ ...ended(), options: scheduled.options }), null, 'none once ended');
    const none = { ...scheduled, snapshot: { ...scheduled.snapshot, nextBillingTime: null } };
    assert.equal(reconcileDueAt(none), null, 'none without a billing time');
    // Its other times keep their timers: an episode's attempts.
    const episode: EngineState = { ...retrying(), options: { reconciler: 'schedule' } };
    assert.equal(wakeTime(episode, T + MINUTE), T + HOUR);
  });

  void it("wakes for the episode's next attempt, then its next billing time; only for times still to come", () => {
    const s = retrying();
    assert.equal(wakeTime(s, T + MINUTE), T + HOUR);
    assert.equal(wakeTime(s, T + HOUR), BILLING, 'the attempt due now is not waited for');
    assert.equal(wakeTime(s, BILLING + GRACE), null, 'nothing left to wait for');
  });

  void it('wakes for the look at a pending charge, not for the next attempt meanwhile', () => {
    const s = retrying();
    const pending = {
      ...s,
      pendingCharge: {
        orderId: order(2),
        sequenceNo: 2,
        attempt: 1,
        sentAt: T + 10 * MINUTE,
        confirmUntil: T + 2 * HOUR,
        nextCheckAt: T + 90 * MINUTE,
        checks: 0,
      },
    };
    assert.equal(wakeTime(pending, T + 20 * MINUTE), T + 90 * MINUTE);
    assert.equal(wakeTime(pending, T + 90 * MINUTE), T + 2 * HOUR, 'then the end of its window');
  });

  void it("does not wake for an escalated episode's leftover plan, but for its final action's retry", () => {
    const s = escalated();
    const leftover = { ...s, episode: { ...s.episode!, schedule: [T + 3 * HOUR] } };
    assert.equal(wakeTime(leftover, T + 2 * HOUR), BILLING);
    const retry = {
      ...s,
      episode: { ...s.episode!, finalAction: { ...s.episode!.finalAction!, retryAt: T + 4 * HOUR } },
    };
    assert.equal(wakeTime(retry, T + 2 * HOUR), T + 4 * HOUR);
  });

  void it("wakes for a query's back-off, a pause's end and a billing time's reconciliation", () => {
    const s = active();
    assert.equal(wakeTime(s, T), BILLING + GRACE, 'the reconciliation of the next billing time');
    assert.equal(wakeTime({ ...s, syncRetryAt: T + HOUR }, T), T + HOUR);
    const paused = { ...s, billingPause: { since: T, resumesAt: T + 2 * HOUR, by: 'merchant' as const } };
    assert.equal(wakeTime(paused, T), T + 2 * HOUR);
    assert.equal(
      wakeTime({ ...paused, billingPause: { ...paused.billingPause, resumesAt: null } }, T),
      BILLING + GRACE,
    );
    assert.equal(wakeTime({ ...s, snapshot: { ...s.snapshot, nextBillingTime: null } }, T), null);
    const over = settle(ended(), T + 2 * HOUR);
    assert.equal(wakeTime(over, T + 2 * HOUR), null, 'an ended subscription bills no more');
    const stillDated = { ...over, snapshot: { ...over.snapshot, nextBillingTime: BILLING } };
    assert.equal(wakeTime(stillDated, T + 2 * HOUR), null, 'even with a billing time it knew');
  });

  void it("wakes at the end of the handover's grace only while the first order waits for it", () => {
    const s = { ...active(), handover: { status: 'awaited' as const, adoptedAt: T } };
    assert.equal(wakeTime(s, T), BILLING + GRACE, 'no failed first order: nothing waits');
  });
});
