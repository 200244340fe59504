/**
 * Durations as operators write them in configuration (`'90s'`, `'15m'`, `'1h'`, `'3d'`, `'2w'`),
 * turned into milliseconds. Pure and deterministic: it is used inside the workflow sandbox.
 */

/** Time units in milliseconds: the one definition the engine, its tests, chaos and bench share. */
export const SECOND = 1_000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
export const WEEK = 7 * DAY;

/** Milliseconds per unit suffix accepted by {@link parseDuration}. */
export const DURATION_UNITS_MS = {
  ms: 1,
  s: SECOND,
  m: MINUTE,
  h: HOUR,
  d: DAY,
  w: WEEK,
} as const;

/** A unit suffix accepted by {@link parseDuration}. */
export type DurationUnit = keyof typeof DURATION_UNITS_MS;

/** A duration in configuration: a whole number with a unit suffix (`'3d'`), or milliseconds as a number. */
export type DurationInput = string | number;

/** Thrown by {@link parseDuration} for text or numbers that are not a duration. */
export class InvalidDurationError extends Error {
  /** Stable kind, for callers that branch on it. */
  readonly type = 'InvalidDuration';
  override readonly name = 'InvalidDurationError';

  /** @param input the rejected value, quoted in the message so a configuration mistake is easy to find */
  constructor(readonly input: unknown) {
    super(
      `invalid duration ${JSON.stringify(input) ?? String(input)}: expected a whole number followed by ` +
        `ms, s, m, h, d or w (e.g. '90s', '15m', '3d'), or a non-negative whole number of milliseconds`,
    );
  }
}

// Whole numbers only: a fractional hour is easy to misread, and integers keep the result exact.
const DURATION_TEXT = /^(\d+)\s*(ms|s|m|h|d|w)$/;

/**
 * Parses a duration into milliseconds.
 *
 * Units are fixed-length (`1d` is always 24 h, `1w` is 7 d): calendar-aware intervals such as a
 * month belong to the billing cycle, not to configuration durations. A bare numeric string
 * (`'5000'`) is rejected because its unit is ambiguous; pass a number for milliseconds. Units are
 * case-sensitive, so `'1M'` (a month?) is an error rather than a minute.
 *
 * @param input e.g. `'90s'`, `'15m'`, `'1h'`, `'3d'`, `'2w'`, `'250ms'`, or a non-negative integer of ms
 * @returns the duration in milliseconds (a non-negative safe integer)
 * @throws {InvalidDurationError} for anything else, including negative, fractional or overflowing values
 */
export function parseDuration(input: DurationInput): number {
  if (typeof input === 'number') {
    if (Number.isSafeInteger(input) && input >= 0) return input;
    throw new InvalidDurationError(input);
  }
  if (typeof input !== 'string') throw new InvalidDurationError(input);
  const match = DURATION_TEXT.exec(input.trim());
  if (!match) throw new InvalidDurationError(input);
  const amount = Number(match[1]);
  const ms = amount * DURATION_UNITS_MS[match[2] as DurationUnit];
  if (!Number.isSafeInteger(ms)) throw new InvalidDurationError(input);
  return ms;
}
