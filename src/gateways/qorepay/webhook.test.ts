/** Notifications through the real verification path: the emulator's own signed webhooks, and forgeries. */
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { PaymentFact, StateFact } from '../../domain/lifecycle/lifecycle-types';
import { WebhookRejection, type GatewayAdapter, type GatewayWebhook, type WebhookReading } from '../port';
import { emulatorControl } from './emulator/control';
import { qorepayGateway } from './index';
import { emulatorStart } from '../../../test/helpers/emulator-start';
import { NotifyReceiver, type NotifyRequest } from '../../../test/helpers/notify-receiver';

function rejection(fn: () => unknown): WebhookRejection {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof WebhookRejection, String(err));
    return err;
  }
  assert.fail('expected a WebhookRejection');
}

function facts(reading: WebhookReading) {
  assert.equal(reading.kind, 'facts');
  return reading.facts;
}

const eventOf = (r: NotifyRequest) => (JSON.parse(r.raw.toString()) as { event_type: string }).event_type;

describe('QorePay webhook', () => {
  const receiver = new NotifyReceiver();
  let emulator: Awaited<ReturnType<typeof qorepayGateway.startEmulator>>;
  let adapter: GatewayAdapter;
  let webhook: GatewayWebhook;
  let ctl: ReturnType<typeof emulatorControl>;

  before(async () => {
    emulator = await qorepayGateway.startEmulator({
      port: 0,
      notifyUrl: await receiver.start('/webhooks/qorepay'),
      ...emulatorStart(),
    });
    adapter = qorepayGateway.adapter(emulator.env);
    webhook = qorepayGateway.webhook(emulator.env);
    ctl = emulatorControl(emulator.url);
  });
  after(async () => {
    await emulator.close();
    await receiver.close();
  });

  it("reads the emulator's signed notifications into facts (redelivered after a 500)", async () => {
    receiver.refuseNext = 1;
    const { subscriptionId: id } = await adapter.create({
      reference: 'wh-1',
      customer: { id: 'client-wh-1' },
      plan: {
        name: 'Plan',
        amount: 2500,
        currency: 'MYR',
        interval: { unit: 'week', count: 1 },
        totalCycles: null,
      },
    });
    await ctl.cards(false, id);
    await ctl.advance(7 * 86_400_000);
    await adapter.cancel(id);
    await receiver.requestsMade(4); // three notifications, the first of them twice

    const sync = await adapter.sync(id, { sinceSequence: 1 });
    assert.ok(sync.found);
    const byEvent = new Map(receiver.requests.map((r) => [eventOf(r), r]));
    const read = (event: string) => {
      const r = byEvent.get(event);
      assert.ok(r, `no ${event} received`);
      return facts(webhook.read(r.raw, r.headers, Date.now()));
    };

    const [paid] = read('purchase.paid') as PaymentFact[];
    assert.deepEqual(
      { ...paid, orderId: undefined },
      {
        kind: 'payment',
        subscriptionId: id,
        orderId: undefined,
        sequenceNo: 1,
        succeeded: true,
        respcd: '0000',
        amount: 2500,
        currency: 'MYR',
        at: sync.fact.orders?.[0]?.at,
        triggerBy: 'auto',
        source: 'notification',
      },
    );
    assert.equal(paid?.orderId, sync.fact.orders?.[0]?.orderId);

    const [failed] = read('purchase.payment_failure') as PaymentFact[];
    assert.equal(failed?.subscriptionId, id);
    assert.equal(failed?.succeeded, false);
    assert.equal(failed?.sequenceNo, 2);
    assert.equal(failed?.respcd, 'card_declined');
    assert.equal(failed?.orderId, sync.fact.orders?.[1]?.orderId);

    const [cancelled] = read('billing_template_client.subscription_billing_cancelled') as StateFact[];
    assert.deepEqual(
      { ...cancelled, at: 0 },
      { kind: 'state', subscriptionId: id, state: 'CANCELLED', at: 0, source: 'notification' },
    );

    const log = await ctl.notifications();
    assert.equal(log.length, 3);
    assert.ok(log.every((n) => n.status === 'delivered'));
    assert.equal(log.find((n) => n.eventType === 'purchase.paid')?.attempts, 2);
    // The log's raw bodies and headers verify too.
    for (const n of log) assert.equal(webhook.read(Buffer.from(n.body), n.headers, Date.now()).kind, 'facts');
  });

  it('duplicates and drops notifications when told to', async () => {
    const before = receiver.requests.length;
    await ctl.faults({ duplicateRate: 1 });
    const { subscriptionId: id } = await adapter.create({
      reference: 'wh-2',
      customer: { id: 'client-wh-2' },
      plan: {
        name: 'Plan',
        amount: 100,
        currency: 'MYR',
        interval: { unit: 'day', count: 1 },
        totalCycles: null,
      },
    });
    await receiver.requestsMade(before + 2);
    const [a, b] = receiver.requests.slice(before);
    assert.ok(a && b);
    assert.deepEqual(a.raw, b.raw);
    assert.deepEqual(webhook.read(a.raw, a.headers, 0), webhook.read(b.raw, b.headers, 0));

    await ctl.faults({ duplicateRate: 0, dropRate: 1 });
    await adapter.cancel(id);
    const dropped = (await ctl.notifications()).filter(
      (n) => n.subscriptionId === id && n.status === 'dropped',
    );
    assert.deepEqual(
      dropped.map((n) => n.eventType),
      ['billing_template_client.subscription_billing_cancelled'],
    );
    await ctl.faults({ dropRate: 0 });
  });

  it('refuses a tampered body, a wrong or missing signature with 401', async () => {
    const r = receiver.requests[0];
    assert.ok(r);
    const tampered = Buffer.from(r.raw.toString().replace('"total":2500', '"total":1'));
    assert.notDeepEqual(tampered, r.raw);
    assert.equal(rejection(() => webhook.read(tampered, r.headers, 0)).status, 401);
    const other = receiver.requests.find((x) => !x.raw.equals(r.raw));
    assert.ok(other);
    const swapped = { ...r.headers, 'x-signature': other.headers['x-signature'] };
    assert.equal(rejection(() => webhook.read(r.raw, swapped, 0)).status, 401);
    assert.equal(
      rejection(() => webhook.read(r.raw, { ...r.headers, 'x-signature': 'bm9wZQ==' }, 0)).status,
      401,
    );
    assert.equal(rejection(() => webhook.read(r.raw, {}, 0)).status, 401);
    const unkeyed = qorepayGateway.webhook({});
    assert.equal(rejection(() => unkeyed.read(r.raw, r.headers, 0)).status, 401);
  });

  it('refuses a validly signed body of the wrong shape with 400 naming the field, and ignores other events', () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const ours = qorepayGateway.webhook({ QOREPAY_WEBHOOK_PUBLIC_KEY: pem.replace(/\n/g, '\\n') });
    const signed = (body: string) => {
      const raw = Buffer.from(body);
      return [raw, { 'x-signature': sign('sha256', raw, privateKey).toString('base64') }] as const;
    };
    const purchase = JSON.parse(
      receiver.requests.map((r) => r.raw.toString()).find((b) => b.includes('purchase.paid'))!,
    );

    const cases: Array<[unknown, string]> = [
      [{ ...purchase, client_id: undefined }, 'client_id'],
      [{ ...purchase, purchase: { ...purchase.purchase, total: 'lots' } }, 'purchase.total'],
      [{ ...purchase, event_type: undefined }, 'event_type'],
      [
        { id: 'x', event_type: 'billing_template_client.subscription_billing_cancelled' },
        'billing_template_id',
      ],
    ];
    for (const [body, field] of cases) {
      const err = rejection(() => ours.read(...signed(JSON.stringify(body)), 0));
      assert.deepEqual([err.status, err.field], [400, field], err.message);
    }
    assert.equal(rejection(() => ours.read(...signed('{not json'), 0)).field, 'body');
    const ignored = ours.read(...signed(JSON.stringify({ ...purchase, event_type: 'purchase.created' })), 0);
    assert.equal(ignored.kind, 'ignored');
    // A reference without the emulator's `#<n>` (seed 003 defines none): acknowledged, not refused
    // (QorePay would send it again for ever); the subscription's next sync places it.
    const unnumbered = ours.read(...signed(JSON.stringify({ ...purchase, reference: 'INV-2041' })), 0);
    assert.equal(unnumbered.kind, 'ignored');
    assert.equal(facts(ours.read(...signed(JSON.stringify(purchase)), 0)).length, 1);
    assert.deepEqual(webhook.ack.status, 200);
  });
});
