/**
 * A worker killed during a test clock's advance: the advance finishes, with no double charge and
 * no event lost. Every part is real (dev server, API, QFPay emulator over HTTP, a merchant
 * receiver), and the worker is `worker.ts` in a process of its own, SIGKILLed (no drain) three
 * times during one advance of four months over three subscriptions, one of them through a
 * declined cycle and its dunning. The kills come at points the test chooses, held there by a
 * proxy between the worker and the emulator (test/helpers/holding-proxy.ts), not by a sleep:
 *
 * 1. a manual charge the emulator made (the order paid), its answer not yet back at the worker;
 * 2. the clock's world moved into April (its billings made, notified), the answer not yet back;
 * 3. the move into May sent by the worker, not yet received by the emulator.
 *
 * After each kill another worker starts on the task queue. Then the emulator's records and the
 * engine's views agree: every cycle up to the target billed and paid exactly once, the manual
 * charges where the policy puts them and before their deadline, and each subscription's merchant
 * events recorded once each and delivered.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { temporal } from '@temporalio/proto';
import { writeWorkflowBundle } from '../../src/dev/workflow-bundle';
import { DAY, HOUR } from '../../src/domain/duration';
import { snapshotQuery, testClockWorkflowId } from '../../src/workflows/definitions';
import { until } from '../helpers/gate';
import {
  APP_CODE,
  APP_KEY,
  clockThroughApi,
  startStack,
  subscribeThroughApi,
  type ApiSubscription,
  type Stack,
} from '../helpers/stack';
import { startHoldingProxy, type HoldingProxy, type ProxiedCall } from '../helpers/holding-proxy';
import {
  startMerchantReceiver,
  type MerchantReceiver,
  type ReceivedEvent,
} from '../helpers/merchant-receiver';
import { startWorkerProcess, type WorkerProcess } from '../helpers/worker-process';

const { EventType } = temporal.api.enums.v1;
const START = Date.parse('2027-01-10T02:00:00Z');
/** Four monthly billings after the first payment: February to May 10. */
const TARGET = Date.parse('2027-05-20T02:00:00Z');
const CYCLES = 5;
const APRIL = Date.parse('2027-04-01T00:00:00Z');
const MAY = Date.parse('2027-05-01T00:00:00Z');
/** The default dunning policy's attempts and margin (the subscriptions are made without one). */
const SAFETY_MARGIN = 2 * HOUR;
/** A hang guard only: the advance waits out activity timeouts after each kill. */
const GUARD_MS = 600_000;

let stack: Stack;
let proxy: HoldingProxy;
let receiver: MerchantReceiver;
let dataDir = '';
let workerEnv: Record<string, string> = {};
const workers: WorkerProcess[] = [];

before(async () => {
  receiver = await startMerchantReceiver();
  // The API and the emulator in this process; the worker in one of its own, reaching QFPay (and
  // the emulator's clock control) through the proxy.
  stack = await startStack({}, receiver.env, { worker: false });
  proxy = await startHoldingProxy(stack.qfpayEmulator.url);
  dataDir = mkdtempSync(join(tmpdir(), 'clock-restart-'));
  const bundle =
    process.env.TEST_WORKFLOW_BUNDLE ?? (await writeWorkflowBundle(join(dataDir, 'workflow-bundle.js')));
  workerEnv = {
    TEMPORAL_ADDRESS: stack.env.address,
    TEMPORAL_NAMESPACE: stack.config.TEMPORAL_NAMESPACE,
    TEMPORAL_TASK_QUEUE: stack.config.TEMPORAL_TASK_QUEUE,
    QFPAY_BASE_URL: proxy.url,
    QFPAY_APP_CODE: APP_CODE,
    QFPAY_APP_KEY: APP_KEY,
    WORKFLOW_BUNDLE_PATH: bundle,
    ...receiver.env,
  };
  workers.push(await startWorkerProcess(workerEnv));
});

after(async () => {
  await Promise.allSettled(workers.map((w) => w.kill()));
  await proxy?.close();
  await stack?.close();
  await receiver?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** SIGKILLs the running worker and starts another on the same task queue. */
async function crashAndRestart(): Promise<void> {
  await workers.at(-1)!.kill();
  workers.push(await startWorkerProcess(workerEnv));
}

interface Member extends ApiSubscription {
  name: string;
}

interface ChargeRow {
  at: string;
  sequence_no: number;
  trigger: string;
  approved: boolean;
}

const isManualCharge = (call: ProxiedCall) =>
  call.method === 'POST' && call.path === '/subscription/v1/charge';

/** The worker's move of clock `clockId`'s world to a time at or after `from`. */
const movesWorld = (clockId: string, from: number) => (call: ProxiedCall) =>
  call.method === 'POST' &&
  call.path === `/_emulator/test_clocks/${clockId}/advance` &&
  Date.parse((JSON.parse(call.body) as { to: string }).to) >= from;

describe('a worker killed during a test clock’s advance', () => {
  it('the advance finishes: every cycle billed and paid once, the dunning on time, every event once', async () => {
    const clockId = await clockThroughApi(stack, START, 'kills');
    const members: Member[] = [];
    for (const name of ['Ada', 'Grace', 'Edsger'])
      members.push({ name, ...(await subscribeThroughApi(stack, name, clockId)) });
    const { world } = members[0]!;
    const declining = members[2]!;
    await until('the subscriptions joined their clock', async () => {
      const clock = await stack.api('GET', `/v1/test_clocks/${clockId}`);
      return clock.body.subscriptions === members.length;
    });
    // Edsger's card declines February's billing and the first attempt, an hour later.
    await world.setCharges(declining.tokenId, 'decline');

    // Where the worker is killed, each the first call of its kind; a kill releases nothing.
    let manualCharges = 0;
    const secondAttempt = proxy.hold((call) => isManualCharge(call) && (manualCharges += 1) === 2);
    const intoApril = proxy.hold(movesWorld(clockId, APRIL));
    const intoMay = proxy.hold(movesWorld(clockId, MAY));

    const advancing = await stack.api('POST', `/v1/test_clocks/${clockId}/advance`, {
      frozen_time: new Date(TARGET).toISOString(),
    });
    assert.equal(advancing.status, 200, JSON.stringify(advancing.body));
    assert.equal(advancing.body.status, 'advancing');

    // 1. The day-after attempt: the card approves now, the emulator charges it, the worker dies
    // before the answer reaches it. Its retry must find the order paid, not charge it again.
    const attempt = await secondAttempt;
    // Meanwhile the clock waits for its members (its read of them beats while one is busy), and
    // its world stays at the attempt's time.
    const clockWorkflow = stack.env.client.workflow.getHandle(testClockWorkflowId(clockId));
    await until('the clock waits for its members', async () =>
      ((await clockWorkflow.describe()).raw.pendingActivities ?? []).some(
        (a) => a.activityType?.name === 'readTestClockMembers' && a.lastHeartbeatTime,
      ),
    );
    const failedAt = Date.parse((await world.inspect(declining.subscriptionId)).orders[1]!.billing_time);
    assert.equal(stack.qfpayEmulator.testClocks.view(clockId).nowMs, failedAt + DAY, 'the world waits');
    await world.setCharges(declining.tokenId, 'approve');
    await attempt.forward();
    const paid = (await world.inspect(declining.subscriptionId)).orders.find((o) => o.sequence_no === 2);
    assert.equal(paid?.status, 'PAID', 'the emulator charged the attempt before the kill');
    await crashAndRestart();

    // 2. The world moved into April (its billings made and notified), the answer not back.
    const april = await intoApril;
    await april.forward();
    assert.ok(
      stack.qfpayEmulator.testClocks.view(clockId).nowMs >= APRIL,
      'the world moved into April before the kill',
    );
    await crashAndRestart();

    // 3. The move into May, sent by the worker and not yet received by the emulator.
    const may = await intoMay;
    assert.ok(stack.qfpayEmulator.testClocks.view(clockId).nowMs < MAY, 'the world is not in May yet');
    await crashAndRestart();
    assert.ok(may.abandoned, 'the killed worker’s call is gone');
    await proxy.releaseAll();

    await until(
      'the advance ended',
      async () => (await stack.api('GET', `/v1/test_clocks/${clockId}`)).body?.status === 'ready',
      GUARD_MS,
    );
    const clock = await stack.api('GET', `/v1/test_clocks/${clockId}`);
    assert.equal(clock.body.frozen_time, new Date(TARGET).toISOString());

    for (const member of members) {
      const truth = await world.inspect(member.subscriptionId);
      const charges = (
        await world.control<{ data: ChargeRow[] }>('GET', `/charges?subscription_id=${member.subscriptionId}`)
      ).body.data;
      const what = `${member.name}: ${JSON.stringify(charges.map((c) => [c.at, c.sequence_no, c.trigger, c.approved]))}`;
      // Every cycle up to the target billed, each order paid exactly once.
      assert.equal(truth.orders.length, CYCLES, what);
      assert.equal(truth.completed_billing_iteration, CYCLES, what);
      assert.equal(truth.state, 'ACTIVE', what);
      for (const order of truth.orders) {
        assert.equal(order.status, 'PAID', what);
        const approved = charges.filter((c) => c.sequence_no === order.sequence_no && c.approved);
        assert.equal(approved.length, 1, `${what}: order ${order.sequence_no} paid once`);
      }
      // No manual charge after its order's deadline: the next billing less the safety margin.
      for (const c of charges.filter((row) => row.trigger === 'manual')) {
        const order = truth.orders.find((o) => o.sequence_no === c.sequence_no)!;
        assert.ok(Date.parse(c.at) < Date.parse(order.deadline) - SAFETY_MARGIN, `${what}: ${c.at} too late`);
      }
      const manual = charges.filter((c) => c.trigger === 'manual').map((c) => [Date.parse(c.at), c.approved]);
      if (member === declining) {
        assert.deepEqual(
          manual,
          [
            [failedAt + HOUR, false],
            [failedAt + DAY, true],
          ],
          what,
        );
      } else {
        assert.deepEqual(manual, [], what);
      }

      // The engine agrees with the emulator.
      const view = await stack.api('GET', `/v1/subscriptions/${encodeURIComponent(member.subscriptionId)}`);
      assert.equal(view.status, 200, JSON.stringify(view.body));
      assert.equal(view.body.state, truth.state, member.name);
      assert.equal(view.body.completed_cycles, truth.completed_billing_iteration, member.name);
      assert.equal(view.body.test_clock?.frozen_time, new Date(TARGET).toISOString(), member.name);
      const snapshot = await stack.env.client.workflow.getHandle(member.workflowId).query(snapshotQuery);
      const marks = await crashMarks(member.workflowId);
      assert.equal(marks.failedTasks, 0, `${member.name}: a workflow task failed`);
      if (member === declining) {
        const again = marks.retried.filter((type) => type === 'chargeOrder');
        assert.equal(again.length, 1, 'the charge the crash cut off ran again');
        const episode = snapshot.dunning.history.at(-1);
        assert.equal(episode?.outcome, 'recovered', member.name);
        assert.deepEqual(
          episode?.attempts.map((a) => a.result),
          ['failed', 'succeeded'],
          member.name,
        );
      }

      // Its merchant events: each recorded once, delivered, none missing.
      const events = await settledEvents(member.subscriptionId, CYCLES);
      const declined = charges.filter((c) => !c.approved);
      assertEventsOnce(member.name, events, { cycles: CYCLES, declined: declined.length });
    }
    const clockMarks = await crashMarks(clockWorkflow.workflowId);
    assert.equal(clockMarks.failedTasks, 0, 'the clock’s workflow: a workflow task failed');
    // (A read of the members the first crash cut off may have run again too.)
    const moves = clockMarks.retried.filter((type) => type === 'advanceTestClockWorld');
    assert.equal(moves.length, 2, 'the moves the crashes cut off ran again');
  });
});

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** Every run of a workflow, first to latest, each its history's events (back through continue-as-new). */
async function runsOf(workflowId: string): Promise<HistoryEvent[][]> {
  const runs: HistoryEvent[][] = [];
  let runId: string | undefined = (await stack.env.client.workflow.getHandle(workflowId).describe()).runId;
  while (runId) {
    const history = await stack.env.client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events: HistoryEvent[] = history.events ?? [];
    runs.unshift(events);
    runId = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  }
  return runs;
}

/** What the crashes left in a workflow's runs: the activities that ran again (by type), the failed workflow tasks. */
async function crashMarks(workflowId: string): Promise<{ retried: string[]; failedTasks: number }> {
  const retried: string[] = [];
  let failedTasks = 0;
  for (const events of await runsOf(workflowId)) {
    const types = new Map(
      events.map((e) => [String(e.eventId), e.activityTaskScheduledEventAttributes?.activityType?.name]),
    );
    for (const e of events) {
      if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED) failedTasks += 1;
      const started = e.activityTaskStartedEventAttributes;
      if (started && (started.attempt ?? 1) > 1)
        retried.push(types.get(String(started.scheduledEventId)) ?? '?');
    }
  }
  return { retried, failedTasks };
}

interface Delivery {
  event_id: string;
  type: string;
  status: string;
}

/**
 * A subscription's merchant events once the engine's delivery log has them all delivered, with a
 * payment for each of its `cycles` (the log is read from visibility, which lags a little): the
 * log's ids, and the events the receiver verified (an event's delivery may be repeated after a
 * crash: the receiver deduplicates on the id, as a merchant does).
 */
async function settledEvents(subscriptionId: string, cycles: number): Promise<ReceivedEvent[]> {
  let log: Delivery[] = [];
  await until(
    `the merchant events of ${subscriptionId} delivered`,
    async () => {
      const res = await stack.api('GET', `/v1/merchant-events?limit=100&subscription_id=${subscriptionId}`);
      if (res.status !== 200) return false;
      log = res.body.data as Delivery[];
      const payments = log.filter((d) => d.type === 'subscription.payment_succeeded').length;
      return payments >= cycles && log.every((d) => d.status === 'delivered');
    },
    GUARD_MS,
  );
  const ids = log.map((d) => d.event_id);
  assert.equal(new Set(ids).size, ids.length, `${subscriptionId}: an event id twice in the log: ${ids}`);
  const received = new Map<string, ReceivedEvent>();
  for (const e of receiver.events) if (e.subscription_id === subscriptionId) received.set(e.id, e);
  assert.deepEqual(
    [...received.keys()].sort(),
    [...ids].sort(),
    `${subscriptionId}: the log and the receiver`,
  );
  return [...received.values()];
}

/** What makes two events the same news, whatever their ids. */
function newsOf(e: ReceivedEvent): string {
  switch (e.type) {
    case 'subscription.payment_succeeded':
      return `${e.type} ${e.data.sequence_no}`;
    case 'subscription.dunning_attempt':
      return `${e.type} ${e.data.order_id} ${e.data.attempt}`;
    case 'subscription.state_changed':
      return `${e.type} ${e.data.from} ${e.data.to}`;
    default:
      return `${e.type} ${JSON.stringify(e.data)}`;
  }
}

function assertEventsOnce(
  name: string,
  events: ReceivedEvent[],
  expected: { cycles: number; declined: number },
): void {
  const what = `${name}: ${JSON.stringify(events.map((e) => [e.type, e.id]))}`;
  const failures = events.filter((e) => e.type === 'subscription.payment_failed');
  // A declined charge is a failure each (two of the same order read alike): counted, not keyed.
  assert.equal(failures.length, expected.declined, `${what}: one failure event per declined charge`);
  const news = events.filter((e) => e.type !== 'subscription.payment_failed').map(newsOf);
  const twice = news.filter((n, i) => news.indexOf(n) !== i);
  assert.deepEqual(twice, [], `${what}: the same news twice`);
  const paid = events
    .filter((e) => e.type === 'subscription.payment_succeeded')
    .map((e) => Number(e.data.sequence_no))
    .sort((a, b) => a - b);
  assert.deepEqual(
    paid,
    Array.from({ length: expected.cycles }, (_, i) => i + 1),
    `${what}: a payment event per cycle`,
  );
  if (expected.declined > 0) {
    const dunning = events.filter((e) => e.type.startsWith('subscription.dunning_')).map(newsOf);
    assert.equal(dunning.filter((n) => n.startsWith('subscription.dunning_attempt')).length, 2, what);
    assert.equal(dunning.filter((n) => n.startsWith('subscription.dunning_recovered')).length, 1, what);
  }
}
