/**
 * Worker outages in the middle of a dunning episode, on the Temporal CLI's dev server in real
 * time (the time-skipping server cannot pass a timer while no worker is there to take the task
 * it schedules). The policy runs on a scale of seconds. The assertions are the engine's promises,
 * not timings: overdue attempts collapse into one catch-up, and nothing is charged once the
 * order's charge window has closed, however late the worker comes back. A reminder whose time
 * passes while the worker is down comes once, after the restart, before its billing; and one
 * across two continue-as-new comes once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { snapshotQuery, syncNowUpdate } from '../../src/workflows/definitions';
import { EngineDouble, failingSubscription, startWith } from '../helpers/dunning-scenario';
import { until } from '../helpers/gate';
import { createTestWorker, startDevServer } from '../helpers/temporal';
import { SECOND } from '../../src/domain/duration';

let env: TestWorkflowEnvironment;
const running: WorkflowHandle[] = [];
before(async () => {
  env = await startDevServer();
});
after(async () => {
  for (const handle of running) await handle.terminate('test cleanup').catch(() => undefined);
  await env?.teardown();
});
const devServer = {
  get env() {
    return env;
  },
  track: (handle: WorkflowHandle) => running.push(handle),
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('worker outages in a dunning episode (dev server, real time)', { concurrency: true }, () => {
  it('an outage across several attempt slots: the overdue attempts collapse into one catch-up', async () => {
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription(env);
    qfpay.chargeScript = [{ outcome: 'failed' }, { outcome: 'failed' }, { outcome: 'failed' }];
    const activities = { ...qfpay.activities(), ...new EngineDouble().activities() };
    const first = await createTestWorker(env, { maxCachedWorkflows: 0, activities });
    let failedAt = 0;
    const handle = await first.worker.runUntil(async () => {
      const h = await startWith(devServer, first.taskQueue, subscriptionId, {
        attemptOffsets: ['6s', '9s', '40s'],
        safetyMargin: '15s',
        minAttemptWindow: '2s',
      });
      clock.now = Date.now();
      failedAt = await failCycle2(h);
      await until('the episode opened', async () => (await h.query(snapshotQuery)).dunning.episode !== null);
      return h;
    });
    assert.equal(qfpay.count('chargeOrder'), 0, 'the worker stopped before the first slot');
    // The worker is gone across the slots at 6 s and 9 s.
    await sleep(Math.max(0, failedAt + 12 * SECOND - Date.now()));
    const second = await createTestWorker(env, { taskQueue: first.taskQueue, activities });
    const restartedAt = Date.now();
    await second.worker.runUntil(async () => {
      await until('the catch-up and the last slot ran', () => qfpay.count('chargeOrder') >= 2, 120 * SECOND);
    });
    const charges = qfpay.calls.filter((c) => c.name === 'chargeOrder').map((c) => c.at);
    // One catch-up for both overdue slots, after the restart; the next charge is the 40 s slot.
    assert.ok(charges[0]! >= restartedAt - SECOND, 'the catch-up came after the restart');
    assert.ok(
      charges[1]! >= failedAt + 40 * SECOND,
      `second charge ${charges[1]! - failedAt} ms after the failure`,
    );
    assert.equal(charges.length, 2);
    await handle.terminate('test done');
  });

  it('an outage across the charge deadline: nothing is charged once the window has closed', async () => {
    // Next billing 40 s after the failure, margin 15 s: the window closes 25 s - 2 s after it.
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription(env, 40 * SECOND);
    const activities = { ...qfpay.activities(), ...new EngineDouble().activities() };
    const first = await createTestWorker(env, { maxCachedWorkflows: 0, activities });
    let failedAt = 0;
    const handle = await first.worker.runUntil(async () => {
      const h = await startWith(devServer, first.taskQueue, subscriptionId, {
        attemptOffsets: ['10s'],
        safetyMargin: '15s',
        minAttemptWindow: '2s',
      });
      clock.now = Date.now();
      failedAt = await failCycle2(h);
      await until('the episode opened', async () => (await h.query(snapshotQuery)).dunning.episode !== null);
      return h;
    });
    assert.equal(qfpay.count('chargeOrder'), 0, 'the worker stopped before the slot');
    await sleep(Math.max(0, failedAt + 30 * SECOND - Date.now()));
    const second = await createTestWorker(env, { taskQueue: first.taskQueue, activities });
    const closed = await second.worker.runUntil(async () => {
      await until(
        'the episode closed',
        async () => (await handle.query(snapshotQuery)).dunning.episode === null,
        120 * SECOND,
      );
      return (await handle.query(snapshotQuery)).dunning.history.at(-1);
    });
    assert.equal(qfpay.count('chargeOrder'), 0, 'a charge now could land after the next billing time');
    assert.ok(['exhausted', 'lost'].includes(closed?.outcome ?? ''), closed?.outcome);
    await handle.terminate('test done');
  });

  it("an outage across a reminder's time: the reminder comes once, after the restart, before its billing", async () => {
    // Cycle 3 is billed 40 s after cycle 2 fails; its renewal is announced 30 s before (at 10 s).
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription(env, 40 * SECOND);
    const engine = new EngineDouble();
    const activities = { ...qfpay.activities(), ...engine.activities() };
    const first = await createTestWorker(env, { maxCachedWorkflows: 0, activities });
    let failedAt = 0;
    const handle = await first.worker.runUntil(async () => {
      const h = await startWith(
        devServer,
        first.taskQueue,
        subscriptionId,
        {
          attemptOffsets: ['1h'],
          finalAction: 'leave_to_gateway',
          safetyMargin: '15s',
          minAttemptWindow: '2s',
        },
        { merchantEvents: true, reminders: { renewal_upcoming: 30 * SECOND } },
      );
      clock.now = Date.now();
      failedAt = await failCycle2(h);
      await until('the next billing known', async () => {
        const view = await h.query(snapshotQuery);
        return (view.snapshot.nextBillingTime ?? 0) > failedAt;
      });
      return h;
    });
    const renewals = () => engine.delivered.filter((e) => e.type === 'subscription.renewal_upcoming');
    assert.deepEqual(renewals(), [], 'the worker stopped before the reminder');
    // The worker is gone across the reminder's time (10 s), and back before the billing (40 s).
    await sleep(Math.max(0, failedAt + 18 * SECOND - Date.now()));
    const second = await createTestWorker(env, { taskQueue: first.taskQueue, activities });
    const restartedAt = Date.now();
    await second.worker.runUntil(async () => {
      await until('the reminder delivered', () => renewals().length > 0, 60 * SECOND);
      // Past the billing: nothing more for this cycle.
      await sleep(Math.max(0, failedAt + 41 * SECOND - Date.now()));
      await handle.query(snapshotQuery);
    });
    const [renewal] = renewals();
    assert.equal(renewals().length, 1);
    const at = Date.parse(renewal!.created_at);
    assert.ok(at >= restartedAt - SECOND && at < failedAt + 40 * SECOND, renewal!.created_at);
    assert.equal((renewal!.data as { sequence_no: number }).sequence_no, 3);
    await handle.terminate('test done');
  });

  it('continue-as-new before a reminder, and again after it: the reminder comes once, before its billing', async () => {
    // (Here rather than on the time-skipping server, which stops skipping time for a run's event
    // deliveries once it continues as new, sdk-java#1540.)
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription(env, 40 * SECOND);
    const engine = new EngineDouble();
    const { worker, taskQueue } = await createTestWorker(env, {
      activities: { ...qfpay.activities(), ...engine.activities() },
    });
    const renewals = () => engine.delivered.filter((e) => e.type === 'subscription.renewal_upcoming');
    await worker.runUntil(async () => {
      const handle = await startWith(
        devServer,
        taskQueue,
        subscriptionId,
        {
          attemptOffsets: ['1h'],
          finalAction: 'leave_to_gateway',
          safetyMargin: '15s',
          minAttemptWindow: '2s',
        },
        { merchantEvents: true, maxHistoryEvents: 40, reminders: { renewal_upcoming: 20 * SECOND } },
      );
      clock.now = Date.now();
      const failedAt = await failCycle2(handle);
      const continued = async () => {
        const run = (await handle.describe()).runId;
        for (let i = 0; i < 15 && (await handle.describe()).runId === run; i += 1)
          await handle.executeUpdate(syncNowUpdate, { args: [] });
        await until('it continued as new', async () => (await handle.describe()).runId !== run);
      };
      await continued();
      assert.deepEqual(renewals(), [], 'continued before the reminder (due 20 s after the failure)');
      await until('the reminder delivered', () => renewals().length > 0, 60 * SECOND);
      await continued();
      // Past the billing: the run carried what it sent, and sends nothing more for this cycle.
      await sleep(Math.max(0, failedAt + 41 * SECOND - Date.now()));
      await handle.query(snapshotQuery);
      assert.equal(renewals().length, 1);
      assert.ok(Date.parse(renewals()[0]!.created_at) < failedAt + 40 * SECOND);
      await handle.terminate('test done');
    });
  });
});
