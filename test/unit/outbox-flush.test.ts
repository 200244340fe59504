/**
 * An event the engine recorded is delivered or retried, never lost: a delivery workflow that could
 * not be started keeps its event in the outbox, and the flush is tried again later (backing off,
 * never spinning). One that exists already (started before, in this run or an earlier one) counts
 * as handed over.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decide, settle, wakeTime } from '../../src/domain/decide';
import { recordEvents, type EngineState } from '../../src/domain/engine-state';
import { afterFlush, flushRetryReached, flushRetryTime } from '../../src/domain/events/flush';
import { timerSummary } from '../../src/workflows/summaries';
import { SUB, T, pastDue } from '../helpers/engine-states';

function withEvents(ids: string[]): EngineState {
  const s = pastDue();
  return recordEvents(
    { ...s, outbox: [] },
    ids.map((id) => ({ id, type: 'subscription.billing_resumed', data: {} }) as never),
    T,
  );
}

describe('handing events to their delivery workflows', () => {
  it('keeps an event whose delivery could not be started, and tries again later', () => {
    const s = withEvents(['evt.a', 'evt.b', 'evt.c']);
    const next = afterFlush(s, { handedOver: ['evt.a', 'evt.c'], notStarted: ['evt.b'] }, T);
    assert.deepEqual(
      next.outbox.map((e) => e.id),
      ['evt.b'],
    );
    assert.deepEqual(next.sentEventIds.slice(-2), ['evt.a', 'evt.c']);
    const retryAt = next.flushRetryAt!;
    assert.ok(retryAt > T, 'a later try');
    // Not before then: the loop waits (for it, among other things), it does not spin.
    assert.notEqual(decide(settle(next, T), T, { continueAsNewSuggested: false }).kind, 'flush');
    assert.ok(wakeTime(settle(next, T), T)! <= retryAt);
    assert.equal(decide(settle(next, retryAt), retryAt, { continueAsNewSuggested: false }).kind, 'flush');
  });

  it('does not end the run while an event waits for its delivery to start (the subscription ended meanwhile)', () => {
    const s = withEvents(['evt.paid', 'evt.ended']);
    const ended: EngineState = {
      ...s,
      snapshot: { ...s.snapshot, state: 'COMPLETED' },
      terminalSince: T,
      lastSyncAt: T,
    };
    const refused = afterFlush(ended, { handedOver: [], notStarted: ['evt.paid', 'evt.ended'] }, T);
    const retryAt = refused.flushRetryAt!;
    const ctx = { continueAsNewSuggested: false };
    assert.deepEqual(
      decide(settle(refused, T), T, ctx),
      { kind: 'wait', until: retryAt },
      'waits, does not end',
    );
    assert.equal(decide(settle(refused, retryAt), retryAt, ctx).kind, 'flush');
    const delivered = afterFlush(refused, { handedOver: ['evt.paid', 'evt.ended'], notStarted: [] }, retryAt);
    assert.deepEqual(decide(settle(delivered, retryAt), retryAt, ctx), { kind: 'end', reason: 'ended' });
  });

  it('backs off while starts keep failing, and forgets the failures once one works', () => {
    let s = withEvents(['evt.b']);
    let now = T;
    const gaps: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      s = afterFlush(s, { handedOver: [], notStarted: ['evt.b'] }, now);
      gaps.push(s.flushRetryAt! - now);
      now = s.flushRetryAt!;
    }
    assert.ok(
      gaps.every((g, i) => i === 0 || g >= gaps[i - 1]!),
      `gaps grow: ${gaps.join(', ')}`,
    );
    assert.ok(gaps[0]! >= 1_000);
    assert.ok(gaps[0]! <= 60_000, `the first retry within a minute (${gaps[0]} ms)`);
    assert.ok(gaps[1]! > gaps[0]!, `the second waits longer than the first: ${gaps.join(', ')}`);
    s = afterFlush(s, { handedOver: ['evt.b'], notStarted: [] }, now);
    assert.equal(s.outbox.length, 0);
    assert.equal(s.flushRetryAt ?? null, null);
    assert.equal(s.flushFailures ?? 0, 0);
  });

  it('a flush that starts some events and is refused others waits the first backoff again, not a longer one', () => {
    // Refused flushes in a row: the backoff has grown.
    let s = withEvents(['evt.a']);
    let now = T;
    for (let i = 0; i < 4; i += 1) {
      s = afterFlush(s, { handedOver: [], notStarted: ['evt.a'] }, now);
      now = s.flushRetryAt!;
    }
    const first =
      afterFlush(withEvents(['evt.x']), { handedOver: [], notStarted: ['evt.x'] }, T).flushRetryAt! - T;
    assert.ok(s.flushRetryAt! - now >= 0);
    // The retry starts evt.a; evt.b, recorded while it waited, is refused: Temporal takes starts
    // again, so evt.b is tried again as soon as a first refusal would be (a merchant's event is
    // not held for the many minutes the earlier streak had reached).
    s = recordEvents(s, [{ id: 'evt.b', type: 'subscription.billing_resumed', data: {} } as never], now);
    const next = afterFlush(s, { handedOver: ['evt.a'], notStarted: ['evt.b'] }, now);
    assert.deepEqual(
      next.outbox.map((e) => e.id),
      ['evt.b'],
    );
    assert.equal(next.flushRetryAt! - now, first, 'the first backoff');
    assert.equal(next.flushFailures, 1, 'a new streak of one refusal');
    // A run recorded before this rule counted on, and replays so.
    const recorded = afterFlush(s, { handedOver: ['evt.a'], notStarted: ['evt.b'] }, now, {
      progressResets: false,
    });
    assert.equal(recorded.flushFailures, 5);
    assert.ok(recorded.flushRetryAt! - now > first);
  });

  it('property: the wait after a flush that started any event is the first backoff', () => {
    const first =
      afterFlush(withEvents(['evt.x']), { handedOver: [], notStarted: ['evt.x'] }, T).flushRetryAt! - T;
    fc.assert(
      fc.property(
        // The flushes of one run: how many events each started, how many were refused.
        fc.array(fc.record({ started: fc.nat(3), refused: fc.nat(3) }), { minLength: 1, maxLength: 12 }),
        (flushes) => {
          let s = withEvents([]);
          let now = T;
          let n = 0;
          let streak = 0;
          for (const { started, refused } of flushes) {
            const ids = Array.from({ length: started + refused }, () => `evt.${(n += 1)}`);
            s = recordEvents(
              s,
              ids.map((id) => ({ id, type: 'subscription.billing_resumed', data: {} }) as never),
              now,
            );
            const handedOver = [
              ...s.outbox.map((e) => e.id).filter((id) => !ids.includes(id)),
              ...ids.slice(0, started),
            ];
            s = afterFlush(s, { handedOver, notStarted: ids.slice(started) }, now);
            streak = refused === 0 ? 0 : handedOver.length > 0 ? 1 : streak + 1;
            if (refused === 0) {
              assert.equal(s.flushRetryAt, undefined, 'nothing left to retry');
              assert.equal(s.outbox.length, 0);
            } else {
              assert.equal(s.flushFailures, streak);
              if (handedOver.length > 0) assert.equal(s.flushRetryAt! - now, first);
              else assert.ok(s.flushRetryAt! - now >= first);
              now = s.flushRetryAt!;
            }
          }
        },
      ),
    );
  });

  it('an event handed over is never recorded again', () => {
    const s = afterFlush(withEvents(['evt.a']), { handedOver: ['evt.a'], notStarted: [] }, T);
    const again = recordEvents(
      s,
      [{ id: 'evt.a', type: 'subscription.billing_resumed', data: {} } as never],
      T,
    );
    assert.equal(again.outbox.length, 0);
    assert.equal(SUB.length > 0, true);
  });

  it('a retry waited for in real time (on a test clock) is due when its wait ends, whatever the time says', () => {
    const refused = afterFlush(
      withEvents(['evt.a', 'evt.b']),
      { handedOver: [], notStarted: ['evt.a', 'evt.b'] },
      T,
    );
    const retryAt = flushRetryTime(refused)!;
    assert.equal(retryAt, refused.flushRetryAt);
    assert.equal(timerSummary(refused, retryAt), 'start the delivery of 2 merchant events again');
    // The clock still stands at T when the real-time wait ends: the flush is due then.
    const reached = flushRetryReached(refused, T);
    assert.equal(decide(settle(reached, T), T, { continueAsNewSuggested: false }).kind, 'flush');
    // A time past the retry, an empty outbox, or no retry: nothing changes.
    assert.equal(flushRetryReached(refused, retryAt + 1), refused);
    const handed = afterFlush(refused, { handedOver: ['evt.a', 'evt.b'], notStarted: [] }, T);
    assert.equal(flushRetryTime(handed), null);
    assert.equal(flushRetryReached(handed, T), handed);
    assert.equal(flushRetryTime({ ...refused, outbox: [] }), null);
  });
});
