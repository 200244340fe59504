/**
 * Ending a run on the time-skipping test server must leave time skipping working for the tests
 * after it. A terminate that cuts off an activity keeps that activity's hold on time skipping
 * (temporalio/sdk-java#1138), and the next test's 30-day step then waits in about real time, until
 * the file's limit: that is how CI stopped in subscription.test.ts on a busy machine.
 * `terminateIdle` waits until nothing is in flight; this file holds it to that.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WORKFLOW_TYPES, subscriptionWorkflowId } from '../../src/workflows/definitions';
import { paidOnceQfpay } from '../helpers/qfpay-doubles';
import { Gate, until } from '../helpers/gate';
import {
  createTestWorker,
  fakeSubscriptionId,
  keepTimeSkipping,
  skipsTime,
  terminateIdle,
  useTimeSkipping,
} from '../helpers/temporal';
import { DAY, MINUTE } from '../../src/domain/duration';

const timeSkipping = useTimeSkipping({ serverPerTest: true });

/** Skips `ms` of test time, or fails once a real minute has passed: then time skipping is held. */
async function assertSkips(env: TestWorkflowEnvironment, ms: number): Promise<void> {
  const before = await env.currentTimeMs();
  assert.ok(
    await skipsTime(env, ms),
    `${ms} ms of test time did not pass within a real minute: time skipping is held`,
  );
  assert.ok((await env.currentTimeMs()) - before >= ms);
}

/**
 * A subscription run whose adoption question to QFPay is held at the gate (an activity in flight)
 * while `whileHeld` runs, in a worker that runs until it returns.
 */
async function withQuestionHeld(
  whileHeld: (handle: WorkflowHandle, gate: Gate) => Promise<void>,
): Promise<void> {
  const subscriptionId = fakeSubscriptionId();
  const t0 = await timeSkipping.env.currentTimeMs();
  const qfpay = paidOnceQfpay(subscriptionId, t0, {
    totalBillingCycles: null,
    cycleMs: 30 * DAY,
    now: () => t0,
  });
  const gate = new Gate();
  qfpay.holdSyncAnswer = () => gate.promise;
  const { worker, taskQueue } = await createTestWorker(timeSkipping.env, {
    activities: qfpay.activities(),
  });
  await worker.runUntil(async () => {
    const handle = await timeSkipping.env.client.workflow.start(WORKFLOW_TYPES.subscription, {
      workflowId: subscriptionWorkflowId(subscriptionId),
      taskQueue,
      args: [{ subscriptionId, origin: 'adopted', options: { reconcileGraceMs: 15 * MINUTE } }],
    });
    timeSkipping.track(handle);
    await until('the adoption asks QFPay', () => qfpay.count('syncSubscription') === 1);
    await whileHeld(handle, gate);
  });
}

describe('ending a run on the time-skipping server', () => {
  it('terminateIdle waits out an activity in flight, and time skipping goes on working after it', async () => {
    await withQuestionHeld(async (handle, gate) => {
      const { raw } = await handle.describe();
      assert.equal(raw.pendingActivities?.length, 1, 'the server reports the held activity');
      const terminated = terminateIdle(handle);
      gate.open();
      await terminated;
      const { status } = await handle.describe();
      assert.equal(status.name, 'TERMINATED');
    });
    await assertSkips(timeSkipping.env, 30 * DAY);
  });

  it('a hold that a cut-off run left behind is found and released, and time skips again', async () => {
    await withQuestionHeld(async (handle, gate) => {
      // What terminateIdle exists to avoid: the held activity is cut off.
      await handle.terminate('cut off on purpose');
      gate.open();
    });
    // 'released', not 'skipping': its first step found time skipping held, and one unlock freed it.
    assert.equal(await keepTimeSkipping(timeSkipping.env), 'released');
    await assertSkips(timeSkipping.env, 30 * DAY);
  });
});
