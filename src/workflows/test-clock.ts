/**
 * A test clock's workflow: it holds the clock's time and its member subscriptions, and runs each
 * advance as a loop that survives restarts (`advance.ts` decides; this carries it out). A step
 * goes to the next moment anything on the clock is due, moves the gateway world there (its
 * billings and retries, their notifications delivered), gives every member the clock's time, and
 * waits until the members have nothing left to do then and the world has nothing left to deliver.
 * Only then the next moment, until the target; then the clock is `ready` again.
 */
import {
  ApplicationFailure,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { TestClockActivities } from '../activities/contracts';
import { nextMoment, stepDone } from '../domain/clock/advance';
import {
  advanceTestClockUpdate,
  testClockMemberSignal,
  testClockQuery,
  testClockTimeSignal,
  type TestClockInput,
  type TestClockView,
} from './definitions';

const acts = proxyActivities<TestClockActivities>({
  startToCloseTimeout: '2m',
  // Every one of them heartbeats while it waits: a worker lost mid-step costs seconds, not half a minute.
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10s' },
});

/** Continue-as-new between two steps once the history is this long. */
const MAX_HISTORY_EVENTS = 2_000;

/** Gives a member the clock's time; one whose workflow is gone is left out of the step. */
async function tell(workflowId: string, now: number): Promise<void> {
  try {
    await getExternalWorkflowHandle(workflowId).signal(testClockTimeSignal, { now });
  } catch (err) {
    log.warn('a member of the test clock could not be told its time', { workflowId, error: String(err) });
  }
}

export async function testClockWorkflow(input: TestClockInput): Promise<TestClockView> {
  const clock: TestClockView = input.carried ?? {
    id: input.id,
    name: input.name,
    now: input.frozenTime,
    status: 'ready',
    target: null,
    members: [],
    steps: 0,
  };
  const joined: string[] = [];

  setHandler(testClockQuery, () => clock);
  setHandler(testClockMemberSignal, (workflowId) => {
    if (typeof workflowId !== 'string' || clock.members.includes(workflowId)) return;
    clock.members.push(workflowId);
    joined.push(workflowId);
  });
  setHandler(
    advanceTestClockUpdate,
    ({ to }) => {
      clock.target = to;
      clock.status = 'advancing';
      return clock;
    },
    {
      validator: ({ to }) => {
        if (typeof to !== 'number' || !Number.isFinite(to))
          throw ApplicationFailure.create({
            type: 'InvalidTime',
            message: 'the time to advance to is not a time',
          });
        if (clock.status === 'advancing')
          throw ApplicationFailure.create({
            type: 'Advancing',
            message: `test clock ${clock.id} is advancing`,
          });
        if (to < clock.now)
          throw ApplicationFailure.create({
            type: 'InvalidTime',
            message: `test clock ${clock.id} is at ${new Date(clock.now).toISOString()}: it cannot go back`,
          });
      },
    },
  );

  for (;;) {
    await condition(() => joined.length > 0 || (clock.target !== null && clock.target > clock.now));
    // A subscription that joins gets the clock's time at once.
    for (const workflowId of joined.splice(0)) await tell(workflowId, clock.now);
    if (clock.target !== null && clock.target > clock.now) {
      await step(clock);
      if (clock.target !== null && clock.now >= clock.target) {
        clock.status = 'ready';
        clock.target = null;
      }
    } else if (clock.status === 'advancing') {
      clock.status = 'ready';
      clock.target = null;
    }
    if (workflowInfo().historyLength >= MAX_HISTORY_EVENTS && joined.length === 0)
      await continueAsNew<typeof testClockWorkflow>({ ...input, carried: clock });
  }
}

/** One step of an advance: to the next moment, and everything due then done. */
async function step(clock: TestClockView): Promise<void> {
  const target = clock.target!;
  const world = await acts.readTestClockWorld(clock.id);
  const readings = await acts.readTestClockMembers(clock.members);
  const wakes = readings.map((r) => (r === 'ended' ? null : r.wakeAt));
  const at = nextMoment(clock.now, target, [world.nextDueMs, ...wakes]);
  await acts.advanceTestClockWorld(clock.id, at);
  for (const workflowId of clock.members) await tell(workflowId, at);
  for (;;) {
    const members = await acts.readTestClockMembers(clock.members, { idleAt: at });
    // What the members did may have made the world deliver something: it is looked at again.
    const flushed = await acts.advanceTestClockWorld(clock.id, at);
    if (stepDone(at, members, flushed)) break;
  }
  clock.now = at;
  clock.steps += 1;
}
