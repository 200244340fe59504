/**
 * When a merchant event is sent again after a failed attempt: exponential backoff with jitter,
 * for about three days (the Standard Webhooks guidance), never sooner than the endpoint's own
 * `Retry-After`. Pure: the workflow passes its (deterministic) random number.
 */
import { HOUR, SECOND } from '../duration';

export const DELIVERY_SCHEDULE = {
  /** How long after the first attempt the engine keeps trying. */
  windowMs: 72 * HOUR,
  /** The wait after the first failure; each later one is `factor` times the one before… */
  firstDelayMs: 5 * SECOND,
  factor: 4,
  /** …up to this. */
  maxDelayMs: 8 * HOUR,
  /** Each wait is spread by ± this fraction, so endpoints that come back are not hit all at once. */
  jitter: 0.2,
} as const;

/**
 * The wait before the next attempt.
 * @param failedAttempts attempts made so far, all failed (1 after the first)
 * @param random a number in [0, 1) (the workflow's `Math.random`, which replays identically)
 * @param retryAfterMs the endpoint's `Retry-After`, when it gave one: the wait is never shorter
 */
export function retryDelayMs(failedAttempts: number, random: number, retryAfterMs?: number): number {
  const { firstDelayMs, factor, maxDelayMs, jitter } = DELIVERY_SCHEDULE;
  const base = Math.min(firstDelayMs * factor ** Math.max(0, failedAttempts - 1), maxDelayMs);
  const spread = base * (1 - jitter + 2 * jitter * random);
  return Math.round(Math.max(spread, retryAfterMs ?? 0));
}

/** `5 s`, `21 min`, `5.7 h`: a wait as a person reads it. */
export function formatWait(ms: number): string {
  if (ms < 60 * SECOND) return `${Math.round(ms / SECOND)} s`;
  if (ms < HOUR) return `${Math.round(ms / (60 * SECOND))} min`;
  return `${(ms / HOUR).toFixed(1).replace(/\.0$/, '')} h`;
}
