/**
 * The promise "one merchant event per fact": an event's id comes from the fact it reports, and
 * the outbox records an id once, whether it is still waiting, was handed to its delivery workflow
 * recently, or comes twice in one batch; a fact QFPay reports twice is one fact; an episode's
 * exhaustion and recovery are each told once however often the loop settles (each attempt's
 * event: no-double-charge.test.ts).
 * Each test fails when the guard it names is taken out (see "Mutation testing" in
 * docs/reliability.md).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { settle } from '../../src/domain/decide';
import {
  MAX_SENT_EVENT_IDS,
  applyFactToState,
  recordEvents,
  type EngineState,
} from '../../src/domain/engine-state';
import type { Fact } from '../../src/domain/lifecycle/lifecycle';
import type { OutgoingEvent } from '../../src/domain/events/outbox';
import { afterFlush } from '../../src/domain/events/flush';
import { afterSync } from '../../src/domain/sync/sync';
import { DAY, HOUR, MINUTE, SUB, T, order, pastDue } from '../helpers/engine-states';
import { escalated, syncAnswer, withFailedFirstAttempt } from '../helpers/engine-steps';

function evt(id: string): OutgoingEvent {
  return {
    id,
    type: 'subscription.state_changed',
    data: { from: 'ACTIVE', to: 'PAST_DUE', cause: 'payment_failed' },
  } as OutgoingEvent;
}

const ids = (s: EngineState) => s.outbox.map((e) => e.id);
const quiet = (): EngineState => ({ ...pastDue(), outbox: [], sentEventIds: [] });

/** Hands every waiting event to its delivery workflow, as the loop's flush does. */
const flush = (s: EngineState) => afterFlush(s, { handedOver: s.outbox.map((e) => e.id), notStarted: [] }, T);

const failedPayment = (syssn: string, at: number): Fact => ({
  kind: 'payment',
  subscriptionId: SUB,
  orderId: order(2),
  sequenceNo: 2,
  succeeded: false,
  respcd: '1205',
  syssn,
  at,
  source: 'notification',
});

void describe('one merchant event per fact', () => {
  void it('records an event once while it waits in the outbox', () => {
    const once = recordEvents(quiet(), [evt('evt.a')], T);
    const twice = recordEvents(once, [evt('evt.a'), evt('evt.b')], T + MINUTE);
    assert.deepEqual(ids(twice), ['evt.a', 'evt.b']);
    assert.equal(twice.outbox[0]?.created_at, new Date(T).toISOString(), 'the first one stays as it was');
    assert.equal(twice.outbox[0]?.subscription_id, SUB);
    assert.equal(recordEvents(once, [evt('evt.a')], T + MINUTE), once, 'nothing new: the same state');
  });

  void it('records an event once within one batch (a payment report and the order it paid imply the same one)', () => {
    assert.deepEqual(ids(recordEvents(quiet(), [evt('evt.a'), evt('evt.a'), evt('evt.b')], T)), [
      'evt.a',
      'evt.b',
    ]);
  });

  void it('does not record again an event already handed to its delivery workflow', () => {
    const handed = flush(recordEvents(quiet(), [evt('evt.a'), evt('evt.b')], T));
    assert.deepEqual(handed.outbox, []);
    assert.deepEqual(handed.sentEventIds, ['evt.a', 'evt.b']);
    assert.deepEqual(ids(recordEvents(handed, [evt('evt.b'), evt('evt.c')], T + HOUR)), ['evt.c']);
  });

  void it('takes only the handed-over events out of the outbox, and remembers the newest ids', () => {
    const s = recordEvents(quiet(), [evt('evt.a'), evt('evt.b'), evt('evt.c')], T);
    const partly = afterFlush(s, { handedOver: ['evt.b'], notStarted: [] }, T);
    assert.deepEqual(ids(partly), ['evt.a', 'evt.c']);
    assert.deepEqual(partly.sentEventIds, ['evt.b']);

    const many = Array.from({ length: MAX_SENT_EVENT_IDS + 5 }, (_, i) => `evt.${i}`);
    const bounded = afterFlush(
      { ...quiet(), sentEventIds: ['evt.old'] },
      { handedOver: many, notStarted: [] },
      T,
    );
    assert.equal(bounded.sentEventIds.length, MAX_SENT_EVENT_IDS);
    assert.deepEqual(bounded.sentEventIds, many.slice(-MAX_SENT_EVENT_IDS), 'the newest are kept');
    assert.deepEqual(ids(recordEvents(bounded, [evt(many.at(-1)!)], T)), []);
  });

  void it('records nothing for a merchant who takes no events', () => {
    const off = { ...quiet(), options: { ...quiet().options, merchantEvents: false } };
    assert.deepEqual(recordEvents(off, [evt('evt.a')], T).outbox, []);
  });

  void it('takes a payment QFPay reports twice as one fact: one event, one attempt, no query', () => {
    const once = applyFactToState(quiet(), failedPayment('ko-2', T + HOUR), T + HOUR);
    const failedEvents = (s: EngineState) => s.outbox.filter((e) => e.type === 'subscription.payment_failed');
    assert.equal(failedEvents(once).length, 1);
    assert.equal(failedEvents(once)[0]?.id, `evt.${SUB}.payment_failed.0002.ko-2`);
    const handed = { ...flush(once), syncWanted: false };
    const again = applyFactToState(handed, failedPayment('ko-2', T + HOUR), T + 2 * HOUR);
    assert.deepEqual(again.outbox, []);
    assert.deepEqual(again.payments, handed.payments);
    assert.equal(again.syncWanted, false, 'a repeat is no news: no query for it');
    // Another failed attempt of the same order is another fact: its own event.
    const second = applyFactToState(handed, failedPayment('ko-3', T + 2 * HOUR), T + 2 * HOUR);
    assert.deepEqual(
      second.outbox.map((e) => e.id),
      [`evt.${SUB}.payment_failed.0002.ko-3`],
    );
  });

  void it('tells the exhaustion and the recovery of an episode once, however often the loop settles', () => {
    // The exhaustion (final action `cancel` pending), settled again and again.
    let s = escalated();
    const exhausted = (x: EngineState) => x.outbox.filter((e) => e.type === 'subscription.dunning_exhausted');
    assert.deepEqual(
      exhausted(s).map((e) => e.id),
      [
        `evt.${SUB}.dunning.0002.exhausted.notify_customer`,
        `evt.${SUB}.dunning.0002.exhausted.notify_operations`,
        `evt.${SUB}.dunning.0002.exhausted`,
      ],
    );
    for (const now of [T + 3 * HOUR, T + DAY]) s = settle(s, now);
    assert.equal(exhausted(s).length, 3);
    s = flush(s);
    for (const now of [T + 2 * DAY, T + 3 * DAY]) s = settle(s, now);
    assert.deepEqual(s.outbox, []);

    // The recovery: a query finds the order paid.
    let r = afterSync(
      settle(withFailedFirstAttempt(settle(pastDue(), T + MINUTE)), T + 2 * HOUR),
      { kind: 'sync', reason: 'wanted' },
      syncAnswer(T + 3 * HOUR, { state: 'ACTIVE', order2: 'PAID' }),
      T + 3 * HOUR,
      T + 3 * HOUR,
    );
    r = settle(r, T + 3 * HOUR);
    const recovered = (x: EngineState) => x.outbox.filter((e) => e.type === 'subscription.dunning_recovered');
    assert.deepEqual(
      recovered(r).map((e) => e.id),
      [`evt.${SUB}.dunning.0002.recovered`],
    );
    r = settle(settle(r, T + 4 * HOUR), T + 5 * HOUR);
    assert.equal(recovered(r).length, 1);
  });
});
