/**
 * The foundation proven on both real servers: the subscription workflow's durable timer jumps
 * 30 days on the time-skipping test server in well under a second of wall time, and on the dev
 * server its custom search attributes are registered, set and found through a list query.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  SEARCH_ATTRIBUTES,
  WORKFLOW_TYPES,
  factSignal,
  snapshotQuery,
  subscriptionWorkflowId,
} from '../../src/workflows/definitions';
import type { SubscriptionView } from '../../src/workflows/definitions';
import { FakeQfpay } from '../helpers/qfpay-doubles';
import { createTestWorker, fakeSubscriptionId, startDevServer, startTimeSkipping } from '../helpers/temporal';

const DAY = 24 * 60 * 60_000;

describe('time-skipping test server', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await startTimeSkipping();
  });
  after(async () => {
    await env?.teardown();
  });

  it('passes a 30-day billing timer in well under a second of wall time', async () => {
    const subscriptionId = fakeSubscriptionId();
    const start = await env.currentTimeMs();
    const qfpay = new FakeQfpay(
      subscriptionId,
      {
        found: true,
        orders: [],
        remote: {
          state: 'ACTIVE',
          totalBillingCycles: 2,
          completedCycles: 1,
          nextBillingTime: start + 30 * DAY,
        },
      },
      () => Date.now(),
    );
    // When the workflow asks again after the billing time, QFPay says the plan completed.
    qfpay.onSync = (state, n) => {
      if (n >= 2) state.remote = { ...state.remote, state: 'COMPLETED', completedCycles: 2 };
    };
    const { worker, taskQueue } = await createTestWorker(env, { activities: qfpay.activities() });
    let wallStart = 0;
    const view: SubscriptionView = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(WORKFLOW_TYPES.subscription, {
        workflowId: subscriptionWorkflowId(subscriptionId),
        taskQueue,
        args: [{ subscriptionId, origin: 'adopted', options: { reconcileGraceMs: 60_000 } }],
      });
      // Once the workflow knows the next billing time it sleeps on a durable timer: time that.
      while ((await handle.query(snapshotQuery)).snapshot.nextBillingTime === null) {
        await new Promise((r) => setTimeout(r, 20));
      }
      wallStart = Date.now();
      return handle.result();
    });
    const wallMs = Date.now() - wallStart;
    const skippedMs = (await env.currentTimeMs()) - start;
    assert.equal(view.snapshot.state, 'COMPLETED');
    assert.ok(skippedMs >= 30 * DAY, `server time advanced ${skippedMs} ms`);
    assert.ok(wallMs < 1_000, `took ${wallMs} ms of wall time`);
    assert.equal(qfpay.count('syncSubscription'), 2);
  });
});

describe('dev server', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await startDevServer();
  });
  after(async () => {
    await env?.teardown();
  });

  it('sets the engine search attributes and finds the workflow with a list query', async () => {
    const subscriptionId = fakeSubscriptionId();
    const now = Date.now();
    const qfpay = new FakeQfpay(
      subscriptionId,
      {
        found: true,
        orders: [],
        remote: {
          state: 'ACTIVE',
          customerId: 'cust_foundation',
          totalBillingCycles: null,
          completedCycles: 1,
          nextBillingTime: now + 30 * DAY,
        },
      },
      () => Date.now(),
    );
    const { worker, taskQueue } = await createTestWorker(env, { activities: qfpay.activities() });
    await worker.runUntil(async () => {
      await env.client.workflow.signalWithStart(WORKFLOW_TYPES.subscription, {
        workflowId: subscriptionWorkflowId(subscriptionId),
        taskQueue,
        args: [{ subscriptionId, origin: 'adopted' }],
        signal: factSignal,
        signalArgs: [{ kind: 'state', subscriptionId, state: 'ACTIVE', at: now, source: 'notification' }],
      });
      const query = `${SEARCH_ATTRIBUTES.state.name} = "ACTIVE" AND ${SEARCH_ATTRIBUTES.subscriptionId.name} = "${subscriptionId}"`;
      let found: string[] = [];
      for (let i = 0; i < 100 && found.length === 0; i += 1) {
        found = [];
        for await (const wf of env.client.workflow.list({ query })) found.push(wf.workflowId);
        if (found.length === 0) await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(found, [subscriptionWorkflowId(subscriptionId)]);
      const described = await env.client.workflow
        .getHandle(subscriptionWorkflowId(subscriptionId))
        .describe();
      assert.equal(described.typedSearchAttributes.get(SEARCH_ATTRIBUTES.customerId), 'cust_foundation');
      await env.client.workflow.getHandle(subscriptionWorkflowId(subscriptionId)).terminate('test done');
    });
  });
});
