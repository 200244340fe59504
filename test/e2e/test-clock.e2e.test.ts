/**
 * Test clocks through the whole engine. Through the merchant API: a clock, a customer, a product
 * and a subscription on it, a year in one advance, and the clock removed. Through Temporal: the
 * engine's own
 * creation makes a customer, a product and a subscription on a clock (the emulator's world of that
 * clock), the subscription's workflow lives on the clock and joins it, and one advance of the
 * clock's workflow steps through months of billing in time order, with the engine's dunning
 * attempts at their clock times, before the next billing, over real HTTP and signed notifications.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  SEARCH_ATTRIBUTES,
  WORKFLOW_TYPES,
  advanceTestClockUpdate,
  snapshotQuery,
  testClockQuery,
  testClockWorkflowId,
  type CreateSubscriptionResult,
} from '../../src/workflows/definitions';
import { DEFAULT_DUNNING_POLICY } from '../../src/domain/episode/dunning';
import { HOUR, DAY } from '../../src/domain/duration';
import { EmulatorTestClient } from '../helpers/emulator-client';
import { until } from '../helpers/gate';
import {
  APP_CODE,
  APP_KEY,
  clockThroughApi,
  eventually,
  startStack,
  subscribeThroughApi,
  type Stack,
} from '../helpers/stack';
import { recordHistory } from '../helpers/temporal';

const START = Date.parse('2027-01-10T02:00:00Z');
const CLOCK = 'clock_e2e';

let stack: Stack;
before(async () => {
  stack = await startStack();
  stack.qfpayEmulator.testClocks.create(CLOCK, START);
});
after(async () => {
  await stack?.close();
});

interface ChargeRow {
  at: string;
  sequence_no: number;
  trigger: string;
  approved: boolean;
}

describe('a test clock through the engine', () => {
  it('bills months in one advance, and a declined cycle’s dunning attempts come at their clock times', async () => {
    const client = stack.env.client;
    const taskQueue = stack.config.TEMPORAL_TASK_QUEUE;
    const world = new EmulatorTestClient(stack.qfpayEmulator.url, APP_CODE, APP_KEY).onClock(CLOCK);
    const clock = await client.workflow.start(WORKFLOW_TYPES.testClock, {
      workflowId: testClockWorkflowId(CLOCK),
      taskQueue,
      args: [{ id: CLOCK, name: 'e2e', frozenTime: START }],
    });

    // The engine's creation, on the clock: the customer first (the card is made for it).
    const { customerId } = await client.workflow.execute(WORKFLOW_TYPES.createCustomer, {
      workflowId: `create-customer-${CLOCK}`,
      taskQueue,
      args: [{ name: 'Ada', email: 'ada-clock@example.com', testClock: CLOCK }],
    });
    const tokenId = await world.createToken(customerId);
    const created: CreateSubscriptionResult = await client.workflow.execute(
      WORKFLOW_TYPES.createSubscription,
      {
        workflowId: `create-subscription-${CLOCK}`,
        taskQueue,
        args: [
          {
            customer: { customerId },
            product: {
              create: {
                name: 'Clocked',
                amount: 3000,
                currency: 'HKD',
                interval: 'monthly',
                intervalCount: 1,
              },
            },
            tokenId,
            policy: DEFAULT_DUNNING_POLICY,
            options: { testClock: CLOCK, reconcileGraceMs: 15 * 60_000 },
          },
        ],
      },
    );
    // The creation's history on a clock, for the replay test (with RECORD_HISTORIES=1).
    await recordHistory(client.workflow.getHandle(`create-subscription-${CLOCK}`), 'creation-on-test-clock');
    const subscription = client.workflow.getHandle(created.workflowId);
    assert.equal((await world.inspect(created.subscriptionId)).created_at, new Date(START).toISOString());
    await until('the subscription joined its clock', async () =>
      (await clock.query(testClockQuery)).members.includes(created.workflowId),
    );

    const advanceTo = async (to: number) => {
      await clock.executeUpdate(advanceTestClockUpdate, { args: [{ to }] });
      await until('the advance ended', async () => (await clock.query(testClockQuery)).status === 'ready');
      assert.equal((await clock.query(testClockQuery)).now, to);
    };

    // Three months, in one call: three cycles billed and mirrored, in the clock's time.
    await advanceTo(START + 95 * DAY);
    let view = await subscription.query(snapshotQuery);
    assert.equal(view.snapshot.completedCycles, 4);
    assert.equal(view.snapshot.state, 'ACTIVE');
    assert.deepEqual(view.testClock, { id: CLOCK, now: START + 95 * DAY });

    // The card declines from now on: the next cycle fails, and the engine's attempts follow it.
    await world.setCharges(tokenId, 'decline');
    const nextBilling = view.snapshot.nextBillingTime!;
    await advanceTo(nextBilling + 10 * DAY);
    const charges = (
      await world.control<{ data: ChargeRow[] }>('GET', `/charges?subscription_id=${created.subscriptionId}`)
    ).body.data;
    const manual = charges.filter((c) => c.trigger === 'manual').map((c) => Date.parse(c.at));
    // The default policy: an hour, a day and three days after the failure, each in clock time.
    assert.deepEqual(manual, [nextBilling + HOUR, nextBilling + DAY, nextBilling + 3 * DAY]);
    view = await subscription.query(snapshotQuery);
    assert.equal(view.dunning.episode?.attempts.length ?? view.dunning.history.at(-1)?.attempts.length, 3);
    assert.ok(
      manual.every((t) => t < view.snapshot.nextBillingTime!),
      'every attempt before the next billing',
    );
    await clock.terminate('test done');
    await subscription.terminate('test done');
  });
});

describe('test clocks through the merchant API', () => {
  it('a year of monthly billing in one advance; the clock’s time everywhere; refusals with a clear 4xx; removal', async () => {
    const id = await clockThroughApi(stack, START, 'a year');
    const { world, subscriptionId, workflowId } = await subscribeThroughApi(stack, 'Grace', id);
    await until('the subscription joined its clock', async () => {
      const clock = await stack.api('GET', `/v1/test_clocks/${id}`);
      return clock.body.subscriptions === 1;
    });

    const target = Date.parse('2028-01-10T02:00:00Z');
    const advancing = await stack.api('POST', `/v1/test_clocks/${id}/advance`, {
      frozen_time: new Date(target).toISOString(),
    });
    assert.equal(advancing.status, 200, JSON.stringify(advancing.body));
    assert.equal(advancing.body.status, 'advancing');
    assert.equal(advancing.body.advancing_to, new Date(target).toISOString());
    await until('the clock is ready at its new time', async () => {
      const clock = await stack.api('GET', `/v1/test_clocks/${id}`);
      return clock.body.status === 'ready';
    });
    const ready = await stack.api('GET', `/v1/test_clocks/${id}`);
    assert.equal(ready.body.frozen_time, new Date(target).toISOString());

    const view = await stack.api('GET', `/v1/subscriptions/${encodeURIComponent(subscriptionId)}`);
    assert.equal(view.status, 200);
    assert.equal(view.body.state, 'ACTIVE');
    assert.equal(view.body.completed_cycles, 13, 'the first payment and twelve monthly ones');
    assert.deepEqual(view.body.test_clock, {
      test_clock_id: id,
      frozen_time: new Date(target).toISOString(),
    });
    assert.equal((await world.inspect(subscriptionId)).completed_billing_iteration, 13);

    // Refusals: back in time, an unknown clock.
    const back = await stack.api('POST', `/v1/test_clocks/${id}/advance`, {
      frozen_time: new Date(START).toISOString(),
    });
    assert.equal(back.status, 400, JSON.stringify(back.body));
    assert.match(JSON.stringify(back.body), /frozen_time/);
    const unknown = 'clock_000000000000000000000000';
    assert.equal((await stack.api('GET', `/v1/test_clocks/${unknown}`)).status, 404);
    const onUnknown = await stack.api('POST', '/v1/customers', { name: 'Nobody', test_clock: unknown });
    assert.equal(onUnknown.status, 400, JSON.stringify(onUnknown.body));
    assert.match(JSON.stringify(onUnknown.body), /test_clock/);

    // Removal ends what lives on it.
    const removed = await stack.api('DELETE', `/v1/test_clocks/${id}`);
    assert.deepEqual([removed.status, removed.body], [200, { id, deleted: true }]);
    assert.equal((await stack.api('GET', `/v1/test_clocks/${id}`)).status, 404);
    const described = await stack.env.client.workflow.getHandle(workflowId).describe();
    assert.equal(described.status.name, 'TERMINATED');
  });

  it('lists a clock’s subscriptions by its TestClock search attribute: two clocks apart, none on no clock', async () => {
    const [a, b] = [
      await clockThroughApi(stack, START, 'list A'),
      await clockThroughApi(stack, START, 'list B'),
    ];
    const onA = await subscribeThroughApi(stack, 'Ann', a);
    const onB = await subscribeThroughApi(stack, 'Bob', b);
    const onNone = await subscribeThroughApi(stack, 'Cid');

    // The attribute itself, on each subscription's workflow and on each clock's own (a workflow that
    // a notification from the clock's world started first writes it in its next task).
    const testClockOf = async (workflowId: string) =>
      (await stack.env.client.workflow.getHandle(workflowId).describe()).typedSearchAttributes.get(
        SEARCH_ATTRIBUTES.testClock,
      );
    for (const [workflowId, clock] of [
      [onA.workflowId, a],
      [onB.workflowId, b],
      [testClockWorkflowId(a), a],
    ] as const)
      await eventually(`${workflowId}'s TestClock`, async () =>
        (await testClockOf(workflowId)) === clock ? true : undefined,
      );
    assert.equal(await testClockOf(onNone.workflowId), undefined);

    const listed = async (query: string): Promise<string[]> => {
      const page = await stack.api('GET', `/v1/subscriptions?${query}`);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      return page.body.data.map((s: { subscription_id: string }) => s.subscription_id);
    };
    // Visibility is eventually consistent: the one on no clock is listed first (by its customer),
    // so that its absence from the clocks' lists says something.
    await eventually('the subscription on no clock listed', async () =>
      (await listed(`customer_id=${onNone.customerId}`)).includes(onNone.subscriptionId) ? true : undefined,
    );
    for (const [clock, mine] of [
      [a, onA.subscriptionId],
      [b, onB.subscriptionId],
    ] as const) {
      const ids = await eventually(`the subscription on ${clock} listed by it`, async () => {
        const found = await listed(`test_clock=${clock}`);
        return found.includes(mine) ? found : undefined;
      });
      assert.deepEqual(ids, [mine]);
    }

    const bad = await stack.api('GET', '/v1/subscriptions?test_clock=not-a-clock');
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    assert.deepEqual(
      bad.body.error.details.map((d: { path: string }) => d.path),
      ['test_clock'],
    );
    for (const id of [a, b]) assert.equal((await stack.api('DELETE', `/v1/test_clocks/${id}`)).status, 200);
    await stack.env.client.workflow.getHandle(onNone.workflowId).terminate('test done');
  });
});
