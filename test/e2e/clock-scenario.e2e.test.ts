/**
 * The test clock's promise, as a merchant sees it, through the engine's API only (and the
 * emulator's control API for the card): a clock, a monthly subscription on it whose card declines
 * at the third renewal and is fixed before the engine's second planned manual charge, and twelve
 * months in one advance call. The clock ends `ready`; QFPay's records and the engine's view agree;
 * every charge came at its clock time, before its deadline, and each order was paid once; and the
 * merchant's endpoint received the whole story once, every event in the clock's time and marked
 * with the clock. `npm run demo` runs the same scenario (src/dev/clock-scenario.ts).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import {
  advanceClockScenario,
  monthsAfter,
  prepareClockScenario,
  SCENARIO_CYCLES,
  SCENARIO_START,
  type ClockScenario,
} from '../../src/dev/clock-scenario';
import { DAY, HOUR } from '../../src/domain/duration';
import { until } from '../helpers/gate';
import { eventStory } from '../helpers/merchant-receiver';
import { API_KEY } from '../helpers/stack';
import { useScenarioStack } from '../helpers/scenario-stack';

const scene = useScenarioStack();

/**
 * What the merchant's endpoint must receive: a year, with cycle 4 declined and recovered by the
 * second attempt. One group per moment; within a moment the story orders by type (see `eventStory`).
 */
function expectedStory(cycles: number): string[] {
  const paid = (n: number) => `subscription.payment_succeeded #${n}`;
  const moments: string[][] = [
    [paid(1), 'subscription.state_changed UNKNOWN→ACTIVE'],
    [paid(2)],
    [paid(3)],
    ['subscription.payment_failed #4', 'subscription.state_changed ACTIVE→PAST_DUE'],
    // The first attempt, declined: the engine's attempt and QFPay's report of the declined charge.
    ['subscription.dunning_attempt attempt 1 failed', 'subscription.payment_failed #4'],
    [
      'subscription.dunning_attempt attempt 2 succeeded',
      'subscription.dunning_recovered',
      paid(4),
      'subscription.state_changed PAST_DUE→ACTIVE',
    ],
  ];
  for (let n = 5; n < cycles; n += 1) moments.push([paid(n)]);
  moments.push(['subscription.ended', paid(cycles), 'subscription.state_changed ACTIVE→COMPLETED']);
  return moments.flatMap((m) => [...m].sort());
}

/** The merchant's endpoint received the whole story, each event once, in clock time, marked with the clock. */
async function checkStory(scenario: ClockScenario): Promise<void> {
  const clockId = scenario.clock.test_clock_id;
  const { subscriptionId } = scenario.subscription;
  const failedAt = scenario.thirdRenewalMs;
  const start = Date.parse(scenario.clock.frozen_time);
  const expected = expectedStory(SCENARIO_CYCLES);
  await until(
    'every event delivered',
    () => eventStory(scene.receiver.events, subscriptionId).length >= expected.length,
  );
  assert.deepEqual(eventStory(scene.receiver.events, subscriptionId), expected);
  const mine = scene.receiver.events.filter((e) => e.subscription_id === subscriptionId);
  for (const e of mine) {
    assert.equal(e.test_clock, clockId, `${e.type} is marked with its clock`);
    const at = Date.parse(e.created_at);
    assert.ok(at >= start && at <= scenario.targetMs, `${e.type} at ${e.created_at} is in the clock's time`);
  }
  const failed = mine.find((e) => e.type === 'subscription.payment_failed');
  assert.equal(failed?.created_at, new Date(failedAt).toISOString());
  // The merchant's list over a range of the clock's time finds the events dated in it.
  const from = new Date(failedAt).toISOString();
  const listed = await scene.client.apiExpect<{ data: Array<{ id: string }> }>(
    200,
    'GET',
    `/v1/events?subscription_id=${subscriptionId}&created_after=${from}&limit=100`,
  );
  assert.deepEqual(
    listed.data.map((e) => e.id).sort(),
    mine
      .filter((e) => Date.parse(e.created_at) >= failedAt)
      .map((e) => e.id)
      .sort(),
    'the events list, by a range in clock time',
  );
}

describe('a year on a test clock in one advance: declined at the third renewal, fixed before the second attempt', () => {
  it('ends ready, bills every cycle once at its clock time, and the merchant receives the story once, in clock time', async (t) => {
    const client = scene.client;
    const scenario = await prepareClockScenario(client, { name: 'e2e scenario' });
    const clockId = scenario.clock.test_clock_id;
    const { subscriptionId } = scenario.subscription;
    await until(
      'the subscription joined its clock',
      async () => (await client.testClock(clockId)).subscriptions === 1,
    );

    const { clock, view, wallMs } = await advanceClockScenario(client, scenario);
    t.diagnostic(`twelve months advanced in ${(wallMs / 1000).toFixed(1)} s of wall time`);
    assert.equal(clock.status, 'ready');
    assert.equal(clock.frozen_time, new Date(scenario.targetMs).toISOString());

    // The engine's view: the plan ran its year and completed, in the clock's time.
    assert.equal(view.state, 'COMPLETED');
    assert.equal(view.completed_cycles, SCENARIO_CYCLES);
    // Its clock time is where it ended: the twelfth cycle's billing (a completed run follows no clock).
    const lastCycle = monthsAfter(Date.parse(scenario.clock.frozen_time), SCENARIO_CYCLES - 1);
    assert.deepEqual(view.test_clock, {
      test_clock_id: clockId,
      frozen_time: new Date(lastCycle).toISOString(),
    });
    const episode = view.dunning.history.at(-1);
    assert.equal(episode?.outcome, 'recovered');
    assert.equal(episode?.sequence_no, 4);
    // The Web UI's summary of the workflow says its times are the clock's.
    const metadata = await scene.stack.env.client.workflow
      .getHandle(scenario.subscription.workflowId)
      .query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    assert.match(metadata.currentDetails ?? '', new RegExp(`test clock \`${clockId}\`: clock times`));

    // QFPay's truth: every order paid once; the declines are the third renewal and the first attempt.
    const truth = await client.emulator<{ state: string }>(
      'GET',
      `/_emulator/subscriptions/${subscriptionId}`,
      undefined,
      clockId,
    );
    assert.equal(truth.state, 'COMPLETED');
    const charges = await scene.charges(subscriptionId, clockId);
    const paidOrders = charges.filter((c) => c.approved).map((c) => c.sequence_no);
    assert.deepEqual(
      paidOrders,
      Array.from({ length: SCENARIO_CYCLES }, (_, i) => i + 1),
      'each order paid once',
    );
    const declined = charges.filter((c) => !c.approved).map((c) => [c.trigger, Date.parse(c.at)]);
    const failedAt = scenario.thirdRenewalMs;
    assert.deepEqual(declined, [
      ['auto', failedAt],
      ['manual', failedAt + HOUR],
    ]);
    const manual = charges.filter((c) => c.trigger === 'manual').map((c) => Date.parse(c.at));
    assert.deepEqual(manual, [failedAt + HOUR, failedAt + DAY], 'the second attempt paid; no third');
    const nextBilling = monthsAfter(failedAt, 1);
    assert.ok(
      manual.every((at) => at < nextBilling),
      'every manual charge before the next billing time',
    );
    const start = Date.parse(scenario.clock.frozen_time);
    for (const c of charges.filter((c) => c.trigger === 'auto'))
      assert.equal(
        Date.parse(c.at),
        monthsAfter(start, c.sequence_no - 1),
        `cycle ${c.sequence_no} on its day`,
      );

    await checkStory(scenario);
  });

  it('a creation handed over before any notification from the clock’s world still tells its story in clock time', async () => {
    const client = scene.client;
    const clock = await client.createTestClock(new Date(SCENARIO_START).toISOString(), 'handover first');
    const clockId = clock.test_clock_id;
    // The clock's world sends nothing while the subscription is made: the creation's handover
    // starts its workflow, before the clock has told it its time.
    await client.emulator('POST', '/_emulator/config', { notifyUrl: '' }, clockId);
    const scenario = await prepareClockScenario(client, { clock });
    await until(
      'the subscription joined its clock',
      async () => (await client.testClock(clockId)).subscriptions === 1,
    );
    await client.emulator(
      'POST',
      '/_emulator/config',
      { notifyUrl: `${scene.stack.apiUrl}/webhooks/qfpay` },
      clockId,
    );
    await advanceClockScenario(client, scenario);
    await checkStory(scenario);
  });

  it('two clocks advanced at the same time: each subscription’s story is its own, whole, in its own clock’s time', async () => {
    const { client } = scene;
    // The second clock starts a week later: were the clocks to meet, times or charges would show it.
    const [a, b] = await Promise.all([
      prepareClockScenario(client, { name: 'side by side a' }),
      prepareClockScenario(client, { name: 'side by side b', start: SCENARIO_START + 7 * DAY }),
    ]);
    for (const s of [a, b])
      await until('joined', async () => (await client.testClock(s.clock.test_clock_id)).subscriptions === 1);
    await Promise.all([advanceClockScenario(client, a), advanceClockScenario(client, b)]);
    for (const s of [a, b]) {
      await checkStory(s);
      const world = await client.emulator<{ data: Array<{ subscription_id: string }> }>(
        'GET',
        '/_emulator/subscriptions',
        undefined,
        s.clock.test_clock_id,
      );
      assert.deepEqual(
        world.data.map((w) => w.subscription_id),
        [s.subscription.subscriptionId],
        'its clock’s world holds its subscription alone',
      );
      const charges = await scene.charges(s.subscription.subscriptionId, s.clock.test_clock_id);
      assert.equal(charges.filter((c) => c.approved).length, SCENARIO_CYCLES, 'each order paid once');
    }
  });

  it('`npm run demo` runs it against a running stack, to the end', async () => {
    const port = new URL(scene.stack.apiUrl).port;
    const emulatorPort = new URL(scene.stack.qfpayEmulator.url).port;
    // Run as a person would, in its own process (the stack answers from this one meanwhile).
    const demo = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
      env: { ...process.env, PORT: port, EMULATOR_PORT: emulatorPort, API_KEYS: API_KEY },
      encoding: 'utf8',
    });
    assert.match(demo.stdout, /test clock ready at 2028-01-10T02:00:00\.000Z: a year advanced in/);
    assert.match(demo.stdout, /order #4 {2}manual paid/);
    assert.match(demo.stdout, /state {14}COMPLETED/);
  });
});
