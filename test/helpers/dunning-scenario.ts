/**
 * A dunning scenario on the time-skipping test server, shared by the workflow tests: an ACTIVE
 * subscription whose cycle 2 fails, the QFPay double behind it, and the engine's other activities.
 */
import assert from 'node:assert/strict';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type {
  EngineActivities,
  GatewayActivities,
  MerchantEventActivities,
} from '../../src/activities/contracts';
import type { ReminderLeads } from '../../src/domain/reminders/reminders';
import {
  WORKFLOW_TYPES,
  factSignal,
  subscriptionWorkflowId,
  type MerchantEvent,
} from '../../src/workflows/definitions';
import {
  DEFAULT_DUNNING_POLICY,
  mergePolicy,
  type DunningPolicyOverride,
} from '../../src/domain/episode/dunning';
import type { Fact } from '../../src/domain/lifecycle/lifecycle';
import { orderId, paidOnceQfpay, type FakeQfpay } from './qfpay-doubles';
import { createTestWorker, fakeSubscriptionId, type useTimeSkipping } from './temporal';
import { MINUTE, DAY } from '../../src/domain/duration';
export { MINUTE, HOUR, DAY } from '../../src/domain/duration';

export const CYCLE = 30 * DAY;

/** A test server and how to stop a workflow started on it at the end (`useTimeSkipping`, or a dev server's). */
type TimeSkipping = Pick<ReturnType<typeof useTimeSkipping>, 'env' | 'track'>;

/** The engine's other activities: merchant events are delivered (by their child workflows) to this list. */
export class EngineDouble {
  readonly delivered: MerchantEvent[] = [];
  /** The card tokens' expiries the engine's token records hold (epoch ms), by token id. */
  readonly tokenExpiries = new Map<string, number>();
  /** What the gateway says the next billing charges (a reminder asks). */
  upcoming: { amount: number | null; currency: string | null } = { amount: 2500, currency: 'HKD' };
  /** A reminder's question waits for this (a test holds it to send a handler in meanwhile). */
  holdUpcoming: Promise<void> | undefined;
  /** How many times a reminder asked what the billing charges. */
  upcomingAsked = 0;
  /** A delivery waits for what this returns (a test holds some to show they block nothing). */
  holdDelivery: (event: MerchantEvent) => Promise<void> | undefined = () => undefined;
  /** The escalation steps delivered, in order. */
  get escalations(): string[] {
    return this.delivered.flatMap((e) =>
      e.type === 'subscription.dunning_exhausted' && e.data.step ? [e.data.step] : [],
    );
  }
  activities(): EngineActivities &
    Pick<MerchantEventActivities, 'sendMerchantEvent'> &
    Pick<GatewayActivities, 'upcomingBilling'> {
    return {
      upcomingBilling: async () => {
        this.upcomingAsked += 1;
        await this.holdUpcoming;
        return this.upcoming;
      },
      handOverSubscription: async () => 'handed_over' as const,
      tokenExpiry: async ({ tokenId }) => this.tokenExpiries.get(tokenId) ?? null,
      sendMerchantEvent: async (event) => {
        await this.holdDelivery(event);
        this.delivered.push(event);
        return { result: 'delivered', httpStatus: 200, reason: 'HTTP 200' };
      },
    };
  }
  /**
   * Waits until `n` escalation steps were delivered: deliveries run in their own workflows, on the
   * test's worker, so call it before the worker stops. Bounded (a minute) only as a hang guard.
   */
  async escalated(n: number): Promise<string[]> {
    await this.waitFor(() => this.escalations.length >= n);
    return this.escalations;
  }

  /** Waits (bounded, as a hang guard) until `done` holds. */
  async waitFor(done: () => boolean): Promise<void> {
    for (let i = 0; i < 600 && !done(); i += 1) await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * An ACTIVE subscription whose cycle 2 charge fails `failAfter` after the test starts, with the
 * next billing time `nextBillingIn` after the failure.
 */
export async function failingSubscription(env: TestWorkflowEnvironment, nextBillingIn = CYCLE) {
  return failingSubscriptionAt(await env.currentTimeMs(), nextBillingIn);
}

/**
 * Where the test-clock tests start their clocks: years before the real time, so that a decision
 * taken in real time would show (an attempt's window judged in real time would have closed long ago).
 */
export const CLOCK_START = Date.UTC(2021, 2, 1, 9, 0, 0);

/** {@link failingSubscriptionAt} on a test clock at `c0`: QFPay lives in the clock's world. */
export function failingSubscriptionOnClock(c0 = CLOCK_START) {
  const scenario = failingSubscriptionAt(c0);
  scenario.qfpay.worldClock = () => scenario.clock.now;
  return scenario;
}

/** {@link failingSubscription} with its cycle 2 due at `t0` (a test clock's time, say). */
export function failingSubscriptionAt(t0: number, nextBillingIn = CYCLE) {
  const subscriptionId = fakeSubscriptionId();
  const clock = { now: t0 };
  // Cycle 1 was paid a cycle ago; cycle 2 is due now.
  const qfpay = paidOnceQfpay(subscriptionId, t0 - CYCLE, {
    totalBillingCycles: null,
    cycleMs: CYCLE,
    now: () => clock.now,
    customerId: 'cust_dunning',
    tokenId: 'tk_1',
  });
  /** QFPay fails cycle 2 now; the next billing time moves `nextBillingIn` ahead. */
  const failCycle2 = async (handle: WorkflowHandle) => {
    const at = clock.now;
    qfpay.state.orders = [
      ...qfpay.state.orders,
      { orderId: orderId(subscriptionId, 2), sequenceNo: 2, status: 'FAILED', respcd: '1205', at },
    ];
    qfpay.state.remote = {
      ...qfpay.state.remote,
      state: 'PAST_DUE',
      lastBillingTime: at,
      nextBillingTime: at + nextBillingIn,
    };
    await handle.signal(factSignal, cycle2Failed(subscriptionId, at));
    await handle.signal(factSignal, {
      kind: 'state',
      subscriptionId,
      state: 'PAST_DUE',
      at,
      source: 'notification',
    });
    return at;
  };
  /** QFPay's own retry (or the customer) pays cycle 2 at `at` (the clock's time unless given). */
  const payCycle2 = async (handle: WorkflowHandle, at = clock.now) => {
    qfpay.state.orders = qfpay.state.orders.map((o) =>
      o.sequenceNo === 2 ? { ...o, status: 'PAID', respcd: '0000', at } : o,
    );
    qfpay.state.remote = { ...qfpay.state.remote, state: 'ACTIVE', completedCycles: 2 };
    await handle.signal(factSignal, {
      kind: 'payment',
      subscriptionId,
      orderId: orderId(subscriptionId, 2),
      sequenceNo: 2,
      succeeded: true,
      respcd: '0000',
      syssn: `${subscriptionId}-2-ok`,
      at,
      source: 'notification',
    });
  };
  return { subscriptionId, t0, clock, qfpay, failCycle2, payCycle2 };
}

/** QFPay's notification that cycle 2 of `subscriptionId` was declined (1205) at `at`. */
export function cycle2Failed(subscriptionId: string, at: number): Fact {
  return {
    kind: 'payment',
    subscriptionId,
    orderId: orderId(subscriptionId, 2),
    sequenceNo: 2,
    succeeded: false,
    respcd: '1205',
    syssn: `${subscriptionId}-2-ko`,
    at,
    source: 'notification',
  };
}

/** The fact a creation hands over: QFPay made the subscription (`failingSubscriptionAt`'s customer and card), in `state`. */
export function createdFact(subscriptionId: string, state: 'INCOMPLETE' | 'ACTIVE', at: number) {
  return {
    kind: 'created' as const,
    subscriptionId,
    customerId: 'cust_dunning',
    tokenId: 'tk_1',
    productIds: [],
    totalBillingCycles: null,
    state,
    at,
    source: 'api' as const,
  };
}

/**
 * Starts the subscription's workflow. With `merchantEvents`, its events are delivered by child
 * workflows; the time-skipping test server then cannot skip time once the parent has completed
 * (temporalio/sdk-java#2392), so such tests wait for the result instead of sleeping past it.
 */
export async function startWith(
  timeSkipping: TimeSkipping,
  taskQueue: string,
  subscriptionId: string,
  override: DunningPolicyOverride = {},
  {
    merchantEvents = false,
    maxHistoryEvents,
    reconciler,
    reminders,
    testClock,
  }: {
    merchantEvents?: boolean;
    maxHistoryEvents?: number;
    reconciler?: 'schedule';
    reminders?: ReminderLeads;
    testClock?: string;
  } = {},
) {
  timeSkipping.track(timeSkipping.env.client.workflow.getHandle(subscriptionWorkflowId(subscriptionId)));
  return timeSkipping.env.client.workflow.start(WORKFLOW_TYPES.subscription, {
    workflowId: subscriptionWorkflowId(subscriptionId),
    taskQueue,
    args: [
      {
        subscriptionId,
        origin: 'adopted' as const,
        policy: mergePolicy(DEFAULT_DUNNING_POLICY, override),
        options: {
          reconcileGraceMs: 15 * MINUTE,
          merchantEvents,
          ...(maxHistoryEvents === undefined ? {} : { maxHistoryEvents }),
          ...(reconciler === undefined ? {} : { reconciler }),
          ...(reminders === undefined ? {} : { reminders }),
          ...(testClock === undefined ? {} : { testClock }),
        },
      },
    ],
  });
}

export async function advance(
  env: TestWorkflowEnvironment,
  clock: { now: number },
  ms: number,
): Promise<void> {
  await env.sleep(ms);
  clock.now = await env.currentTimeMs();
}

export function chargeTimes(qfpay: FakeQfpay): number[] {
  return qfpay.calls.filter((c) => c.name === 'chargeOrder').map((c) => c.at);
}

/** The charges happened at these times (to within the few ms a workflow task takes). */
export function assertChargedAt(qfpay: FakeQfpay, expected: number[]): void {
  const actual = chargeTimes(qfpay);
  assert.equal(
    actual.length,
    expected.length,
    `charges at ${actual.map((t) => new Date(t).toISOString()).join(', ')}`,
  );
  actual.forEach((t, i) => {
    const want = expected[i]!;
    assert.ok(
      t >= want && t - want < 2_000,
      `charge ${i + 1} at ${new Date(t).toISOString()}, expected ${new Date(want).toISOString()}`,
    );
  });
}

/** A test worker with the QFPay double and the engine's other activities (a new double unless given). */
export async function scenarioWorker(
  env: TestWorkflowEnvironment,
  qfpay: FakeQfpay,
  engine = new EngineDouble(),
) {
  const { worker, taskQueue } = await createTestWorker(env, {
    activities: { ...qfpay.activities(), ...engine.activities() },
  });
  return { worker, taskQueue, engine };
}

/** What a scenario's body works with. */
export type Scenario = Awaited<ReturnType<typeof failingSubscription>> & {
  handle: WorkflowHandle;
  taskQueue: string;
};

/**
 * The common start of a dunning scenario: a subscription whose cycle 2 will fail, its QFPay
 * double set up by `prepare`, its workflow started with `policy` on a worker of its own, and a
 * minute on the clock. `body` runs while the worker does.
 */
export async function inScenario(
  timeSkipping: TimeSkipping,
  options: { prepare?: (qfpay: FakeQfpay) => void; policy?: DunningPolicyOverride; reconciler?: 'schedule' },
  body: (scenario: Scenario) => Promise<void>,
): Promise<void> {
  const subscription = await failingSubscription(timeSkipping.env);
  options.prepare?.(subscription.qfpay);
  const { worker, taskQueue } = await scenarioWorker(timeSkipping.env, subscription.qfpay);
  await worker.runUntil(async () => {
    const handle = await startWith(
      timeSkipping,
      taskQueue,
      subscription.subscriptionId,
      options.policy,
      options.reconciler === undefined ? {} : { reconciler: options.reconciler },
    );
    await advance(timeSkipping.env, subscription.clock, MINUTE);
    await body({ ...subscription, handle, taskQueue });
  });
}
