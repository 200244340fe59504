/**
 * How a test clock's advance steps through time, as pure functions (the clock's workflow carries
 * them out). An advance never jumps over anything due: it goes to the next moment anything on the
 * clock is due (a gateway's billing or retry, an engine wake-up for a dunning attempt, a reminder,
 * a cancel at period end), moves both sides there, and waits until everything due then is done
 * before it takes the next moment, until the target. So a dunning attempt due on day 3 happens
 * before the billing on day 30, and the deadline rule is judged in clock time.
 */
import type { ClockStatus } from './test-clock';

/** A member subscription as a step reads it: its status, or `ended` (its workflow is closed). */
export type MemberReading = ClockStatus | 'ended';

/**
 * The next moment an advance from `now` to `target` goes to: the earliest time after `now` that
 * anything is due (`dues`: the gateway world's next event, each member's wake time; null for
 * none), or the target when nothing is due before it; `now` itself once the target is reached.
 * What is due at or before `now` is not a moment to go to: the step at `now` does it before it
 * ends ({@link stepDone}), so every step moves forward.
 */
export function nextMoment(now: number, target: number, dues: readonly (number | null)[]): number {
  if (target <= now) return now;
  let next = target;
  for (const due of dues) if (due !== null && due > now && due < next) next = due;
  return next;
}

/**
 * Whether the step at `at` is done: every member that still runs has reached `at` and has nothing
 * left to do there, and the gateway world has nothing due at or before `at` and processed nothing
 * in its last look (a delivery it made may have given a member something to do).
 */
export function stepDone(
  at: number,
  members: readonly MemberReading[],
  world: { nextDueMs: number | null; processed: number },
): boolean {
  const membersDone = members.every((m) => m === 'ended' || (m.idle && m.now !== null && m.now >= at));
  const worldDone = world.processed === 0 && (world.nextDueMs === null || world.nextDueMs > at);
  return membersDone && worldDone;
}
