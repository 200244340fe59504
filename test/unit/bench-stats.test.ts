/**
 * The bench's line fit (the replay cost per history event and its projection to the
 * continue-as-new threshold), its picks, and the figures of a pool run.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fitLine, poolFigures, ratio, runPool, spreadPicks } from '../../bench/stats';

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

describe('poolFigures', () => {
  it('counts what succeeded and what failed, by message, and the rate over the run', async () => {
    const run = await runPool(10, 3, async (i) => {
      if (i % 4 === 1) throw new Error('declined');
      if (i === 6) throw new Error('timed out');
    });
    const figures = poolFigures(run);
    assert.equal(figures.ok, 6);
    assert.equal(figures.errors, 4);
    assert.deepEqual(figures.errorKinds, { declined: 3, 'timed out': 1 });
    assert.equal(figures.latencyMs.count, 6);
    assert.equal(figures.throughput, Math.round((6 / (run.durationMs / 1000)) * 10) / 10);
  });

  it('gives a rate of the run, not of every task', () => {
    const figures = poolFigures({ latencies: [5, 5, 5, 5], errors: new Map([['x', 4]]), durationMs: 2_000 });
    assert.equal(figures.throughput, 2);
    assert.equal(figures.durationMs, 2_000);
  });
});

describe('ratio', () => {
  it('keeps three decimals', () => {
    assert.equal(ratio(2, 3), 0.667);
    assert.equal(ratio(9.1, 59.3), 0.153);
  });
});
