/**
 * The reducers of `results.ts`, one by one: what each action's answer (or failure) does to the
 * engine's state, and what the merchant's waiting request is answered. The charging promises
 * (pending charges, the final action) have files of their own (no-double-charge,
 * never-cancel-paid-plan); this file pins the rest: a query's bookkeeping and back-off, the
 * payment fact a charge answer is, each intent's answer and its refusal types, a cancel's source,
 * the final action's retries, and the token, cycles, products, policy and pause changes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChargeOutcome } from '../../src/activities/contracts';
import { settle } from '../../src/domain/decide';
import { syncBackoff } from '../../src/domain/sync/sync';
import type { Action } from '../../src/domain/actions';
import { DEFAULT_DUNNING_POLICY, mergePolicy } from '../../src/domain/episode/dunning';
import { enqueueIntent, type EngineState, type IntentRequest } from '../../src/domain/engine-state';
import { MAX_FINAL_ACTION_ATTEMPTS, afterCancel } from '../../src/domain/episode/settle-episode';
import { afterChange, applyPolicyChange, refuseIntent } from '../../src/domain/intents/intents';
import { afterCharge, afterConfirm, chargeFact } from '../../src/domain/charge/charge';
import { afterSync } from '../../src/domain/sync/sync';
import { applyPause, applyResume } from '../../src/domain/pause/pause';
import { beginAction, type ActionFailure, type Outcome } from '../../src/domain/actions';
import { DAY, HOUR, MINUTE, SUB, T, order, pastDue } from '../helpers/engine-states';
import { chargeAnswer, escalated, step, syncAnswer } from '../helpers/engine-steps';

type Charge = Extract<Action, { kind: 'charge' }>;

const NOW = T + HOUR;
const failure = (extra: Partial<ActionFailure> = {}): Outcome<never> => ({
  ok: false,
  failure: { message: 'QFPay said no', refused: true, ...extra },
});

/** The state with one queued intent, and its id. */
function queued(request: IntentRequest, s: EngineState = settle(pastDue(), T + MINUTE)) {
  const q = enqueueIntent({ ...s, outbox: [] }, request);
  return { s: q.state, id: q.id };
}

const answerOf = (s: EngineState, id: number) => s.resolved.find((r) => r.id === id);

/** The first attempt of the default episode (at T + 1 h) as the loop decides it. */
function attemptCharge(): { s: EngineState; charge: Charge } {
  const { s, action } = step(settle(pastDue(), T + MINUTE), T + HOUR);
  assert.equal(action.kind, 'charge');
  return { s: { ...s, outbox: [] }, charge: action as Charge };
}

void describe('the reducers: what an answer does to the state', () => {
  void describe('beginAction', () => {
    void it('clears the wish a query or a charge answers, and nothing else', () => {
      const s = { ...pastDue(), syncWanted: true, retryNow: true };
      assert.deepEqual(beginAction(s, { kind: 'sync', reason: 'wanted' }), { ...s, syncWanted: false });
      const { charge } = attemptCharge();
      assert.deepEqual(beginAction(s, charge), { ...s, retryNow: false });
      assert.equal(beginAction(s, { kind: 'flush' }), s);
      assert.equal(beginAction(s, { kind: 'confirm', pending: {} as never }), s);
    });
  });

  void describe('afterSync', () => {
    const wanted = { kind: 'sync', reason: 'wanted' } as const;

    void it('backs off after a failed query, longer after each one in a row', () => {
      const s = { ...pastDue(), syncWanted: true, syncFailures: 2 };
      const failed = afterSync(s, wanted, failure({ refused: false }), NOW, NOW);
      assert.equal(failed.syncFailures, 3);
      assert.equal(failed.syncRetryAt, NOW + syncBackoff(3));
      assert.equal(failed.syncRetryAt, NOW + 4 * MINUTE);
      assert.equal(failed.syncWanted, false);
      assert.equal(failed.lastSyncAt, s.lastSyncAt, 'a failed query is no query');
    });

    void it('counts a query that does not find the subscription, and backs off by the misses', () => {
      const s = { ...pastDue(), syncFailures: 2, notFound: 1 };
      const missed = afterSync(
        s,
        wanted,
        { ok: true, value: { found: false, subscriptionId: SUB, at: NOW } },
        T + MINUTE,
        NOW,
      );
      assert.equal(missed.notFound, 2);
      assert.equal(missed.syncFailures, 0);
      assert.equal(missed.lastSyncAt, T + MINUTE);
      assert.equal(missed.syncRetryAt, NOW + syncBackoff(2));
      assert.equal(missed.syncWanted, false);
      assert.deepEqual(missed.snapshot, s.snapshot);
    });

    void it('resets the back-off and the misses on an answer, counts the query from when it began, and knows the subscription', () => {
      const s = { ...pastDue(), syncFailures: 3, syncRetryAt: NOW, notFound: 2, known: false };
      const answered = afterSync(s, wanted, syncAnswer(NOW), T + MINUTE, NOW);
      assert.equal(answered.syncFailures, 0);
      assert.equal(answered.syncRetryAt, null);
      assert.equal(answered.notFound, 0);
      assert.equal(answered.known, true);
      assert.equal(answered.lastSyncAt, T + MINUTE);
    });

    void it("answers a merchant's sync with the state, a miss with SubscriptionNotFound, a failure with its type or SyncFailed", () => {
      const { s, id } = queued({ kind: 'sync' });
      const action = { kind: 'sync', reason: 'intent', intentId: id } as const;
      const ok = afterSync(s, action, syncAnswer(NOW), T + MINUTE, NOW);
      assert.deepEqual(answerOf(ok, id), {
        id,
        ok: true,
        value: { state: 'PAST_DUE', lastSyncAt: T + MINUTE },
      });
      assert.deepEqual(ok.intents, []);
      const missed = afterSync(
        s,
        action,
        { ok: true, value: { found: false, subscriptionId: SUB, at: NOW } },
        NOW,
        NOW,
      );
      assert.deepEqual(answerOf(missed, id), {
        id,
        ok: false,
        message: 'QFPay does not know this subscription',
        type: 'SubscriptionNotFound',
      });
      const failed = afterSync(s, action, failure({ refused: false }), NOW, NOW);
      assert.deepEqual(answerOf(failed, id), { id, ok: false, message: 'QFPay said no', type: 'SyncFailed' });
      const typed = afterSync(
        s,
        action,
        failure({ type: 'QfpayError:auth', details: [{ respcd: '1108' }] }),
        NOW,
        NOW,
      );
      assert.deepEqual(answerOf(typed, id), {
        id,
        ok: false,
        message: 'QFPay said no',
        type: 'QfpayError:auth',
        details: [{ respcd: '1108' }],
      });
      // The loop's own queries answer nobody.
      assert.deepEqual(afterSync(s, wanted, syncAnswer(NOW), NOW, NOW).resolved, []);
    });

    void it('keeps a charge-now queued after its query, marked as asked; a failed query answers it', () => {
      const first = queued({ kind: 'charge_now' });
      const { s, id } = queued({ kind: 'charge_now', orderId: order(2) }, first.s);
      const action = { kind: 'sync', reason: 'charge_now', intentId: id } as const;
      const asked = afterSync(s, action, syncAnswer(NOW), NOW, NOW);
      assert.deepEqual(asked.resolved, []);
      assert.deepEqual(asked.intents, [
        { kind: 'charge_now', id: first.id },
        { kind: 'charge_now', orderId: order(2), id, syncedFirst: true },
      ]);
      const failed = afterSync(s, action, failure({ refused: false }), NOW, NOW);
      assert.deepEqual(answerOf(failed, id), { id, ok: false, message: 'QFPay said no', type: 'SyncFailed' });
      assert.deepEqual(
        failed.intents.map((i) => i.id),
        [first.id],
      );
    });

    void it('takes an answer with no subscription in it without throwing', () => {
      const answer = syncAnswer(NOW);
      if (!answer.ok || !answer.value.found) throw new Error('unreachable');
      const { remote: _remote, ...noRemote } = answer.value.fact;
      const s = pastDue();
      const after = afterSync(
        s,
        wanted,
        { ok: true, value: { found: true, fact: noRemote as never } },
        NOW,
        NOW,
      );
      assert.equal(after.snapshot.state, 'PAST_DUE');
      assert.equal(after.terminalSince, s.terminalSince);
    });
  });

  void describe('chargeFact', () => {
    const outcome = (extra: Partial<ChargeOutcome>): ChargeOutcome => ({
      orderId: order(2),
      sequenceNo: 2,
      outcome: 'succeeded',
      at: NOW,
      ...extra,
    });

    void it('is a manual payment the engine reports, with only the details QFPay gave', () => {
      assert.deepEqual(chargeFact(pastDue(), outcome({})), {
        kind: 'payment',
        subscriptionId: SUB,
        orderId: order(2),
        sequenceNo: 2,
        succeeded: true,
        respcd: '0000',
        at: NOW,
        triggerBy: 'manual',
        source: 'engine',
      });
      assert.deepEqual(
        chargeFact(
          pastDue(),
          outcome({
            outcome: 'failed',
            respcd: '1205',
            respmsg: 'insufficient funds',
            amount: 990,
            currency: 'HKD',
            syssn: 'ko-1',
          }),
        ),
        {
          kind: 'payment',
          subscriptionId: SUB,
          orderId: order(2),
          sequenceNo: 2,
          succeeded: false,
          respcd: '1205',
          respmsg: 'insufficient funds',
          amount: 990,
          currency: 'HKD',
          syssn: 'ko-1',
          at: NOW,
          triggerBy: 'manual',
          source: 'engine',
        },
      );
      const noCode = chargeFact(pastDue(), outcome({ outcome: 'failed' }));
      assert.equal(noCode?.kind === 'payment' && noCode.respcd, '', 'a failure without a code');
    });

    void it('comes after every fact the engine has seen, whatever the clock says', () => {
      const s = pastDue();
      assert.equal(chargeFact(s, outcome({ at: T - HOUR }))?.at, s.snapshot.lastFactAt! + 1);
    });

    void it('is no fact for an answer that says nothing definite', () => {
      for (const o of ['pending', 'unknown', 'not_sent'] as const)
        assert.equal(chargeFact(pastDue(), outcome({ outcome: o })), undefined, o);
    });
  });

  void describe('afterCharge', () => {
    void it("records the episode's attempt with QFPay's code and detail, and logs the payment", () => {
      const { s, charge } = attemptCharge();
      const after = afterCharge(
        { ...s, retryNow: true },
        charge,
        chargeAnswer('failed', NOW + 1_000, { respcd: '1205', syssn: 'ko-1', detail: 'declined' }),
        NOW,
        NOW + 2_000,
      );
      assert.deepEqual(after.episode?.attempts, [
        {
          attempt: 1,
          scheduledAt: T + HOUR,
          startedAt: NOW,
          finishedAt: NOW + 2_000,
          result: 'failed',
          trigger: 'scheduled',
          respcd: '1205',
          detail: 'declined',
        },
      ]);
      assert.equal(after.retryNow, false);
      assert.deepEqual(after.resolved, [], "the loop's own charge answers nobody");
      assert.equal(after.payments.at(-1)?.syssn, 'ko-1');
      assert.equal(after.payments.at(-1)?.triggerBy, 'manual');
      assert.equal(after.syncWanted, true);
    });

    void it('records a refused charge as an error with its message, a charge not sent as skipped; both ask QFPay', () => {
      const { s, charge } = attemptCharge();
      const refused = afterCharge(s, charge, failure(), NOW, NOW);
      assert.deepEqual(
        refused.episode?.attempts.map((a) => [a.result, a.detail, a.respcd]),
        [['error', 'QFPay said no', undefined]],
      );
      assert.equal(refused.syncWanted, true);
      assert.deepEqual(refused.payments, s.payments);
      const notSent = afterCharge(s, charge, chargeAnswer('not_sent', NOW), NOW, NOW);
      assert.deepEqual(
        notSent.episode?.attempts.map((a) => [a.result, 'detail' in a, 'respcd' in a]),
        [['skipped', false, false]],
      );
      assert.equal(notSent.syncWanted, true);
      const paid = afterCharge(s, charge, chargeAnswer('succeeded', NOW, { respcd: '0000' }), NOW, NOW);
      assert.equal(paid.episode?.attempts[0]?.result, 'succeeded');
      assert.equal(paid.snapshot.orders.find((o) => o.orderId === order(2))?.status, 'PAID');
    });

    void it("records no attempt for a merchant's charge outside the episode, of another order, or once the episode escalated", () => {
      const { s, charge } = attemptCharge();
      const answer = chargeAnswer('failed', NOW, { respcd: '1205' });
      assert.deepEqual(afterCharge(s, { ...charge, attempt: 0 }, answer, NOW, NOW).episode?.attempts, []);
      const other = { ...charge, orderId: order(3), sequenceNo: 3 };
      assert.deepEqual(afterCharge(s, other, answer, NOW, NOW).episode?.attempts, []);
      const escalating = { ...s, episode: { ...s.episode!, stage: 'escalating' as const } };
      assert.deepEqual(afterCharge(escalating, charge, answer, NOW, NOW).episode?.attempts, []);
      const none = { ...s, episode: null };
      assert.equal(afterCharge(none, charge, answer, NOW, NOW).episode, null);
    });

    void it("answers the merchant's charge-now: the result, a refusal's type, a charge not sent", () => {
      const { s, id } = queued({ kind: 'charge_now' });
      const { charge } = attemptCharge();
      const merchant = { ...charge, trigger: 'merchant' as const, intentId: id };
      const answer = (o: Outcome<ChargeOutcome>) => answerOf(afterCharge(s, merchant, o, NOW, NOW), id);
      assert.deepEqual(answer(chargeAnswer('succeeded', NOW, { respcd: '0000', respmsg: 'ok' })), {
        id,
        ok: true,
        value: { orderId: order(2), outcome: 'succeeded', respcd: '0000', respmsg: 'ok' },
      });
      assert.deepEqual(answer(chargeAnswer('failed', NOW, { respcd: '1205' })), {
        id,
        ok: true,
        value: { orderId: order(2), outcome: 'failed', respcd: '1205' },
      });
      assert.deepEqual(answer(chargeAnswer('unknown', NOW)), {
        id,
        ok: true,
        value: { orderId: order(2), outcome: 'pending', respcd: '' },
      });
      assert.deepEqual(answer(failure({ refused: false })), {
        id,
        ok: true,
        value: { orderId: order(2), outcome: 'pending', respcd: '' },
      });
      assert.deepEqual(answer(failure()), { id, ok: false, message: 'QFPay said no', type: 'ChargeFailed' });
      assert.deepEqual(answer(failure({ type: 'QfpayError:order' })), {
        id,
        ok: false,
        message: 'QFPay said no',
        type: 'QfpayError:order',
      });
      assert.deepEqual(answer(chargeAnswer('not_sent', NOW, { detail: 'the order is already paid' })), {
        id,
        ok: false,
        message: 'the order is already paid',
        type: 'ChargeNotAllowed',
      });
      assert.deepEqual(answer(chargeAnswer('not_sent', NOW)), {
        id,
        ok: false,
        message: 'the charge was not sent',
        type: 'ChargeNotAllowed',
      });
    });
  });

  void describe('afterConfirm', () => {
    void it("counts a charge of another order as not made without touching the episode's attempts", () => {
      const { s, charge } = attemptCharge();
      const merchant = { ...charge, orderId: order(3), sequenceNo: 3, attempt: 0 };
      const pending = afterCharge(s, merchant, chargeAnswer('unknown', NOW), NOW, NOW);
      assert.equal(pending.pendingCharge?.orderId, order(3));
      const end = afterConfirm(
        { ...pending, outbox: [] },
        { kind: 'confirm', pending: pending.pendingCharge! },
        { ok: true, value: { status: 'unknown' } },
        pending.pendingCharge!.confirmUntil,
      );
      assert.equal(end.pendingCharge, null);
      assert.deepEqual(end.episode, pending.episode);
      assert.deepEqual(end.outbox, []);
    });

    void it('counts a charge-now made with no episode open as not made', () => {
      // The episode was closed (exhausted, the order left to QFPay); the merchant charges the order.
      const { s, charge } = attemptCharge();
      const closed = { ...s, episode: null };
      const merchant = { ...charge, attempt: 0 };
      const pending = afterCharge(closed, merchant, chargeAnswer('unknown', NOW), NOW, NOW);
      const end = afterConfirm(
        pending,
        { kind: 'confirm', pending: pending.pendingCharge! },
        { ok: true, value: { status: 'unknown' } },
        pending.pendingCharge!.confirmUntil,
      );
      assert.equal(end.pendingCharge, null);
      assert.equal(end.episode, null);
      assert.equal(end.syncWanted, true);
    });
  });

  void describe('afterCancel', () => {
    void it("applies the merchant's cancel as the API's, and answers with the new state", () => {
      const { s, id } = queued({ kind: 'cancel' });
      const done = afterCancel(
        s,
        { kind: 'cancel', cause: 'merchant', intentId: id },
        { ok: true, value: { at: NOW } },
        NOW,
      );
      assert.equal(done.snapshot.state, 'CANCELLED');
      assert.equal(done.snapshot.stateAt, NOW);
      assert.match(done.snapshot.transitions.at(-1)?.cause ?? '', /^api\b/);
      assert.deepEqual(answerOf(done, id), { id, ok: true, value: { state: 'CANCELLED', stateAt: NOW } });
      assert.equal(done.episode?.finalAction, undefined, 'no final action is touched');
    });

    void it("applies the final action's cancel as the engine's, and marks it done", () => {
      const s = escalated();
      const cancel = { kind: 'cancel', cause: 'final_action', orderId: order(2) } as const;
      const done = afterCancel(s, cancel, { ok: true, value: { at: NOW + HOUR } }, NOW + HOUR);
      assert.equal(done.snapshot.state, 'CANCELLED');
      assert.match(done.snapshot.transitions.at(-1)?.cause ?? '', /^engine\b/);
      assert.deepEqual(done.episode?.finalAction, {
        action: 'cancel',
        status: 'done',
        since: s.episode!.finalAction!.since,
        attempts: 1,
      });
      assert.deepEqual(done.resolved, []);
    });

    void it("leaves a pending final action alone when the merchant's cancel comes first", () => {
      const s = escalated();
      const q = enqueueIntent(s, { kind: 'cancel' });
      const action = { kind: 'cancel', cause: 'merchant', intentId: q.id } as const;
      const done = afterCancel(q.state, action, { ok: true, value: { at: NOW + 2 * HOUR } }, NOW + 2 * HOUR);
      assert.deepEqual(done.episode?.finalAction, s.episode?.finalAction);
      const failed = afterCancel(q.state, action, failure(), NOW + 2 * HOUR);
      assert.deepEqual(failed.episode?.finalAction, s.episode?.finalAction);
      // Settled, the episode ends with the subscription and its cancel is skipped.
      assert.equal(settle(done, NOW + 2 * HOUR).episodeHistory.at(-1)?.finalAction?.status, 'skipped');
    });

    void it('answers a failed merchant cancel with its type or CancelFailed, and asks QFPay', () => {
      const { s, id } = queued({ kind: 'cancel' });
      const action = { kind: 'cancel', cause: 'merchant', intentId: id } as const;
      const failed = afterCancel(s, action, failure(), NOW);
      assert.deepEqual(answerOf(failed, id), {
        id,
        ok: false,
        message: 'QFPay said no',
        type: 'CancelFailed',
      });
      assert.equal(failed.syncWanted, true);
      assert.equal(failed.snapshot.state, 'PAST_DUE');
      assert.deepEqual(answerOf(afterCancel(s, action, failure({ type: 'QfpayError:state' }), NOW), id), {
        id,
        ok: false,
        message: 'QFPay said no',
        type: 'QfpayError:state',
      });
    });

    void it(`gives the final action up after ${MAX_FINAL_ACTION_ATTEMPTS} failed cancels, backing off between them`, () => {
      let s = escalated();
      const cancel = { kind: 'cancel', cause: 'final_action', orderId: order(2) } as const;
      for (let attempt = 1; attempt <= MAX_FINAL_ACTION_ATTEMPTS; attempt += 1) {
        const at = T + attempt * DAY;
        s = afterCancel({ ...s, syncWanted: false }, cancel, failure({ message: `no ${attempt}` }), at);
        const final = s.episode!.finalAction!;
        assert.equal(final.attempts, attempt);
        assert.equal(final.detail, `no ${attempt}`);
        assert.equal(s.syncWanted, true);
        if (attempt < MAX_FINAL_ACTION_ATTEMPTS) {
          assert.equal(final.status, 'pending', `attempt ${attempt}`);
          assert.equal(final.retryAt, at + syncBackoff(attempt));
          assert.equal(final.since, at);
        } else {
          assert.equal(final.status, 'failed');
          assert.equal('retryAt' in final, false);
        }
      }
      // A failed final action ends the episode as exhausted.
      assert.equal(settle(s, T + 10 * DAY).episodeHistory.at(-1)?.outcome, 'exhausted');
    });
  });

  void describe('afterChange', () => {
    void it('applies a new card, tries it at once while an episode retries, and answers with it', () => {
      const { s, id } = queued({ kind: 'change_token', tokenId: 'tk_new' });
      const action = { kind: 'change_token', intentId: id, tokenId: 'tk_new' } as const;
      const done = afterChange(s, action, { ok: true, value: { at: NOW } }, NOW);
      assert.equal(done.snapshot.tokenId, 'tk_new');
      assert.equal(done.retryNow, true);
      assert.deepEqual(answerOf(done, id), { id, ok: true, value: { tokenId: 'tk_new' } });
      const escalatedState = { ...escalated(), intents: s.intents, nextIntentId: s.nextIntentId };
      assert.equal(
        afterChange(escalatedState, action, { ok: true, value: { at: NOW } }, NOW).retryNow,
        false,
      );
    });

    void it('applies new billing cycles, asks QFPay for the rest, and answers with them', () => {
      const { s, id } = queued({ kind: 'change_cycles', totalBillingCycles: 12 });
      const action = { kind: 'change_cycles', intentId: id, totalBillingCycles: 12 } as const;
      const done = afterChange(s, action, { ok: true, value: { at: NOW } }, NOW);
      assert.equal(done.snapshot.totalBillingCycles, 12);
      assert.equal(done.syncWanted, true);
      assert.equal(done.retryNow, s.retryNow);
      assert.deepEqual(answerOf(done, id), { id, ok: true, value: { totalBillingCycles: 12 } });
    });

    void it('answers a failed change with its type or ChangeFailed, and changes nothing', () => {
      const { s, id } = queued({ kind: 'change_token', tokenId: 'tk_new' });
      const action = { kind: 'change_token', intentId: id, tokenId: 'tk_new' } as const;
      const failed = afterChange(s, action, failure(), NOW);
      assert.deepEqual(answerOf(failed, id), {
        id,
        ok: false,
        message: 'QFPay said no',
        type: 'ChangeFailed',
      });
      assert.deepEqual(failed.snapshot, s.snapshot);
    });
  });

  void describe('the policy, the pause and refusals', () => {
    void it('merges a policy change onto the current policy and answers with the result', () => {
      const { s, id } = queued({ kind: 'policy', override: { attemptOffsets: ['2h'] } });
      const changed = applyPolicyChange(s, {
        kind: 'apply_policy',
        intentId: id,
        override: { attemptOffsets: ['2h'] },
      });
      const policy = mergePolicy(DEFAULT_DUNNING_POLICY, { attemptOffsets: ['2h'] });
      assert.deepEqual(changed.policy, policy);
      assert.deepEqual(answerOf(changed, id), { id, ok: true, value: { policy } });
    });

    void it("pauses, forgets a new card's try-now, answers with the pause; a resume answers with its time", () => {
      const { s, id } = queued({ kind: 'pause', resumesAt: null, scope: 'dunning' });
      const paused = applyPause(
        { ...s, retryNow: true },
        { kind: 'pause', intentId: id, resumesAt: null, scope: 'dunning' },
        NOW,
      );
      const pause = { since: NOW, resumesAt: null, by: 'merchant' };
      assert.deepEqual(paused.billingPause, pause);
      assert.equal(paused.retryNow, false);
      assert.deepEqual(answerOf(paused, id), { id, ok: true, value: { pause } });
      const r = enqueueIntent(paused, { kind: 'resume', scope: 'dunning' });
      const resumed = applyResume(r.state, { kind: 'resume', intentId: r.id, scope: 'dunning' }, NOW + HOUR);
      assert.equal(resumed.billingPause, null);
      const told = resumed.outbox.find((e) => e.type === 'subscription.dunning_released');
      assert.equal((told?.data as { released_by: string }).released_by, 'merchant');
      assert.deepEqual(answerOf(resumed, r.id), { id: r.id, ok: true, value: { resumedAt: NOW + HOUR } });
    });

    void it('answers a refused intent with its message and type', () => {
      const { s, id } = queued({ kind: 'resume' });
      const refused = refuseIntent(s, {
        kind: 'refuse',
        intentId: id,
        message: 'billing is not paused',
        type: 'ChangeNotAllowed',
      });
      assert.deepEqual(refused.resolved, [
        { id, ok: false, message: 'billing is not paused', type: 'ChangeNotAllowed' },
      ]);
      assert.deepEqual(refused.intents, []);
    });
  });
});
