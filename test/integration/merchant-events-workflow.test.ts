/**
 * The subscription workflow's merchant events on the dev server (real time, short dunning
 * offsets): a failed cycle recovered by the engine's second attempt produces every event a
 * merchant expects, each matching its published schema, each with a unique id, each delivered by
 * its own child workflow.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { MerchantEventSchema, type MerchantEvent } from '../../src/events/merchant-events';
import { WORKFLOW_TYPES, factSignal, subscriptionWorkflowId } from '../../src/workflows/definitions';
import { DEFAULT_DUNNING_POLICY, mergePolicy } from '../../src/domain/episode/dunning';
import { FakeQfpay, orderId } from '../helpers/qfpay-doubles';
import { cycle2Failed } from '../helpers/dunning-scenario';
import { eventually } from '../helpers/stack';
import { createTestWorker, fakeSubscriptionId, startDevServer } from '../helpers/temporal';
import { DAY } from '../../src/domain/duration';

let env: TestWorkflowEnvironment;
before(async () => {
  env = await startDevServer();
});
after(async () => {
  await env?.teardown();
});

const EXPECTED = [
  'subscription.state_changed',
  'subscription.payment_failed',
  'subscription.dunning_attempt',
  'subscription.payment_succeeded',
  'subscription.dunning_recovered',
] as const;

describe('merchant events from the subscription workflow (dev server)', () => {
  it('emits schema-valid events with unique ids for a failure recovered by dunning', async () => {
    const subscriptionId = fakeSubscriptionId();
    const now = Date.now();
    const qfpay = new FakeQfpay(
      subscriptionId,
      {
        found: true,
        orders: [
          {
            orderId: orderId(subscriptionId, 1),
            sequenceNo: 1,
            status: 'PAID',
            respcd: '0000',
            at: now - 30 * DAY,
          },
        ],
        remote: {
          state: 'ACTIVE',
          totalBillingCycles: null,
          completedCycles: 1,
          nextBillingTime: now,
          lastBillingTime: now - 30 * DAY,
        },
      },
      () => Date.now(),
    );
    qfpay.chargeScript = [{ outcome: 'failed' }, { outcome: 'succeeded' }];
    const delivered: MerchantEvent[] = [];
    const { worker, taskQueue } = await createTestWorker(env, {
      activities: {
        ...qfpay.activities(),
        handOverSubscription: async () => 'handed_over' as const,
        sendMerchantEvent: async (event: MerchantEvent) => {
          delivered.push(event);
          return { result: 'delivered' as const, httpStatus: 200, reason: 'HTTP 200' };
        },
      },
    });
    await worker.runUntil(async () => {
      const handle = await env.client.workflow.start(WORKFLOW_TYPES.subscription, {
        workflowId: subscriptionWorkflowId(subscriptionId),
        taskQueue,
        args: [
          {
            subscriptionId,
            origin: 'adopted',
            policy: mergePolicy(DEFAULT_DUNNING_POLICY, {
              attemptOffsets: ['1s', '3s'],
              minAttemptWindow: '1s',
            }),
            options: { merchantEvents: true },
          },
        ],
      });
      const failedAt = Date.now();
      qfpay.state.orders.push({
        orderId: orderId(subscriptionId, 2),
        sequenceNo: 2,
        status: 'FAILED',
        respcd: '1205',
        at: failedAt,
      });
      qfpay.state.remote = {
        ...qfpay.state.remote,
        state: 'PAST_DUE',
        lastBillingTime: failedAt,
        nextBillingTime: failedAt + 30 * DAY,
      };
      await handle.signal(factSignal, cycle2Failed(subscriptionId, failedAt));
      // Each event has its own delivery workflow: they arrive in any order.
      await eventually('every kind of event delivered', async () => {
        const types = new Set(delivered.map((e) => e.type));
        return EXPECTED.every((type) => types.has(type)) ? true : undefined;
      });
      await handle.terminate('test done');
    });
    for (const event of delivered) MerchantEventSchema.parse(event);
    assert.equal(new Set(delivered.map((e) => e.id)).size, delivered.length, 'unique ids');
    const attempts = delivered
      .filter((e) => e.type === 'subscription.dunning_attempt')
      .map((e) => e.data as { attempt: number; result: string })
      .sort((a, b) => a.attempt - b.attempt);
    assert.deepEqual(
      attempts.map((a) => a.result),
      ['failed', 'succeeded'],
    );
  });
});
