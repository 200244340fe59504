/**
 * The bench's line fit (the replay cost per history event and its projection to the
 * continue-as-new threshold).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fitLine } from '../../bench/stats';

describe('fitLine', () => {
  it('recovers a line from points on it', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -100, max: 100, noNaN: true }),
        fc.double({ min: -1000, max: 1000, noNaN: true }),
        fc.uniqueArray(fc.integer({ min: 0, max: 10_000 }), { minLength: 2, maxLength: 20 }),
        (slope, intercept, xs) => {
          const fit = fitLine(xs.map((x) => ({ x, y: intercept + slope * x })));
          assert.ok(Math.abs(fit.slope - slope) < 1e-6, `slope ${fit.slope} vs ${slope}`);
          assert.ok(Math.abs(fit.intercept - intercept) < 1e-3, `intercept ${fit.intercept} vs ${intercept}`);
        },
      ),
    );
  });

  it('goes through the middle of scattered points', () => {
    const fit = fitLine([
      { x: 0, y: 1 },
      { x: 0, y: -1 },
      { x: 10, y: 11 },
      { x: 10, y: 9 },
    ]);
    assert.equal(fit.slope, 1);
    assert.equal(fit.intercept, 0);
  });

  it('has no slope when every point has the same x', () => {
    assert.ok(
      Number.isNaN(
        fitLine([
          { x: 3, y: 1 },
          { x: 3, y: 2 },
        ]).slope,
      ),
    );
  });
});
