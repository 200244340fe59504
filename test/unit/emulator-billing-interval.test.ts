import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  addIntervals,
  MAX_INTERVAL_COUNT,
  parseIntervalUnit,
} from '../../src/domain/lifecycle/billing-interval';

const HKT = '+08:00';
const hk = (local: string) => Date.parse(`${local}+08:00`);

describe('billing intervals', () => {
  it("reads QFPay interval names and the extras of QFPay's sandbox, case-insensitively", () => {
    assert.equal(parseIntervalUnit('monthly'), 'month');
    assert.equal(parseIntervalUnit('YEARLY'), 'year');
    assert.equal(parseIntervalUnit('minutes'), 'minute');
    assert.equal(parseIntervalUnit('hour'), 'hour');
    assert.equal(parseIntervalUnit('daily'), 'day');
    assert.equal(parseIntervalUnit('weekly'), 'week');
    assert.equal(parseIntervalUnit('fortnightly'), undefined);
  });

  it('allows at most one year between two charges', () => {
    assert.equal(MAX_INTERVAL_COUNT.month, 12);
    assert.equal(MAX_INTERVAL_COUNT.year, 1);
    assert.equal(MAX_INTERVAL_COUNT.week, 52);
  });

  it('bills monthly from a month-end anchor on each month’s last day without drifting', () => {
    const anchor = hk('2024-01-31T10:00:00');
    const monthly = { unit: 'month' as const, count: 1 };
    assert.equal(addIntervals(anchor, monthly, 1, HKT), hk('2024-02-29T10:00:00'));
    assert.equal(addIntervals(anchor, monthly, 2, HKT), hk('2024-03-31T10:00:00'));
    assert.equal(addIntervals(anchor, monthly, 3, HKT), hk('2024-04-30T10:00:00'));
    assert.equal(addIntervals(anchor, monthly, 13, HKT), hk('2025-02-28T10:00:00'));
  });

  it('counts calendar months in QFPay’s region time, not UTC', () => {
    // 2025-01-31 16:30 UTC is already 1 February 00:30 in Hong Kong.
    const anchor = Date.parse('2025-01-31T16:30:00Z');
    assert.equal(addIntervals(anchor, { unit: 'month', count: 1 }, 1, HKT), hk('2025-03-01T00:30:00'));
    assert.equal(
      addIntervals(anchor, { unit: 'month', count: 1 }, 1, '+00:00'),
      Date.parse('2025-02-28T16:30:00Z'),
    );
  });

  it('bills a leap-day yearly plan on 28 February in common years', () => {
    const anchor = hk('2024-02-29T09:00:00');
    assert.equal(addIntervals(anchor, { unit: 'year', count: 1 }, 1, HKT), hk('2025-02-28T09:00:00'));
    assert.equal(addIntervals(anchor, { unit: 'year', count: 1 }, 4, HKT), hk('2028-02-29T09:00:00'));
  });

  it('adds fixed units exactly', () => {
    assert.equal(addIntervals(0, { unit: 'minute', count: 5 }, 3, HKT), 15 * 60_000);
    assert.equal(addIntervals(0, { unit: 'hour', count: 2 }, 1, HKT), 2 * 3_600_000);
    assert.equal(addIntervals(0, { unit: 'week', count: 1 }, 2, HKT), 14 * 86_400_000);
  });

  it('keeps monthly billing times strictly increasing and on the anchor day or the month’s end', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2090, 0, 1) }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 40 }),
        (anchor, count, times) => {
          const interval = { unit: 'month' as const, count };
          const a = addIntervals(anchor, interval, times, HKT);
          const b = addIntervals(anchor, interval, times + 1, HKT);
          assert.ok(b > a);
          const local = (ms: number) => new Date(ms + 8 * 3_600_000);
          const anchorDay = local(anchor).getUTCDate();
          const day = local(b).getUTCDate();
          const monthEnd = new Date(
            Date.UTC(local(b).getUTCFullYear(), local(b).getUTCMonth() + 1, 0),
          ).getUTCDate();
          assert.ok(day === anchorDay || (day === monthEnd && anchorDay > monthEnd));
          assert.equal((b - anchor) % 60_000, 0);
        },
      ),
    );
  });
});
