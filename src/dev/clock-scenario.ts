/**
 * The test-clock scenario of `npm run demo` and its end-to-end test, through the engine's API and
 * the emulator's control API only: a clock, a monthly subscription on it whose card declines at
 * the third renewal and is fixed between the engine's first and second planned manual charges,
 * and twelve months in one advance. The card's change is planned at clock times beforehand
 * (`from` on the token's behaviour), so the one advance carries the whole story.
 */
import { DAY, HOUR } from '../domain/duration';
import {
  type StackClient,
  type CreatedSubscription,
  type SubscriptionView,
  type TestClockView,
} from './stack-client';

/** The scenario's clock starts here: the 10th, so that every month has its billing day. */
export const SCENARIO_START = Date.parse('2027-01-10T02:00:00Z');
/** The engine's dunning ladder in the scenario: its defaults, an hour, a day and three days after a failure. */
export const SCENARIO_ATTEMPT_OFFSETS = ['1h', '1d', '3d'] as const;
/** The plan's cycles: a year of monthly billing, then it completes. */
export const SCENARIO_CYCLES = 12;

/** `months` calendar months after `ms`, at the same day and time (UTC; the scenario's day is the 10th). */
export function monthsAfter(ms: number, months: number): number {
  const d = new Date(ms);
  return Date.UTC(
    d.getUTCFullYear(),
    d.getUTCMonth() + months,
    d.getUTCDate(),
    d.getUTCHours(),
    d.getUTCMinutes(),
    d.getUTCSeconds(),
  );
}

/** What the scenario made and when its card changes, in the clock's time. */
export interface ClockScenario {
  clock: TestClockView;
  subscription: CreatedSubscription;
  /** The third renewal (the fourth cycle): the first charge the card declines. */
  thirdRenewalMs: number;
  /** From here the card declines: half a month before the third renewal. */
  declinesFromMs: number;
  /** From here the card is approved again: half a day after the failure, between the first and second attempts. */
  fixedFromMs: number;
  /** Where the advance goes: twelve months after the start. */
  targetMs: number;
}

/**
 * Makes the clock (or takes `clock`), the subscription on it and the card's plan; does not advance.
 * @param start the clock's frozen time (default {@link SCENARIO_START})
 */
export async function prepareClockScenario(
  client: StackClient,
  options: { name?: string; start?: number; clock?: TestClockView } = {},
): Promise<ClockScenario> {
  const clock =
    options.clock ??
    (await client.createTestClock(
      new Date(options.start ?? SCENARIO_START).toISOString(),
      options.name ?? 'third renewal declined',
    ));
  const start = Date.parse(clock.frozen_time);
  const subscription = await client.createSubscription({
    name: 'Ada Lovelace',
    interval: 'monthly',
    amount: 9_900,
    totalBillingCycles: SCENARIO_CYCLES,
    dunningPolicy: { attempt_offsets: [...SCENARIO_ATTEMPT_OFFSETS], final_action: 'leave_to_gateway' },
    testClock: clock.test_clock_id,
    idempotencyKey: `clock-scenario-${clock.test_clock_id}`,
  });
  const thirdRenewalMs = monthsAfter(start, 3);
  const declinesFromMs = thirdRenewalMs - 15 * DAY;
  const fixedFromMs = thirdRenewalMs + 12 * HOUR;
  const onClock = { testClock: clock.test_clock_id };
  await client.setTokenCharges(subscription.tokenId, 'decline', '1205', {
    ...onClock,
    from: new Date(declinesFromMs).toISOString(),
  });
  await client.setTokenCharges(subscription.tokenId, 'approve', undefined, {
    ...onClock,
    from: new Date(fixedFromMs).toISOString(),
  });
  return {
    clock,
    subscription,
    thirdRenewalMs,
    declinesFromMs,
    fixedFromMs,
    targetMs: monthsAfter(start, 12),
  };
}

/** The advance, timed: one call, then the clock `ready` at the target. */
export async function advanceClockScenario(
  client: StackClient,
  scenario: ClockScenario,
): Promise<{ clock: TestClockView; view: SubscriptionView; wallMs: number }> {
  const began = Date.now();
  const clock = await client.advanceTestClock(
    scenario.clock.test_clock_id,
    new Date(scenario.targetMs).toISOString(),
  );
  const wallMs = Date.now() - began;
  const view = await client.subscription(scenario.subscription.subscriptionId);
  return { clock, view, wallMs };
}
