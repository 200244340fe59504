/**
 * Test clocks at the MadFintech emulator, over real HTTP with a real local receiver: each clock is
 * a world of its own (its clock, orders, callbacks, faults and cards), chosen by the emulator-only
 * header or, without it, by the record a call names; a clock's advance bills in time order and
 * answers once its callbacks are delivered; the main world goes on as before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TEST_CLOCK_HEADER } from '../test-clock-header';
import { addInterval, DAY_MS } from './emulator/gateway';
import { startMadfintechEmulator } from './emulator/server';
import { madfintechGateway } from './index';
import type { Order } from './schemas';
import { signCallback } from './webhook';
import { emulatorStart, emulatorStartMs } from '../../../test/helpers/emulator-start';
import { NotifyReceiver, type NotifyRequest } from '../../../test/helpers/notify-receiver';

/** The clocks' frozen time: the pinned start of `npm run test:dates`, else a month's last day. */
const T0 = Math.floor((emulatorStartMs() ?? Date.UTC(2025, 0, 31, 9)) / 1000) * 1000;
const month = (n: number, from = T0): number => addInterval(from, 'month', n);
const iso = (ms: number): string => new Date(ms).toISOString();

interface ClockJson {
  id: string;
  now: string;
  nowMs: number;
  next_due: string | null;
  nextDueMs: number | null;
}
interface Advanced extends ClockJson {
  from: string;
  processed: { stateEvents: number; deliveryAttempts: number };
}
interface Reply<T> {
  status: number;
  body: T;
  headers: Headers;
}
interface ErrorBody {
  error: { code: string; message: string };
}
interface LoggedCallback {
  id: number;
  orderNumber: string;
  body: string;
  status: string;
  headers: Record<string, string>;
}

describe('madfintech emulator test clocks', () => {
  const receiver = new NotifyReceiver();
  let emulator: Awaited<ReturnType<typeof startMadfintechEmulator>>;

  const call = async <T>(
    method: string,
    path: string,
    options: { body?: unknown; clock?: string; token?: boolean } = {},
  ): Promise<Reply<T>> => {
    const res = await fetch(`${emulator.url}${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(options.clock === undefined ? {} : { [TEST_CLOCK_HEADER]: options.clock }),
        ...(options.token ? { 'Api-Access-Token': emulator.env.MADFINTECH_API_TOKEN } : {}),
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    return { status: res.status, body: (await res.json()) as T, headers: res.headers };
  };
  const api = <T>(method: string, path: string, options: { body?: unknown; clock?: string } = {}) =>
    call<T>(method, `/api/v1${path}`, { ...options, token: true });
  const control = <T>(method: string, path: string, options: { body?: unknown; clock?: string } = {}) =>
    call<T>(method, `/_emulator${path}`, options);

  const makeClock = async (id: string, frozenMs = T0): Promise<ClockJson> => {
    const made = await control<ClockJson>('POST', '/test_clocks', {
      body: { id, frozen_time: iso(frozenMs) },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    return made.body;
  };
  const advance = async (id: string, toMs: number): Promise<Advanced> => {
    const moved = await control<Advanced>('POST', `/test_clocks/${id}/advance`, { body: { to: iso(toMs) } });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    return moved.body;
  };
  /** A monthly order paid by card data at creation, on `clock` (the main world without one). */
  const createOrder = async (orderNumber: string, clock?: string): Promise<void> => {
    const made = await api<{ data: { orderNumber: string } }>('POST', '/order', {
      clock,
      body: {
        shopId: Number(emulator.env.MADFINTECH_SHOP_ID),
        order: {
          orderNumber,
          cost: { amount: '12.50', currency: 'EUR' },
          recurringPayments: { billingIntervalQuantity: 1, intervalType: 'month' },
        },
        customer: { customerId: `cus-${orderNumber}` },
        payer: { cardData: { cardNumber: '4111111111111111' } },
      },
    });
    assert.equal(made.status, 200, JSON.stringify(made.body));
  };
  const getOrder = (orderNumber: string, clock?: string) =>
    api<{ data: Order }>('GET', `/order/${emulator.env.MADFINTECH_SHOP_ID}/${orderNumber}`, { clock });
  const receivedFor = (orderNumber: string): NotifyRequest[] =>
    receiver
      .delivered()
      .filter((r) => (JSON.parse(r.raw.toString('utf8')) as Order).orderNumber === orderNumber);
  const orderNumbers = async (clock?: string): Promise<string[]> => {
    const listed = await control<{ orderNumbers: string[] }>('GET', '/orders', { clock });
    assert.equal(listed.status, 200);
    return listed.body.orderNumbers;
  };
  const notifications = async (clock?: string, orderNumber?: string): Promise<LoggedCallback[]> => {
    const query = orderNumber === undefined ? '' : `?orderNumber=${orderNumber}`;
    const log = await control<{ notifications: LoggedCallback[] }>('GET', `/notifications${query}`, {
      clock,
    });
    assert.equal(log.status, 200);
    return log.body.notifications;
  };
  /** Every callback of `orderNumber` was signed with the secret, read by the webhook, and names `clock`. */
  const assertSignedOnClock = (orderNumber: string, clock: string): void => {
    const webhook = madfintechGateway.webhook(emulator.env);
    const secret = emulator.env.MADFINTECH_CALLBACK_SECRET ?? '';
    for (const r of receivedFor(orderNumber)) {
      assert.equal(r.headers[TEST_CLOCK_HEADER], clock);
      assert.equal(r.headers['x-signature'], signCallback(r.raw, secret));
      assert.equal(webhook.read(r.raw, r.headers, Date.now()).kind, 'facts');
    }
  };

  before(async () => {
    emulator = await startMadfintechEmulator({
      port: 0,
      notifyUrl: await receiver.start('/hook'),
      ...emulatorStart(),
    });
  });
  after(async () => {
    await emulator.close();
    await receiver.close();
  });

  it('keeps an order made with the header in its clock’s world, reached without the header by its id', async () => {
    const made = await makeClock('c-lives');
    assert.deepEqual(made, { id: 'c-lives', now: iso(T0), nowMs: T0, next_due: null, nextDueMs: null });
    await createOrder('mf-clock-lives', 'c-lives');

    assert.ok(!(await orderNumbers()).includes('mf-clock-lives'), 'not in the main world');
    assert.deepEqual(await orderNumbers('c-lives'), ['mf-clock-lives']);
    assert.deepEqual(await notifications(undefined, 'mf-clock-lives'), []);

    // Without the header, the order and its recurring subscription are found by their ids.
    const order = await getOrder('mf-clock-lives');
    assert.equal(order.status, 200);
    assert.equal(
      order.body.data.orderCreatedAt,
      iso(T0).replace('.000Z', '+00:00'),
      'made at the clock’s time',
    );
    assert.equal(order.headers.get('date'), new Date(T0).toUTCString(), 'dated by the clock');
    const recurringId = order.body.data.recurringPayments?.recurringId;
    assert.ok(recurringId);
    const recurring = await api<{ data: { orderNumber: string } }>('GET', `/recurring/${recurringId}`);
    assert.equal(recurring.status, 200);
    assert.equal(recurring.body.data.orderNumber, 'mf-clock-lives');
    assert.equal(recurring.headers.get('date'), new Date(T0).toUTCString());

    const viewed = await control<ClockJson>('GET', '/test_clocks/c-lives');
    assert.equal(viewed.status, 200);
    assert.deepEqual(viewed.body, {
      id: 'c-lives',
      now: iso(T0),
      nowMs: T0,
      next_due: iso(month(1)),
      nextDueMs: month(1),
    });
  });

  it('bills a clock month by month in time order, its callbacks delivered before each advance answers', async () => {
    await makeClock('c-monthly');
    await createOrder('mf-monthly-a', 'c-monthly');
    // A second order, made ten days later on the same clock: its charges fall between the first's.
    const settled = await advance('c-monthly', T0 + 10 * DAY_MS);
    assert.deepEqual(settled.processed.stateEvents, 0);
    assert.equal(settled.from, iso(T0));
    assert.equal(receivedFor('mf-monthly-a').length, 1, 'the creation’s callback, awaited by the advance');
    await createOrder('mf-monthly-b', 'c-monthly');
    assert.equal((await advance('c-monthly', T0 + 10 * DAY_MS)).processed.stateEvents, 0);
    assert.equal(receivedFor('mf-monthly-b').length, 1);

    // The receiver refuses the first delivery: the advance waits for the redelivery too.
    receiver.refuseNext = 1;
    let from = T0 + 10 * DAY_MS;
    for (const m of [1, 2, 3]) {
      const moved = await advance('c-monthly', month(m));
      assert.equal(moved.from, iso(from));
      assert.equal(moved.nowMs, month(m));
      // The first order's m-th cycle, and the second's (m-1)-th after the first.
      assert.equal(moved.processed.stateEvents, m === 1 ? 1 : 2);
      assert.ok(moved.processed.deliveryAttempts >= moved.processed.stateEvents);
      if (m === 1) assert.equal(moved.processed.deliveryAttempts, 2, 'one refused, then redelivered');
      assert.equal(moved.nextDueMs, month(m, T0 + 10 * DAY_MS));
      assert.equal(receivedFor('mf-monthly-a').length, 1 + m, `month ${m} reached the receiver`);
      assert.equal(receivedFor('mf-monthly-b').length, 1 + Math.max(0, m - 1));
      from = month(m);
    }
    assertSignedOnClock('mf-monthly-a', 'c-monthly');
    assertSignedOnClock('mf-monthly-b', 'c-monthly');

    // The clock's log: every charge in time order, the two orders interleaved.
    const log = await notifications('c-monthly');
    const newest = (n: LoggedCallback) => (JSON.parse(n.body) as Order).payments.at(-1)?.createdAt ?? '';
    const times = log.map(newest);
    assert.deepEqual(times, [...times].sort());
    assert.deepEqual(
      log.map((n) => n.orderNumber),
      ['a', 'b', 'a', 'b', 'a', 'b', 'a'].map((x) => `mf-monthly-${x}`),
    );
    assert.ok(log.every((n) => n.status === 'delivered' && n.headers[TEST_CLOCK_HEADER] === 'c-monthly'));

    const again = await advance('c-monthly', month(3));
    assert.deepEqual(again.processed, { stateEvents: 0, deliveryAttempts: 0 });
    assert.equal(again.from, iso(month(3)));
  });

  it('keeps two clocks advanced at once apart, and the main world’s clock and orders untouched', async () => {
    const mainClock = await control<{ now: number }>('GET', '/clock');
    const mainOrders = await orderNumbers();
    await makeClock('c-one');
    await makeClock('c-two', T0 + 5 * DAY_MS);
    await createOrder('mf-on-one', 'c-one');
    await createOrder('mf-on-two', 'c-two');

    const [one, two] = await Promise.all([
      advance('c-one', month(2)),
      advance('c-two', month(1, T0 + 5 * DAY_MS)),
    ]);
    assert.deepEqual([one.processed.stateEvents, two.processed.stateEvents], [2, 1]);
    assert.equal(receivedFor('mf-on-one').length, 3);
    assert.equal(receivedFor('mf-on-two').length, 2);
    assertSignedOnClock('mf-on-one', 'c-one');
    assertSignedOnClock('mf-on-two', 'c-two');
    assert.deepEqual(await orderNumbers('c-one'), ['mf-on-one']);
    assert.deepEqual(await orderNumbers('c-two'), ['mf-on-two']);
    assert.deepEqual(
      (await notifications('c-two')).map((n) => n.orderNumber),
      ['mf-on-two', 'mf-on-two'],
    );

    // Each recurring id names one record in all worlds, reached without the header.
    const ids = await Promise.all(
      ['mf-on-one', 'mf-on-two'].map(
        async (n) => (await getOrder(n)).body.data.recurringPayments?.recurringId,
      ),
    );
    assert.notEqual(ids[0], ids[1]);
    for (const [i, n] of ['mf-on-one', 'mf-on-two'].entries()) {
      const recurring = await api<{ data: { orderNumber: string } }>('GET', `/recurring/${ids[i]}`);
      assert.equal(recurring.body.data.orderNumber, n);
    }

    assert.deepEqual((await control<{ now: number }>('GET', '/clock')).body, mainClock.body);
    assert.deepEqual(await orderNumbers(), mainOrders);
    const clockSeen = await control<{ now: number }>('GET', '/clock', { clock: 'c-two' });
    assert.equal(clockSeen.body.now, month(1, T0 + 5 * DAY_MS));
  });

  it('declines a clock’s card set with the header; its retry shows in that world only', async () => {
    await makeClock('c-decline');
    await createOrder('mf-decline', 'c-decline');
    const cards = await control('POST', '/cards', { clock: 'c-decline', body: { approve: false } });
    assert.equal(cards.status, 200);
    // The main world's cards still approve.
    await createOrder('mf-main-approves');
    const onMain = await getOrder('mf-main-approves');
    assert.equal(onMain.body.data.payments[0]?.paymentStatus.status, 'completed');

    const declined = await advance('c-decline', month(1));
    assert.equal(declined.processed.stateEvents, 1);
    assert.equal(declined.nextDueMs, month(1) + DAY_MS, 'the retry, a day later');
    const retried = await advance('c-decline', month(1) + DAY_MS);
    assert.equal(retried.processed.stateEvents, 1);

    const order = await getOrder('mf-decline');
    assert.deepEqual(
      order.body.data.payments.map((p) => p.paymentStatus.status),
      ['completed', 'declined', 'declined'],
    );
    const log = await notifications('c-decline', 'mf-decline');
    assert.equal(log.length, 3);
    assert.equal(receivedFor('mf-decline').length, 3);
    assert.deepEqual(await notifications(undefined, 'mf-decline'), [], 'nothing in the main world');
    assert.deepEqual(await notifications(undefined, 'mf-main-approves').then((l) => l.length), 1);
  });

  it('applies the faults of the world a call is routed to', async () => {
    await makeClock('c-faulty');
    await createOrder('mf-faulty', 'c-faulty');
    await createOrder('mf-main-healthy');
    const set = await control<{ failNext: number }>('POST', '/faults', {
      clock: 'c-faulty',
      body: { failNext: 1 },
    });
    assert.equal(set.body.failNext, 1);
    assert.equal((await getOrder('mf-main-healthy')).status, 200, 'the main world has no fault');
    const failed = await getOrder('mf-faulty');
    assert.equal(failed.status, 503, 'routed by the order number to the clock, whose fault applies');
    assert.equal((await getOrder('mf-faulty')).status, 200);
  });

  it('refuses a duplicate, a malformed id or time, an unknown clock and a move backwards', async () => {
    await makeClock('c-refusals', T0 + DAY_MS);
    const code = (reply: Reply<unknown>): [number, string] => [
      reply.status,
      (reply.body as ErrorBody).error.code,
    ];
    const post = (body: unknown) => control('POST', '/test_clocks', { body });
    assert.deepEqual(code(await post({ id: 'c-refusals', frozen_time: iso(T0) })), [
      409,
      'test_clock_exists',
    ]);
    assert.deepEqual(code(await post({ id: 'bad id!', frozen_time: iso(T0) })), [400, 'validation_error']);
    assert.deepEqual(code(await post({ id: 'c-x', frozen_time: 'yesterday' })), [400, 'validation_error']);
    assert.deepEqual(code(await post({ id: 'c-x', frozen_time: iso(T0), extra: 1 })), [
      400,
      'validation_error',
    ]);

    assert.deepEqual(code(await control('GET', '/test_clocks/nope')), [404, 'test_clock_not_found']);
    const onNope = await control('POST', '/test_clocks/nope/advance', { body: { to: iso(T0) } });
    assert.deepEqual(code(onNope), [404, 'test_clock_not_found']);
    assert.deepEqual(code(await control('DELETE', '/test_clocks/nope')), [404, 'test_clock_not_found']);
    assert.deepEqual(code(await control('GET', '/orders', { clock: 'nope' })), [404, 'test_clock_not_found']);
    assert.deepEqual(code(await getOrder('mf-any', 'nope')), [404, 'test_clock_not_found']);

    const back = await control('POST', '/test_clocks/c-refusals/advance', { body: { to: iso(T0) } });
    assert.deepEqual(code(back), [400, 'validation_error']);
    const garbled = await control('POST', '/test_clocks/c-refusals/advance', { body: { to: 'soon' } });
    assert.deepEqual(code(garbled), [400, 'validation_error']);
    assert.equal((await control<ClockJson>('GET', '/test_clocks/c-refusals')).body.nowMs, T0 + DAY_MS);
    const listed = await control<{ data: ClockJson[] }>('GET', '/test_clocks');
    const ids = listed.body.data.map((c) => c.id);
    assert.deepEqual(ids, [...ids].sort());
    assert.ok(ids.includes('c-refusals'));
  });

  it('delivers nothing more of a deleted clock, and knows it no more', async () => {
    // Its creation's callback is held back 50 ms; the clock is deleted meanwhile.
    await makeClock('c-gone');
    await control('POST', '/faults', { clock: 'c-gone', body: { delayMs: 50 } });
    await createOrder('mf-gone', 'c-gone');
    assert.equal((await notifications('c-gone', 'mf-gone'))[0]?.status, 'pending');
    const deleted = await control('DELETE', '/test_clocks/c-gone');
    assert.deepEqual([deleted.status, deleted.body], [200, { id: 'c-gone', deleted: true }]);

    // A witness whose callback is held back longer: its advance answers once it is delivered,
    // well after the deleted clock's would have been.
    await makeClock('c-witness');
    await control('POST', '/faults', { clock: 'c-witness', body: { delayMs: 250 } });
    await createOrder('mf-witness', 'c-witness');
    const witnessed = await advance('c-witness', T0);
    assert.equal(witnessed.processed.deliveryAttempts, 1);
    assert.equal(receivedFor('mf-witness').length, 1);
    assert.deepEqual(receivedFor('mf-gone'), []);
    assert.ok(receiver.requests.every((r) => r.headers[TEST_CLOCK_HEADER] !== 'c-gone'));

    assert.equal((await control('GET', '/test_clocks/c-gone')).status, 404);
    assert.equal((await getOrder('mf-gone', 'c-gone')).status, 404);
    assert.equal((await getOrder('mf-gone')).status, 404, 'no world holds it');
  });
});
