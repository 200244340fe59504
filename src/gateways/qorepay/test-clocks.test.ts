/**
 * Test clocks at the QorePay emulator, over real HTTP with a real notify URL: each clock is a
 * world of its own, chosen by the emulator-only header, so that two clocks advanced at the same
 * time never meet, a clock's advance answers only once its notifications are delivered, and the
 * main world (no header) goes on exactly as before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GatewayWebhook } from '../port';
import { TEST_CLOCK_HEADER } from '../test-clock-header';
import { addPeriods } from './emulator/billing';
import { emulatorControl } from './emulator/control';
import { qorepayGateway } from './index';
import { emulatorStart } from '../../../test/helpers/emulator-start';
import { NotifyReceiver, type NotifyRequest } from '../../../test/helpers/notify-receiver';

/** What arrived from clock `clock` (undefined: from the main world), refused or not, as parsed bodies. */
function from(
  receiver: NotifyReceiver,
  clock: string | undefined,
): Array<NotifyRequest & { body: Notified }> {
  return receiver.requests
    .filter((r) => r.headers[TEST_CLOCK_HEADER] === clock)
    .map((r) => ({ ...r, body: JSON.parse(r.raw.toString()) as Notified }));
}

interface Notified {
  event_type: string;
  id: string;
  reference?: string;
  billing_template_id?: string;
  status?: string;
  payment?: { paid_on: number } | null;
}

interface ClockJson {
  id: string;
  now: string;
  nowMs: number;
  next_due: string | null;
  nextDueMs: number | null;
}
type Advanced = ClockJson & { from: string; processed: { stateEvents: number; deliveryAttempts: number } };

interface Purchase {
  id: string;
  reference: string;
  status: string;
  billing_template_id: string;
  transaction_data: { attempts: Array<{ successful: boolean; processing_time: number }> };
}
interface State {
  templates: Array<{ id: string; title: string }>;
  purchases: Purchase[];
}

/** A clock's start: mid-month, so that no month's end clamps its billing dates. */
const T0 = Date.UTC(2025, 0, 15, 9);
const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();
const month = (n: number, from = T0) => addPeriods(from, 'months', n);

describe('QorePay emulator test clocks', () => {
  const receiver = new NotifyReceiver();
  let emulator: Awaited<ReturnType<typeof qorepayGateway.startEmulator>>;
  let webhook: GatewayWebhook;
  let serial = 0;

  before(async () => {
    emulator = await qorepayGateway.startEmulator({
      port: 0,
      notifyUrl: await receiver.start('/webhooks/qorepay'),
      ...emulatorStart(),
    });
    webhook = qorepayGateway.webhook(emulator.env);
  });
  after(async () => {
    await emulator.close();
    await receiver.close();
  });

  /** A call to the emulator: its status and JSON body. */
  async function call<T>(
    method: string,
    path: string,
    options: { body?: unknown; clock?: string; auth?: boolean } = {},
  ): Promise<{ status: number; body: T }> {
    const res = await fetch(`${emulator.url}${path}`, {
      method,
      headers: {
        'Content-Type': 'application/json',
        ...(options.auth !== false && { Authorization: `Bearer ${emulator.env.QOREPAY_API_KEY}` }),
        ...(options.clock !== undefined && { [TEST_CLOCK_HEADER]: options.clock }),
      },
      ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
    });
    return { status: res.status, body: (await res.json()) as T };
  }
  const api = <T>(method: string, path: string, options?: { body?: unknown; clock?: string }) =>
    call<T>(method, `/api/v1${path}`, options);
  const control = <T>(method: string, path: string, options?: { body?: unknown; clock?: string }) =>
    call<T>(method, `/_emulator${path}`, { ...options, auth: false });

  /** A clock frozen at `frozenMs`; each test's ids are its own (the emulator is shared). */
  async function clock(name: string, frozenMs = T0): Promise<string> {
    const id = `${name}_${(serial += 1)}`;
    const made = await control<ClockJson>('POST', '/test_clocks', {
      body: { id, frozen_time: iso(frozenMs) },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.deepEqual(made.body, { id, now: iso(frozenMs), nowMs: frozenMs, next_due: null, nextDueMs: null });
    return id;
  }

  async function advance(id: string, toMs: number): Promise<Advanced> {
    const reply = await control<Advanced>('POST', `/test_clocks/${id}/advance`, { body: { to: iso(toMs) } });
    assert.equal(reply.status, 200, JSON.stringify(reply.body));
    return reply.body;
  }

  /** A monthly subscription (template + subscriber), made on `clock` or, without one, in the main world. */
  async function subscribe(
    clockId?: string,
  ): Promise<{ templateId: string; clientId: string; title: string }> {
    const title = `tc-${(serial += 1)}`;
    const options = clockId === undefined ? {} : { clock: clockId };
    const template = await api<{ id: string }>('POST', '/billing_templates/', {
      ...options,
      body: {
        brand_id: emulator.env.QOREPAY_BRAND_ID,
        title,
        is_subscription: true,
        purchase: { currency: 'MYR', products: [{ name: 'Plan', price: 2500, quantity: '1' }] },
        subscription_period: 1,
        subscription_period_units: 'months',
        subscription_due_period: 7,
        subscription_due_period_units: 'days',
        subscription_charge_period_end: false,
        subscription_trial_periods: 0,
        subscription_active: true,
      },
    });
    assert.equal(template.status, 201, JSON.stringify(template.body));
    const clientId = `client-${title}`;
    const added = await api('POST', `/billing_templates/${template.body.id}/add_subscriber/`, {
      ...options,
      body: { client_id: clientId },
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    return { templateId: template.body.id, clientId, title };
  }

  const state = async (clockId?: string) =>
    (await control<State>('GET', '/state', clockId === undefined ? {} : { clock: clockId })).body;

  it('keeps a subscription made on a clock to its world; a call naming no clock reaches it by its id', async () => {
    const id = await clock('qp_keep');
    const other = await clock('qp_other');
    const { templateId, clientId, title } = await subscribe(id);

    const onClock = await state(id);
    assert.deepEqual(
      onClock.templates.map((t) => t.id),
      [templateId],
    );
    assert.deepEqual(
      onClock.purchases.map((p) => [p.reference, p.status]),
      [[`${title}#1`, 'paid']],
    );
    const main = await state();
    assert.ok(!main.templates.some((t) => t.id === templateId), 'not in the main world');
    assert.ok(!main.purchases.some((p) => p.billing_template_id === templateId));
    assert.equal((await state(other)).templates.length, 0, 'nor on another clock');
    assert.equal((await api('GET', `/billing_templates/${templateId}/`, { clock: other })).status, 404);

    // Without the header, QorePay's calls find the records by their ids.
    const found = await api<{ id: string; created_on: number }>('GET', `/billing_templates/${templateId}/`);
    assert.equal(found.status, 200);
    assert.deepEqual(found.body.id, templateId);
    assert.equal(found.body.created_on, T0 / 1000, "made at the clock's time");
    const subscriber = await api<{ status: string }>(
      'GET',
      `/billing_templates/${templateId}/clients/${clientId}/`,
    );
    assert.deepEqual([subscriber.status, subscriber.body.status], [200, 'active']);
    const purchases = await api<{ results: Purchase[] }>(
      'GET',
      `/purchases/?billing_template_id=${templateId}&client_id=${clientId}`,
    );
    assert.equal(purchases.body.results.length, 1);
    const purchaseId = purchases.body.results[0]?.id ?? '';
    assert.equal((await api('GET', `/purchases/${purchaseId}/`)).status, 200);
    // A list naming no record stays on the main world; with the header it is the clock's.
    const byTitle = (clockId?: string) =>
      api<{ results: unknown[] }>(
        'GET',
        `/billing_templates/?title=${title}`,
        clockId ? { clock: clockId } : {},
      );
    assert.equal((await byTitle()).body.results.length, 0);
    assert.equal((await byTitle(id)).body.results.length, 1);

    // The clock's own control calls: its time, and when it bills next.
    assert.equal((await control<{ now: number }>('GET', '/clock', { clock: id })).body.now, T0);
    const read = await control<ClockJson>('GET', `/test_clocks/${id}`);
    assert.deepEqual(
      [read.body.nowMs, read.body.nextDueMs, read.body.next_due],
      [T0, month(1), iso(month(1))],
    );
  });

  it('bills a clock month by month in time order; its notifications arrive signed and named before the advance answers', async () => {
    const id = await clock('qp_monthly');
    const { templateId, title } = await subscribe(id);
    const mainBefore = (await control<{ now: number }>('GET', '/clock')).body.now;
    // Flush the first cycle's notification: nothing is due at the clock's now.
    const flushed = await advance(id, T0);
    assert.equal(flushed.processed.stateEvents, 0);
    assert.deepEqual(
      from(receiver, id).map((r) => r.body.reference),
      [`${title}#1`],
    );

    let now = T0;
    for (const m of [1, 2, 3]) {
      const seen = from(receiver, id).length;
      // The first month's notification is refused once: its redelivery is awaited too.
      if (m === 1) receiver.refuseNext = 1;
      const moved = await advance(id, month(m));
      assert.equal(moved.from, iso(now));
      assert.equal(moved.nowMs, month(m));
      assert.equal(moved.nextDueMs, month(m + 1));
      assert.deepEqual(moved.processed, { stateEvents: 1, deliveryAttempts: m === 1 ? 2 : 1 });
      // Already here, with no waiting: the advance answered after the delivery.
      const arrived = from(receiver, id).slice(seen);
      assert.deepEqual(
        arrived.map((r) => [r.body.event_type, r.body.reference]),
        m === 1
          ? [
              ['purchase.paid', `${title}#2`],
              ['purchase.paid', `${title}#2`],
            ]
          : [['purchase.paid', `${title}#${m + 1}`]],
      );
      for (const r of arrived) {
        assert.equal(r.headers[TEST_CLOCK_HEADER], id);
        assert.equal(r.body.payment?.paid_on, month(m) / 1000);
        const reading = webhook.read(r.raw, r.headers, Date.now());
        assert.equal(reading.kind, 'facts', 'the signature verifies with the emulator’s public key');
      }
      now = month(m);
    }
    // Again to the same time: nothing left to do or deliver.
    const again = await advance(id, now);
    assert.deepEqual(again.processed, { stateEvents: 0, deliveryAttempts: 0 });

    // Two months at once: both billed, in time order.
    const twice = await advance(id, month(5));
    assert.deepEqual(twice.processed, { stateEvents: 2, deliveryAttempts: 2 });
    const log = await emulatorControl(emulator.url, id).notifications();
    const lastTwo = log.slice(-2).map((n) => JSON.parse(n.body) as Notified);
    assert.deepEqual(
      lastTwo.map((b) => [b.reference, b.payment?.paid_on]),
      [
        [`${title}#5`, month(4) / 1000],
        [`${title}#6`, month(5) / 1000],
      ],
    );
    assert.ok(log.every((n) => n.status === 'delivered' && n.headers[TEST_CLOCK_HEADER] === id));
    assert.equal(
      from(receiver, id).filter((r) => r.body.billing_template_id === templateId).length,
      7,
      'six cycles, the second one twice',
    );
    assert.equal(
      (await control<{ now: number }>('GET', '/clock')).body.now,
      mainBefore,
      'the main clock stays',
    );
  });

  it('advances two clocks at once, each billing only its own; the main world stays put', async () => {
    const a = await clock('qp_a');
    const b = await clock('qp_b', T0 + 10 * DAY);
    const onA = await subscribe(a);
    const onB = await subscribe(b);
    const onMain = await subscribe();
    const mainBefore = (await control<{ now: number }>('GET', '/clock')).body.now;
    const mainPurchases = (await state()).purchases.length;

    const [movedA, movedB] = await Promise.all([advance(a, month(2)), advance(b, month(1, T0 + 10 * DAY))]);
    assert.equal(movedA.processed.stateEvents, 2);
    assert.equal(movedB.processed.stateEvents, 1);
    assert.deepEqual(
      (await state(a)).purchases.map((p) => [p.billing_template_id, p.reference, p.status]),
      [1, 2, 3].map((n) => [onA.templateId, `${onA.title}#${n}`, 'paid']),
    );
    assert.deepEqual(
      (await state(b)).purchases.map((p) => [p.billing_template_id, p.reference, p.status]),
      [1, 2].map((n) => [onB.templateId, `${onB.title}#${n}`, 'paid']),
    );
    // What each clock sent is its own, and named by it; the main world's names none.
    for (const [clockId, own] of [
      [a, onA],
      [b, onB],
    ] as const) {
      const sent = from(receiver, clockId);
      assert.equal(sent.length, clockId === a ? 3 : 2);
      assert.ok(sent.every((r) => r.body.billing_template_id === own.templateId));
    }
    const main = await state();
    assert.equal(main.purchases.length, mainPurchases, 'nothing billed in the main world');
    assert.ok(!main.templates.some((t) => t.id === onA.templateId || t.id === onB.templateId));
    assert.equal((await control<{ now: number }>('GET', '/clock')).body.now, mainBefore);
    const mainLog = await emulatorControl(emulator.url).notifications();
    const mainSent = mainLog.filter((n) => n.subscriptionId.startsWith(onMain.templateId));
    assert.equal(mainSent.length, 1);
    assert.ok(
      mainLog.every((n) => !(TEST_CLOCK_HEADER in n.headers)),
      'the main world names no clock',
    );
  });

  it("declines a clock world's cards alone, and retries in that world", async () => {
    const id = await clock('qp_cards');
    const onClock = await subscribe(id);
    const onMain = await subscribe();
    const declined = await control<{ approveAll: boolean }>('POST', '/cards', {
      clock: id,
      body: { approve: false },
    });
    assert.deepEqual([declined.status, declined.body.approveAll], [200, false]);

    const failed = await advance(id, month(1));
    assert.deepEqual(failed.processed, { stateEvents: 1, deliveryAttempts: 1 });
    assert.equal(failed.nextDueMs, month(1) + DAY, 'the retry, a day later');
    const retried = await advance(id, month(1) + DAY);
    assert.deepEqual(retried.processed, { stateEvents: 1, deliveryAttempts: 1 });
    assert.deepEqual(
      from(receiver, id)
        .filter((r) => r.body.reference === `${onClock.title}#2`)
        .map((r) => [r.body.event_type, r.body.reference, r.body.status]),
      [
        ['purchase.payment_failure', `${onClock.title}#2`, 'error'],
        ['purchase.payment_failure', `${onClock.title}#2`, 'error'],
      ],
    );
    const second = (await state(id)).purchases.find((p) => p.reference === `${onClock.title}#2`);
    assert.deepEqual(
      second?.transaction_data.attempts.map((a) => [a.successful, a.processing_time]),
      [
        [false, month(1) / 1000],
        [false, (month(1) + DAY) / 1000],
      ],
    );

    // The main world's cards still approve: its next cycle is paid.
    await emulatorControl(emulator.url).advance(31 * DAY);
    const main = (await state()).purchases.filter((p) => p.billing_template_id === onMain.templateId);
    assert.deepEqual(
      main.map((p) => [p.reference, p.status]),
      [
        [`${onMain.title}#1`, 'paid'],
        [`${onMain.title}#2`, 'paid'],
      ],
    );
    assert.equal(from(receiver, id).length, 3, 'the main world’s advance moved nothing on the clock');

    // Approved again on the clock: the next retry pays.
    await control('POST', '/cards', { clock: id, body: { approve: true } });
    const paid = await advance(id, month(1) + 2 * DAY);
    assert.deepEqual(paid.processed, { stateEvents: 1, deliveryAttempts: 1 });
    assert.equal(from(receiver, id).at(-1)?.body.event_type, 'purchase.paid');
  });

  it('refuses what it cannot do with a clear 4xx, and forgets a removed clock', async () => {
    const id = await clock('qp_refuse');
    const twice = await control<{ __all__: Array<{ code: string }> }>('POST', '/test_clocks', {
      body: { id, frozen_time: iso(T0) },
    });
    assert.deepEqual([twice.status, twice.body.__all__[0]?.code], [409, 'test_clock_exists']);
    const malformed = await control<{ id: string[] }>('POST', '/test_clocks', {
      body: { id: 'a clock', frozen_time: iso(T0) },
    });
    assert.equal(malformed.status, 400);
    assert.match(malformed.body.id[0] ?? '', /malformed/);
    const noTime = await control<{ frozen_time: string[] }>('POST', '/test_clocks', {
      body: { id: 'qp_soon', frozen_time: 'soon' },
    });
    assert.deepEqual([noTime.status, Object.keys(noTime.body)], [400, ['frozen_time']]);
    const extra = await control('POST', '/test_clocks', { body: { id: 'qp_x', frozen_time: iso(T0), x: 1 } });
    assert.equal(extra.status, 400);
    const back = await control<{ to: string[] }>('POST', `/test_clocks/${id}/advance`, {
      body: { to: iso(T0 - DAY) },
    });
    assert.deepEqual([back.status, Object.keys(back.body)], [400, ['to']]);

    const unknown = 'qp_nowhere';
    const notFound = await control<{ __all__: Array<{ code: string }> }>('GET', `/test_clocks/${unknown}`);
    assert.deepEqual([notFound.status, notFound.body.__all__[0]?.code], [404, 'not_found']);
    assert.equal(
      (await control('POST', `/test_clocks/${unknown}/advance`, { body: { to: iso(T0) } })).status,
      404,
    );
    assert.equal((await control('GET', '/state', { clock: unknown })).status, 404);
    const onApi = await api<{ __all__: Array<{ code: string }> }>('GET', '/billing_templates/', {
      clock: unknown,
    });
    assert.deepEqual([onApi.status, onApi.body.__all__[0]?.code], [404, 'not_found']);

    const listed = await control<{ data: ClockJson[] }>('GET', '/test_clocks');
    const ids = listed.body.data.map((c) => c.id);
    assert.ok(ids.includes(id));
    assert.deepEqual(ids, [...ids].sort());

    // A notification held back on the clock, then the clock removed: it is never delivered.
    await control('POST', '/faults', { clock: id, body: { delayRate: 1, delayMs: 400 } });
    await subscribe(id);
    const held = await emulatorControl(emulator.url, id).notifications();
    assert.deepEqual(
      held.map((n) => [n.status, n.fault]),
      [['pending', 'delayed']],
    );
    const removed = await control('DELETE', `/test_clocks/${id}`);
    assert.deepEqual([removed.status, removed.body], [200, { id, deleted: true }]);
    assert.equal((await control('GET', `/test_clocks/${id}`)).status, 404);
    assert.equal((await control('DELETE', `/test_clocks/${id}`)).status, 404);
    assert.equal((await api('GET', '/billing_templates/', { clock: id })).status, 404);
    // A fence: a clock's notification held back longer, awaited by its advance; the removed
    // clock's, due earlier, would have arrived by then.
    const fence = await clock('qp_fence');
    await control('POST', '/faults', { clock: fence, body: { delayRate: 1, delayMs: 900 } });
    await subscribe(fence);
    assert.deepEqual((await advance(fence, T0)).processed, { stateEvents: 0, deliveryAttempts: 1 });
    assert.equal(from(receiver, fence).length, 1);
    assert.equal(from(receiver, id).length, 0, 'nothing delivered from the removed clock');
  });
});
