/**
 * Reminders' pure rules: which kinds a state calls for and when, the window in which one is sent
 * (never at or after the billing it announces), once per cycle, skipped while billing is paused or
 * a cancel is scheduled, what the event says; and, over random runs of the loop's decisions, no
 * reminder after its billing and none twice.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  afterReminder,
  dueReminder,
  plannedReminders,
  reminderWakeTime,
  type ReminderKind,
  type ReminderLeads,
} from '../../src/domain/reminders/reminders';
import { decide, wakeTime } from '../../src/domain/decide';
import { initialState, type EngineState } from '../../src/domain/engine-state';
import type { LifecycleState } from '../../src/domain/lifecycle/lifecycle';
import { DAY, HOUR, SUB, T } from '../helpers/engine-states';

const BILLING = T + 30 * DAY;
const LEADS: ReminderLeads = {
  renewal_upcoming: 3 * DAY,
  trial_will_end: 3 * DAY,
  payment_method_expiring: 7 * DAY,
};

function subscription(
  state: LifecycleState = 'ACTIVE',
  leads: ReminderLeads | null = LEADS,
  over: Partial<EngineState> = {},
): EngineState {
  const s = initialState({
    subscriptionId: SUB,
    origin: 'created',
    options: { merchantEvents: true, ...(leads ? { reminders: leads } : {}) },
  });
  return {
    ...s,
    known: true,
    syncWanted: false,
    lastSyncAt: T,
    snapshot: {
      ...s.snapshot,
      state,
      customerId: 'cust_1',
      tokenId: 'tk_1',
      nextBillingTime: BILLING,
      lastSequenceNo: state === 'TRIAL' ? 0 : 1,
    },
    ...over,
  };
}

const kinds = (s: EngineState): ReminderKind[] => plannedReminders(s).map((r) => r.reminder);

describe('which reminders a subscription calls for', () => {
  it('by state: a renewal while billed, the trial end in a trial, an expiring card in both', () => {
    assert.deepEqual(kinds(subscription('ACTIVE')), ['renewal_upcoming', 'payment_method_expiring']);
    assert.deepEqual(kinds(subscription('PAST_DUE')), ['renewal_upcoming', 'payment_method_expiring']);
    assert.deepEqual(kinds(subscription('TRIAL')), ['trial_will_end', 'payment_method_expiring']);
    for (const state of ['UNPAID', 'PAUSED', 'INCOMPLETE', 'CANCELLED', 'COMPLETED'] as const)
      assert.deepEqual(kinds(subscription(state)), [], state);
  });

  it('each due its lead before the billing time, for the next cycle', () => {
    const planned = plannedReminders(subscription('ACTIVE'));
    assert.deepEqual(
      planned.map((r) => [r.reminder, r.cycle, r.at]),
      [
        ['renewal_upcoming', 2, BILLING - 3 * DAY],
        ['payment_method_expiring', 2, BILLING - 7 * DAY],
      ],
    );
    assert.equal(plannedReminders(subscription('TRIAL'))[0]?.cycle, 1, "a trial's end is cycle 1's billing");
  });

  it('none when off, without merchant events, paused, with a cancel scheduled, or no billing known', () => {
    assert.deepEqual(kinds(subscription('ACTIVE', null)), [], 'no option: runs from before');
    assert.deepEqual(kinds(subscription('ACTIVE', {})), []);
    assert.deepEqual(kinds(subscription('ACTIVE', { renewal_upcoming: DAY })), ['renewal_upcoming']);
    const noEvents = subscription();
    assert.deepEqual(kinds({ ...noEvents, options: { ...noEvents.options, merchantEvents: false } }), []);
    assert.deepEqual(
      kinds(subscription('ACTIVE', LEADS, { billingPause: { since: T, resumesAt: null, by: 'merchant' } })),
      [],
    );
    assert.deepEqual(
      kinds(
        subscription('ACTIVE', LEADS, { scheduledCancel: { scheduledAt: T, periodEnd: BILLING } as never }),
      ),
      [],
    );
    const noBilling = subscription();
    assert.deepEqual(kinds({ ...noBilling, snapshot: { ...noBilling.snapshot, nextBillingTime: null } }), []);
  });
});

describe('when a reminder is sent', () => {
  const s = subscription('ACTIVE', { renewal_upcoming: 3 * DAY });
  const at = BILLING - 3 * DAY;

  it('from its time until the billing, never at or after it; its timer is set before', () => {
    assert.equal(dueReminder(s, at - 1), undefined);
    assert.equal(reminderWakeTime(s, at - 1), at);
    assert.equal(wakeTime(s, at - HOUR), at, "the workflow's timer");
    assert.equal(dueReminder(s, at)?.reminder, 'renewal_upcoming');
    assert.equal(dueReminder(s, BILLING - 1)?.reminder, 'renewal_upcoming');
    assert.equal(dueReminder(s, BILLING), undefined, 'at the billing: skipped');
    assert.equal(reminderWakeTime(s, at), null);
    assert.deepEqual(decide(s, at, { continueAsNewSuggested: false }), {
      kind: 'remind',
      reminder: 'renewal_upcoming',
      cycle: 2,
      billingTime: BILLING,
    });
  });

  it('a lead longer than the cycle: due at once, still before the billing', () => {
    const long = subscription('ACTIVE', { renewal_upcoming: 60 * DAY });
    assert.equal(dueReminder(long, T)?.reminder, 'renewal_upcoming');
    assert.equal(reminderWakeTime(long, T), null);
  });

  it('once per cycle: the next cycle has its own', () => {
    const done = afterReminder(
      s,
      { reminder: 'renewal_upcoming', cycle: 2, billingTime: BILLING },
      { ok: true, value: { amount: 1500, currency: 'HKD' } },
      at,
    );
    assert.equal(dueReminder(done, at + 1), undefined);
    assert.equal(done.reminded?.renewal_upcoming, 2);
    const next = {
      ...done,
      snapshot: { ...done.snapshot, lastSequenceNo: 2, nextBillingTime: BILLING + 30 * DAY },
    };
    assert.equal(dueReminder(next, BILLING + 27 * DAY)?.cycle, 3);
  });
});

describe('across continue-as-new', () => {
  it('the next run has what was sent and the leads: a reminder sent is not sent again', () => {
    const s = subscription('ACTIVE', { renewal_upcoming: 3 * DAY });
    const at = BILLING - 3 * DAY;
    const sent = afterReminder(
      s,
      { reminder: 'renewal_upcoming', cycle: 2, billingTime: BILLING },
      { ok: true, value: { amount: 1, currency: 'HKD' } },
      at,
    );
    const next = initialState({ subscriptionId: SUB, origin: 'created', carried: sent });
    assert.deepEqual(next.options.reminders, { renewal_upcoming: 3 * DAY });
    assert.deepEqual(next.reminded, { renewal_upcoming: 2 });
    assert.equal(dueReminder(next, at + 1), undefined);
    // A run carried before it was sent still sends it.
    const before = initialState({ subscriptionId: SUB, origin: 'created', carried: s });
    assert.equal(dueReminder(before, at + 1)?.reminder, 'renewal_upcoming');
  });
});

describe('what a reminder says', () => {
  const r = (reminder: ReminderKind) => ({ reminder, cycle: 2, billingTime: BILLING });
  const events = (s: EngineState) => s.outbox.map((e) => [e.type, e.id, e.data]);

  it('a renewal: the billing, its order and amount; without the amount when the gateway did not say', () => {
    const s = subscription();
    assert.deepEqual(
      events(
        afterReminder(s, r('renewal_upcoming'), { ok: true, value: { amount: 1500, currency: 'HKD' } }, T),
      ),
      [
        [
          'subscription.renewal_upcoming',
          `evt.${SUB}.renewal_upcoming.2`,
          { billing_time: new Date(BILLING).toISOString(), sequence_no: 2, amount: 1500, currency: 'HKD' },
        ],
      ],
    );
    const failed = afterReminder(
      s,
      r('renewal_upcoming'),
      { ok: false, failure: { message: 'x', refused: false } },
      T,
    );
    assert.deepEqual(failed.outbox[0]?.data, {
      billing_time: new Date(BILLING).toISOString(),
      sequence_no: 2,
      amount: null,
      currency: null,
    });
  });

  it("a trial's end: when it ends and what the first billing charges", () => {
    const s = subscription('TRIAL');
    const done = afterReminder(
      s,
      { reminder: 'trial_will_end', cycle: 1, billingTime: BILLING },
      { ok: true, value: { amount: 990, currency: 'HKD' } },
      T,
    );
    assert.deepEqual(events(done), [
      [
        'subscription.trial_will_end',
        `evt.${SUB}.trial_will_end.1`,
        { trial_end: new Date(BILLING).toISOString(), amount: 990, currency: 'HKD' },
      ],
    ]);
  });

  it('an expiring card only when the token expires before the billing', () => {
    const s = subscription();
    const expiring = (tokenExpiresAt: number | null) =>
      afterReminder(s, r('payment_method_expiring'), { ok: true, value: { tokenExpiresAt } }, T);
    assert.deepEqual(events(expiring(BILLING - DAY)), [
      [
        'payment_method.expiring',
        `evt.${SUB}.payment_method_expiring.2`,
        {
          token_id: 'tk_1',
          expires_at: new Date(BILLING - DAY).toISOString(),
          billing_time: new Date(BILLING).toISOString(),
          sequence_no: 2,
        },
      ],
    ]);
    assert.deepEqual(events(expiring(BILLING)), [], 'valid at the billing');
    assert.deepEqual(events(expiring(null)), [], 'no expiry known');
    const unread = afterReminder(
      s,
      r('payment_method_expiring'),
      { ok: false, failure: { message: 'x', refused: false } },
      T,
    );
    assert.deepEqual(events(unread), []);
    // Considered either way: not asked again this cycle.
    for (const done of [expiring(BILLING), expiring(null), unread])
      assert.equal(done.reminded?.payment_method_expiring, 2);
  });

  it('nothing when the billing came while the activity ran; the cycle still counts as reminded', () => {
    const late = afterReminder(
      subscription(),
      r('renewal_upcoming'),
      { ok: true, value: { amount: 1 } },
      BILLING,
    );
    assert.deepEqual(late.outbox, []);
    assert.equal(late.reminded?.renewal_upcoming, 2);
  });

  it('nothing when the subscription ended while the activity ran', () => {
    const ended = afterReminder(
      subscription('CANCELLED'),
      r('renewal_upcoming'),
      { ok: true, value: { amount: 1, currency: 'HKD' } },
      T,
    );
    assert.deepEqual(ended.outbox, []);
    assert.equal(ended.reminded?.renewal_upcoming, 2);
  });
});

describe('reminders over random runs of the loop (property)', () => {
  it('every reminder is asked for once per kind and cycle, and its event is recorded before its billing', () => {
    const lead = fc.integer({ min: 1_000, max: 40 * DAY });
    const step = fc.record({
      ms: fc.integer({ min: 1, max: 5 * DAY }),
      // The billing's payment reaches the engine (or not yet: its billing time stays, passed).
      paid: fc.boolean(),
      activityMs: fc.integer({ min: 0, max: 2 * DAY }),
    });
    fc.assert(
      fc.property(
        fc.record({ renewal: lead, expiring: lead }),
        fc.array(step, { minLength: 1, maxLength: 40 }),
        (leads, steps) => {
          let s = subscription('ACTIVE', {
            renewal_upcoming: leads.renewal,
            payment_method_expiring: leads.expiring,
          });
          let now = T;
          const billings = new Map<number, number>([[2, BILLING]]);
          const asked = new Map<string, number>();
          for (const { ms, paid, activityMs } of steps) {
            now += ms;
            const billing = s.snapshot.nextBillingTime!;
            if (now >= billing && paid) {
              const cycle = s.snapshot.lastSequenceNo + 1;
              billings.set(cycle + 1, billing + 30 * DAY);
              s = {
                ...s,
                snapshot: { ...s.snapshot, lastSequenceNo: cycle, nextBillingTime: billing + 30 * DAY },
              };
            }
            // The loop decides until it waits (each reminder is one action).
            for (let i = 0; i < 4; i += 1) {
              const action = decide(s, now, { continueAsNewSuggested: false });
              if (action.kind !== 'remind') break;
              const key = `${action.reminder}.${action.cycle}`;
              asked.set(key, (asked.get(key) ?? 0) + 1);
              assert.ok(now < action.billingTime, `${key} decided at or after its billing`);
              // The activity takes a while: the billing may come meanwhile.
              s = afterReminder(
                s,
                action,
                { ok: true, value: { amount: 1, currency: 'HKD', tokenExpiresAt: T } },
                now + activityMs,
              );
            }
          }
          for (const [key, n] of asked) assert.equal(n, 1, `${key} asked ${n} times`);
          const ids = s.outbox.map((e) => e.id);
          assert.equal(new Set(ids).size, ids.length, 'no event twice');
          for (const e of s.outbox) {
            const cycle = Number(e.id.split('.').at(-1));
            assert.ok(
              Date.parse(String((e as { created_at: string }).created_at)) < billings.get(cycle)!,
              e.id,
            );
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
