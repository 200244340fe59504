/**
 * A subscription on a test clock: it lives in the clock's time, not in Temporal's. Its `now` is
 * the clock's, which only moves forward, by the clock's own signal or by a fact from the clock's
 * world (a fact dated `at` proves the clock has reached `at`). Its wake times are clock times:
 * the workflow sets no timer and waits for the clock to pass them (except the retry of a merchant
 * event's refused delivery start, a fault of Temporal's in real time: `flushRetryReached`).
 * Subscriptions on no clock are untouched: these functions give them the real time and change
 * nothing.
 */
/** The part of a subscription's state a clock concerns (`EngineState` has it). */
export interface Clocked {
  options: { testClock?: string };
  clockNow?: number;
}

/** What a clock advance reads of a subscription between two steps. */
export interface ClockStatus {
  /** The clock it lives on. */
  testClock: string;
  /** Its clock time, or null before the clock or a fact gave it one. */
  now: number | null;
  /** It has nothing to do at `now`: it waits for a signal or for the clock to reach `wakeAt`. */
  idle: boolean;
  /** The clock time it next has something to do at, or null (only a signal can wake it). */
  wakeAt: number | null;
}

/** The clock a subscription lives on, or undefined: real time. */
export function testClockOf(s: Pick<Clocked, 'options'>): string | undefined {
  return s.options.testClock;
}

/** The time the subscription decides with: its clock's on a clock (the real time until it has one), else the real time. */
export function engineNow(s: Clocked, realNow: number): number {
  return testClockOf(s) === undefined ? realNow : (s.clockNow ?? realNow);
}

/** Moves a clocked subscription's time forward to `at`; an earlier time, or no clock, changes nothing. */
export function followClock<S extends Clocked>(s: S, at: unknown): S {
  if (testClockOf(s) === undefined || typeof at !== 'number' || !Number.isFinite(at)) return s;
  if (s.clockNow !== undefined && s.clockNow >= at) return s;
  return { ...s, clockNow: at };
}
