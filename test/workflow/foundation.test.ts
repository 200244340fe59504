/**
 * The foundation proven on both real servers: the subscription workflow's durable timer jumps
 * 30 days on the time-skipping test server (the server's own clock says so), and on the dev
 * server its custom search attributes are registered, set and found through a list query. The
 * harness's connection to the test server keeps to that server's keepalive policy (see
 * `TEST_SERVER_CHANNEL_ARGS`: a retried sleep after a dropped connection stalled files for ever).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  SEARCH_ATTRIBUTES,
  WORKFLOW_TYPES,
  factSignal,
  subscriptionWorkflowId,
} from '../../src/workflows/definitions';
import type { SubscriptionView } from '../../src/workflows/definitions';
import { FakeQfpay } from '../helpers/qfpay-doubles';
import { createTestWorker, fakeSubscriptionId, startDevServer, startTimeSkipping } from '../helpers/temporal';
import { DAY } from '../../src/domain/duration';

describe('time-skipping test server', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await startTimeSkipping();
  });
  after(async () => {
    await env?.teardown();
  });

  it('pings the test server no more often than it permits, so it never drops the connection mid-sleep', () => {
    // grpc-java's default policy: at most one ping per 5 minutes while calls are open, none without.
    const args = (env.connection as unknown as { options: { channelArgs: Record<string, number> } }).options
      .channelArgs;
    assert.ok(
      args['grpc.keepalive_time_ms']! >= 5 * 60_000,
      `keepalive ${args['grpc.keepalive_time_ms']} ms`,
    );
    assert.equal(args['grpc.keepalive_permit_without_calls'], 0);
  });

  it("passes a 30-day billing timer on the server's skipped clock, waking at billing time + grace", async () => {
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
    const view: SubscriptionView = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(WORKFLOW_TYPES.subscription, {
        workflowId: subscriptionWorkflowId(subscriptionId),
        taskQueue,
        args: [{ subscriptionId, origin: 'adopted', options: { reconcileGraceMs: 60_000 } }],
      });
      return handle.result();
    });
    const skippedMs = (await env.currentTimeMs()) - start;
    assert.equal(view.snapshot.state, 'COMPLETED');
    // The server skipped the month: the workflow asked QFPay again once billing time + grace had
    // passed on the server's clock, which is what the activity's scheduled time records.
    assert.ok(skippedMs >= 30 * DAY, `server time advanced ${skippedMs} ms`);
    const secondSync = qfpay.calls.filter((c) => c.name === 'syncSubscription')[1];
    assert.ok(secondSync && secondSync.at >= start + 30 * DAY + 60_000, `second sync at ${secondSync?.at}`);
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
      // The customer id is learned from QFPay's answer after the notification: wait for both.
      const query =
        `${SEARCH_ATTRIBUTES.state.name} = "ACTIVE" AND ${SEARCH_ATTRIBUTES.subscriptionId.name} = "${subscriptionId}"` +
        ` AND ${SEARCH_ATTRIBUTES.customerId.name} = "cust_foundation"`;
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
