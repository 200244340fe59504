/**
 * The emulator's own signed callbacks, received over HTTP by a local receiver, read through the
 * webhook's real verification path; and refusals of tampered, unsigned and malformed bodies.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebhookRejection, type GatewayEnv, type GatewayWebhook, type WebhookHeaders } from '../port';
import { madfintechGateway } from './index';
import { signCallback } from './webhook';
import { emulatorStart } from '../../../test/helpers/emulator-start';
import { NotifyReceiver } from '../../../test/helpers/notify-receiver';

const DAY = 86_400_000;

/** `actual` has every key of `expected` with that value (arrays: element by element, same length). */
function assertHas(actual: unknown, expected: unknown, path = 'value'): void {
  if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), `${path} is not an array`);
    assert.equal(actual.length, expected.length, `${path}.length`);
    expected.forEach((e, i) => assertHas(actual[i], e, `${path}[${i}]`));
  } else if (typeof expected === 'object' && expected !== null) {
    assert.ok(typeof actual === 'object' && actual !== null, `${path} is not an object`);
    for (const [k, v] of Object.entries(expected))
      assertHas((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
  } else {
    assert.equal(actual, expected, path);
  }
}

describe('madfintech webhook', () => {
  const receiver = new NotifyReceiver();
  let emulator: { url: string; close(): Promise<void>; env: GatewayEnv };
  let webhook: GatewayWebhook;
  /** The callbacks delivered (answered 200), in order. */
  const received = () => receiver.delivered();
  const control = async (path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(`${emulator.url}/_emulator${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    assert.equal(res.status, 200);
    return res.json();
  };
  /** The emulator's log for one order once no callback is pending (polled, at most 200 looks). */
  const settledLog = async (orderNumber: string) => {
    for (let attempt = 0; attempt < 200; attempt += 1) {
      const { notifications } = (await control(`/notifications?orderNumber=${orderNumber}`)) as {
        notifications: Array<{ status: string; attempts: number; body: string; fault?: string }>;
      };
      if (notifications.every((n) => n.status !== 'pending')) return notifications;
    }
    throw new Error(`callbacks of ${orderNumber} still pending`);
  };
  const rejection = (fn: () => unknown, status: 400 | 401, field?: string): void => {
    assert.throws(fn, (err: unknown) => {
      assert.ok(err instanceof WebhookRejection, String(err));
      assert.equal(err.status, status);
      if (field !== undefined) assert.equal(err.field, field);
      return true;
    });
  };

  before(async () => {
    emulator = await madfintechGateway.startEmulator({
      port: 0,
      notifyUrl: await receiver.start('/hook'),
      ...emulatorStart(),
    });
    webhook = madfintechGateway.webhook(emulator.env);
  });
  after(async () => {
    await emulator.close();
    await receiver.close();
  });

  it('reads charge success, charge failure and cancellation callbacks into facts', async () => {
    const adapter = madfintechGateway.adapter(emulator.env);
    receiver.refuseNext = 1; // the first callback is refused once: the emulator must redeliver it
    const { subscriptionId: id } = await adapter.create({
      reference: 'hook-1',
      customer: { id: 'cus_9' },
      plan: {
        name: 'P',
        amount: 1250,
        currency: 'EUR',
        interval: { unit: 'week', count: 1 },
        totalCycles: null,
      },
      paymentMethod: { token: 'card_1' },
    });
    await receiver.deliveries(1);
    await control('/cards', { approve: false, orderNumber: id });
    await control('/clock/advance', { ms: 7 * DAY });
    await receiver.deliveries(2);
    await adapter.cancel(id);
    await receiver.deliveries(3);

    const readings = received()
      .slice(0, 3)
      .map((r) => webhook.read(r.raw, r.headers, 1));
    const [paid, failed, cancelled] = readings;
    assert.ok(paid?.kind === 'facts' && failed?.kind === 'facts' && cancelled?.kind === 'facts');
    assertHas(paid.facts, [
      {
        kind: 'payment',
        subscriptionId: id,
        orderId: `${id}:1`,
        sequenceNo: 1,
        succeeded: true,
        respcd: '0000',
        amount: 1250,
        currency: 'EUR',
        source: 'notification',
      },
    ]);
    assertHas(failed.facts, [
      { kind: 'payment', orderId: `${id}:2`, sequenceNo: 2, succeeded: false, respcd: 'card_declined' },
    ]);
    assert.equal(failed.facts.length, 1);
    const state = cancelled.facts.find((f) => f.kind === 'state');
    assertHas(state, { kind: 'state', subscriptionId: id, state: 'CANCELLED' });
    assert.ok(state && paid.facts[0] && state.at > paid.facts[0].at, 'the gateway time of the cancel');

    const log = await settledLog(id);
    assert.deepEqual(
      log.map((n) => [n.status, n.attempts]),
      [
        ['delivered', 2],
        ['delivered', 1],
        ['delivered', 1],
      ],
    );
    assert.equal(log[0]?.body, received()[0]?.raw.toString('utf8'));
  });

  it('refuses a tampered body, a wrong signature and a missing one with 401', () => {
    const sample = received()[0];
    assert.ok(sample);
    const tampered = Buffer.from(sample.raw.toString('utf8').replace('"12.50"', '"1.25"'));
    assert.notDeepEqual(tampered, sample.raw);
    rejection(() => webhook.read(tampered, sample.headers, 1), 401);
    rejection(() => webhook.read(sample.raw, { ...sample.headers, 'x-signature': 'ab'.repeat(32) }, 1), 401);
    rejection(() => webhook.read(sample.raw, { ...sample.headers, 'x-signature': undefined }, 1), 401);
    const otherSecret = madfintechGateway.webhook({ ...emulator.env, MADFINTECH_CALLBACK_SECRET: 'other' });
    rejection(() => otherSecret.read(sample.raw, sample.headers, 1), 401);
  });

  it('refuses a validly signed body of the wrong shape with 400 naming the field', () => {
    const sample = received()[0];
    assert.ok(sample);
    const secret = emulator.env.MADFINTECH_CALLBACK_SECRET ?? '';
    const signed = (value: unknown): [Buffer, WebhookHeaders] => {
      const body = Buffer.from(JSON.stringify(value));
      return [body, { 'x-signature': signCallback(body, secret) }];
    };
    const order = JSON.parse(sample.raw.toString('utf8')) as Record<string, unknown> & {
      payments: Array<{ paymentStatus: { status: string } }>;
    };
    const badStatus = structuredClone(order);
    badStatus.payments[0]!.paymentStatus.status = 'exploded';
    rejection(() => webhook.read(...signed(badStatus), 1), 400, 'payments.0.paymentStatus.status');
    const { orderNumber: _dropped, ...noNumber } = order;
    rejection(() => webhook.read(...signed(noNumber), 1), 400, 'orderNumber');
    rejection(() => webhook.read(...signed([1, 2]), 1), 400);
    const garbage = Buffer.from('{not json');
    rejection(() => webhook.read(garbage, { 'x-signature': signCallback(garbage, secret) }, 1), 400);
  });

  it('ignores a callback with nothing settled and no state change', () => {
    const secret = emulator.env.MADFINTECH_CALLBACK_SECRET ?? '';
    const order = JSON.parse(received()[0]!.raw.toString('utf8')) as {
      payments: Array<{ paymentStatus: { status: string } }>;
    };
    order.payments[0]!.paymentStatus.status = 'in_progress';
    const body = Buffer.from(JSON.stringify(order));
    const reading = webhook.read(body, { 'x-signature': signCallback(body, secret) }, 1);
    assert.equal(reading.kind, 'ignored');
  });

  it('duplicates callbacks when that fault is on, each validly signed', async () => {
    await control('/faults', { duplicateShare: 1 });
    const adapter = madfintechGateway.adapter(emulator.env);
    const before = received().length;
    await adapter.create({
      reference: 'hook-dup',
      customer: { id: 'cus_9' },
      plan: { name: 'P', amount: 100, currency: 'JPY', interval: { unit: 'day', count: 1 }, totalCycles: 1 },
      paymentMethod: { token: 'card_1' },
    });
    await receiver.deliveries(before + 2);
    await control('/faults', { duplicateShare: 0 });
    const [a, b] = received().slice(before, before + 2);
    assert.ok(a && b);
    assert.deepEqual(a.raw, b.raw);
    const reading = webhook.read(a.raw, a.headers, 1);
    assert.ok(reading.kind === 'facts');
    assertHas(reading.facts, [
      { kind: 'payment', succeeded: true, amount: 100, currency: 'JPY' },
      { kind: 'state', state: 'COMPLETED' },
    ]);
  });

  it('drops or holds back callbacks when those faults are on', async () => {
    const adapter = madfintechGateway.adapter(emulator.env);
    const plan = {
      name: 'P',
      amount: 100,
      currency: 'USD',
      interval: { unit: 'day', count: 1 },
      totalCycles: null,
    } as const;
    const logOf = settledLog;
    await control('/faults', { dropShare: 1 });
    await adapter.create({
      reference: 'hook-drop',
      customer: { id: 'c' },
      plan,
      paymentMethod: { token: 't' },
    });
    await control('/faults', { dropShare: 0, delayMs: 5 });
    const before = received().length;
    await adapter.create({
      reference: 'hook-late',
      customer: { id: 'c' },
      plan,
      paymentMethod: { token: 't' },
    });
    await receiver.deliveries(before + 1);
    await control('/faults', { delayMs: 0 });
    assert.deepEqual(
      (await logOf('hook-drop')).map((n) => [n.status, n.fault]),
      [['dropped', 'dropped']],
    );
    assert.deepEqual(
      (await logOf('hook-late')).map((n) => [n.status, n.fault]),
      [['delivered', 'delayed']],
    );
    assert.ok(receiver.requests.every((r) => !r.raw.toString('utf8').includes('"hook-drop"')));
  });
});
