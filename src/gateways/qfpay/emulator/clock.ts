/**
 * The emulator's own clock. It runs on real time by default (optionally scaled), and can be
 * frozen and moved forward like Stripe's test clocks, so a test can live through a year of
 * billing in a second. Time only ever moves forward, except on an explicit {@link EmulatorClock.reset}.
 */

/** Options of {@link EmulatorClock}. */
export interface EmulatorClockOptions {
  /** Emulator time at start, epoch ms. @default the real time */
  startMs?: number;
  /** Emulator ms per real ms while running. @default 1 */
  timeScale?: number;
  /** Start frozen: time moves only when advanced. @default false */
  frozen?: boolean;
  /** The real-time source (tests inject their own). @default Date.now */
  realNow?: () => number;
}

/** A plain-JSON picture of the clock, as the control API and the state file show it. */
export interface ClockSnapshot {
  nowMs: number;
  frozen: boolean;
  timeScale: number;
}

/** Thrown when the clock is asked to do something it cannot (go backwards, scale by a non-positive factor). */
export class ClockError extends Error {
  readonly type = 'clock_error';
}

/**
 * `now = base + (real elapsed since rebase × timeScale)`, or `base` while frozen.
 * Every change of speed or position rebases, so earlier elapsed time is never rescaled.
 */
export class EmulatorClock {
  private readonly realNow: () => number;
  private baseEmulatedMs: number;
  private baseRealMs: number;
  private scale: number;
  private isFrozen: boolean;

  constructor(options: EmulatorClockOptions = {}) {
    this.realNow = options.realNow ?? Date.now;
    this.baseRealMs = this.realNow();
    this.baseEmulatedMs = options.startMs ?? this.baseRealMs;
    this.scale = validScale(options.timeScale ?? 1);
    this.isFrozen = options.frozen ?? false;
  }

  /** The current emulator time, epoch ms (whole milliseconds). */
  now(): number {
    if (this.isFrozen) return this.baseEmulatedMs;
    return this.baseEmulatedMs + Math.floor((this.realNow() - this.baseRealMs) * this.scale);
  }

  /** Whether time moves only when advanced. */
  get frozen(): boolean {
    return this.isFrozen;
  }

  /** Emulator ms per real ms while running. */
  get timeScale(): number {
    return this.scale;
  }

  /** Moves the clock to `ms` if that is later than now; an earlier time is ignored (time is monotonic). */
  advanceTo(ms: number): void {
    const now = this.now();
    this.rebase(Math.max(now, Math.floor(ms)));
  }

  /**
   * Moves the clock forward by `ms`.
   * @throws ClockError when `ms` is negative
   */
  advanceBy(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0)
      throw new ClockError(`cannot advance by ${ms} ms: time only moves forward`);
    this.rebase(this.now() + Math.floor(ms));
  }

  /**
   * Changes the speed of time from now on.
   * @throws ClockError when `timeScale` is not a positive finite number
   */
  setTimeScale(timeScale: number): void {
    const scale = validScale(timeScale);
    this.rebase(this.now());
    this.scale = scale;
  }

  /** Freezes (time moves only when advanced) or unfreezes the clock at the current time. */
  setFrozen(frozen: boolean): void {
    this.rebase(this.now());
    this.isFrozen = frozen;
  }

  /** Puts the clock at `ms`, backwards if need be. Only for a reset that also clears all state. */
  reset(ms: number, frozen: boolean = this.isFrozen): void {
    this.rebase(Math.floor(ms));
    this.isFrozen = frozen;
  }

  /** The clock as plain JSON. */
  snapshot(): ClockSnapshot {
    return { nowMs: this.now(), frozen: this.isFrozen, timeScale: this.scale };
  }

  private rebase(emulatedMs: number): void {
    this.baseEmulatedMs = emulatedMs;
    this.baseRealMs = this.realNow();
  }
}

function validScale(timeScale: number): number {
  if (!Number.isFinite(timeScale) || timeScale <= 0) {
    throw new ClockError(`timeScale must be a positive number, got ${timeScale}`);
  }
  return timeScale;
}
