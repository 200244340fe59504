/**
 * Ending a run on the time-skipping test server must leave time skipping working for the tests
 * after it. A terminate that cuts off an activity keeps that activity's hold on time skipping
 * (temporalio/sdk-java#1138), and the next test's 30-day step then waits in about real time, until
 * the file's limit: that is how CI stopped in subscription.test.ts on a busy machine.
 * `terminateIdle` waits until nothing is in flight; this file holds it to that.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WORKFLOW_TYPES, subscriptionWorkflowId } from '../../src/workflows/definitions';
import { paidOnceQfpay } from '../helpers/qfpay-doubles';
import { Gate, until } from '../helpers/gate';
import { createTestWorker, fakeSubscriptionId, terminateIdle, useTimeSkipping } from '../helpers/temporal';
import { DAY, MINUTE } from '../../src/domain/duration';

const timeSkipping = useTimeSkipping({ serverPerTest: true });

/**
 * Skips `ms` of test time, or fails once a real minute has passed: with time skipping working the
 * step takes milliseconds; with the lock kept it would take hours.
 */
async function assertSkips(env: TestWorkflowEnvironment, ms: number): Promise<void> {
  const before = await env.currentTimeMs();
  let guard: NodeJS.Timeout | undefined;
  const stuck = new Promise<'stuck'>((done) => (guard = setTimeout(() => done('stuck'), 60_000)));
  const outcome = await Promise.race([env.sleep(ms).then(() => 'skipped' as const), stuck]);
  clearTimeout(guard);
  assert.equal(
    outcome,
    'skipped',
    `${ms} ms of test time did not pass within a real minute: time skipping is held`,
  );
  assert.ok((await env.currentTimeMs()) - before >= ms);
}

describe('ending a run on the time-skipping server', () => {
  it('terminateIdle waits out an activity in flight, and time skipping goes on working after it', async () => {
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
      // The adoption's question to QFPay is held: an activity in flight.
      await until('the adoption asks QFPay', () => qfpay.count('syncSubscription') === 1);
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
});
