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
 */
export function afterFlush(
  state: EngineState,
  { handedOver, notStarted }: { handedOver: readonly string[]; notStarted: readonly string[] },
  now: number,
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
  const failures = (state.flushFailures ?? 0) + 1;
  return { ...next, flushFailures: failures, flushRetryAt: now + Math.max(1_000, syncBackoff(failures) / 4) };
}
