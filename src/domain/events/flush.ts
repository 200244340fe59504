/**
 * The outbox's flush: when recorded merchant events are handed to their delivery workflows, and
 * what the hand-over leaves in the state.
 */
import { type EngineState, MAX_SENT_EVENT_IDS } from '../engine-state';
import { syncBackoff } from '../sync/sync';

/** Recorded events wait for their delivery workflows (after a failed start, until its retry time). */
export function flushDue(s: EngineState, now: number): boolean {
  return s.outbox.length > 0 && s.known && (s.flushRetryAt === undefined || now >= s.flushRetryAt);
}

/**
 * Events handed to their delivery workflows (started now, or started before: the id derives from
 * the fact) leave the outbox. An event whose delivery could not be started stays, and the flush
 * is tried again after a backoff: an event the engine recorded is delivered, never lost.
 *
 * The backoff grows with refused flushes in a row only. A flush that handed any event over shows
 * Temporal takes starts again: one it refused beside them begins a new streak, and is tried again
 * after the first backoff (`progressResets`). Runs recorded before counted every refused flush
 * since the last one with none refused, so that events recorded later (a decline, a recovery)
 * waited for the streak's backoff of up to 15 minutes; they replay so (`progressResets: false`).
 */
export function afterFlush(
  state: EngineState,
  { handedOver, notStarted }: { handedOver: readonly string[]; notStarted: readonly string[] },
  now: number,
  { progressResets = true }: { progressResets?: boolean } = {},
): EngineState {
  const done = new Set(handedOver);
  const next: EngineState = {
    ...state,
    outbox: state.outbox.filter((e) => !done.has(e.id)),
    sentEventIds: [...state.sentEventIds, ...handedOver].slice(-MAX_SENT_EVENT_IDS),
  };
  if (notStarted.length === 0) {
    const { flushFailures: _failures, flushRetryAt: _retryAt, ...rest } = next;
    return rest;
  }
  const failures = progressResets && handedOver.length > 0 ? 1 : (state.flushFailures ?? 0) + 1;
  return { ...next, flushFailures: failures, flushRetryAt: now + Math.max(1_000, syncBackoff(failures) / 4) };
}

/**
 * The time a refused delivery start is tried again (an event waits in the outbox for it), or null.
 * On a test clock this is a clock time, though the refusal was Temporal's, in real time: the
 * workflow waits for it in real time too (see {@link flushRetryReached}).
 */
export function flushRetryTime(s: EngineState): number | null {
  return s.outbox.length > 0 && s.known && s.flushRetryAt !== undefined ? s.flushRetryAt : null;
}

/**
 * The retry of a refused delivery start is due at `now`, whatever the time says: on a test clock
 * its wait runs in real time, and the clock may never reach its time (an advance that has reached
 * its target leaves the clock standing). Anything else is unchanged.
 */
export function flushRetryReached(s: EngineState, now: number): EngineState {
  if (flushRetryTime(s) === null || s.flushRetryAt! <= now) return s;
  return { ...s, flushRetryAt: now };
}
