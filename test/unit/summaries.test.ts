/**
 * The Web UI's words for a subscription's history: each timer and activity says what it is for in
 * the domain's terms, and the workflow's static summary names the subscription, product, amount
 * and cycles without any personal data.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide, settle } from '../../src/domain/decide';
import { activitySummary, subscriptionStartMetadata, timerSummary } from '../../src/workflows/summaries';
import { QFPAY_CAPABILITIES } from '../../src/domain/gateway-profile';
import { DAY, HOUR, MINUTE, SUB, T, pastDue } from '../helpers/engine-states';

const context = { continueAsNewSuggested: false };

describe('summaries of timers and activities', () => {
  it('names the dunning attempt, its order and its deadline on the timer and on the charge', () => {
    // Events flushed: the next action is the wait for the first attempt.
    const s = { ...settle(pastDue(), T + MINUTE), outbox: [] };
    const wait = decide(s, T + MINUTE, context);
    assert.equal(wait.kind, 'wait');
    const until = (wait as { until: number }).until;
    const deadline = s.episode!.deadline;
    const when = `${new Date(deadline).toISOString().slice(0, 16).replace('T', ' ')}Z`;
    assert.equal(
      timerSummary(s, until),
      `dunning attempt 1 of ${s.episode!.schedule.length}, order #2, deadline ${when}`,
    );
    const due = settle(s, until);
    const charge = decide(due, until, context);
    assert.equal(charge.kind, 'charge');
    assert.equal(
      activitySummary(due, charge),
      `dunning attempt 1 of ${due.episode!.attempts.length + due.episode!.schedule.length}, order #2, deadline ${when}`,
    );
  });

  it('says when a billing time passed with no payment result (reconcile)', () => {
    const s = { ...pastDue(), episode: null };
    const billing = T + 30 * DAY;
    const timer = timerSummary(s, billing + 15 * MINUTE);
    assert.equal(
      timer,
      'reconcile: ask QFPay if billing time 2027-02-14 03:00Z has brought no payment result',
    );
    const reconciling = settle(s, billing + 15 * MINUTE);
    const sync = decide(reconciling, billing + 15 * MINUTE, context);
    assert.equal(
      activitySummary(reconciling, sync),
      'reconcile: billing time 2027-02-14 03:00Z passed with no payment result',
    );
  });

  it("names the subscription's gateway, not QFPay, on a gateway behind the port", () => {
    const profile = { name: 'madfintech', label: 'MadFintech', capabilities: QFPAY_CAPABILITIES };
    const s = { ...pastDue(), episode: null, gateway: profile };
    const billing = T + 30 * DAY;
    assert.equal(
      timerSummary(s, billing + 15 * MINUTE),
      'reconcile: ask MadFintech if billing time 2027-02-14 03:00Z has brought no payment result',
    );
    assert.equal(
      activitySummary(s, { kind: 'cancel', cause: 'merchant' } as Parameters<typeof activitySummary>[1]),
      'cancel at MadFintech: the merchant asked',
    );
    // A profile from before labels existed says the gateway's name.
    const { label: _label, ...unlabelled } = profile;
    assert.equal(
      activitySummary({ ...s, gateway: unlabelled }, { kind: 'cancel', cause: 'merchant' } as Parameters<
        typeof activitySummary
      >[1]),
      'cancel at madfintech: the merchant asked',
    );
  });

  it('falls back to the wake time for a timer it cannot explain', () => {
    assert.equal(timerSummary(pastDue(), T + 7 * HOUR + 1), 'wake at 2027-01-15 10:00Z');
  });
});

describe('the static summary of a subscription workflow', () => {
  it('names the subscription, product, amount and cycles, and no customer', () => {
    const { staticSummary, staticDetails } = subscriptionStartMetadata({
      subscriptionId: SUB,
      origin: 'created',
      productIds: ['pd_gold'],
      totalBillingCycles: 6,
      price: { amount: 9900, currency: 'HKD', interval: 'monthly', intervalCount: 1 },
    });
    assert.equal(
      staticSummary,
      `subscription ${SUB} · pd_gold · 9900 HKD (minor units) every 1 monthly · 6 cycles`,
    );
    assert.match(staticDetails, /\*\*Origin\*\*: created through the engine’s API/);
    for (const text of [staticSummary, staticDetails]) assert.doesNotMatch(text, /cust|@|tok/);
  });

  it('says what it knows of an adopted subscription, and whose notification it was', () => {
    assert.deepEqual(
      subscriptionStartMetadata({ subscriptionId: SUB, origin: 'adopted', gateway: 'QFPay' }),
      {
        staticSummary: `subscription ${SUB}`,
        staticDetails: `**Subscription**: \`${SUB}\`\n\n**Origin**: adopted: first seen in a QFPay notification`,
      },
    );
    const madfintech = subscriptionStartMetadata({
      subscriptionId: 'madfintech:o-1',
      origin: 'adopted',
      gateway: 'MadFintech',
    });
    assert.match(madfintech.staticDetails, /first seen in a MadFintech notification/);
    assert.doesNotMatch(madfintech.staticDetails, /QFPay/);
  });
});
