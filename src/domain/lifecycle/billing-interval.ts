/**
 * Billing intervals: QFPay's `interval` × `interval_count` of a recurring product. Calendar
 * units (months, years) are counted in QFPay's region time, from the subscription's anchor
 * rather than from the previous billing time, so Jan 31 → Feb 29 → Mar 31 does not drift.
 */

/** The unit of a billing interval. */
export type IntervalUnit = 'minute' | 'hour' | 'day' | 'week' | 'month' | 'year';

/** A product's billing interval: every `count` `unit`s. */
export interface BillingInterval {
  unit: IntervalUnit;
  count: number;
}

const UNIT_BY_NAME: Readonly<Record<string, IntervalUnit>> = {
  minute: 'minute',
  minutes: 'minute',
  hour: 'hour',
  hours: 'hour',
  hourly: 'hour',
  day: 'day',
  days: 'day',
  daily: 'day',
  week: 'week',
  weeks: 'week',
  weekly: 'week',
  month: 'month',
  months: 'month',
  monthly: 'month',
  year: 'year',
  years: 'year',
  yearly: 'year',
};

/**
 * The largest `interval_count` per unit: QFPay allows at most one year between two charges
 * (a leap year for the fixed-length units).
 */
export const MAX_INTERVAL_COUNT: Readonly<Record<IntervalUnit, number>> = {
  minute: 366 * 24 * 60,
  hour: 366 * 24,
  day: 366,
  week: 52,
  month: 12,
  year: 1,
};

const FIXED_UNIT_MS: Readonly<Record<'minute' | 'hour' | 'day' | 'week', number>> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  week: 7 * 86_400_000,
};

/**
 * Reads a product's `interval` value: QFPay's `monthly`/`yearly`, the
 * `minutes`/`hours` of QFPay's sandbox, and the singular/`daily`/`weekly` forms. Case-insensitive.
 * @returns the unit, or `undefined` for an unknown value
 */
export function parseIntervalUnit(text: string): IntervalUnit | undefined {
  return UNIT_BY_NAME[text.trim().toLowerCase()];
}

function offsetMs(offset: string): number {
  const m = /^([+-])(\d{2}):(\d{2})$/.exec(offset);
  if (!m) throw new Error(`invalid UTC offset "${offset}", expected like +08:00`);
  const ms = (Number(m[2]) * 60 + Number(m[3])) * 60_000;
  return m[1] === '-' ? -ms : ms;
}

function addCalendarMonths(anchorMs: number, months: number, offset: string): number {
  const shift = offsetMs(offset);
  const local = new Date(anchorMs + shift);
  const year = local.getUTCFullYear();
  const month = local.getUTCMonth() + months;
  const timeOfDay = anchorMs + shift - Date.UTC(year, local.getUTCMonth(), local.getUTCDate());
  const daysInTarget = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const day = Math.min(local.getUTCDate(), daysInTarget);
  return Date.UTC(year, month, day) + timeOfDay - shift;
}

/**
 * The time `times` intervals after `anchorMs`.
 * @param anchorMs the first billing time (cycle 0)
 * @param interval the billing interval
 * @param times how many intervals to add (the cycle index)
 * @param offset QFPay's region offset, used for calendar units (a month-end anchor stays at month end)
 * @returns epoch ms of that cycle's billing time
 */
export function addIntervals(
  anchorMs: number,
  interval: BillingInterval,
  times: number,
  offset: string,
): number {
  const n = interval.count * times;
  switch (interval.unit) {
    case 'month':
      return addCalendarMonths(anchorMs, n, offset);
    case 'year':
      return addCalendarMonths(anchorMs, 12 * n, offset);
    default:
      return anchorMs + FIXED_UNIT_MS[interval.unit] * n;
  }
}

/** Two intervals bill on the same schedule. */
export function sameInterval(a: BillingInterval, b: BillingInterval): boolean {
  return a.unit === b.unit && a.count === b.count;
}

/** A plan's billing times: whole intervals after the anchor (cycle 0), calendar units at `offset`. */
export interface BillingSchedule {
  anchor: number;
  interval: BillingInterval;
  /** The gateway's region offset, e.g. `+08:00`. */
  offset: string;
}

const DAY_MS = 86_400_000;

/** The longest one interval can be, so that counting from an estimate never overshoots. */
function longestInterval(interval: BillingInterval): number {
  switch (interval.unit) {
    case 'month':
      return 31 * DAY_MS * interval.count;
    case 'year':
      return 366 * DAY_MS * interval.count;
    default:
      return addIntervals(0, interval, 1, '+00:00');
  }
}

/**
 * The index (0 = the first payment) of the first cycle billed at or after `at`. Times within a
 * second count as the same (QFPay's times have whole seconds).
 */
export function cycleAtOrAfter(
  anchor: number,
  interval: BillingInterval,
  at: number,
  offset: string,
): number {
  let k = Math.max(0, Math.floor((at - anchor) / longestInterval(interval)));
  while (addIntervals(anchor, interval, k, offset) < at - 999) k += 1;
  return k;
}

/**
 * The billing time after `due` on the schedule, or undefined when `due` is not one of its billing
 * times (within a second): the schedule then does not describe the subscription's billing.
 */
export function billingAfter(schedule: BillingSchedule, due: number): number | undefined {
  const { anchor, interval, offset } = schedule;
  if (due < anchor - 999 || interval.count < 1) return undefined;
  const k = cycleAtOrAfter(anchor, interval, due, offset);
  if (Math.abs(addIntervals(anchor, interval, k, offset) - due) > 999) return undefined;
  return addIntervals(anchor, interval, k + 1, offset);
}

/** A well-formed schedule (a gateway's answer is not trusted blindly): a time, a unit, a count, an offset. */
/** An epoch time in Date's range: anything outside cannot be a gateway's time and would break formatting. */
export const isEpochTime = (v: unknown): v is number =>
  typeof v === 'number' && Number.isFinite(v) && Math.abs(v) <= 8.64e15;

export function isBillingSchedule(value: unknown): value is BillingSchedule {
  if (typeof value !== 'object' || value === null) return false;
  const { anchor, interval, offset } = value as Record<string, unknown>;
  if (!isEpochTime(anchor)) return false;
  if (typeof offset !== 'string' || !/^[+-]\d{2}:\d{2}$/.test(offset)) return false;
  if (typeof interval !== 'object' || interval === null) return false;
  const { unit, count } = interval as Record<string, unknown>;
  if (typeof unit !== 'string' || !Object.hasOwn(MAX_INTERVAL_COUNT, unit)) return false;
  return (
    typeof count === 'number' &&
    Number.isInteger(count) &&
    count >= 1 &&
    count <= MAX_INTERVAL_COUNT[unit as IntervalUnit]
  );
}
