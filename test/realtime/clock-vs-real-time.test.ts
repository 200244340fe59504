/**
 * A test clock tells the truth only if what it shows is what real time would show. The same
 * scenario runs twice in one stack, side by side: on a test clock (a monthly plan, a year in one
 * advance) and in real time (a minute-long plan, about twelve minutes of waiting). In both the card
 * declines at the third renewal and is fixed before the engine's second planned manual charge. The
 * merchant's endpoint must receive the same story from both, type by type and in order; the
 * clocked one dated in the clock's time, the real one in real time.
 *
 * Its own tier (`npm run test:realtime`): it waits more than it works.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { advanceClockScenario, prepareClockScenario, SCENARIO_CYCLES } from '../../src/dev/clock-scenario';
import { MINUTE, SECOND } from '../../src/domain/duration';
import { until } from '../helpers/gate';
import { eventStory } from '../helpers/merchant-receiver';
import { useScenarioStack } from '../helpers/scenario-stack';

// No automatic QFPay retries in either run: recovery is the engine's own dunning.
const scene = useScenarioStack();

/**
 * The ladder of the real-time run, the monthly one's (an hour, a day, three days after the
 * failure, within a month) scaled to a minute: three attempts, each before the next billing less
 * the margin (45 s after the failure), with room between them for a busy machine.
 */
const MINUTE_POLICY = {
  attempt_offsets: ['5s', '25s', '40s'],
  safety_margin: '15s',
  min_attempt_window: '3s',
  final_action: 'leave_to_gateway' as const,
};

describe('a test clock and real time tell the merchant the same story', () => {
  it('the third renewal declined and recovered by the second attempt, a year on a clock and twelve minutes in real time', async (t) => {
    const { client } = scene;

    // Real time first: it takes minutes; the clocked run is made and advanced meanwhile.
    const real = await client.createSubscription({
      name: 'Real Time',
      interval: 'minutes',
      amount: 500,
      totalBillingCycles: SCENARIO_CYCLES,
      dunningPolicy: MINUTE_POLICY,
      idempotencyKey: `real-time-${Date.now()}`,
    });
    const created = await client.emulatorSubscription(real.subscriptionId);
    assert.ok(created.next_billing_time, 'the first renewal is planned');
    const thirdRenewal = Date.parse(created.next_billing_time) + 2 * MINUTE;
    // The card declines from half a cycle before the third renewal (planned at the emulator).
    await client.setTokenCharges(real.tokenId, 'decline', '1205', {
      from: new Date(thirdRenewal - 30 * SECOND).toISOString(),
    });

    const scenario = await prepareClockScenario(client, { name: 'beside real time' });
    await until(
      'the clocked subscription joined its clock',
      async () => (await client.testClock(scenario.clock.test_clock_id)).subscriptions === 1,
    );
    const { wallMs } = await advanceClockScenario(client, scenario);
    t.diagnostic(`the clocked year advanced in ${(wallMs / 1000).toFixed(1)} s`);

    // In real time, the card is fixed once the engine's first attempt has been declined: before
    // its second, as on the clock.
    const manualCharges = async () =>
      (await scene.charges(real.subscriptionId)).filter((c) => c.trigger === 'manual');
    await until(
      'the first manual attempt, declined',
      async () => (await manualCharges()).length >= 1,
      10 * MINUTE,
    );
    const [first] = await manualCharges();
    assert.equal(first?.approved, false, 'the first attempt was declined');
    await client.setTokenCharges(real.tokenId, 'approve');

    await until(
      'the real-time plan completed',
      async () => (await client.subscription(real.subscriptionId)).state === 'COMPLETED',
      15 * MINUTE,
    );
    const clocked = eventStory(scene.receiver.events, scenario.subscription.subscriptionId);
    // In real time, what one charge causes reaches the engine by its answer and its notification,
    // a moment apart: events within 3 s of each other are one moment (the cycles are 60 s apart,
    // the attempts 5 s and 20 s after the failure and each other).
    const story = () => eventStory(scene.receiver.events, real.subscriptionId, 3 * SECOND);
    await until('every real-time event delivered', () => story().length >= clocked.length, 2 * MINUTE);
    t.diagnostic(`${clocked.length} events each`);
    assert.deepEqual(story(), clocked);

    // The real run's manual charges: the same two, both before the next billing less the margin.
    const charges = await manualCharges();
    assert.deepEqual(
      charges.map((c) => c.approved),
      [false, true],
    );
    for (const c of charges) assert.ok(Date.parse(c.at) < thirdRenewal + MINUTE - 15 * SECOND, c.at);
    // Each run's events in its own time: the clock's, marked; the real ones, not.
    const of = (id: string) => scene.receiver.events.filter((e) => e.subscription_id === id);
    for (const e of of(real.subscriptionId)) assert.equal(e.test_clock, undefined);
    for (const e of of(scenario.subscription.subscriptionId))
      assert.equal(e.test_clock, scenario.clock.test_clock_id);
  });
});
