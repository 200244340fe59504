/**
 * A test clock's advance, as pure rules: it goes from moment to moment without jumping over
 * anything due, always forward, and ends each step only when everything due then is done.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { nextMoment, stepDone, type MemberReading } from '../../src/domain/clock/advance';
import type { ClockStatus } from '../../src/domain/clock/test-clock';

const DAY = 86_400_000;
const T = Date.UTC(2027, 0, 1);
const member = (now: number | null, idle: boolean, wakeAt: number | null = null): ClockStatus => ({
  testClock: 'clock_a',
  now,
  idle,
  wakeAt,
});

describe('the next moment of an advance', () => {
  it('is the earliest due after now, before the target; else the target', () => {
    assert.equal(nextMoment(T, T + 30 * DAY, [T + 3 * DAY, null, T + 30 * DAY]), T + 3 * DAY);
    assert.equal(nextMoment(T, T + 30 * DAY, [null, T + 40 * DAY]), T + 30 * DAY);
    assert.equal(nextMoment(T, T + 30 * DAY, [T, T - DAY]), T + 30 * DAY, 'due now is the step at now’s');
    assert.equal(nextMoment(T, T, [T + DAY]), T, 'at the target: no further');
  });

  it('never goes back or past the target, and never jumps over a due time (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 400 * DAY }),
        fc.integer({ min: 0, max: 400 * DAY }),
        fc.array(fc.option(fc.integer({ min: -DAY, max: 500 * DAY }), { nil: null })),
        (from, span, dues) => {
          const now = T + from;
          const target = now + span;
          const next = nextMoment(
            now,
            target,
            dues.map((d) => (d === null ? null : T + d)),
          );
          assert.ok(next >= now && next <= target);
          if (target > now) assert.ok(next > now, 'an advance with time left moves');
          for (const d of dues) {
            if (d === null) continue;
            const due = T + d;
            assert.ok(!(due > now && due < next), `jumped over ${due}`);
          }
        },
      ),
    );
  });

  it('steps through a year of monthly dues in order, one moment at a time', () => {
    const dues = Array.from({ length: 12 }, (_, i) => T + (i + 1) * 30 * DAY);
    const visited: number[] = [];
    for (let now = T; now < T + 365 * DAY;) {
      now = nextMoment(now, T + 365 * DAY, dues);
      visited.push(now);
    }
    assert.deepEqual(visited, [...dues, T + 365 * DAY]);
  });
});

describe('a step’s end', () => {
  const quiet = { nextDueMs: null, processed: 0 };
  it('waits for every running member to be idle at its time', () => {
    assert.equal(stepDone(T, [member(T, true)], quiet), true);
    assert.equal(stepDone(T, [member(T, false)], quiet), false, 'still acting');
    assert.equal(stepDone(T, [member(T - 1, true)], quiet), false, 'has not reached the step');
    assert.equal(stepDone(T, [member(null, true)], quiet), false, 'has no time yet');
    assert.equal(stepDone(T, ['ended', member(T, true)], quiet), true, 'an ended one counts as done');
  });

  it('waits for the gateway world to have nothing due then and to have processed nothing in its last look', () => {
    const members: MemberReading[] = [member(T, true)];
    assert.equal(stepDone(T, members, { nextDueMs: T, processed: 0 }), false, 'a delivery due now');
    assert.equal(stepDone(T, members, { nextDueMs: T + 1, processed: 1 }), false, 'it just delivered');
    assert.equal(stepDone(T, members, { nextDueMs: T + 1, processed: 0 }), true);
  });
});
