import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ClockError, EmulatorClock } from '../../src/gateways/qfpay/emulator/clock';

/** A real-time source the test moves by hand. */
function fakeRealTime(start = 1_000_000) {
  let now = start;
  return { now: () => now, pass: (ms: number) => (now += ms) };
}

describe('EmulatorClock', () => {
  it('follows real time from its start time by default', () => {
    const real = fakeRealTime();
    const clock = new EmulatorClock({ startMs: 5_000, realNow: real.now });
    assert.equal(clock.now(), 5_000);
    real.pass(1_234);
    assert.equal(clock.now(), 6_234);
  });

  it('scales real time by timeScale, and a new scale does not rescale time already passed', () => {
    const real = fakeRealTime();
    const clock = new EmulatorClock({ startMs: 0, timeScale: 60, realNow: real.now });
    real.pass(1_000);
    assert.equal(clock.now(), 60_000);
    clock.setTimeScale(1);
    real.pass(1_000);
    assert.equal(clock.now(), 61_000);
  });

  it('stands still while frozen and moves only when advanced', () => {
    const real = fakeRealTime();
    const clock = new EmulatorClock({ startMs: 10, frozen: true, realNow: real.now });
    real.pass(60_000);
    assert.equal(clock.now(), 10);
    clock.advanceBy(90);
    assert.equal(clock.now(), 100);
    clock.setFrozen(false);
    real.pass(5);
    assert.equal(clock.now(), 105);
  });

  it('never goes backwards through advanceTo, and refuses a negative advance', () => {
    const clock = new EmulatorClock({ startMs: 1_000, frozen: true });
    clock.advanceTo(500);
    assert.equal(clock.now(), 1_000);
    clock.advanceTo(2_000);
    assert.equal(clock.now(), 2_000);
    assert.throws(() => clock.advanceBy(-1), ClockError);
  });

  it('refuses a non-positive time scale', () => {
    assert.throws(() => new EmulatorClock({ timeScale: 0 }), ClockError);
    assert.throws(() => new EmulatorClock().setTimeScale(-2), ClockError);
  });

  it('goes backwards only through reset', () => {
    const clock = new EmulatorClock({ startMs: 5_000, frozen: true });
    clock.reset(1_000);
    assert.deepEqual(clock.snapshot(), { nowMs: 1_000, frozen: true, timeScale: 1 });
  });
});
