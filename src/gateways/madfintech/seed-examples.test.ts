/**
 * MadFintech's own examples (seed 004), byte for byte, read by the adapter's schemas and mapping as
 * they stand. The seed's payments carry no time and repeat one `paymentId`; the adapter must read
 * them anyway (a schema that required `createdAt` rejected every real order: sync retried for ever
 * and every callback was a 400).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { madfintechGateway } from './index';
import { paymentFact, remoteOrders, subscriptionState } from './mapping';
import { CancelledSchema, CreatedSchema, OrderSchema, RecurringSchema, envelope } from './schemas';
import { callbackFacts } from './webhook';

const fixtures = join(__dirname, '..', '..', '..', 'test', 'fixtures', 'seed-004');
/** A seed example, as the seed prints it (test/fixtures/seed-004/). */
const seed = (name: string): string => readFileSync(join(fixtures, `${name}.json`), 'utf8');
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

/** Every key of the seed's `example` is in `actual`, recursively (an array by its first item). */
function assertShape(actual: unknown, example: unknown, path = 'data'): void {
  if (Array.isArray(example)) {
    assert.ok(Array.isArray(actual) && actual.length > 0, `${path}: an array with items`);
    if (example.length > 0) assertShape(actual[0], example[0], `${path}[0]`);
    return;
  }
  if (example === null || typeof example !== 'object') return;
  assert.ok(actual !== null && typeof actual === 'object', `${path}: an object`);
  for (const [key, value] of Object.entries(example)) {
    assert.ok(key in (actual as object), `${path}.${key} is missing`);
    assertShape((actual as Record<string, unknown>)[key], value, `${path}.${key}`);
  }
}

describe("seed 004's request and answers against the emulator", () => {
  // The seed's own dates: its plan runs from March to December 2025.
  const START = Date.parse('2025-03-18T14:30:00+03:00');
  const DAY = 86_400_000;
  let emulator: Awaited<ReturnType<typeof madfintechGateway.startEmulator>>;
  let n = 0;

  before(async () => {
    emulator = await madfintechGateway.startEmulator({ port: 0, startMs: START });
  });
  after(async () => emulator.close());

  async function call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${emulator.env.MADFINTECH_API_URL}${path}`, {
      method,
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json',
        'Api-Access-Token': emulator.env.MADFINTECH_API_TOKEN!,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  const getOrder = async (orderNumber: string) =>
    (await call('GET', `/order/${emulator.env.MADFINTECH_SHOP_ID}/${orderNumber}`)).body.data;
  const advance = async (ms: number) =>
    fetch(`${emulator.url}/_emulator/clock/advance`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ ms }),
    });

  /** The seed's PCI request, under a new order number, changed by `change`. */
  function request(change: (body: any) => void = () => {}): any {
    const body = JSON.parse(readFileSync(join(fixtures, 'order-request-pci.json'), 'utf8'));
    n += 1;
    body.order.orderNumber = `SEED004E${n}`;
    change(body);
    return body;
  }

  it("takes the seed's PCI request as it stands and answers in the seed's shapes", async () => {
    const created = await call(
      'POST',
      '/order',
      JSON.parse(readFileSync(join(fixtures, 'order-request-pci.json'), 'utf8')),
    );
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.deepEqual(created.body, JSON.parse(SEED_ORDER_CREATED));
    const order = await getOrder('56573FDFVFDBWF');
    assertShape(order, JSON.parse(SEED_ORDER_FIRST_PAYMENT).data);
    assert.equal(order.orderStatus, 'in_progress', 'as the seed shows it while the plan bills');
    assert.equal(order.autoCapture, true);
    assert.deepEqual(order.payments[0].paymentDetails.maskedCardNumber, '411111******1111');
    const recurring = (await call('GET', `/recurring/${order.recurringPayments.recurringId}`)).body.data;
    assertShape(recurring, JSON.parse(SEED_RECURRING).data);
    assert.equal(recurring.endDate, '2025-12-01T11:30:00+00:00');
  });

  it('bills no date after endDate: a plan ending 45 days on is charged twice in 100 days, then finished', async () => {
    const body = request((b) => {
      delete b.order.recurringPayments.paymentCount;
      b.order.recurringPayments.endDate = new Date(START + 45 * DAY).toISOString();
    });
    assert.equal((await call('POST', '/order', body)).status, 200);
    await advance(100 * DAY);
    const order = await getOrder(body.order.orderNumber);
    assert.deepEqual(
      order.payments.map((p: any) => p.paymentStatus.status),
      ['completed', 'completed'],
    );
    const recurring = (await call('GET', `/recurring/${order.recurringPayments.recurringId}`)).body.data;
    assert.equal(recurring.status, 'finished');
    assert.equal(recurring.recurringPayments.length, 2);
  });

  it('charges card data without a card id (a PCI DSS merchant)', async () => {
    const body = request((b) => delete b.payer.cardData.cardId);
    const created = await call('POST', '/order', body);
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const order = await getOrder(body.order.orderNumber);
    assert.equal(order.payments[0].paymentStatus.status, 'completed');
    assert.equal(order.recurringPayments.status, 'active');
  });

  it('answers a hosted-page order (no card data) with a paymentLink, and bills once the customer pays there', async () => {
    const body = request((b) => {
      delete b.payer;
      b.paymentPageDesign = { format: 'hosted' };
    });
    const created = await call('POST', '/order', body);
    assert.equal(created.status, 200, JSON.stringify(created.body));
    const link: string = created.body.data.paymentLink;
    assert.match(link, /^http:\/\//);
    const waiting = await getOrder(body.order.orderNumber);
    assert.equal(waiting.orderStatus, 'new');
    assert.deepEqual(waiting.payments, []);
    assert.equal(waiting.recurringPayments, null);
    const paid = await fetch(link, { method: 'POST' });
    assert.equal(paid.status, 200, await paid.clone().text());
    const order = await getOrder(body.order.orderNumber);
    assert.equal(order.orderStatus, 'in_progress');
    assert.equal(order.recurringPayments.status, 'active');
  });
});
