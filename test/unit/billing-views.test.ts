/**
 * The pure parts of the orders and schedule reads: QFPay's billing times counted from the anchor
 * in calendar months (month ends stay month ends), the plan's end, the price of a plan with
 * several lines, and the join of QFPay's order list with the workflow's payment log.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gatewaySchedule, listedFromSync, ordersView } from '../../src/api/billing-views';
import { cycleAtOrAfter } from '../../src/domain/lifecycle/billing-interval';
import { qfpayListedOrder } from '../../src/gateways/qfpay/orders';
import type { RemoteOrder } from '../../src/domain/lifecycle/lifecycle-types';
import type { GatewayPlan } from '../../src/gateways/port';
import type { BillingOrder, Product, Subscription } from '../../src/gateways/qfpay/schemas';
import { qfpayPlanOf } from '../../src/gateways/qfpay/plan';
import type { SubscriptionView } from '../../src/workflows/definitions';
import { logPayment, type PaymentAttemptRecord } from '../../src/domain/engine-state';

const OFFSET = '+08:00';
const SUB = 'sub_0123456789abcdef';
const order = (seq: number) => `sub_ord_0123456789abcdef_${String(seq).padStart(4, '0')}`;

function remote(overrides: Partial<Subscription> = {}): Subscription {
  return {
    subscription_id: SUB,
    state: 'ACTIVE',
    start_time: '2024-01-31T10:00:00+08:00',
    next_billing_time: '2024-02-29T10:00:00+08:00',
    total_billing_cycles: null,
    completed_billing_iteration: 1,
    products: [
      { product_id: 'prod_a', quantity: 2 },
      { product_id: 'prod_b', quantity: 1 },
    ],
    ...overrides,
  } as Subscription;
}

const PRODUCTS = [
  { product_id: 'prod_a', name: 'A', txamt: 1000, txcurrcd: 'HKD', interval: 'monthly', interval_count: 1 },
  { product_id: 'prod_b', name: 'B', txamt: 250, txcurrcd: 'HKD', interval: 'monthly', interval_count: 1 },
] as Product[];

/** A QFPay subscription's schedule: its plan through the port, then the schedule every gateway's has. */
function billingSchedule(input: {
  remote: Subscription;
  products: readonly Product[];
  view: SubscriptionView;
  count: number;
  offset: string;
}) {
  return gatewaySchedule({
    subscriptionId: input.remote.subscription_id,
    plan: qfpayPlanOf(input.remote, input.products, input.offset),
    view: input.view,
    count: input.count,
  });
}

function view(episode: Partial<SubscriptionView['dunning']['episode']> | null = null, paused = false) {
  return { dunning: { episode }, billingPausedByMerchant: paused } as unknown as SubscriptionView;
}

void describe('the billing schedule', () => {
  void it('counts calendar months from the anchor in QFPay time: a month-end anchor stays at month ends', () => {
    const s = billingSchedule({
      remote: remote(),
      products: PRODUCTS,
      view: view(),
      count: 6,
      offset: OFFSET,
    });
    assert.deepEqual(
      s.billings.map((b) => [b.cycle, b.at]),
      [
        [2, '2024-02-29T02:00:00.000Z'],
        [3, '2024-03-31T02:00:00.000Z'],
        [4, '2024-04-30T02:00:00.000Z'],
        [5, '2024-05-31T02:00:00.000Z'],
        [6, '2024-06-30T02:00:00.000Z'],
        [7, '2024-07-31T02:00:00.000Z'],
      ],
    );
    assert.ok(s.billings.every((b) => b.amount === 2 * 1000 + 250 && b.currency === 'HKD'));
    assert.equal(s.anchor, '2024-01-31T02:00:00.000Z');
    assert.equal(s.dunning, null);
  });

  void it('stops at the last billing cycle, and shows nothing for a plan with no next billing', () => {
    const ending = remote({ total_billing_cycles: 3, completed_billing_iteration: 1 });
    assert.equal(
      billingSchedule({ remote: ending, products: PRODUCTS, view: view(), count: 6, offset: OFFSET }).billings
        .length,
      2,
    );
    const ended = remote({ state: 'CANCELLED', next_billing_time: undefined });
    assert.deepEqual(
      billingSchedule({ remote: ended, products: PRODUCTS, view: view(), count: 6, offset: OFFSET }).billings,
      [],
    );
  });

  void it('reads a plan whose answer has no total_billing_cycles as until cancelled', () => {
    const unsaid = remote({ total_billing_cycles: undefined });
    assert.equal(
      billingSchedule({ remote: unsaid, products: PRODUCTS, view: view(), count: 4, offset: OFFSET }).billings
        .length,
      4,
    );
  });

  void it("lists an open episode's planned attempts, and says when the engine's billing is paused", () => {
    const at = Date.parse('2024-02-29T12:00:00Z');
    const episode = {
      orderId: order(2),
      stage: 'retrying' as const,
      deadline: at + 9e8,
      schedule: [at, at + 3.6e6],
    };
    const s = billingSchedule({
      remote: remote(),
      products: PRODUCTS,
      view: view(episode, true),
      count: 1,
      offset: OFFSET,
    });
    assert.deepEqual(s.dunning, {
      order_id: order(2),
      deadline: new Date(at + 9e8).toISOString(),
      attempts: [new Date(at).toISOString(), new Date(at + 3.6e6).toISOString()],
    });
    assert.equal(s.billing_paused, true);
  });

  void it('refuses to guess when QFPay did not say the interval or a price', () => {
    assert.throws(() =>
      billingSchedule({
        remote: remote(),
        products: PRODUCTS.slice(0, 1),
        view: view(),
        count: 6,
        offset: OFFSET,
      }),
    );
  });

  void it('finds the cycle of a time far from the anchor without counting every interval', () => {
    const anchor = Date.parse('2024-01-01T00:00:00Z');
    const minute = { unit: 'minute', count: 1 } as const;
    assert.equal(cycleAtOrAfter(anchor, minute, anchor + 1_000_000 * 60_000, OFFSET), 1_000_000);
    assert.equal(cycleAtOrAfter(anchor, minute, anchor + 1_000_000 * 60_000 + 1, OFFSET), 1_000_000);
    assert.equal(cycleAtOrAfter(anchor, minute, anchor + 1_000_000 * 60_000 + 1_000, OFFSET), 1_000_001);
    const month = { unit: 'month', count: 1 } as const;
    assert.equal(cycleAtOrAfter(anchor, month, Date.parse('2034-01-01T00:00:00Z'), OFFSET), 120);
  });
});

/** A sync's orders as the merchant's order list shows them. */
function gatewayOrdersWithAttempts(remote: RemoteOrder[], payments: PaymentAttemptRecord[]) {
  return ordersView(listedFromSync(remote), payments);
}

void describe('orders with every attempt', () => {
  const attempt = (
    seq: number,
    at: number,
    respcd: string,
    syssn: string,
    triggerBy: 'auto' | 'manual' = 'auto',
  ) =>
    ({
      orderId: order(seq),
      sequenceNo: seq,
      at,
      succeeded: respcd === '0000',
      respcd,
      amount: 500,
      currency: 'HKD',
      syssn,
      triggerBy,
    }) as PaymentAttemptRecord;

  void it("joins QFPay's list (last attempt only) with the workflow's log, newest order first", () => {
    const T = Date.parse('2024-03-01T00:00:00Z');
    const rows = [
      {
        subscription_order_id: order(1),
        subscription_id: SUB,
        sequence_no: 1,
        status: 'PAID',
        respcd: '0000',
        txamt: 500,
        txcurrcd: 'HKD',
        syssn: 's1',
        charged_at: new Date(T - 30 * 864e5).toISOString(),
        trigger_by: 'auto',
        billing_time: new Date(T - 30 * 864e5).toISOString(),
      },
      {
        subscription_order_id: order(2),
        subscription_id: SUB,
        sequence_no: 2,
        status: 'PAID',
        respcd: '0000',
        txamt: 500,
        txcurrcd: 'HKD',
        syssn: 's2b',
        charged_at: new Date(T + 3.6e6).toISOString(),
        trigger_by: 'manual',
        billing_time: new Date(T).toISOString(),
      },
    ] as BillingOrder[];
    const payments = [
      attempt(2, T, '1205', 's2a'),
      attempt(2, T + 3.6e6, '0000', 's2b', 'manual'),
      attempt(3, T + 30 * 864e5, '1205', 's3'),
    ];
    const orders = ordersView(
      rows.map((row) => qfpayListedOrder(row, OFFSET)),
      payments,
    );
    assert.deepEqual(
      orders.map((o) => [o.sequence_no, o.status, o.attempts.map((a) => [a.syssn, a.trigger_by, a.source])]),
      [
        [3, 'FAILED', [['s3', 'auto', 'engine']]],
        [
          2,
          'PAID',
          [
            ['s2a', 'auto', 'engine'],
            ['s2b', 'manual', 'engine'],
          ],
        ],
        // The engine heard nothing of order 1 (before it adopted the subscription): QFPay's row.
        [1, 'PAID', [['s1', 'auto', 'gateway_order_list']]],
      ],
    );
  });

  void it('logs one attempt when a charge is reported twice (its answer and its notification): manual wins', () => {
    const fact = {
      kind: 'payment',
      subscriptionId: SUB,
      orderId: order(2),
      sequenceNo: 2,
      succeeded: true,
      respcd: '0000',
      syssn: 'x',
      at: 2000,
      source: 'notification',
    } as const;
    let log = logPayment([], fact);
    log = logPayment(log, { ...fact, at: 1000, triggerBy: 'manual', source: 'engine' });
    log = logPayment(log, { ...fact, syssn: 'y', succeeded: false, respcd: '1205', at: 500 });
    assert.deepEqual(
      log.map((p) => [p.syssn, p.at, p.triggerBy]),
      [
        ['y', 500, 'auto'],
        ['x', 1000, 'manual'],
      ],
    );
  });
});

void describe('a gateway behind the port: schedule and orders', () => {
  const plan = (overrides: Partial<GatewayPlan> = {}): GatewayPlan => ({
    state: 'ACTIVE',
    amount: 2500,
    currency: 'USD',
    interval: { unit: 'month', count: 1 },
    anchor: Date.parse('2027-01-31T09:00:00Z'),
    nextBillingTime: Date.parse('2027-03-31T09:00:00Z'),
    remainingCycles: null,
    ...overrides,
  });

  void it('counts months from the anchor in UTC, from the next billing, and stops with the plan', () => {
    const s = gatewaySchedule({ subscriptionId: 'madfintech:o-1', plan: plan(), view: view(), count: 3 });
    assert.equal(s.subscription_id, 'madfintech:o-1');
    assert.equal(s.anchor, '2027-01-31T09:00:00.000Z');
    assert.deepEqual(
      s.billings.map((b) => [b.cycle, b.at, b.amount, b.currency]),
      [
        [3, '2027-03-31T09:00:00.000Z', 2500, 'USD'],
        [4, '2027-04-30T09:00:00.000Z', 2500, 'USD'],
        [5, '2027-05-31T09:00:00.000Z', 2500, 'USD'],
      ],
    );
    const ending = gatewaySchedule({
      subscriptionId: 'madfintech:o-1',
      plan: plan({ remainingCycles: 2 }),
      view: view(),
      count: 6,
    });
    assert.deepEqual(
      ending.billings.map((b) => b.cycle),
      [3, 4],
    );
    const stopped = gatewaySchedule({
      subscriptionId: 'qorepay:t~c',
      plan: plan({ state: 'CANCELLED', nextBillingTime: null }),
      view: view(),
      count: 6,
    });
    assert.deepEqual(stopped.billings, []);
    assert.equal(stopped.state, 'CANCELLED');
  });

  void it("shows the engine's attempts and the gateway's last one it missed, once each", () => {
    const T = Date.parse('2027-03-01T00:00:00Z');
    const orders = gatewayOrdersWithAttempts(
      [
        {
          orderId: 'o:1',
          sequenceNo: 1,
          status: 'PAID',
          respcd: '0000',
          at: T,
          amount: 2500,
          currency: 'USD',
        },
        { orderId: 'o:2', sequenceNo: 2, status: 'PAID', respcd: '0000', at: T + 2 * 864e5, amount: 2500 },
        { orderId: 'o:3', sequenceNo: 3, triggerBy: 'auto' },
      ],
      [
        { orderId: 'o:1', sequenceNo: 1, at: T, succeeded: true, respcd: '0000', triggerBy: 'auto' },
        { orderId: 'o:2', sequenceNo: 2, at: T + 864e5, succeeded: false, respcd: '05', triggerBy: 'auto' },
      ] as PaymentAttemptRecord[],
    );
    assert.deepEqual(
      orders.map((o) => [
        o.order_id,
        o.status,
        o.billing_time,
        o.attempts.map((a) => [a.succeeded, a.source]),
      ]),
      [
        ['o:3', 'FAILED', null, []],
        [
          'o:2',
          'PAID',
          null,
          [
            [false, 'engine'],
            [true, 'gateway_order_list'],
          ],
        ],
        ['o:1', 'PAID', null, [[true, 'engine']]],
      ],
    );
  });
});
