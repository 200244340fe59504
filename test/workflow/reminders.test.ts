/**
 * Reminders on the subscription's durable timers (time-skipping server): each sent once for its
 * cycle, at its lead before the billing (continue-as-new carries what was sent: engine-core's unit
 * test, as the test server stops skipping time for a parent's deliveries after it continues,
 * sdk-java#1540); an expiring card only when the
 * token expires before the billing; none after a cancel is scheduled; and a run with no reminder
 * option (every run from before) sends none.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { scheduleCancelUpdate, setMetadataUpdate, snapshotQuery } from '../../src/workflows/definitions';
import {
  DAY,
  HOUR,
  MINUTE,
  EngineDouble,
  advance,
  failingSubscription,
  scenarioWorker,
  startWith,
} from '../helpers/dunning-scenario';
import { Gate, until } from '../helpers/gate';
import { recordHistory, useTimeSkipping, workflowTaskFailures, terminateIdle } from '../helpers/temporal';
import type { ReminderLeads } from '../../src/domain/reminders/reminders';

const timeSkipping = useTimeSkipping();
const LEADS: ReminderLeads = { renewal_upcoming: 3 * DAY, payment_method_expiring: 5 * DAY };

/** A subscription PAST_DUE on cycle 2, its next billing (cycle 3) ten days on, with `leads`. */
async function withReminders(leads: ReminderLeads | undefined, body: (s: Setup) => Promise<void>) {
  const subscription = await failingSubscription(timeSkipping.env, 10 * DAY);
  const engine = new EngineDouble();
  const { worker, taskQueue } = await scenarioWorker(timeSkipping.env, subscription.qfpay, engine);
  await worker.runUntil(async () => {
    const handle = await startWith(
      timeSkipping,
      taskQueue,
      subscription.subscriptionId,
      // No manual charge fits before the billing: the reminders' timers alone.
      { attemptOffsets: ['20d'], finalAction: 'leave_to_gateway' },
      { merchantEvents: true, ...(leads ? { reminders: leads } : {}) },
    );
    await advance(timeSkipping.env, subscription.clock, MINUTE);
    await subscription.failCycle2(handle);
    let billing = 0;
    await until('the next billing known', async () => {
      const view = await handle.query(snapshotQuery);
      billing = view.snapshot.nextBillingTime ?? 0;
      // Cycle 3's billing, ten days on (the failed payment comes before QFPay's new billing time).
      return view.snapshot.lastSequenceNo === 2 && billing > subscription.clock.now + DAY;
    });
    await body({ ...subscription, engine, handle, billing });
    assert.equal(await workflowTaskFailures(handle), 0);
    await terminateIdle(handle);
  });
}
type Setup = Awaited<ReturnType<typeof failingSubscription>> & {
  engine: EngineDouble;
  handle: WorkflowHandle;
  billing: number;
};

const ofType = (engine: EngineDouble, type: string) => engine.delivered.filter((e) => e.type === type);

/** The first event of `type` delivered, once it is. */
async function deliveredOne(engine: EngineDouble, type: string) {
  await until(`${type} delivered`, () => ofType(engine, type).length > 0);
  return ofType(engine, type)[0]!;
}

describe('reminders (time-skipping server)', () => {
  it('renewal and expiring card: once each for the cycle, at their lead before the billing', async () => {
    await withReminders(LEADS, async ({ engine, handle, billing, clock }) => {
      // The token expires a day before the billing: the charge would fail.
      engine.tokenExpiries.set('tk_1', billing - DAY);
      await advance(timeSkipping.env, clock, billing - 5 * DAY - clock.now - HOUR);
      assert.deepEqual(ofType(engine, 'payment_method.expiring'), [], 'not before its time');
      await advance(timeSkipping.env, clock, 2 * HOUR);
      const expiring = await deliveredOne(engine, 'payment_method.expiring');
      assert.deepEqual(expiring.data, {
        token_id: 'tk_1',
        expires_at: new Date(billing - DAY).toISOString(),
        billing_time: new Date(billing).toISOString(),
        sequence_no: 3,
      });
      assert.ok(Date.parse(expiring.created_at) >= billing - 5 * DAY);
      assert.deepEqual(ofType(engine, 'subscription.renewal_upcoming'), [], 'the renewal comes later');

      await advance(timeSkipping.env, clock, billing - 3 * DAY - clock.now + HOUR);
      const renewal = await deliveredOne(engine, 'subscription.renewal_upcoming');
      assert.deepEqual(renewal.data, {
        billing_time: new Date(billing).toISOString(),
        sequence_no: 3,
        amount: 2500,
        currency: 'HKD',
      });
      const at = Date.parse(renewal.created_at);
      assert.ok(at >= billing - 3 * DAY && at < billing, renewal.created_at);

      // The rest of the cycle: neither is sent again.
      await advance(timeSkipping.env, clock, billing - clock.now - MINUTE);
      const view = await handle.query(snapshotQuery);
      assert.equal(view.snapshot.lastSequenceNo, 2, 'still cycle 3 ahead');
      assert.equal(ofType(engine, 'subscription.renewal_upcoming').length, 1);
      assert.equal(ofType(engine, 'payment_method.expiring').length, 1);
      await recordHistory(handle, 'subscription-reminders');
    });
  });

  it('a card valid at the billing: no expiring event, and the renewal still comes', async () => {
    await withReminders(LEADS, async ({ engine, billing, clock }) => {
      engine.tokenExpiries.set('tk_1', billing + DAY);
      await advance(timeSkipping.env, clock, billing - 3 * DAY - clock.now + HOUR);
      await deliveredOne(engine, 'subscription.renewal_upcoming');
      assert.deepEqual(ofType(engine, 'payment_method.expiring'), []);
    });
  });

  it('a cancel scheduled for the period end: no reminder of a billing that will not come', async () => {
    await withReminders(LEADS, async ({ engine, handle, billing, clock }) => {
      engine.tokenExpiries.set('tk_1', billing - DAY);
      await handle.executeUpdate(scheduleCancelUpdate, { args: [{}] });
      await advance(timeSkipping.env, clock, billing - 3 * DAY - clock.now + HOUR);
      const view = await handle.query(snapshotQuery);
      assert.ok(view.scheduledCancel, 'still scheduled');
      assert.equal(ofType(engine, 'subscription.renewal_upcoming').length, 0);
      assert.equal(ofType(engine, 'payment_method.expiring').length, 0);
    });
  });

  it('a cancel scheduled while the reminder asks the gateway waits for it: the reminder, then the schedule', async () => {
    await withReminders({ renewal_upcoming: 3 * DAY }, async ({ engine, handle, billing, clock }) => {
      const gate = new Gate();
      engine.holdUpcoming = gate.promise;
      // Exactly to its time: a held activity stops the test server's clock from going further.
      await advance(timeSkipping.env, clock, billing - 3 * DAY - clock.now);
      await until('the reminder asks the gateway', () => engine.upcomingAsked === 1);
      const scheduling = handle.executeUpdate(scheduleCancelUpdate, { args: [{}] });
      gate.open();
      await scheduling;
      await until(
        'the reminder answered',
        async () => (await handle.query(snapshotQuery)).eventsWaiting === 0,
      );
      assert.ok((await handle.query(snapshotQuery)).scheduledCancel, 'the cancel is scheduled');
      // The loop takes the merchant's intent after its action: the reminder was decided and sent
      // while no cancel was scheduled, once, and the schedule's event follows it.
      await deliveredOne(engine, 'subscription.cancel_scheduled');
      const order = engine.delivered.map((e) => e.type);
      assert.equal(ofType(engine, 'subscription.renewal_upcoming').length, 1);
      assert.ok(
        order.indexOf('subscription.renewal_upcoming') < order.indexOf('subscription.cancel_scheduled') ||
          Date.parse(ofType(engine, 'subscription.renewal_upcoming')[0]!.created_at) <=
            Date.parse(ofType(engine, 'subscription.cancel_scheduled')[0]!.created_at),
        order.join(', '),
      );
    });
  });

  it('metadata changed while the reminder asks the gateway: the reminder carries the new metadata', async () => {
    await withReminders({ renewal_upcoming: 3 * DAY }, async ({ engine, handle, billing, clock }) => {
      const gate = new Gate();
      engine.holdUpcoming = gate.promise;
      // Exactly to its time: a held activity stops the test server's clock from going further.
      await advance(timeSkipping.env, clock, billing - 3 * DAY - clock.now);
      await until('the reminder asks the gateway', () => engine.upcomingAsked === 1);
      await handle.executeUpdate(setMetadataUpdate, { args: [{ ref: { value: 'R-9', digest: 'd' } }] });
      gate.open();
      const renewal = await deliveredOne(engine, 'subscription.renewal_upcoming');
      assert.deepEqual(renewal.metadata, { ref: 'R-9' });
      assert.equal(engine.upcomingAsked, 1, 'asked once');
    });
  });

  it('no reminder option (a run from before, or none configured): none sent', async () => {
    await withReminders(undefined, async ({ engine, billing, clock }) => {
      engine.tokenExpiries.set('tk_1', billing - DAY);
      await advance(timeSkipping.env, clock, billing - clock.now - HOUR);
      const kinds = new Set(engine.delivered.map((e) => e.type));
      assert.ok(!kinds.has('subscription.renewal_upcoming') && !kinds.has('payment_method.expiring'));
      assert.ok(kinds.has('subscription.payment_failed'), 'events are on: the others came');
    });
  });
});
