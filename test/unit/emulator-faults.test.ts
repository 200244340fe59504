import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_FAULTS, FaultInjector, seededRandom } from '../../src/gateways/qfpay/emulator/faults';

describe('fault injection', () => {
  it('injects nothing by default', () => {
    const faults = new FaultInjector();
    assert.deepEqual(faults.config, DEFAULT_FAULTS);
    for (let i = 0; i < 100; i += 1) {
      assert.equal(faults.apiFault('/subscription/v1/charge'), undefined);
      assert.deepEqual(faults.notificationFault(), { drop: false, duplicate: false, delayMs: 0 });
      assert.equal(faults.pendingCharge('/subscription/v1/charge'), false);
    }
  });

  it('repeats the same draws for the same seed', () => {
    const draws = (seed: number) => {
      const faults = new FaultInjector({ seed, serverErrorRate: 0.3, dropRate: 0.5, duplicateRate: 0.2 });
      return Array.from({ length: 50 }, () => [faults.apiFault('/x'), faults.notificationFault()]);
    };
    assert.deepEqual(draws(42), draws(42));
    assert.notDeepEqual(draws(42), draws(43));
  });

  it('restarts the seeded sequence whenever a seed is given again', () => {
    const faults = new FaultInjector({ seed: 7, dropRate: 0.5 });
    const first = Array.from({ length: 20 }, () => faults.notificationFault().drop);
    faults.update({ seed: 7 });
    const again = Array.from({ length: 20 }, () => faults.notificationFault().drop);
    assert.deepEqual(again, first);
  });

  it('always fires a rate of 1 and answers each API fault kind', () => {
    const faults = new FaultInjector({ rateLimitRate: 1 });
    assert.deepEqual(faults.apiFault('/customer/v1/create'), { kind: 'rate_limit' });
    faults.update({ rateLimitRate: 0, serverErrorRate: 1 });
    const fault = faults.apiFault('/customer/v1/create');
    assert.equal(fault?.kind, 'server_error');
    assert.ok(fault?.kind === 'server_error' && [500, 502, 503].includes(fault.status));
    faults.update({ serverErrorRate: 0, timeoutRate: 1, timeoutMs: 1234 });
    assert.deepEqual(faults.apiFault('/customer/v1/create'), {
      kind: 'timeout',
      holdMs: 1234,
      processes: true,
    });
    faults.update({ timeoutRate: 0, slowRate: 1, slowMs: 50 });
    assert.deepEqual(faults.apiFault('/customer/v1/create'), { kind: 'slow', delayMs: 50 });
  });

  it('limits API faults to the listed endpoints', () => {
    const faults = new FaultInjector({
      serverErrorRate: 1,
      pendingChargeRate: 1,
      endpoints: ['/subscription/v1/charge'],
    });
    assert.equal(faults.apiFault('/subscription/v1/query'), undefined);
    assert.equal(faults.apiFault('/subscription/v1/charge')?.kind, 'server_error');
    assert.equal(faults.pendingCharge('/subscription/v1/charge'), true);
  });

  it('never duplicates or delays a dropped notification', () => {
    const faults = new FaultInjector({ dropRate: 1, duplicateRate: 1, reorderRate: 1 });
    assert.deepEqual(faults.notificationFault(), { drop: true, duplicate: false, delayMs: 0 });
  });

  it('rejects rates outside 0..1 and unknown switches, keeping the old configuration', () => {
    const faults = new FaultInjector({ dropRate: 0.1 });
    assert.throws(() => faults.update({ dropRate: 1.5 }));
    assert.throws(() => faults.update({ explode: true } as never));
    assert.equal(faults.config.dropRate, 0.1);
    assert.deepEqual(faults.reset(), DEFAULT_FAULTS);
  });

  it('draws uniformly enough from the seeded generator', () => {
    const random = seededRandom(1);
    let sum = 0;
    for (let i = 0; i < 10_000; i += 1) {
      const x = random();
      assert.ok(x >= 0 && x < 1);
      sum += x;
    }
    assert.ok(Math.abs(sum / 10_000 - 0.5) < 0.02);
  });
});
