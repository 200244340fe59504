/**
 * When the emulators of a test that moves their clocks start. `EMULATOR_START_TIME` (an ISO time)
 * when it is set: `npm run test:dates` runs the suite with it on awkward dates (a month's last
 * day, a leap day, a year's last month), so that no test depends on the day it runs. Otherwise
 * `fallback`, or the real now when there is none.
 */
export function emulatorStartMs(fallback?: number): number | undefined {
  const value = process.env.EMULATOR_START_TIME;
  if (value === undefined || value === '') return fallback;
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw new Error(`EMULATOR_START_TIME "${value}" is not a time`);
  return ms;
}

/** `{ startMs }` for an emulator's options when {@link emulatorStartMs} gives a time, else `{}`. */
export function emulatorStart(fallback?: number): { startMs?: number } {
  const startMs = emulatorStartMs(fallback);
  return startMs === undefined ? {} : { startMs };
}

/**
 * A start for an emulator whose clock must run ahead of the engine's by at least `leadMs`: the
 * pinned time ({@link emulatorStartMs}) when it is that far ahead of now, else now + `leadMs`.
 */
export function emulatorStartAhead(leadMs: number, now = Date.now()): number {
  const pinned = emulatorStartMs();
  return pinned !== undefined && pinned >= now + leadMs ? pinned : now + leadMs;
}
