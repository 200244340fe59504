/**
 * MadFintech's own examples (seed 004), byte for byte, read by the adapter's schemas and mapping as
 * they stand. The seed's payments carry no time and repeat one `paymentId`; the adapter must read
 * them anyway (a schema that required `createdAt` rejected every real order: sync retried for ever
 * and every callback was a 400).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { paymentFact, remoteOrders, subscriptionState } from './mapping';
import { CancelledSchema, CreatedSchema, OrderSchema, RecurringSchema, envelope } from './schemas';
import { callbackFacts } from './webhook';

/** A seed example, as the seed prints it (test/fixtures/seed-004/). */
const seed = (name: string): string =>
  readFileSync(join(__dirname, '..', '..', '..', 'test', 'fixtures', 'seed-004', `${name}.json`), 'utf8');
const SEED_ORDER_CREATED = seed('order-created');
const SEED_ORDER_FIRST_PAYMENT = seed('order-first-payment');
const SEED_ORDER_AFTER_RENEWAL = seed('order-after-renewal');
const SEED_RECURRING = seed('recurring');
const SEED_RECURRING_CANCELLED = seed('recurring-cancelled');

const read = <T>(schema: { parse(v: unknown): { data: T } }, text: string): T =>
  schema.parse(JSON.parse(text)).data;

describe("seed 004's examples", () => {
  it('reads the creation, the recurring subscription and its cancel', () => {
    assert.equal(read(envelope(CreatedSchema), SEED_ORDER_CREATED).orderNumber, '56573FDFVFDBWF');
    const recurring = read(envelope(RecurringSchema), SEED_RECURRING);
    assert.equal(recurring.id, 'sub_54222');
    assert.equal(recurring.paymentCount, 3);
    assert.equal(recurring.recurringPayments.length, 3);
    assert.deepEqual(read(envelope(CancelledSchema), SEED_RECURRING_CANCELLED), {
      recurringId: 'sub_54222',
      status: 'canceled',
    });
  });

  it('reads the order after its first payment: cycle 1 paid at orderPaidAt, the subscription active', () => {
    const order = read(envelope(OrderSchema), SEED_ORDER_FIRST_PAYMENT);
    const paidAt = Date.parse('2023-08-29T15:34:56+03:00');
    assert.deepEqual(
      remoteOrders(order, undefined, paidAt + 60_000).map((o) => [
        o.orderId,
        o.sequenceNo,
        o.status,
        o.amount,
        o.at,
      ]),
      [['56573FDFVFDBWF:1', 1, 'PAID', 5699, paidAt]],
    );
    assert.equal(subscriptionState(order), 'ACTIVE');
    const receivedAt = paidAt + 5_000;
    const facts = callbackFacts(order, receivedAt);
    assert.equal(facts.length, 1);
    assert.deepEqual(facts[0], {
      kind: 'payment',
      subscriptionId: '56573FDFVFDBWF',
      orderId: '56573FDFVFDBWF:1',
      sequenceNo: 1,
      succeeded: true,
      respcd: '0000',
      respmsg: 'completed',
      amount: 5699,
      currency: 'USD',
      syssn: '172666307000000001',
      at: paidAt,
      triggerBy: 'auto',
      source: 'notification',
    });
  });

  it('reads the order after a renewal: two payments with one id are two paid cycles; the renewal is timed by its callback', () => {
    const order = read(envelope(OrderSchema), SEED_ORDER_AFTER_RENEWAL);
    const syncedAt = Date.parse('2023-09-29T16:00:00+03:00');
    const orders = remoteOrders(order, undefined, syncedAt);
    assert.deepEqual(
      orders.map((o) => [o.orderId, o.status]),
      [
        ['56573FDFVFDBWF:1', 'PAID'],
        ['56573FDFVFDBWF:2', 'PAID'],
      ],
    );
    // The seed gives the renewal no time: the order lists it, so it happened by the query.
    assert.equal(orders[1]!.at, syncedAt);
    const receivedAt = Date.parse('2023-09-29T15:35:10+03:00');
    const renewal = paymentFact(order, 1, 'notification', receivedAt);
    assert.equal(renewal?.sequenceNo, 2);
    assert.equal(renewal?.at, receivedAt, 'the callback of the renewal: when it came');
  });
});
