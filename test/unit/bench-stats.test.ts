/**
 * The bench's line fit (the replay cost per history event and its projection to the
 * continue-as-new threshold).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fitLine, spreadPicks } from '../../bench/stats';

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

describe('spreadPicks', () => {
  it('picks every item once before any twice, whatever the random source', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 0, max: 200 }),
        fc.infiniteStream(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })),
        (size, count, randoms) => {
          const items = Array.from({ length: size }, (_, i) => `s${i}`);
          const next = randoms[Symbol.iterator]();
          const picks = spreadPicks(items, count, () => next.next().value as number);
          assert.equal(picks.length, count);
          const times = new Map<string, number>();
          for (const p of picks) {
            assert.ok(items.includes(p), `picked ${p}, not an item`);
            times.set(p, (times.get(p) ?? 0) + 1);
          }
          // Within each pass over the items, no repeats.
          for (let start = 0; start < count; start += size) {
            const pass = picks.slice(start, start + size);
            assert.equal(new Set(pass).size, pass.length, `a repeat in the pass at ${start}`);
          }
          for (const n of times.values()) assert.ok(n <= Math.ceil(count / size));
        },
      ),
    );
  });

  it('picks nothing from nothing', () => {
    assert.deepEqual(spreadPicks([], 5), []);
  });
});
