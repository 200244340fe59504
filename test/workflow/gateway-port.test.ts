/**
 * The subscription workflow on a gateway behind the port, on the time-skipping test server:
 * without a manual charge a failed cycle escalates at once and nothing is ever charged (nor
 * cancelled for it), and the gateway's own recovery makes the plan ACTIVE again; a gateway's pause
 * is a call the loop awaits, and a fact that arrives meanwhile is applied; a pause the gateway
 * refuses leaves billing as it was.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { GatewayCapabilities, GatewayProfile } from '../../src/gateways/port';
import type { QfpayActivities } from '../../src/activities/contracts';
import { QFPAY_CAPABILITIES } from '../../src/domain/gateway-profile';
import {
  WORKFLOW_TYPES,
  cancelUpdate,
  changePriceUpdate,
  pauseBillingUpdate,
  resumeBillingUpdate,
  snapshotQuery,
  subscriptionWorkflowId,
  syncNowUpdate,
} from '../../src/workflows/definitions';
import { DEFAULT_DUNNING_POLICY, mergePolicy } from '../../src/domain/episode/dunning';
import { DAY, MINUTE, EngineDouble, advance, failingSubscription } from '../helpers/dunning-scenario';
import { Gate, until } from '../helpers/gate';
import { createTestWorker, useTimeSkipping, workflowTaskFailures, terminateIdle } from '../helpers/temporal';

const timeSkipping = useTimeSkipping();

const NO_CHARGE: GatewayCapabilities = {
  ...QFPAY_CAPABILITIES,
  manualCharge: false,
  pause: true,
  recovery: 'the gateway retries the card once a day',
};
const GATEWAY: GatewayProfile = { name: 'testpay', capabilities: NO_CHARGE };

/** A subscription on the test gateway whose cycle 2 will fail, on a worker whose gateway pause is `setPaused`. */
async function onGateway(
  setPaused: (input: { subscriptionId: string; paused: boolean }) => Promise<{ at: number }>,
  body: (s: Awaited<ReturnType<typeof failingSubscription>> & { handle: any }) => Promise<void>,
  gateway: GatewayProfile = GATEWAY,
  /** Activities in place of the double's (given the double's own, to wrap them). */
  replace: (own: QfpayActivities) => object = () => ({}),
) {
  const subscription = await failingSubscription(timeSkipping.env);
  const own = subscription.qfpay.activities();
  const { worker, taskQueue } = await createTestWorker(timeSkipping.env, {
    activities: {
      ...own,
      ...new EngineDouble().activities(),
      setPausedAtGateway: setPaused,
      ...replace(own),
    },
  });
  await worker.runUntil(async () => {
    const workflowId = subscriptionWorkflowId(subscription.subscriptionId);
    const handle = await timeSkipping.env.client.workflow.start(WORKFLOW_TYPES.subscription, {
      workflowId,
      taskQueue,
      args: [
        {
          subscriptionId: subscription.subscriptionId,
          origin: 'created' as const,
          policy: mergePolicy(DEFAULT_DUNNING_POLICY, {
            attemptOffsets: ['1h', '1d'],
            escalation: ['notify_customer'],
            finalAction: 'cancel',
          }),
          options: { reconcileGraceMs: 15 * MINUTE },
          gateway,
        },
      ],
    });
    timeSkipping.track(handle);
    await advance(timeSkipping.env, subscription.clock, MINUTE);
    await body({ ...subscription, handle });
    assert.equal(await workflowTaskFailures(handle), 0);
    // A subscription the test cancelled may have ended by itself already.
    await terminateIdle(handle);
  });
}

/** A gateway pause call that records each call and holds call number `held` until `gate` opens. */
function heldCall(held: number) {
  const gate = new Gate();
  const calls: boolean[] = [];
  const setPaused = async ({ paused }: { paused: boolean }) => {
    calls.push(paused);
    if (calls.length === held) await gate.promise;
    return { at: Date.now() };
  };
  return { gate, calls, setPaused };
}

void describe('the subscription workflow on a gateway behind the port', () => {
  void it('escalates a failed cycle at once and never charges nor cancels for it; the gateway’s recovery makes it ACTIVE', async () => {
    await onGateway(
      async () => ({ at: Date.now() }),
      async ({ clock, qfpay, failCycle2, payCycle2, handle }) => {
        await failCycle2(handle);
        // Past every attempt the policy would have planned on QFPay, and past the deadline.
        await advance(timeSkipping.env, clock, 3 * DAY);
        assert.equal(qfpay.count('chargeOrder'), 0, 'no charge');
        assert.equal(qfpay.count('cancelSubscription'), 0, 'no final cancel');
        const escalated = await handle.query(snapshotQuery);
        const episode = escalated.dunning.history.at(-1) ?? escalated.dunning.episode;
        assert.equal(episode?.outcome, 'exhausted');
        assert.deepEqual(episode?.attempts, []);
        assert.match(episode?.outcomeDetail ?? '', /testpay has no manual charge/);

        // The gateway's own retry pays the order.
        await payCycle2(handle);
        await until(
          'ACTIVE again',
          async () => (await handle.query(snapshotQuery)).snapshot.state === 'ACTIVE',
        );
        assert.equal(qfpay.count('chargeOrder'), 0);
      },
    );
  });

  void it('escalates when the gateway’s own recovery has ended unpaid, asking it when it says nothing; then the merchant’s cancel', async () => {
    const timed: GatewayProfile = {
      name: 'testpay',
      capabilities: { ...NO_CHARGE, recoveryEndsAfterMs: 2 * DAY },
    };
    await onGateway(
      async () => ({ at: Date.now() }),
      async ({ clock, qfpay, failCycle2, handle }) => {
        await failCycle2(handle);
        const failedAt = clock.now;
        const episodeOf = async () => {
          const view = await handle.query(snapshotQuery);
          return view.dunning.episode ?? view.dunning.history.at(-1);
        };
        // While the gateway still retries (its last try two days on): nothing is escalated.
        await advance(timeSkipping.env, clock, DAY);
        assert.equal((await episodeOf())?.stage, 'retrying');
        const syncsBefore = qfpay.count('syncSubscription');
        // Its recovery ended unpaid, and its word was lost: past the last try and the grace, the
        // engine asks, learns it, and escalates; then the merchant's final action, a cancel.
        qfpay.state.remote = { ...qfpay.state.remote, state: 'UNPAID' };
        await advance(timeSkipping.env, clock, DAY + 30 * MINUTE);
        await until('escalated', async () => (await episodeOf())?.outcome === 'exhausted');
        assert.ok(qfpay.count('syncSubscription') > syncsBefore, 'the engine asked the gateway');
        const episode = await episodeOf();
        assert.match(
          episode?.outcomeDetail ?? '',
          /testpay's own recovery ended unpaid; final action cancel/,
        );
        assert.ok(
          (episode?.closedAt ?? 0) >= failedAt + 2 * DAY,
          `escalated ${((episode?.closedAt ?? 0) - failedAt) / DAY} days after the decline`,
        );
        assert.equal(episode?.finalAction?.action, 'cancel');
        await until('cancelled for the failure', () => qfpay.count('cancelSubscription') === 1);
        assert.equal(qfpay.count('chargeOrder'), 0, 'no charge');
      },
      timed,
    );
  });

  void it('a price change whose gateway call is out: a fact, a query and a cancel wait their turn', async () => {
    const gate = new Gate();
    const prices: unknown[] = [];
    await onGateway(
      async () => ({ at: Date.now() }),
      async ({ qfpay, failCycle2, handle }) => {
        const pricing = handle.executeUpdate(changePriceUpdate, {
          args: [{ amount: 3100, currency: 'USD' }],
        });
        await until('the gateway is asked', () => prices.length === 1);
        await failCycle2(handle);
        const syncs = qfpay.count('syncSubscription');
        const syncing = handle.executeUpdate(syncNowUpdate, { args: [] });
        const cancelling = handle.executeUpdate(cancelUpdate, { args: [{}] });
        assert.equal(qfpay.count('cancelSubscription'), 0, 'the cancel waits for the price');
        gate.open();
        assert.deepEqual(await pricing, { amount: 3100, currency: 'USD' });
        await syncing;
        assert.ok(qfpay.count('syncSubscription') > syncs, 'the query ran after the price');
        assert.equal(((await cancelling) as { state: string }).state, 'CANCELLED');
        assert.deepEqual(prices, [{ amount: 3100, currency: 'USD' }], 'one call to the gateway');
        const view = await handle.query(snapshotQuery);
        assert.equal(
          view.snapshot.orders.find((o: { sequenceNo: number }) => o.sequenceNo === 2)?.status,
          'FAILED',
          'the fact that arrived during the call was applied',
        );
      },
      { name: 'testpay', capabilities: { ...NO_CHARGE, changePrice: true } },
      () => ({
        updateSubscription: async (input: { price?: unknown }) => {
          prices.push(input.price);
          await gate.promise;
          return { at: Date.now() };
        },
      }),
    );
  });

  void it('awaits the gateway’s pause; a failed payment that arrives meanwhile is applied, and nothing is charged', async () => {
    const { gate, calls, setPaused } = heldCall(1);
    await onGateway(setPaused, async ({ qfpay, failCycle2, handle }) => {
      const pausing = handle.executeUpdate(pauseBillingUpdate, { args: [{ resumesAt: null }] });
      await until('the gateway is asked to pause', () => calls.length === 1);
      await failCycle2(handle);
      gate.open();
      await pausing;
      const view = await handle.query(snapshotQuery);
      assert.equal(view.billingPause?.by, 'merchant');
      assert.equal(
        view.snapshot.orders.find((o: { sequenceNo: number }) => o.sequenceNo === 2)?.status,
        'FAILED',
        'the fact that arrived during the call was applied',
      );
      await handle.executeUpdate(resumeBillingUpdate, { args: [{}] });
      assert.deepEqual(calls, [true, false]);
      assert.equal((await handle.query(snapshotQuery)).billingPause, null);
      assert.equal(qfpay.count('chargeOrder'), 0);
    });
  });

  void it('leaves billing as it was when the gateway refuses the pause, and says why', async () => {
    await onGateway(
      async () => {
        throw ApplicationFailure.nonRetryable('testpay: 409 subscriber is cancelled', 'GatewayRefused');
      },
      async ({ handle }) => {
        await assert.rejects(
          handle.executeUpdate(pauseBillingUpdate, { args: [{ resumesAt: null }] }),
          (err: unknown) =>
            err instanceof WorkflowUpdateFailedError &&
            /testpay did not pause: .*409/.test(String(err.cause)),
        );
        assert.equal((await handle.query(snapshotQuery)).billingPause, null);
      },
    );
  });

  void it('answers a pause the gateway could not take (no answer on every try) as unavailable, with the reason', async () => {
    let tries = 0;
    await onGateway(
      async () => {
        tries += 1;
        // What the gateway activities throw when the gateway's HTTP call times out.
        throw ApplicationFailure.retryable('testpay: no answer within 10 s', 'GatewayUnavailable');
      },
      async ({ handle }) => {
        await assert.rejects(
          handle.executeUpdate(pauseBillingUpdate, { args: [{ resumesAt: null }] }),
          (err: unknown) => {
            assert.ok(err instanceof WorkflowUpdateFailedError);
            const cause = err.cause as ApplicationFailure;
            assert.equal(cause.type, 'GatewayUnavailable', 'not a refusal: trying again may work');
            assert.match(cause.message, /^testpay did not pause: testpay: no answer within 10 s$/);
            return true;
          },
        );
        assert.ok(tries > 1, 'the call was tried again first');
        assert.equal((await handle.query(snapshotQuery)).billingPause, null);
      },
    );
  });

  void it('while the gateway pauses, a fact, a query and a cancel wait their turn', async () => {
    const { gate, calls, setPaused } = heldCall(1);
    await onGateway(setPaused, async ({ qfpay, failCycle2, handle }) => {
      const pausing = handle.executeUpdate(pauseBillingUpdate, { args: [{ resumesAt: null }] });
      await until('the gateway is asked to pause', () => calls.length === 1);
      // During the call: the gateway's facts, a query and a cancel.
      await failCycle2(handle);
      const syncs = qfpay.count('syncSubscription');
      const syncing = handle.executeUpdate(syncNowUpdate, { args: [] });
      const cancelling = handle.executeUpdate(cancelUpdate, { args: [{}] });
      assert.equal(qfpay.count('cancelSubscription'), 0, 'the cancel waits for the pause');
      gate.open();
      const paused = await pausing;
      assert.equal((paused as { pause: { by: string } }).pause.by, 'merchant');
      await syncing;
      assert.ok(qfpay.count('syncSubscription') > syncs, 'the query ran after the pause');
      const cancelled = await cancelling;
      assert.equal((cancelled as { state: string }).state, 'CANCELLED');
      assert.deepEqual(calls, [true], 'one call to the gateway');
      assert.equal(qfpay.count('cancelSubscription'), 1);
      assert.equal(qfpay.count('chargeOrder'), 0);
      const view = await handle.query(snapshotQuery);
      assert.equal(
        view.snapshot.orders.find((o: { sequenceNo: number }) => o.sequenceNo === 2)?.status,
        'FAILED',
      );
    });
  });

  void it('while the gateway resumes, a fact, a query and a new pause wait their turn', async () => {
    const { gate, calls, setPaused } = heldCall(2);
    await onGateway(setPaused, async ({ qfpay, failCycle2, handle }) => {
      await handle.executeUpdate(pauseBillingUpdate, { args: [{ resumesAt: null }] });
      const resuming = handle.executeUpdate(resumeBillingUpdate, { args: [{}] });
      await until('the gateway is asked to resume', () => calls.length === 2);
      await failCycle2(handle);
      const syncing = handle.executeUpdate(syncNowUpdate, { args: [] });
      const pausingAgain = handle.executeUpdate(pauseBillingUpdate, { args: [{ resumesAt: null }] });
      gate.open();
      await resuming;
      await syncing;
      await pausingAgain;
      assert.deepEqual(calls, [true, false, true], 'the gateway heard each in order');
      const view = await handle.query(snapshotQuery);
      assert.equal(view.billingPause?.by, 'merchant');
      assert.equal(
        view.snapshot.orders.find((o: { sequenceNo: number }) => o.sequenceNo === 2)?.status,
        'FAILED',
      );
      assert.equal(qfpay.count('chargeOrder'), 0);
    });
  });

  void it('a worker restart during the gateway’s pause: the new worker asks again and the pause completes once', async () => {
    const subscription = await failingSubscription(timeSkipping.env);
    const calls: { worker: number; paused: boolean }[] = [];
    const activities = { ...subscription.qfpay.activities(), ...new EngineDouble().activities() };
    // The first worker's call never answers; it gives up only when the worker stops.
    const first = await createTestWorker(timeSkipping.env, {
      maxCachedWorkflows: 0,
      activities: {
        ...activities,
        setPausedAtGateway: async ({ paused }: { paused: boolean }) => {
          calls.push({ worker: 1, paused });
          const signal = Context.current().cancellationSignal;
          await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
          return { at: Date.now() };
        },
      },
    });
    const workflowId = subscriptionWorkflowId(subscription.subscriptionId);
    const handle = await timeSkipping.env.client.workflow.start(WORKFLOW_TYPES.subscription, {
      workflowId,
      taskQueue: first.taskQueue,
      args: [
        {
          subscriptionId: subscription.subscriptionId,
          origin: 'created' as const,
          options: { reconcileGraceMs: 15 * MINUTE },
          gateway: GATEWAY,
        },
      ],
    });
    timeSkipping.track(handle);
    const pausing = await first.worker.runUntil(async () => {
      await advance(timeSkipping.env, subscription.clock, MINUTE);
      const update = handle.executeUpdate(pauseBillingUpdate, { args: [{ resumesAt: null }] });
      await until('the first worker asks the gateway to pause', () => calls.length === 1);
      // Wrapped: returning the promise itself would make the worker run until the update ends.
      return { update };
    });
    // While no worker runs: the gateway's failed payment arrives.
    await subscription.failCycle2(handle);
    const second = await createTestWorker(timeSkipping.env, {
      taskQueue: first.taskQueue,
      activities: {
        ...activities,
        setPausedAtGateway: async ({ paused }: { paused: boolean }) => {
          calls.push({ worker: 2, paused });
          return { at: Date.now() };
        },
      },
    });
    await second.worker.runUntil(async () => {
      const paused = await pausing.update;
      assert.equal((paused as { pause: { by: string } }).pause.by, 'merchant');
      const view = await handle.query(snapshotQuery);
      assert.equal(view.billingPause?.by, 'merchant');
      assert.equal(
        view.snapshot.orders.find((o: { sequenceNo: number }) => o.sequenceNo === 2)?.status,
        'FAILED',
        'the fact that arrived while no worker ran was applied',
      );
      assert.deepEqual(calls, [
        { worker: 1, paused: true },
        { worker: 2, paused: true },
      ]);
      assert.equal(subscription.qfpay.count('chargeOrder'), 0);
      assert.equal(await workflowTaskFailures(handle), 0);
      await terminateIdle(handle);
    });
  });
});
