import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { verifyNotificationSignature } from '../../src/gateways/qfpay/signing';
import { HOUR, MINUTE, useTestEmulator, TEST_APP_KEY, TEST_START } from '../helpers/emulator-client';

const iso = (ms: number) => new Date(ms).toISOString();

interface LoggedNotification {
  id: string;
  notify_type: string;
  status: string;
  fault: string | null;
  body: string;
  payload: Record<string, unknown>;
  attempts: { at: string; ok: boolean; http_status: number | null; error?: string }[];
}

describe('emulator notifications', () => {
  const t = useTestEmulator({ restoreNotifyUrl: true });

  const log = async (query: string) =>
    (
      await t.client.control<{ data: LoggedNotification[]; suppressed: number }>(
        'GET',
        `/notifications?${query}`,
      )
    ).body;

  it('signs every notification as QFPay does: MD5 of the raw body + app key, JSON content type', async () => {
    await t.client.subscribe();
    await t.emulator.settle();
    assert.equal(t.receiver.received.length, 3);
    for (const r of t.receiver.received) {
      assert.equal(r.headers['content-type'], 'application/json');
      assert.ok(verifyNotificationSignature(r.rawBody, TEST_APP_KEY, r.headers['x-qf-sign'] as string));
      assert.ok(!verifyNotificationSignature(r.rawBody, 'another-key', r.headers['x-qf-sign'] as string));
    }
  });

  it('sends subscription_payment with the fields of seed 001', async () => {
    const { subscriptionId, customerId, tokenId } = await t.client.subscribe();
    const second = await t.client.createProduct({ name: 'Add-on', txamt: 200 });
    const firstProduct = (await t.client.queryRow(subscriptionId)).products as { product_id: string }[];
    await t.client.ok('/subscription/v1/update', {
      subscription_id: subscriptionId,
      products: [...firstProduct, { product_id: second, quantity: 2 }],
    });
    await t.client.setCharges(tokenId, 'decline');
    await t.client.advance({ ms: 31 * 24 * HOUR });
    const [paid, declined] = t.receiver.payloads('subscription_payment', subscriptionId);
    assert.deepEqual(Object.keys(paid ?? {}).sort(), [
      'card_scheme',
      'cardcd',
      'current_iteration',
      'customer_id',
      'notify_type',
      'product_id',
      'reason',
      'respcd',
      'respmsg',
      'subscription_id',
      'subscription_order_id',
      'syssn',
      'txamt',
      'txcurrcd',
      'txdtm',
    ]);
    assert.equal(paid?.respcd, '0000');
    assert.equal(paid?.txamt, '300');
    assert.equal(paid?.txcurrcd, 'HKD');
    assert.equal(paid?.txdtm, '2025-01-15 10:00:00');
    assert.equal(paid?.cardcd, '5200****1096');
    assert.equal(paid?.card_scheme, 'MASTERCARD');
    assert.equal(paid?.current_iteration, '1');
    assert.equal(paid?.customer_id, customerId);
    assert.equal(paid?.subscription_order_id, `sub_ord_${subscriptionId.slice(4)}_0001`);
    assert.equal(declined?.respcd, '1205');
    assert.equal(declined?.txamt, '700');
    assert.equal(declined?.current_iteration, '2');
    assert.equal(declined?.product_id, `${firstProduct[0]?.product_id},${second}`);
    assert.equal('card_scheme' in (declined ?? {}), false);
    const [state] = t.receiver.payloads('subscription', subscriptionId);
    assert.deepEqual(state, {
      notify_type: 'subscription',
      subscription_id: subscriptionId,
      state: 'ACTIVE',
      sysdtm: '2025-01-15 10:00:00',
    });
  });

  it('redelivers on QFPay’s schedule (2m, 10m, 10m, 60m, 2h, 6h, 15h) until SUCCESS, then gives up', async () => {
    t.receiver.fail(500, 'oops');
    const customerId = await t.client.createCustomer();
    await t.client.createToken(customerId);
    await t.emulator.settle();
    const offsets = [0, 2, 12, 22, 82, 202, 562, 1462].map((m) => m * MINUTE);
    for (const [i, offset] of offsets.entries()) {
      await t.client.advance({ to: iso(TEST_START + offset) });
      assert.equal(t.receiver.received.length, i + 1, `attempt ${i + 1} at +${offset / MINUTE} min`);
      await t.client.advance({ to: iso(TEST_START + offset + MINUTE - 1) });
      assert.equal(t.receiver.received.length, i + 1, 'no attempt between two scheduled ones');
    }
    await t.client.advance({ ms: 7 * 24 * HOUR });
    assert.equal(t.receiver.received.length, 8);
    const [record] = (await log(`customer_id=${customerId}`)).data;
    assert.equal(record?.status, 'given_up');
    assert.deepEqual(
      record?.attempts.map((a) => a.at),
      offsets.map((o) => iso(TEST_START + o)),
    );
    assert.ok(record?.attempts.every((a) => a.http_status === 500 && !a.ok));
  });

  it('counts only HTTP 200 with the body SUCCESS as delivered', async () => {
    t.receiver.fail(200, 'OK');
    const customerId = await t.client.createCustomer();
    await t.client.createToken(customerId);
    await t.emulator.settle();
    t.receiver.succeed();
    await t.client.advance({ ms: 2 * MINUTE });
    await t.client.advance({ ms: 60 * MINUTE });
    const [record] = (await log('notify_type=payment_token')).data;
    assert.equal(record?.status, 'delivered');
    assert.deepEqual(
      record?.attempts.map((a) => [a.http_status, a.ok]),
      [
        [200, false],
        [200, true],
      ],
    );
    assert.equal(t.receiver.received.length, 2);
  });

  it('redelivers after a network error', async () => {
    t.emulator.setNotifyUrl('http://127.0.0.1:9/unreachable');
    const customerId = await t.client.createCustomer();
    await t.client.createToken(customerId);
    await t.emulator.settle();
    t.emulator.setNotifyUrl(t.receiver.url);
    await t.client.advance({ ms: 2 * MINUTE });
    const [record] = (await log('notify_type=payment_token')).data;
    assert.equal(record?.attempts[0]?.http_status, null);
    assert.ok(record?.attempts[0]?.error);
    assert.equal(record?.status, 'delivered');
  });

  it('keeps a delivery log per subscription with every attempt and body', async () => {
    const { subscriptionId } = await t.client.subscribe();
    await t.emulator.settle();
    const { data } = await log(`subscription_id=${subscriptionId}`);
    assert.deepEqual(
      data.map((n) => [n.notify_type, n.status, n.attempts.length]),
      [
        ['subscription_payment', 'delivered', 1],
        ['subscription', 'delivered', 1],
      ],
    );
    assert.equal(data[1]?.payload.state, 'ACTIVE');
    const received = t.receiver.received.find(
      (r) => r.payload.notify_type === 'subscription' && r.payload.subscription_id === subscriptionId,
    );
    assert.equal(data[1]?.body, received?.rawBody);
  });

  describe('faults', () => {
    it('sends nothing while notificationsEnabled is false, and again once it is true', async () => {
      await t.client.control('POST', '/faults', { notificationsEnabled: false });
      const quiet = await t.client.subscribe();
      await t.emulator.settle();
      assert.equal(t.receiver.received.length, 0);
      const logged = await log('');
      assert.equal(logged.data.length, 0);
      assert.equal(logged.suppressed >= 3, true);
      await t.client.control('POST', '/faults', { notificationsEnabled: true });
      await t.client.ok('/subscription/v1/cancel', { subscription_id: quiet.subscriptionId });
      await t.emulator.settle();
      assert.deepEqual(t.receiver.states(quiet.subscriptionId), ['CANCELLED']);
    });

    it('drops notifications at dropRate 1, logging them as dropped', async () => {
      await t.client.control('POST', '/faults', { dropRate: 1 });
      const { subscriptionId } = await t.client.subscribe();
      await t.client.advance({ ms: 24 * HOUR });
      assert.equal(t.receiver.received.length, 0);
      const { data } = await log(`subscription_id=${subscriptionId}`);
      assert.deepEqual(
        data.map((n) => [n.status, n.fault, n.attempts.length]),
        [
          ['dropped', 'dropped', 0],
          ['dropped', 'dropped', 0],
        ],
      );
    });

    it('delivers every notification twice at duplicateRate 1', async () => {
      await t.client.control('POST', '/faults', { duplicateRate: 1 });
      const { subscriptionId } = await t.client.subscribe();
      await t.emulator.settle();
      assert.deepEqual(t.receiver.states(subscriptionId), ['ACTIVE', 'ACTIVE']);
      const bodies = t.receiver.received
        .filter((r) => r.payload.notify_type === 'subscription_payment')
        .map((r) => r.rawBody);
      assert.equal(bodies.length, 2);
      assert.equal(bodies[0], bodies[1]);
    });

    it('holds notifications back by delayMs at reorderRate 1, so later ones overtake them', async () => {
      await t.client.control('POST', '/faults', { reorderRate: 1, delayMs: 60_000 });
      const first = await t.client.subscribe();
      await t.client.control('POST', '/faults', { reorderRate: 0 });
      await t.client.advance({ ms: 1_000 });
      const second = await t.client.subscribe();
      await t.emulator.settle();
      const order = () =>
        t.receiver
          .payloads('subscription')
          .map((p) =>
            p.subscription_id === first.subscriptionId
              ? 'first'
              : p.subscription_id === second.subscriptionId
                ? 'second'
                : '?',
          );
      assert.deepEqual(order(), ['second']);
      await t.client.advance({ ms: 59_000 });
      assert.deepEqual(order(), ['second', 'first']);
      const { data } = await log(`subscription_id=${first.subscriptionId}`);
      assert.ok(data.every((n) => n.fault === 'delayed' && n.attempts[0]?.at === iso(TEST_START + 60_000)));
    });

    it('drops a seeded share of notifications reproducibly', async () => {
      const run = async () => {
        t.emulator.reset({ nowMs: TEST_START, frozen: true });
        t.receiver.clear();
        await t.client.control('POST', '/faults', { seed: 1234, dropRate: 0.5 });
        const customerId = await t.client.createCustomer();
        for (const card of ['5200000000001096', '4000000000001091', '5200000000001005', '4000000000001000']) {
          await t.client.createToken(customerId, card);
        }
        await t.emulator.settle();
        return (await log('notify_type=payment_token')).data.map((n) => n.status);
      };
      const first = await run();
      assert.deepEqual(await run(), first);
    });
  });

  it('changes the notify URL at run time through /_emulator/config', async () => {
    const off = await t.client.control<{ notifyUrl: string | null }>('POST', '/config', { notifyUrl: null });
    assert.equal(off.body.notifyUrl, null);
    await t.client.subscribe();
    await t.emulator.settle();
    assert.equal(t.receiver.received.length, 0);
    const on = await t.client.control<{ notifyUrl: string | null }>('POST', '/config', {
      notifyUrl: t.receiver.url,
    });
    assert.equal(on.body.notifyUrl, t.receiver.url);
    await t.client.subscribe();
    await t.emulator.settle();
    assert.equal(t.receiver.received.length, 3);
  });
});
