/**
 * The foundation proven on both real servers: the subscription workflow's durable timer jumps
 * 30 days on the time-skipping test server (the server's own clock says so), and on the dev
 * server its custom search attributes are registered, set and found through a list query: the
 * gateway-neutral names and the gateway, on every gateway (a run that carried the QFPay-only
 * names drops them). The
 * harness's connection to the test server keeps to that server's keepalive policy (see
 * `TEST_SERVER_CHANNEL_ARGS`: a retried sleep after a dropped connection stalled files for ever).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { SearchAttributePair, TypedSearchAttributes } from '@temporalio/common';
import { QFPAY_GATEWAY, type GatewayProfile } from '../../src/domain/gateway-profile';
import { gatewayProfile } from '../../src/gateways/registry';
import {
  LEGACY_SEARCH_ATTRIBUTES,
  SEARCH_ATTRIBUTES,
  WORKFLOW_TYPES,
  factSignal,
  subscriptionWorkflowId,
} from '../../src/workflows/definitions';
import type { SubscriptionView } from '../../src/workflows/definitions';
import { FakeQfpay } from '../helpers/qfpay-doubles';
import {
  createTestWorker,
  fakeSubscriptionId,
  startDevServer,
  startTimeSkipping,
  terminateIdle,
} from '../helpers/temporal';
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

  /**
   * Adopts `subscriptionId` from an ACTIVE notification (QFPay's double answers the sync with
   * `customerId`), waits until a list query on the engine's search attributes finds it, and
   * answers them as the server holds them.
   */
  async function adoptAndFind(
    subscriptionId: string,
    customerId: string,
    options: { gateway?: GatewayProfile; carried?: SearchAttributePair[] } = {},
  ): Promise<TypedSearchAttributes> {
    const now = Date.now();
    const qfpay = new FakeQfpay(
      subscriptionId,
      {
        found: true,
        orders: [],
        remote: {
          state: 'ACTIVE',
          customerId,
          totalBillingCycles: null,
          completedCycles: 1,
          nextBillingTime: now + 30 * DAY,
        },
      },
      () => Date.now(),
    );
    const { worker, taskQueue } = await createTestWorker(env, { activities: qfpay.activities() });
    return worker.runUntil(async () => {
      const handle = await env.client.workflow.signalWithStart(WORKFLOW_TYPES.subscription, {
        workflowId: subscriptionWorkflowId(subscriptionId),
        taskQueue,
        args: [
          { subscriptionId, origin: 'adopted', ...(options.gateway ? { gateway: options.gateway } : {}) },
        ],
        signal: factSignal,
        signalArgs: [{ kind: 'state', subscriptionId, state: 'ACTIVE', at: now, source: 'notification' }],
        ...(options.carried ? { typedSearchAttributes: options.carried } : {}),
      });
      // The customer id is learned from QFPay's answer after the notification: wait for both.
      const gateway = options.gateway?.name ?? QFPAY_GATEWAY;
      const query =
        `${SEARCH_ATTRIBUTES.state.name} = "ACTIVE" AND ${SEARCH_ATTRIBUTES.subscriptionId.name} = "${subscriptionId}"` +
        ` AND ${SEARCH_ATTRIBUTES.customerId.name} = "${customerId}" AND ${SEARCH_ATTRIBUTES.gateway.name} = "${gateway}"`;
      let found: string[] = [];
      for (let i = 0; i < 100 && found.length === 0; i += 1) {
        found = [];
        for await (const wf of env.client.workflow.list({ query })) found.push(wf.workflowId);
        if (found.length === 0) await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(found, [subscriptionWorkflowId(subscriptionId)]);
      const described = await handle.describe();
      await terminateIdle(handle);
      return described.typedSearchAttributes;
    });
  }

  it('sets the engine search attributes and finds the workflow with a list query', async () => {
    const attributes = await adoptAndFind(fakeSubscriptionId(), 'cust_foundation');
    assert.equal(attributes.get(SEARCH_ATTRIBUTES.customerId), 'cust_foundation');
    assert.equal(attributes.get(SEARCH_ATTRIBUTES.gateway), 'qfpay');
  });

  it('writes the gateway-neutral names and the gateway on every gateway, and none of the QFPay-only names', async () => {
    const subscriptionId = `qorepay:${randomUUID()}`;
    const gateway = gatewayProfile('qorepay');
    assert.ok(gateway);
    const attributes = await adoptAndFind(subscriptionId, 'cust_qorepay', { gateway });
    assert.equal(attributes.get(SEARCH_ATTRIBUTES.subscriptionId), subscriptionId);
    assert.equal(attributes.get(SEARCH_ATTRIBUTES.customerId), 'cust_qorepay');
    assert.equal(attributes.get(SEARCH_ATTRIBUTES.gateway), 'qorepay');
    assert.equal(attributes.get(LEGACY_SEARCH_ATTRIBUTES.subscriptionId), undefined);
    assert.equal(attributes.get(LEGACY_SEARCH_ATTRIBUTES.customerId), undefined);
  });

  it('a run that carries the QFPay-only names (continued from a run before the rename) writes the new names and drops the old', async () => {
    const subscriptionId = fakeSubscriptionId();
    const attributes = await adoptAndFind(subscriptionId, 'cust_renamed', {
      carried: [
        { key: LEGACY_SEARCH_ATTRIBUTES.subscriptionId, value: subscriptionId },
        { key: LEGACY_SEARCH_ATTRIBUTES.customerId, value: 'cust_before' },
      ],
    });
    assert.equal(attributes.get(SEARCH_ATTRIBUTES.customerId), 'cust_renamed');
    assert.equal(attributes.get(LEGACY_SEARCH_ATTRIBUTES.subscriptionId), undefined);
    assert.equal(attributes.get(LEGACY_SEARCH_ATTRIBUTES.customerId), undefined);
  });
});
