/** The pure translations: every QorePay status, ids, references, periods. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isSubscriptionState } from '../../domain/lifecycle/lifecycle-table';
import {
  cycleOfReference,
  purchaseCycles,
  cycleOutcome,
  joinSubscriptionId,
  paymentFact,
  periodOf,
  purchaseReference,
  remoteOrder,
  splitSubscriptionId,
  subscriptionState,
  type CycleOutcome,
} from './mapping';
import { PURCHASE_STATUSES, SUBSCRIBER_STATUSES, type Purchase, type PurchaseStatus } from './wire';

const EXPECTED_OUTCOME: Record<PurchaseStatus, CycleOutcome> = {
  created: 'pending',
  sent: 'pending',
  viewed: 'pending',
  pending_execute: 'pending',
  pending_charge: 'pending',
  hold: 'pending',
  preauthorized: 'pending',
  paid: 'paid',
  cleared: 'paid',
  settled: 'paid',
  pending_refund: 'paid',
  refunded: 'paid',
  chargeback: 'paid',
  error: 'failed',
  overdue: 'overdue',
  expired: 'overdue',
  cancelled: 'overdue',
  blocked: 'overdue',
};

function purchase(over: Partial<Purchase> = {}): Purchase {
  return {
    id: 'p-1',
    billing_template_id: 't-1',
    client_id: 'c-1',
    reference: 'ref#3',
    status: 'paid',
    created_on: 1_700_000_000,
    updated_on: 1_700_000_100,
    due: 1_700_604_800,
    purchase: { currency: 'MYR', total: 1500 },
    payment: { amount: 1500, currency: 'MYR', paid_on: 1_700_000_050 },
    transaction_data: { attempts: [] },
    ...over,
  };
}

describe('QorePay mapping', () => {
  it('classifies every purchase status (and an unknown one as pending)', () => {
    assert.deepEqual([...PURCHASE_STATUSES].sort(), Object.keys(EXPECTED_OUTCOME).sort());
    for (const status of PURCHASE_STATUSES)
      assert.equal(cycleOutcome(status), EXPECTED_OUTCOME[status], status);
    assert.equal(cycleOutcome('something_new'), 'pending');
    assert.equal(cycleOutcome('toString'), 'pending');
  });

  it('maps every subscriber status with each kind of newest purchase', () => {
    const table: Array<[(typeof SUBSCRIBER_STATUSES)[number], string[], string]> = [
      ['subscription_cancelled', ['paid'], 'CANCELLED'],
      ['subscription_cancelled', ['error'], 'CANCELLED'],
      ['subscription_paused', ['paid'], 'PAUSED'],
      ['subscription_paused', ['paid', 'overdue'], 'PAUSED'],
      ['active', [], 'INCOMPLETE'],
      ['active', ['sent'], 'INCOMPLETE'],
      ['active', ['error'], 'INCOMPLETE'],
      ['active', ['paid'], 'ACTIVE'],
      ['active', ['paid', 'paid'], 'ACTIVE'],
      ['active', ['paid', 'created'], 'ACTIVE'],
      ['active', ['paid', 'error'], 'PAST_DUE'],
      ['active', ['paid', 'error', 'pending_charge'], 'PAST_DUE'],
      ['active', ['paid', 'overdue'], 'UNPAID'],
      ['active', ['error', 'overdue'], 'UNPAID'],
      ['active', ['paid', 'overdue', 'paid'], 'ACTIVE'],
      ['active', ['paid', 'refunded'], 'ACTIVE'],
    ];
    for (const [status, statuses, expected] of table) {
      const purchases = statuses.map((s, i) => ({ status: s, cycle: i + 1 }));
      assert.equal(subscriptionState(status, purchases), expected, `${status} ${statuses.join(',')}`);
      // The order in which purchases are listed does not matter: cycles do.
      assert.equal(subscriptionState(status, [...purchases].reverse()), expected);
    }
    assert.deepEqual(
      new Set(table.map(([s]) => s)),
      new Set(SUBSCRIBER_STATUSES),
      'every subscriber status is in the table',
    );
  });

  it('always yields a valid engine state (property)', () => {
    const status = fc.constantFrom(...PURCHASE_STATUSES, 'unheard_of');
    fc.assert(
      fc.property(
        fc.constantFrom(...SUBSCRIBER_STATUSES),
        fc.array(fc.record({ status, cycle: fc.integer({ min: 1, max: 500 }) }), { maxLength: 12 }),
        (subscriber, purchases) => {
          const state = subscriptionState(subscriber, purchases);
          assert.ok(isSubscriptionState(state));
          // QorePay never ends a subscription on its own: only a cancel is terminal.
          assert.equal(state === 'CANCELLED', subscriber === 'subscription_cancelled');
        },
      ),
    );
  });

  it('round-trips ids and purchase references (property)', () => {
    const part = fc.string({ minLength: 1 }).filter((s) => !s.includes('~'));
    fc.assert(
      fc.property(part, part, (t, c) => {
        assert.deepEqual(splitSubscriptionId(joinSubscriptionId(t, c)), { templateId: t, clientId: c });
      }),
    );
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1, max: 999_999_999 }), (title, cycle) => {
        assert.equal(cycleOfReference(purchaseReference(title, cycle)), cycle);
      }),
    );
    for (const bad of ['', 'a', '~b', 'a~', 'a~b~c']) assert.equal(splitSubscriptionId(bad), null, bad);
    for (const bad of ['ref', 'ref#', 'ref#0', 'ref#01', 'ref#-1', 'ref#1x'])
      assert.equal(cycleOfReference(bad), null);
  });

  it('turns intervals into billing periods', () => {
    assert.deepEqual(periodOf({ unit: 'day', count: 3 }), { period: 3, units: 'days' });
    assert.deepEqual(periodOf({ unit: 'week', count: 2 }), { period: 2, units: 'weeks' });
    assert.deepEqual(periodOf({ unit: 'month', count: 1 }), { period: 1, units: 'months' });
    assert.deepEqual(periodOf({ unit: 'year', count: 2 }), { period: 24, units: 'months' });
  });

  it('builds orders and payment facts from purchases', () => {
    assert.deepEqual(remoteOrder(purchase(), 3), {
      orderId: 'p-1',
      sequenceNo: 3,
      triggerBy: 'auto',
      status: 'PAID',
      respcd: '0000',
      at: 1_700_000_050_000,
      amount: 1500,
      currency: 'MYR',
    });
    const declined = purchase({
      status: 'error',
      payment: null,
      transaction_data: {
        attempts: [
          {
            successful: false,
            processing_time: 1_700_000_010,
            error: { code: 'insufficient_funds', message: 'No' },
          },
          { successful: false, processing_time: 1_700_000_020, error: null },
        ],
      },
    });
    assert.deepEqual(
      [remoteOrder(declined, 3)?.status, remoteOrder(declined, 3)?.respcd, remoteOrder(declined, 3)?.at],
      ['FAILED', 'payment_failure', 1_700_000_020_000],
    );
    assert.equal(remoteOrder(purchase({ status: 'overdue', payment: null }), 3)?.respcd, 'overdue');
    assert.equal(remoteOrder(purchase({ status: 'sent' }), 3), null);

    // Cycles by the place among the subscriber's purchases, whatever their references say.
    const made = (id: string, created: number, reference: string) =>
      purchase({ id, created_on: created, reference });
    assert.deepEqual(
      [
        ...purchaseCycles([
          made('p-c', 1_700_000_300, 'INV-9'),
          made('p-a', 1_700_000_100, 'INV-7'),
          made('p-b2', 1_700_000_200, 'INV#2'),
          made('p-b1', 1_700_000_200, 'INV#1'),
        ]),
      ],
      [
        ['p-a', 1],
        ['p-b1', 2],
        ['p-b2', 3],
        ['p-c', 4],
      ],
    );

    const fact = paymentFact('t-1~c-1', declined, 3, false);
    assert.deepEqual(
      [fact.succeeded, fact.respcd, fact.at, fact.sequenceNo, fact.source],
      [false, 'payment_failure', 1_700_000_020_000, 3, 'notification'],
    );
    const first = paymentFact(
      't-1~c-1',
      purchase({ ...declined, transaction_data: { attempts: [declined.transaction_data!.attempts[0]!] } }),
      3,
      false,
    );
    assert.deepEqual([first.respcd, first.respmsg], ['insufficient_funds', 'No']);
    const ok = paymentFact('t-1~c-1', purchase(), 3, true);
    assert.deepEqual([ok.succeeded, ok.respcd, ok.at, ok.amount], [true, '0000', 1_700_000_050_000, 1500]);
  });
});
