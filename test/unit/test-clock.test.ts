/**
 * The pure rules of a subscription on a test clock: its time is the clock's and only moves forward;
 * a subscription on no clock keeps the real time and is never changed by them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { engineNow, followClock, type Clocked } from '../../src/domain/clock/test-clock';
import { applyFactToState } from '../../src/domain/engine-state';
import { active } from '../helpers/engine-steps';

const REAL = Date.UTC(2026, 11, 6);
const clocked = (clockNow?: number): Clocked => ({
  options: { testClock: 'clock_a' },
  ...(clockNow === undefined ? {} : { clockNow }),
});

describe('a test clock’s time', () => {
  it('is the clock’s on a clock (the real time until it has one), and the real time on none', () => {
    assert.equal(engineNow(clocked(1_000), REAL), 1_000);
    assert.equal(engineNow(clocked(), REAL), REAL);
    assert.equal(
      engineNow({ options: {}, clockNow: 1_000 }, REAL),
      REAL,
      'no clock: a stray time is not read',
    );
  });

  it('only moves forward, whatever times arrive in whatever order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 2 ** 45 }), fc.constant(Number.NaN))),
        (times) => {
          let s = clocked();
          for (const t of times) {
            const before = s.clockNow;
            s = followClock(s, t);
            if (before !== undefined) assert.ok(s.clockNow! >= before);
          }
          const finite = times.filter((t) => Number.isFinite(t));
          assert.equal(s.clockNow, finite.length === 0 ? undefined : Math.max(...finite));
        },
      ),
    );
  });

  it('leaves a subscription on no clock exactly as it was', () => {
    const none = { options: {} } as Clocked;
    assert.equal(followClock(none, 5_000), none);
    const s = active();
    const fact = {
      kind: 'state' as const,
      subscriptionId: s.subscriptionId,
      state: 'ACTIVE' as const,
      at: REAL + 1,
      source: 'notification' as const,
    };
    assert.equal(applyFactToState(s, fact, REAL).clockNow, undefined);
  });

  it('follows a notification from the clock’s world, not an answer to the engine’s own call', () => {
    const s = { ...active(), options: { ...active().options, testClock: 'clock_a' }, clockNow: REAL - 10 };
    const at = REAL + 60_000;
    const base = { kind: 'state' as const, subscriptionId: s.subscriptionId, state: 'ACTIVE' as const, at };
    assert.equal(applyFactToState(s, { ...base, source: 'notification' }, REAL - 10).clockNow, at);
    assert.equal(applyFactToState(s, { ...base, source: 'query' }, REAL - 10).clockNow, REAL - 10);
  });
});
