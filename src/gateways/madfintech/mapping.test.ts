/** Every MadFintech status value mapped, and the pure helpers' laws (fast-check). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isSubscriptionState } from '../../domain/lifecycle/lifecycle-table';
import {
  currencyExponent,
  orderNumberFor,
  orderState,
  paymentCycles,
  paymentFact,
  paymentOutcome,
  paymentTime,
  recurringState,
  remoteOrders,
  subscriptionState,
  toDecimalAmount,
  toMinorUnits,
} from './mapping';
import {
  ORDER_STATUSES,
  PAYMENT_STATUSES,
  RECURRING_STATUSES,
  type Order,
  type Payment,
  type PaymentStatus,
  type Recurring,
} from './schemas';

const payment = (status: PaymentStatus, n: number, reason?: string): Payment => ({
  paymentId: String(n),
  cost: { amount: '56.99', currency: 'USD' },
  paymentStatus: reason === undefined ? { status } : { status, reason },
  transactionId: `tx${n}`,
  createdAt: new Date(Date.UTC(2025, 0, 1) + n * 1000).toISOString(),
});
const order = (over: Partial<Order> = {}): Order => ({
  shopId: 1234,
  orderNumber: 'ORD1',
  orderStatus: 'in_progress',
  cost: { amount: '56.99', currency: 'USD' },
  recurringPayments: null,
  orderCreatedAt: '2025-01-01T00:00:00+00:00',
  payments: [],
  ...over,
});
const recurring = (over: Partial<Recurring> = {}): Recurring => ({
  id: 'sub_1',
  shopId: '1234',
  orderNumber: 'ORD1',
  intervalType: 'month',
  billingIntervalQuantity: 1,
  status: 'active',
  createdAt: '2025-01-01T00:00:00+00:00',
  amount: '56.99',
  currency: 'USD',
  recurringPayments: [
    { chargeDate: '2025-01-01T00:00:00Z', endDate: '2025-02-01T00:00:00Z', status: 'successful' },
    { chargeDate: '2025-02-01T00:00:00Z', endDate: '2025-03-01T00:00:00Z', status: 'schedule', tries: [] },
  ],
  ...over,
});

describe('madfintech status mapping', () => {
  it('maps every recurring status', () => {
    const expected = {
      active: 'ACTIVE',
      canceled: 'CANCELLED',
      cancelled: 'CANCELLED',
      failed: 'UNPAID',
      finished: 'COMPLETED',
    } as const;
    assert.deepEqual(Object.keys(expected).sort(), [...RECURRING_STATUSES].sort());
    for (const status of RECURRING_STATUSES) assert.equal(recurringState(status), expected[status], status);
  });

  it('maps every order status (an order without a recurring subscription)', () => {
    const expected = {
      new: 'INCOMPLETE',
      in_progress: 'INCOMPLETE',
      declined: 'INCOMPLETE',
      paid: 'ACTIVE',
      expired: 'INCOMPLETE_EXPIRED',
      cancelled: 'CANCELLED',
      refunded: 'CANCELLED',
    } as const;
    assert.deepEqual(Object.keys(expected).sort(), [...ORDER_STATUSES].sort());
    for (const status of ORDER_STATUSES) assert.equal(orderState(status), expected[status], status);
  });

  it('maps every payment status to its outcome', () => {
    const expected = {
      completed: 'paid',
      refunded: 'paid',
      declined: 'failed',
      failed: 'failed',
      cancelled: 'failed',
      new: 'pending',
      in_progress: 'pending',
      authorized: 'pending',
    } as const;
    assert.deepEqual(Object.keys(expected).sort(), [...PAYMENT_STATUSES].sort());
    for (const status of PAYMENT_STATUSES) assert.equal(paymentOutcome(status), expected[status], status);
  });

  it('maps every status to a valid lifecycle state (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...RECURRING_STATUSES),
        fc.constantFrom(...ORDER_STATUSES),
        (r, o) => isSubscriptionState(recurringState(r)) && isSubscriptionState(orderState(o)),
      ),
    );
  });

  it('derives the subscription state from the order, then from the recurring subscription', () => {
    assert.equal(subscriptionState(order()), 'INCOMPLETE');
    assert.equal(subscriptionState(order({ orderStatus: 'expired' })), 'INCOMPLETE_EXPIRED');
    const withRecurring = order({ recurringPayments: { recurringId: 'sub_1', status: 'active' } });
    assert.equal(subscriptionState(withRecurring), 'ACTIVE');
    assert.equal(subscriptionState(withRecurring, recurring({ status: 'canceled' })), 'CANCELLED');
    const retrying = recurring();
    retrying.recurringPayments[1]!.tries = [{ date: '2025-02-01T00:00:00Z', status: 'declined' }];
    assert.equal(subscriptionState(withRecurring, retrying), 'PAST_DUE');
    assert.equal(subscriptionState(withRecurring, recurring()), 'ACTIVE');
    assert.equal(subscriptionState(withRecurring, recurring({ status: 'failed' })), 'UNPAID');
  });
});

describe('madfintech cycles and facts', () => {
  const history = [
    payment('completed', 1),
    payment('declined', 2, 'card_declined'),
    payment('completed', 3),
    payment('declined', 4, 'insufficient_funds'),
    payment('in_progress', 5),
  ];

  it('numbers cycles by completed payments, tries staying in their cycle', () => {
    assert.deepEqual(paymentCycles(history), [1, 2, 2, 3, 3]);
  });

  it('makes one order per settled cycle, PAID winning over its declined tries', () => {
    assert.deepEqual(
      remoteOrders(order({ payments: history }), undefined, 0).map((o) => [
        o.orderId,
        o.sequenceNo,
        o.status,
        o.respcd,
        o.amount,
      ]),
      [
        ['ORD1:1', 1, 'PAID', '0000', 5699],
        ['ORD1:2', 2, 'PAID', '0000', 5699],
        ['ORD1:3', 3, 'FAILED', 'insufficient_funds', 5699],
      ],
    );
  });

  it('reads the payment fact of one payment, none while it is pending', () => {
    const o = order({ payments: history });
    assert.deepEqual(paymentFact(o, 3, 'notification', 0), {
      kind: 'payment',
      subscriptionId: 'ORD1',
      orderId: 'ORD1:3',
      sequenceNo: 3,
      succeeded: false,
      respcd: 'insufficient_funds',
      respmsg: 'declined',
      amount: 5699,
      currency: 'USD',
      syssn: 'tx4',
      at: Date.parse(history[3]!.createdAt!),
      triggerBy: 'auto',
      source: 'notification',
    });
    assert.equal(paymentFact(o, 4, 'notification', 0), undefined);
    assert.equal(paymentFact(o, 9, 'notification', 0), undefined);
  });

  it("times a payment without createdAt (the seed's shape) from the order and the recurring schedule", () => {
    const bare = (status: PaymentStatus, n: number): Payment => {
      const { createdAt: _createdAt, ...rest } = payment(status, n);
      return rest;
    };
    const o = order({
      orderPaidAt: '2025-01-01T00:00:05+00:00',
      payments: [
        bare('completed', 1),
        bare('declined', 2),
        bare('declined', 3),
        bare('completed', 4),
        bare('declined', 5),
      ],
    });
    const r = recurring({
      recurringPayments: [
        { chargeDate: '2025-01-01T00:00:00Z', endDate: '2025-02-01T00:00:00Z', status: 'successful' },
        {
          chargeDate: '2025-02-01T00:00:00Z',
          endDate: '2025-03-01T00:00:00Z',
          status: 'successful',
          tries: [
            { date: '2025-02-01T00:00:00Z', status: 'declined' },
            { date: '2025-02-02T00:00:00Z', status: 'declined' },
          ],
        },
        {
          chargeDate: '2025-03-01T00:00:00Z',
          endDate: '2025-04-01T00:00:00Z',
          status: 'schedule',
          tries: [],
        },
      ],
    });
    const FALLBACK = Date.UTC(2025, 5, 1);
    assert.deepEqual(
      o.payments.map((_, i) => new Date(paymentTime(o, i, FALLBACK, r)).toISOString()),
      [
        '2025-01-01T00:00:05.000Z', // cycle 1: the order's payment time
        '2025-02-01T00:00:00.000Z', // cycle 2, first declined try
        '2025-02-02T00:00:00.000Z', // its second
        '2025-02-03T00:00:00.000Z', // paid a day after the last try
        new Date(FALLBACK).toISOString(), // cycle 3: the schedule has no try of it yet
      ],
    );
    assert.equal(paymentTime(o, 3, FALLBACK), FALLBACK, 'no schedule: when the engine learned of it');
  });

  it('cycle numbers grow by one exactly after each paid payment (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...PAYMENT_STATUSES), { maxLength: 30 }), (statuses) => {
        const cycles = paymentCycles(statuses.map((s, i) => payment(s, i)));
        return cycles.every((c, i) => {
          const paidBefore = statuses.slice(0, i).filter((s) => paymentOutcome(s) === 'paid').length;
          return c === paidBefore + 1;
        });
      }),
    );
  });
});

describe('madfintech amounts and order numbers', () => {
  it('formats amounts by the currency exponent', () => {
    assert.equal(toDecimalAmount(5699, 'USD'), '56.99');
    assert.equal(toDecimalAmount(5, 'USD'), '0.05');
    assert.equal(toDecimalAmount(100, 'JPY'), '100');
    assert.equal(toDecimalAmount(1234, 'KWD'), '1.234');
    assert.equal(toMinorUnits('56.9', 'USD'), 5690);
    assert.equal(toMinorUnits('56.990', 'USD'), 5699);
    assert.throws(() => toMinorUnits('56.999', 'USD'), RangeError);
    assert.throws(() => toDecimalAmount(-1, 'USD'), RangeError);
  });

  it('round-trips minor units through the decimal string (property)', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 2 ** 40 }),
        fc.constantFrom('USD', 'EUR', 'JPY', 'KWD', 'HKD'),
        (minor, currency) => {
          const text = toDecimalAmount(minor, currency);
          const decimals = text.split('.')[1]?.length ?? 0;
          return toMinorUnits(text, currency) === minor && decimals === currencyExponent(currency);
        },
      ),
    );
  });

  it('makes every reference a safe, deterministic order number (property)', () => {
    assert.equal(orderNumberFor('56573FDFVFDBWF'), '56573FDFVFDBWF');
    assert.match(orderNumberFor('h-looks-hashed'), /^h-[0-9a-f]{40}$/);
    fc.assert(
      fc.property(fc.string({ maxLength: 100 }), fc.string({ maxLength: 100 }), (a, b) => {
        const n = orderNumberFor(a);
        return (
          /^[A-Za-z0-9_-]{1,64}$/.test(n) && n === orderNumberFor(a) && (a === b || n !== orderNumberFor(b))
        );
      }),
    );
  });
});
