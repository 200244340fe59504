/**
 * The pure rules of a subscription on a test clock: its time is the clock's and only moves forward;
 * a subscription on no clock keeps the real time and is never changed by them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { engineNow, followClock, type Clocked } from '../../src/domain/clock/test-clock';
import { applyFactToState, applyHandover, initialState } from '../../src/domain/engine-state';
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

  it('dates what the creation’s handover records in the clock’s time, even before the clock has told its time', () => {
    const CLOCK_TIME = Date.UTC(2027, 0, 10, 2);
    const fact = {
      kind: 'created' as const,
      subscriptionId: 'sub_1',
      customerId: 'cust_1',
      tokenId: 'tok_1',
      productIds: ['prod_1'],
      totalBillingCycles: null,
      state: 'ACTIVE' as const,
      at: CLOCK_TIME,
      source: 'api' as const,
    };
    const started = initialState({
      subscriptionId: 'sub_1',
      origin: 'created',
      options: { merchantEvents: true, testClock: 'clock_a' },
    });
    const handed = applyHandover(started, { fact, options: started.options, clockNow: CLOCK_TIME }, REAL);
    assert.equal(handed.clockNow, CLOCK_TIME);
    assert.ok(handed.outbox.length > 0, 'the creation records its events');
    for (const e of handed.outbox) {
      assert.equal(e.created_at, new Date(CLOCK_TIME).toISOString(), e.type);
      assert.equal(e.test_clock, 'clock_a', e.type);
    }
    // A later time the clock already gave wins: the clock never goes back.
    const later = applyHandover(
      { ...started, clockNow: CLOCK_TIME + 5 },
      { fact, clockNow: CLOCK_TIME },
      REAL,
    );
    assert.equal(later.clockNow, CLOCK_TIME + 5);
    // On no clock the handover's time means nothing, and events carry no clock.
    const real = initialState({
      subscriptionId: 'sub_1',
      origin: 'created',
      options: { merchantEvents: true },
    });
    const plain = applyHandover(real, { fact, clockNow: CLOCK_TIME }, REAL);
    assert.equal(plain.clockNow, undefined);
    for (const e of plain.outbox) {
      assert.equal(e.created_at, new Date(REAL).toISOString());
      assert.equal('test_clock' in e, false);
    }
  });
});
