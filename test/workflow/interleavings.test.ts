/**
 * The subscription workflow under interleavings and faults, on the time-skipping test server:
 * handlers that arrive while the loop awaits a charge, worker outages across attempt slots and
 * across the charge deadline, unanswered charges, policy changes mid-episode, poison signals,
 * concurrent charge-nows, continue-as-new with work in flight, and a subscription QFPay does not
 * know. Each test names the promise it checks; most hold an activity on a gate the test opens.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkflowFailedError, WorkflowUpdateStage, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import {
  changeDunningPolicyUpdate,
  changeProductsUpdate,
  chargeNowUpdate,
  factSignal,
  handoverSignal,
  pauseBillingUpdate,
  reconcileSignal,
  resumeBillingUpdate,
  scheduleCancelUpdate,
  snapshotQuery,
  unscheduleCancelUpdate,
  syncNowUpdate,
  setMetadataUpdate,
  SEARCH_ATTRIBUTES,
  METADATA_MEMO,
} from '../../src/workflows/definitions';
import { createEngineActivities } from '../../src/activities/engine';
import {
  DAY,
  HOUR,
  MINUTE,
  advance,
  EngineDouble,
  assertChargedAt,
  createdFact,
  failingSubscription,
  inScenario,
  scenarioWorker,
  startWith,
  type Scenario,
} from '../helpers/dunning-scenario';
import { DEFAULT_DUNNING_POLICY, mergePolicy } from '../../src/domain/episode/dunning';
import { Gate, until } from '../helpers/gate';
import { type FakeQfpay, orderId } from '../helpers/qfpay-doubles';
import {
  createTestWorker,
  recordHistory,
  useTimeSkipping,
  workflowTaskFailures,
  terminateIdle,
} from '../helpers/temporal';

// One server for the file: each test ends its runs with terminateIdle, and the cleanup gives the
// next test a fresh server should a run have ended itself with an activity in flight.
const timeSkipping = useTimeSkipping();
const { EventType } = temporal.api.enums.v1;

/** A subscription whose first order QFPay declined, as a notification reports it before any handover. */
async function firstOrderFailed() {
  const subscription = await failingSubscription(timeSkipping.env);
  const { subscriptionId, clock, qfpay } = subscription;
  const first = orderId(subscriptionId, 1);
  qfpay.state.orders = [{ orderId: first, sequenceNo: 1, status: 'FAILED', respcd: '1205', at: clock.now }];
  qfpay.state.remote = {
    ...qfpay.state.remote,
    state: 'INCOMPLETE',
    completedCycles: 0,
    lastBillingTime: clock.now,
    nextBillingTime: clock.now + HOUR,
  };
  return { ...subscription, first };
}
type FirstOrderFailed = Awaited<ReturnType<typeof firstOrderFailed>>;

/** The webhook's adoption: signal-with-start of the workflow with the failed payment's fact. */
async function adopt({ subscriptionId, clock, first }: FirstOrderFailed, taskQueue: string) {
  const handle = await timeSkipping.env.client.workflow.signalWithStart('subscriptionWorkflow', {
    workflowId: `qfpay-subscription:${subscriptionId}`,
    taskQueue,
    args: [{ subscriptionId, origin: 'adopted' as const }],
    signal: factSignal,
    signalArgs: [
      {
        kind: 'payment',
        subscriptionId,
        orderId: first,
        sequenceNo: 1,
        succeeded: false,
        respcd: '1205',
        syssn: `${subscriptionId}-1-ko`,
        at: clock.now,
        source: 'notification',
      },
    ],
  });
  timeSkipping.track(handle);
  return handle;
}

/** The creation's handover, with the merchant's policy: one retry 30 s after the failure. */
function merchantHandover({ subscriptionId, clock }: FirstOrderFailed) {
  return {
    policy: mergePolicy(DEFAULT_DUNNING_POLICY, {
      attemptOffsets: ['30s'],
      safetyMargin: '15s',
      minAttemptWindow: '1s',
      escalation: [],
      finalAction: 'leave_to_qfpay',
    }),
    fact: createdFact(subscriptionId, 'INCOMPLETE', clock.now),
  };
}

/** The first order's episode runs under the merchant's policy; the default one never closed it. */
async function assertMerchantPolicyJudges(handle: WorkflowHandle, first: string): Promise<void> {
  await until('an episode for the first order', async () => {
    const v = await handle.query(snapshotQuery);
    return v.dunning.episode !== null || v.dunning.history.length > 0;
  });
  const view = await handle.query(snapshotQuery);
  assert.equal(view.dunning.history.length, 0, 'no episode closed under the default policy');
  assert.equal(view.dunning.episode?.orderId, first);
  assert.equal(view.dunning.episode?.stage, 'retrying');
  assert.deepEqual(
    view.dunning.episode?.schedule,
    [view.dunning.episode!.failureAt + 30_000],
    "the merchant's offset",
  );
  assert.equal(await workflowTaskFailures(handle), 0);
  await terminateIdle(handle);
}

/** Holds the first charge at QFPay until the gate it answers opens; later charges go through. */
function holdFirstCharge(qfpay: FakeQfpay): Gate {
  const gate = new Gate();
  qfpay.beforeCharge = () => (qfpay.count('chargeOrder') === 1 ? gate.promise : Promise.resolve());
  return gate;
}

/** Waits until the workflow has learned the next billing time QFPay states (a query after the failure). */
async function knowsNextBilling(handle: WorkflowHandle, qfpay: FakeQfpay): Promise<void> {
  await until('the next billing time known', async () => {
    const view = await handle.query(snapshotQuery);
    return view.snapshot.nextBillingTime === qfpay.state.remote.nextBillingTime;
  });
}

/** QFPay's notification that the subscription is CANCELLED. */
function cancelledNotice(subscriptionId: string, at: number) {
  return {
    kind: 'state' as const,
    subscriptionId,
    state: 'CANCELLED' as const,
    at,
    source: 'notification' as const,
  };
}

/**
 * A failed cycle 2 recovered, a cancel scheduled for the period's end, and the clock moved to its
 * time: the cancel is at QFPay, held until the returned gate opens.
 */
async function holdScheduledCancel({ clock, qfpay, failCycle2, handle }: Scenario): Promise<Gate> {
  qfpay.chargeScript = [{ outcome: 'succeeded' }];
  await failCycle2(handle);
  await knowsNextBilling(handle, qfpay);
  const { cancelAt } = await handle.executeUpdate(scheduleCancelUpdate, { args: [{}] });
  const gate = new Gate();
  qfpay.beforeCancel = () => gate.promise;
  await advance(timeSkipping.env, clock, cancelAt - clock.now);
  await until('the cancel reached QFPay', () => qfpay.count('cancelSubscription') === 1);
  return gate;
}

describe('interleavings (time-skipping server)', () => {
  it('a charge-now still in flight when a planned attempt falls due: one charge at a time, no spinning loop', async () => {
    await inScenario(timeSkipping, {}, async ({ clock, qfpay, failCycle2, handle }) => {
      qfpay.chargeScript = [{ outcome: 'failed' }, { outcome: 'failed' }];
      const gate = new Gate();
      let active = 0;
      let mostActive = 0;
      qfpay.beforeCharge = async () => {
        active += 1;
        mostActive = Math.max(mostActive, active);
        if (qfpay.count('chargeOrder') === 1) await gate.promise;
        active -= 1;
      };
      const failedAt = await failCycle2(handle);
      await advance(timeSkipping.env, clock, HOUR - 5_000);
      const charging = handle.executeUpdate(chargeNowUpdate, { args: [{}] });
      await until('the merchant charge reached QFPay', () => qfpay.count('chargeOrder') === 1);
      // The planned attempt (failure + 1 h) falls due while the merchant's charge is held. (While
      // an activity runs, the test server's clock runs in real time: hold it well inside the
      // activity's 30-second limit.)
      await advance(timeSkipping.env, clock, 10_000);
      assert.ok(clock.now > failedAt + HOUR);
      gate.open();
      assert.equal((await charging).outcome, 'failed');
      await until('the planned attempt ran after it', () => qfpay.count('chargeOrder') === 2);
      assert.equal(mostActive, 1, 'never two charges at once');
      assert.deepEqual(
        (await handle.query(snapshotQuery)).dunning.episode?.attempts.map((a) => a.trigger),
        ['merchant', 'scheduled'],
      );
      assert.equal(await workflowTaskFailures(handle), 0);
      await terminateIdle(handle);
    });
  });

  it('a charge that got no answer (5xx) is confirmed for minutes, counted as not made, and the plan goes on', async () => {
    await inScenario(
      timeSkipping,
      {
        policy: {
          attemptOffsets: ['1h', '2h', '3h'],
        },
        prepare: (qfpay) => {
          qfpay.chargeScript = [{ outcome: 'server_error' }, { outcome: 'failed' }, { outcome: 'failed' }];
        },
      },
      async ({ clock, qfpay, failCycle2, handle }) => {
        const failedAt = await failCycle2(handle);
        await advance(timeSkipping.env, clock, 4 * HOUR);
        assertChargedAt(qfpay, [failedAt + HOUR, failedAt + 2 * HOUR, failedAt + 3 * HOUR]);
        // Confirmed every 20 s for 5 minutes, and once more at the end: about 16 looks, not days of them.
        assert.ok(qfpay.count('confirmCharge') <= 20, `${qfpay.count('confirmCharge')} looks`);
        const view = await handle.query(snapshotQuery);
        const attempts = (view.dunning.episode ?? view.dunning.history.at(-1))?.attempts ?? [];
        assert.deepEqual(
          attempts.map((a) => a.result),
          ['error', 'failed', 'failed'],
        );
        await terminateIdle(handle);
      },
    );
  });

  it('a charge that timed out after QFPay took it is confirmed from the order, and never sent again', async () => {
    await inScenario(
      timeSkipping,
      {
        prepare: (qfpay) => {
          qfpay.chargeScript = [{ outcome: 'timeout_after', then: 'succeeded' }];
        },
      },
      async ({ clock, qfpay, failCycle2, handle }) => {
        await failCycle2(handle);
        await advance(timeSkipping.env, clock, 2 * HOUR);
        const view = await handle.query(snapshotQuery);
        assert.equal(view.dunning.history.at(-1)?.outcome, 'recovered');
        assert.equal(view.dunning.history.at(-1)?.attempts[0]?.result, 'succeeded');
        assert.equal(qfpay.charged.length, 1, 'charged once');
        await advance(timeSkipping.env, clock, 4 * DAY);
        assert.equal(qfpay.count('chargeOrder'), 1);
        await terminateIdle(handle);
      },
    );
  });

  it('a CANCELLED notification during a charge ends the workflow once the charge returns, not at the next timer', async () => {
    await inScenario(timeSkipping, {}, async ({ subscriptionId, clock, qfpay, failCycle2, handle }) => {
      qfpay.chargeScript = [{ outcome: 'failed' }];
      const gate = holdFirstCharge(qfpay);
      await failCycle2(handle);
      await advance(timeSkipping.env, clock, HOUR);
      await until('the attempt reached QFPay', () => qfpay.count('chargeOrder') === 1);
      qfpay.state.remote = { ...qfpay.state.remote, state: 'CANCELLED' };
      await handle.signal(factSignal, cancelledNotice(subscriptionId, clock.now));
      gate.open();
      await advance(timeSkipping.env, clock, MINUTE);
      const description = await handle.describe();
      assert.equal(description.status.name, 'COMPLETED');
      assert.equal((await handle.query(snapshotQuery)).snapshot.state, 'CANCELLED');
    });
  });

  it('a billing pause that arrives during a charge takes effect after its answer: no attempt while paused, one after resume', async () => {
    await inScenario(timeSkipping, {}, async ({ clock, qfpay, failCycle2, handle }) => {
      qfpay.chargeScript = [{ outcome: 'failed' }, { outcome: 'failed' }];
      const gate = holdFirstCharge(qfpay);
      await failCycle2(handle);
      await advance(timeSkipping.env, clock, HOUR);
      await until('the first attempt reached QFPay', () => qfpay.count('chargeOrder') === 1);
      const pausing = handle.executeUpdate(pauseBillingUpdate, { args: [{ resumesAt: null }] });
      gate.open();
      await pausing;
      const view = await handle.query(snapshotQuery);
      assert.notEqual(view.billingPause, null);
      assert.equal(view.dunning.episode?.attempts.length, 1, 'the charge in flight was recorded');
      // Past the second planned attempt (failure + 1 d): nothing is charged while paused.
      await advance(timeSkipping.env, clock, 2 * DAY);
      assert.equal(qfpay.count('chargeOrder'), 1);
      await handle.executeUpdate(resumeBillingUpdate, { args: [{}] });
      await advance(timeSkipping.env, clock, MINUTE);
      await until('one attempt after the resume', () => qfpay.count('chargeOrder') === 2);
      const deadline = qfpay.state.remote.nextBillingTime!;
      for (const c of qfpay.charged) assert.ok(c.at < deadline - 2 * HOUR, 'every charge inside the window');
      assert.equal(await workflowTaskFailures(handle), 0);
      await terminateIdle(handle);
    });
  });

  it('cancel at period end, scheduled while a dunning charge is at QFPay: answered after it; the episode goes on; the cancel comes before the billing time, and no charge after it', async () => {
    await inScenario(timeSkipping, {}, async ({ clock, qfpay, failCycle2, handle }) => {
      qfpay.chargeScript = [{ outcome: 'failed' }, { outcome: 'failed' }, { outcome: 'failed' }];
      const gate = holdFirstCharge(qfpay);
      await failCycle2(handle);
      const periodEnd = qfpay.state.remote.nextBillingTime!;
      await advance(timeSkipping.env, clock, HOUR);
      await until('the first attempt reached QFPay', () => qfpay.count('chargeOrder') === 1);
      const scheduling = handle.executeUpdate(scheduleCancelUpdate, { args: [{}] });
      gate.open();
      const answer = await scheduling;
      assert.equal(answer.periodEnd, periodEnd);
      const cancelAt = answer.cancelAt;
      assert.equal(cancelAt, periodEnd - 2 * HOUR - 5 * MINUTE);
      assert.equal(
        (await handle.query(snapshotQuery)).dunning.episode?.attempts.length,
        1,
        'the charge in flight was recorded',
      );
      // The episode's later attempts (failure + 1 d, + 3 d) still run: the period is owed.
      await advance(timeSkipping.env, clock, 3 * DAY);
      await until('the planned attempts ran', () => qfpay.count('chargeOrder') === 3);
      assert.equal(qfpay.count('cancelSubscription'), 0, 'nothing cancelled before its time');
      await advance(timeSkipping.env, clock, cancelAt - clock.now + MINUTE);
      await until('cancelled at QFPay', () => qfpay.count('cancelSubscription') === 1);
      const cancelCall = qfpay.calls.find((c) => c.name === 'cancelSubscription')!;
      assert.ok(
        cancelCall.at >= cancelAt && cancelCall.at < periodEnd - 2 * HOUR,
        `cancel sent at ${cancelCall.at}`,
      );
      for (const c of qfpay.charged) assert.ok(c.at < cancelAt, 'no charge from the cancel time on');
      await until('the workflow ended', async () => (await handle.describe()).status.name === 'COMPLETED');
      assert.equal((await handle.query(snapshotQuery)).snapshot.state, 'CANCELLED');
      assert.equal(await workflowTaskFailures(handle), 0);
      await recordHistory(handle, 'subscription-cancel-at-period-end');
    });
  });

  it('a take-back that arrives while the scheduled cancel is at QFPay is answered after it: refused, the subscription cancelled', async () => {
    await inScenario(timeSkipping, {}, async (scenario) => {
      const { qfpay, handle } = scenario;
      const gate = await holdScheduledCancel(scenario);
      const undoing = handle.executeUpdate(unscheduleCancelUpdate, { args: [] });
      gate.open();
      await assert.rejects(undoing, (err: Error) =>
        /already CANCELLED/.test(String((err as { cause?: Error }).cause?.message ?? err.message)),
      );
      await until('the workflow ended', async () => (await handle.describe()).status.name === 'COMPLETED');
      assert.equal(qfpay.count('cancelSubscription'), 1, 'cancelled once');
      assert.equal(await workflowTaskFailures(handle), 0);
    });
  });

  it("QFPay's CANCELLED notification that arrives while the scheduled cancel is at QFPay: the cancel is sent once, and the workflow ends", async () => {
    await inScenario(timeSkipping, {}, async (scenario) => {
      const { subscriptionId, clock, qfpay, handle } = scenario;
      const gate = await holdScheduledCancel(scenario);
      // QFPay tells of the cancel before it answers the call (its notification overtakes the answer).
      await handle.signal(factSignal, cancelledNotice(subscriptionId, clock.now));
      gate.open();
      await until('the workflow ended', async () => (await handle.describe()).status.name === 'COMPLETED');
      assert.equal(qfpay.count('cancelSubscription'), 1, 'cancelled once');
      const view = await handle.query(snapshotQuery);
      assert.equal(view.snapshot.state, 'CANCELLED');
      assert.equal(view.scheduledCancel, null);
      assert.equal(await workflowTaskFailures(handle), 0);
    });
  });

  it('a second schedule that arrives while the scheduled cancel is at QFPay is answered after it: refused, nothing sent again', async () => {
    await inScenario(timeSkipping, {}, async (scenario) => {
      const { qfpay, handle } = scenario;
      const gate = await holdScheduledCancel(scenario);
      const again = handle.executeUpdate(scheduleCancelUpdate, { args: [{}] });
      gate.open();
      await assert.rejects(again, (err: Error) =>
        /CANCELLED|ended/.test(String((err as { cause?: Error }).cause?.message ?? err.message)),
      );
      await until('the workflow ended', async () => (await handle.describe()).status.name === 'COMPLETED');
      assert.equal(qfpay.count('cancelSubscription'), 1, 'cancelled once');
      assert.equal(await workflowTaskFailures(handle), 0);
    });
  });

  it('a take-back that arrives while a dunning charge is at QFPay is carried out after it: no cancel at the period end', async () => {
    await inScenario(timeSkipping, {}, async ({ clock, qfpay, failCycle2, handle }) => {
      qfpay.chargeScript = [{ outcome: 'failed' }, { outcome: 'failed' }, { outcome: 'failed' }];
      await failCycle2(handle);
      const periodEnd = qfpay.state.remote.nextBillingTime!;
      await knowsNextBilling(handle, qfpay);
      await handle.executeUpdate(scheduleCancelUpdate, { args: [{}] });
      const gate = holdFirstCharge(qfpay);
      await advance(timeSkipping.env, clock, HOUR);
      await until('the first attempt reached QFPay', () => qfpay.count('chargeOrder') === 1);
      const undoing = handle.executeUpdate(unscheduleCancelUpdate, { args: [] });
      gate.open();
      const undone = await undoing;
      assert.equal(undone.unscheduled, true);
      assert.equal((await handle.query(snapshotQuery)).scheduledCancel, null);
      await advance(timeSkipping.env, clock, periodEnd - clock.now - HOUR);
      assert.equal(qfpay.count('cancelSubscription'), 0, 'taken back: no cancel');
      assert.equal((await handle.query(snapshotQuery)).snapshot.state, 'PAST_DUE');
      assert.equal(await workflowTaskFailures(handle), 0);
      await terminateIdle(handle);
    });
  });

  it('continue-as-new carries a scheduled cancel: the new run cancels at its time', async () => {
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription(timeSkipping.env);
    const { worker, taskQueue } = await scenarioWorker(timeSkipping.env, qfpay);
    await worker.runUntil(async () => {
      const handle = await startWith(timeSkipping, taskQueue, subscriptionId, {}, { maxHistoryEvents: 40 });
      await advance(timeSkipping.env, clock, MINUTE);
      await failCycle2(handle);
      await knowsNextBilling(handle, qfpay);
      const firstRun = (await handle.describe()).runId;
      const { cancelAt } = await handle.executeUpdate(scheduleCancelUpdate, { args: [{}] });
      // Queries until the run is long enough to continue as new.
      for (let i = 0; i < 12 && (await handle.describe()).runId === firstRun; i += 1) {
        await handle.executeUpdate(syncNowUpdate, { args: [] });
      }
      await until('it continued as new', async () => (await handle.describe()).runId !== firstRun);
      assert.equal((await handle.query(snapshotQuery)).scheduledCancel?.cancelAt, cancelAt);
      await advance(timeSkipping.env, clock, cancelAt - clock.now + MINUTE);
      await until('cancelled at QFPay', () => qfpay.count('cancelSubscription') === 1);
      await until('the workflow ended', async () => (await handle.describe()).status.name === 'COMPLETED');
      assert.equal(await workflowTaskFailures(handle), 0);
    });
  });

  it('continue-as-new carries the metadata: the new run shows it, and keeps its memo and search attribute', async () => {
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription(timeSkipping.env);
    const { worker, taskQueue } = await scenarioWorker(timeSkipping.env, qfpay);
    await worker.runUntil(async () => {
      const handle = await startWith(timeSkipping, taskQueue, subscriptionId, {}, { maxHistoryEvents: 40 });
      await advance(timeSkipping.env, clock, MINUTE);
      const entry = (value: string) => ({ value, digest: `digest-${value}` });
      const set = await handle.executeUpdate(setMetadataUpdate, {
        args: [{ ref: entry('R-1'), tier: entry('gold') }],
      });
      assert.deepEqual(set, { ref: 'R-1', tier: 'gold' });
      // Past the limit: refused by the validator, nothing changes.
      const tooMany = Object.fromEntries(Array.from({ length: 49 }, (_, i) => [`k${i}`, entry('v')]));
      await assert.rejects(handle.executeUpdate(setMetadataUpdate, { args: [tooMany] }), (err: Error) =>
        /51 keys/.test(String((err.cause as Error | undefined)?.message)),
      );
      await failCycle2(handle);
      const firstRun = (await handle.describe()).runId;
      for (let i = 0; i < 12 && (await handle.describe()).runId === firstRun; i += 1) {
        await handle.executeUpdate(syncNowUpdate, { args: [] });
      }
      await until('it continued as new', async () => (await handle.describe()).runId !== firstRun);
      assert.deepEqual((await handle.query(snapshotQuery)).metadata, { ref: 'R-1', tier: 'gold' });
      const described = await handle.describe();
      assert.deepEqual(described.memo?.[METADATA_MEMO], { ref: 'R-1', tier: 'gold' });
      assert.deepEqual(described.typedSearchAttributes.get(SEARCH_ATTRIBUTES.metadataDigests), [
        'digest-R-1',
        'digest-gold',
      ]);
      // A change in the new run: a removal, written to the memo and the attribute.
      await handle.executeUpdate(setMetadataUpdate, { args: [{ tier: null }] });
      const after = await handle.describe();
      assert.deepEqual(after.memo?.[METADATA_MEMO], { ref: 'R-1' });
      assert.deepEqual(after.typedSearchAttributes.get(SEARCH_ATTRIBUTES.metadataDigests), ['digest-R-1']);
      assert.equal(await workflowTaskFailures(handle), 0);
      await recordHistory(handle, 'subscription-metadata-continued');
      await terminateIdle(handle);
    });
  });

  it("the reconciler's signal while a dunning charge is at QFPay changes nothing: one charge, its answer recorded, no question", async () => {
    await inScenario(
      timeSkipping,
      { reconciler: 'schedule' },
      async ({ clock, qfpay, failCycle2, handle }) => {
        qfpay.chargeScript = [{ outcome: 'failed' }];
        const gate = holdFirstCharge(qfpay);
        await failCycle2(handle);
        await advance(timeSkipping.env, clock, HOUR);
        await until('the attempt reached QFPay', () => qfpay.count('chargeOrder') === 1);
        const syncs = qfpay.count('syncSubscription');
        // A sweep that read a stale ReconcileAt signals twice while the charge is out.
        await handle.signal(reconcileSignal);
        await handle.signal(reconcileSignal);
        gate.open();
        await until(
          'the attempt recorded',
          async () => (await handle.query(snapshotQuery)).dunning.episode?.attempts.length === 1,
        );
        await handle.signal(reconcileSignal);
        await advance(timeSkipping.env, clock, MINUTE);
        assert.equal(qfpay.count('chargeOrder'), 1, 'one charge');
        // The charge's answer asks QFPay once (as it does without the signals); the signals ask nothing.
        assert.ok(
          qfpay.count('syncSubscription') <= syncs + 1,
          `${qfpay.count('syncSubscription') - syncs} queries`,
        );
        assert.equal(await workflowTaskFailures(handle), 0);
        await terminateIdle(handle);
      },
    );
  });

  it("the reconciler's signal that arrives as the subscription ends does not keep it open or ask twice", async () => {
    await inScenario(
      timeSkipping,
      { reconciler: 'schedule' },
      async ({ subscriptionId, clock, qfpay, handle }) => {
        const gate = new Gate();
        qfpay.holdSyncAnswer = () => gate.promise;
        qfpay.state.remote = { ...qfpay.state.remote, state: 'CANCELLED' };
        const syncs = qfpay.count('syncSubscription');
        await handle.signal(factSignal, {
          kind: 'state',
          subscriptionId,
          state: 'CANCELLED',
          at: clock.now,
          source: 'notification',
        });
        await until('the final query is out', () => qfpay.count('syncSubscription') === syncs + 1);
        await handle.signal(reconcileSignal);
        qfpay.holdSyncAnswer = undefined;
        gate.open();
        await until('the workflow ended', async () => (await handle.describe()).status.name === 'COMPLETED');
        assert.equal(qfpay.count('syncSubscription'), syncs + 1, 'one final query');
        assert.equal(await workflowTaskFailures(handle), 0);
      },
    );
  });

  it('a query whose answer was overtaken by the end does not count as the final one: QFPay is asked again', async () => {
    // Found by the full chaos run: QFPay's own retry paid the last cycle and completed the plan just
    // after answering a query; the payment's notification was lost, the COMPLETED one arrived
    // before the stale answer was applied, and the workflow closed one paid cycle short.
    await inScenario(timeSkipping, {}, async ({ subscriptionId, clock, qfpay, failCycle2, handle }) => {
      const failedAt = await failCycle2(handle);
      await advance(timeSkipping.env, clock, MINUTE);
      const gate = new Gate();
      qfpay.holdSyncAnswer = () => gate.promise;
      const syncs = qfpay.count('syncSubscription');
      const syncing = handle.executeUpdate(syncNowUpdate, { args: [] });
      await until(
        'the query was answered (PAST_DUE), the answer held',
        () => qfpay.count('syncSubscription') === syncs + 1,
      );
      // Meanwhile QFPay's retry pays cycle 2, the last, and the plan completes.
      const paidAt = failedAt + 10 * MINUTE;
      qfpay.state.orders = qfpay.state.orders.map((o) =>
        o.sequenceNo === 2 ? { ...o, status: 'PAID' as const, respcd: '0000', at: paidAt } : o,
      );
      qfpay.state.remote = {
        ...qfpay.state.remote,
        state: 'COMPLETED',
        totalBillingCycles: 2,
        completedCycles: 2,
        nextBillingTime: undefined,
      };
      await handle.signal(factSignal, {
        kind: 'state',
        subscriptionId,
        state: 'COMPLETED',
        at: paidAt,
        source: 'notification',
      });
      qfpay.holdSyncAnswer = undefined;
      gate.open();
      await syncing;
      await advance(timeSkipping.env, clock, MINUTE);
      assert.equal(qfpay.count('syncSubscription'), syncs + 2, 'asked once more after the end');
      assert.equal((await handle.describe()).status.name, 'COMPLETED');
      const view = await handle.query(snapshotQuery);
      assert.equal(view.snapshot.completedCycles, 2);
      assert.equal(view.snapshot.orders.find((o) => o.sequenceNo === 2)?.status, 'PAID');
    });
  });

  it("a paid cycle's notification that arrives while a query is out: the answer, older, does not undo the reckoned billing time, and no query follows", async () => {
    const schedule = (qfpay: FakeQfpay) => {
      const { lastBillingTime } = qfpay.state.remote;
      qfpay.state.remote = {
        ...qfpay.state.remote,
        schedule: { anchor: lastBillingTime!, interval: { unit: 'day', count: 30 }, offset: '+08:00' },
      };
    };
    await inScenario(timeSkipping, { prepare: schedule }, async ({ clock, qfpay, handle }) => {
      const due = qfpay.state.remote.nextBillingTime!;
      const gate = new Gate();
      qfpay.holdSyncAnswer = () => gate.promise;
      const syncs = qfpay.count('syncSubscription');
      const syncing = handle.executeUpdate(syncNowUpdate, { args: [] });
      await until(
        'the query was answered (cycle 2 unbilled), the answer held',
        () => qfpay.count('syncSubscription') === syncs + 1,
      );
      // Meanwhile QFPay bills and pays cycle 2, and says so. A query now would answer a time off the
      // schedule, so that one would show.
      await handle.signal(factSignal, qfpay.payCycle(2, clock.now + 1_000, due + 30 * DAY + 7_000));
      qfpay.holdSyncAnswer = undefined;
      gate.open();
      await syncing;
      await advance(timeSkipping.env, clock, MINUTE);
      const view = await handle.query(snapshotQuery);
      assert.equal(view.snapshot.nextBillingTime, due + 30 * DAY, 'reckoned on the schedule');
      assert.equal(view.snapshot.completedCycles, 2);
      assert.equal(qfpay.count('syncSubscription'), syncs + 1, 'no query after the payment');
      assert.equal(await workflowTaskFailures(handle), 0);
      await terminateIdle(handle);
    });
  });

  it('a plan change that arrives while the loop awaits a query is carried out after it, once', async () => {
    await inScenario(timeSkipping, {}, async ({ qfpay, handle }) => {
      const gate = new Gate();
      qfpay.holdSyncAnswer = () => gate.promise;
      const syncs = qfpay.count('syncSubscription');
      const syncing = handle.executeUpdate(syncNowUpdate, { args: [] });
      await until('the query reached QFPay', () => qfpay.count('syncSubscription') === syncs + 1);
      // Accepted (validated and queued) while the loop is inside the query.
      const changing = await handle.startUpdate(changeProductsUpdate, {
        args: [{ products: [{ productId: 'prod_next_plan', quantity: 2 }] }],
        waitForStage: WorkflowUpdateStage.ACCEPTED,
      });
      gate.open();
      await syncing;
      await changing.result();
      assert.equal(qfpay.count('updateSubscription'), 1);
      assert.deepEqual(qfpay.state.remote.productIds, ['prod_next_plan']);
      // In the history: the change went to QFPay only after the query had its answer.
      const events = (await handle.fetchHistory()).events ?? [];
      const scheduled = (name: string) =>
        events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === name);
      const syncEvent = scheduled('syncSubscription')[syncs]!;
      const syncDone = events.find(
        (e) => String(e.activityTaskCompletedEventAttributes?.scheduledEventId) === String(syncEvent.eventId),
      );
      const updateEvent = scheduled('updateSubscription')[0];
      assert.ok(syncDone && updateEvent);
      assert.ok(Number(updateEvent.eventId) > Number(syncDone.eventId), 'the change came after the answer');
      assert.equal(await workflowTaskFailures(handle), 0);
      await terminateIdle(handle);
    });
  });

  it('a metadata change while a charge, then a query, is at QFPay: answered at once; the answers keep it; memo and attribute show it', async () => {
    await inScenario(timeSkipping, {}, async ({ clock, qfpay, failCycle2, handle }) => {
      const entry = (value: string) => ({ value, digest: `digest-${value}` });
      qfpay.chargeScript = [{ outcome: 'failed' }];
      const chargeGate = holdFirstCharge(qfpay);
      await failCycle2(handle);
      await advance(timeSkipping.env, clock, HOUR);
      await until('the first attempt reached QFPay', () => qfpay.count('chargeOrder') === 1);
      // Answered while the charge is still out: the handler does not wait for the loop.
      assert.deepEqual(await handle.executeUpdate(setMetadataUpdate, { args: [{ ref: entry('R-1') }] }), {
        ref: 'R-1',
      });
      chargeGate.open();
      await until(
        'the attempt recorded',
        async () => (await handle.query(snapshotQuery)).dunning.episode?.attempts.length === 1,
      );
      assert.deepEqual((await handle.query(snapshotQuery)).metadata, { ref: 'R-1' }, 'the charge kept it');

      const syncGate = new Gate();
      qfpay.holdSyncAnswer = () => syncGate.promise;
      const syncs = qfpay.count('syncSubscription');
      const syncing = handle.executeUpdate(syncNowUpdate, { args: [] });
      await until('the query reached QFPay', () => qfpay.count('syncSubscription') === syncs + 1);
      assert.deepEqual(await handle.executeUpdate(setMetadataUpdate, { args: [{ tier: entry('gold') }] }), {
        ref: 'R-1',
        tier: 'gold',
      });
      qfpay.holdSyncAnswer = undefined;
      syncGate.open();
      await syncing;
      assert.deepEqual(
        (await handle.query(snapshotQuery)).metadata,
        { ref: 'R-1', tier: 'gold' },
        'the query kept it',
      );
      const described = await handle.describe();
      assert.deepEqual(described.memo?.[METADATA_MEMO], { ref: 'R-1', tier: 'gold' });
      assert.deepEqual(described.typedSearchAttributes.get(SEARCH_ATTRIBUTES.metadataDigests), [
        'digest-R-1',
        'digest-gold',
      ]);
      assert.equal(qfpay.count('chargeOrder'), 1, 'no charge more for a metadata change');
      assert.equal(await workflowTaskFailures(handle), 0);
      await terminateIdle(handle);
    });
  });

  it('three simultaneous charge-now requests: one reaches QFPay, the others are refused', async () => {
    await inScenario(
      timeSkipping,
      { policy: { attemptOffsets: ['1d'] } },
      async ({ clock, qfpay, failCycle2, handle }) => {
        qfpay.chargeScript = [{ outcome: 'failed' }];
        const gate = holdFirstCharge(qfpay);
        await failCycle2(handle);
        await advance(timeSkipping.env, clock, MINUTE);
        const requests = Promise.allSettled(
          [1, 2, 3].map(() => handle.executeUpdate(chargeNowUpdate, { args: [{}] })),
        );
        await until('a charge reached QFPay', () => qfpay.count('chargeOrder') === 1);
        gate.open();
        const results = await requests;
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
        for (const r of results.filter((x) => x.status === 'rejected')) {
          assert.match(String((r.reason as { cause?: Error }).cause?.message), /already in progress/);
        }
        assert.equal(qfpay.count('chargeOrder'), 1);
        await terminateIdle(handle);
      },
    );
  });

  it('a null or malformed signal is dropped: no workflow task fails, and the next fact is applied', async () => {
    await inScenario(timeSkipping, {}, async ({ subscriptionId, clock, failCycle2, handle }) => {
      await handle.signal(factSignal, null as never);
      await handle.signal(factSignal, { kind: 'payment', subscriptionId } as never);
      await handle.signal(factSignal, 'not a fact' as never);
      await failCycle2(handle);
      await advance(timeSkipping.env, clock, MINUTE);
      const view = await handle.query(snapshotQuery);
      assert.equal(view.snapshot.state, 'PAST_DUE');
      assert.equal(await workflowTaskFailures(handle), 0);
      assert.ok(view.snapshot.anomalies.some((a) => a.reason.includes('rejected')));
      await terminateIdle(handle);
    });
  });

  it('a policy change re-plans the open episode at once', async () => {
    await inScenario(
      timeSkipping,
      {
        prepare: (qfpay) => {
          qfpay.chargeScript = [{ outcome: 'failed' }, { outcome: 'failed' }];
        },
      },
      async ({ clock, qfpay, failCycle2, handle }) => {
        const failedAt = await failCycle2(handle);
        await advance(timeSkipping.env, clock, 90 * MINUTE);
        await handle.executeUpdate(changeDunningPolicyUpdate, { args: [{ attemptOffsets: ['1h', '2h'] }] });
        const planned = (await handle.query(snapshotQuery)).dunning.episode?.schedule;
        assert.deepEqual(planned, [failedAt + 2 * HOUR]);
        await advance(timeSkipping.env, clock, HOUR);
        assertChargedAt(qfpay, [failedAt + HOUR, failedAt + 2 * HOUR]);
        await terminateIdle(handle);
      },
    );
  });

  it('updates that arrive while the workflow continues as new are all answered, none abandoned', async () => {
    const { subscriptionId, clock, qfpay } = await failingSubscription(timeSkipping.env);
    const { worker, taskQueue } = await scenarioWorker(timeSkipping.env, qfpay);
    await worker.runUntil(async () => {
      const handle = await timeSkipping.env.client.workflow.start('subscriptionWorkflow', {
        workflowId: `qfpay-subscription:${subscriptionId}`,
        taskQueue,
        args: [{ subscriptionId, origin: 'adopted' as const, options: { maxHistoryEvents: 20 } }],
      });
      timeSkipping.track(handle);
      const firstRun = (await handle.describe()).runId;
      for (let round = 0; round < 4; round += 1) {
        const results = await Promise.allSettled(
          [1, 2, 3].map(() => handle.executeUpdate(syncNowUpdate, { args: [] })),
        );
        assert.deepEqual(
          results.map((r) => r.status),
          ['fulfilled', 'fulfilled', 'fulfilled'],
          JSON.stringify(results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok'))),
        );
        await advance(timeSkipping.env, clock, MINUTE);
      }
      const view = await handle.query(snapshotQuery);
      assert.ok(view.continuedAsNew >= 1, 'it continued as new');
      assert.notEqual((await handle.describe()).runId, firstRun);
      await terminateIdle(handle);
    });
  });

  it('continue-as-new carries a sync QFPay failed to answer: the new run asks again after the backoff', async () => {
    const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription(timeSkipping.env);
    let failing = false;
    qfpay.onSync = () => {
      if (failing) throw new Error('QFPay unreachable');
    };
    const { worker, taskQueue } = await scenarioWorker(timeSkipping.env, qfpay);
    await worker.runUntil(async () => {
      // A low history bound: the workflow continues as new as soon as it has nothing else to do.
      const handle = await startWith(
        timeSkipping,
        taskQueue,
        subscriptionId,
        { attemptOffsets: ['1d'] },
        { maxHistoryEvents: 15 },
      );
      await advance(timeSkipping.env, clock, MINUTE);
      failing = true;
      const syncsBefore = qfpay.count('syncSubscription');
      // The failure notification asks for a sync, which fails: it is due again after a backoff.
      await failCycle2(handle);
      await until('the sync was tried', () => qfpay.count('syncSubscription') > syncsBefore);
      await advance(timeSkipping.env, clock, 10_000);
      const during = await handle.query(snapshotQuery);
      failing = false;
      const tried = qfpay.count('syncSubscription');
      await advance(timeSkipping.env, clock, 3 * MINUTE);
      assert.ok(qfpay.count('syncSubscription') > tried, 'asked QFPay again after the backoff');
      const view = await handle.query(snapshotQuery);
      assert.ok(
        view.continuedAsNew > during.continuedAsNew || during.continuedAsNew > 0,
        'it continued as new meanwhile',
      );
      assert.equal(view.snapshot.nextBillingTime, qfpay.state.remote.nextBillingTime, 'learned from QFPay');
      await terminateIdle(handle);
    });
  });

  it("a creation's handover that arrives after QFPay's first notification: the merchant's policy judges the first order", async () => {
    // Found by the npm start test: the first charge failed, its notification adopted the workflow
    // and the query answered in its first task, before the creation handed over its policy; the
    // default policy (2 h margin on an hourly plan) closed the episode as exhausted at once.
    const adopted = await firstOrderFailed();
    const { worker, taskQueue } = await scenarioWorker(timeSkipping.env, adopted.qfpay);
    await worker.runUntil(async () => {
      const handle = await adopt(adopted, taskQueue);
      await until(
        'the first query answered',
        async () => (await handle.query(snapshotQuery)).lastSyncAt !== null,
      );
      await handle.signal(handoverSignal, merchantHandover(adopted));
      await assertMerchantPolicyJudges(handle, adopted.first);
    });
  });

  it("a creation's handover that arrives while the first query is out: the merchant's policy judges the first order", async () => {
    const adopted = await firstOrderFailed();
    const gate = new Gate();
    adopted.qfpay.holdSyncAnswer = () => gate.promise;
    const { worker, taskQueue } = await scenarioWorker(timeSkipping.env, adopted.qfpay);
    await worker.runUntil(async () => {
      const handle = await adopt(adopted, taskQueue);
      await until('the first query reached QFPay', () => adopted.qfpay.count('syncSubscription') === 1);
      await handle.signal(handoverSignal, merchantHandover(adopted));
      adopted.qfpay.holdSyncAnswer = undefined;
      gate.open();
      await assertMerchantPolicyJudges(handle, adopted.first);
    });
  });

  it("a creation's handover that arrives while no worker runs, inside the wait: the next worker judges with the merchant's policy", async () => {
    const adopted = await firstOrderFailed();
    // No workflow cache: the next worker rebuilds the workflow from its history, as after a crash.
    const first = await createTestWorker(timeSkipping.env, {
      maxCachedWorkflows: 0,
      activities: { ...adopted.qfpay.activities(), ...new EngineDouble().activities() },
    });
    const handle = await first.worker.runUntil(async () => {
      const h = await adopt(adopted, first.taskQueue);
      await until('the first query answered', async () => (await h.query(snapshotQuery)).lastSyncAt !== null);
      return h;
    });
    await handle.signal(handoverSignal, merchantHandover(adopted));
    const second = await createTestWorker(timeSkipping.env, {
      taskQueue: first.taskQueue,
      activities: { ...adopted.qfpay.activities(), ...new EngineDouble().activities() },
    });
    await second.worker.runUntil(() => assertMerchantPolicyJudges(handle, adopted.first));
  });

  it('no handover within the wait (a subscription made elsewhere): the default policy judges the first order after it', async () => {
    const adopted = await firstOrderFailed();
    const { worker, taskQueue } = await scenarioWorker(timeSkipping.env, adopted.qfpay);
    await worker.runUntil(async () => {
      const adoptedAt = await timeSkipping.env.currentTimeMs();
      const handle = await adopt(adopted, taskQueue);
      await until(
        'the first query answered',
        async () => (await handle.query(snapshotQuery)).lastSyncAt !== null,
      );
      const waiting = await handle.query(snapshotQuery);
      assert.equal(waiting.dunning.episode, null, 'the first order waits');
      assert.equal(waiting.dunning.history.length, 0);
      await advance(timeSkipping.env, adopted.clock, 2 * MINUTE);
      const view = await handle.query(snapshotQuery);
      const judged = view.dunning.episode ?? view.dunning.history[0];
      assert.equal(judged?.orderId, adopted.first, 'judged after the wait');
      assert.ok(
        judged.openedAt >= adoptedAt + 60_000,
        `opened ${judged.openedAt - adoptedAt} ms after the adoption, not before the wait ended`,
      );
      assert.equal(await workflowTaskFailures(handle), 0);
      await terminateIdle(handle);
    });
  });

  it('a notification for a subscription QFPay does not know: the workflow ends within seconds as not found, and tells the merchant nothing', async () => {
    const { subscriptionId, clock, qfpay } = await failingSubscription(timeSkipping.env);
    qfpay.state.found = false;
    const { worker, taskQueue } = await scenarioWorker(timeSkipping.env, qfpay);
    await worker.runUntil(async () => {
      const handle = await timeSkipping.env.client.workflow.signalWithStart('subscriptionWorkflow', {
        workflowId: `qfpay-subscription:${subscriptionId}`,
        taskQueue,
        args: [{ subscriptionId, origin: 'adopted' as const, options: { merchantEvents: true } }],
        signal: factSignal,
        signalArgs: [
          { kind: 'state', subscriptionId, state: 'ACTIVE', at: clock.now, source: 'notification' },
        ],
      });
      // It fails (as not found), so that the id stays free: were QFPay's answer a passing miss, the
      // next notification or the creation's handover starts the subscription's workflow afresh.
      await assert.rejects(handle.result(), (err: unknown) => {
        assert.ok(err instanceof WorkflowFailedError);
        assert.ok(err.cause instanceof ApplicationFailure);
        assert.equal(err.cause.type, 'SubscriptionNotFound');
        return true;
      });
      assert.equal(qfpay.count('syncSubscription'), 2, 'asked QFPay twice: once, and again to be sure');
      const described = await handle.describe();
      const lived = described.closeTime!.getTime() - described.startTime.getTime();
      assert.ok(lived <= 15_000, `lived ${lived} ms of workflow time`);
      const history = await handle.fetchHistory();
      const children = (history.events ?? []).filter(
        (e) => e.eventType === EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
      );
      assert.equal(children.length, 0, 'no merchant event');
    });
  });

  it("a creation's handover that comes after the adopted workflow ended as not found: the subscription's workflow starts afresh, created", async () => {
    // Found by the CI chaos run: the notifications adopted a subscription whose workflow ran to its
    // end before the (slow) creation handed over; signal-with-start then refused the closed id on
    // every try, and the creation failed after an hour with a 409 for the merchant. A run that
    // ended as not found has failed: QFPay's own creation answer says it exists, so it starts again.
    const { subscriptionId, clock, qfpay } = await failingSubscription(timeSkipping.env);
    qfpay.state.found = false;
    const { worker, taskQueue } = await scenarioWorker(timeSkipping.env, qfpay);
    const workflowId = `qfpay-subscription:${subscriptionId}`;
    const ended = await worker.runUntil(async () => {
      const handle = await timeSkipping.env.client.workflow.signalWithStart('subscriptionWorkflow', {
        workflowId,
        taskQueue,
        args: [{ subscriptionId, origin: 'adopted' as const }],
        signal: factSignal,
        signalArgs: [
          { kind: 'state', subscriptionId, state: 'ACTIVE', at: clock.now, source: 'notification' },
        ],
      });
      await assert.rejects(handle.result());
      return handle.signaledRunId;
    });
    const engine = createEngineActivities({ client: timeSkipping.env.client, taskQueue });
    const outcome = await new MockActivityEnvironment().run(
      engine.handOverSubscription,
      { subscriptionId, origin: 'created' as const },
      { fact: createdFact(subscriptionId, 'ACTIVE', clock.now) },
    );
    assert.equal(outcome, 'handed_over');
    const handle = timeSkipping.env.client.workflow.getHandle(workflowId);
    timeSkipping.track(handle);
    const latest = await handle.describe();
    assert.notEqual(latest.runId, ended, 'a new run');
    assert.equal(latest.status.name, 'RUNNING');
    const { worker: next } = await createTestWorker(timeSkipping.env, {
      taskQueue,
      activities: { ...qfpay.activities(), ...new EngineDouble().activities() },
    });
    await next.runUntil(async () => {
      const view = await handle.query(snapshotQuery);
      assert.equal(view.origin, 'created');
      assert.equal(view.snapshot.state, 'ACTIVE');
      // Ended while a worker still runs its work: a run left with a task in flight holds time skipping.
      await terminateIdle(handle);
    });
  });
});
