import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  QfpayNotificationError,
  notificationTimeMs,
  orderSequenceFromOrderId,
  parseNotification,
  parseNotificationBody,
  safeParseNotification,
  subscriptionIdFromOrderId,
} from '../../src/gateways/qfpay/notifications';
import {
  SEED_PAYMENT_TOKEN,
  SEED_SUBSCRIPTION,
  SEED_SUBSCRIPTION_PAYMENT,
} from '../fixtures/seed-notifications';

const withoutTrailingComma = (body: string) => body.replace(/,\s*}$/, '\n}');

function expectNotificationError(fn: () => unknown, reason: string): QfpayNotificationError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof QfpayNotificationError, `expected QfpayNotificationError, got ${String(err)}`);
    assert.equal(err.reason, reason);
    return err;
  }
  assert.fail('expected a QfpayNotificationError');
}

void describe("the seed's samples", () => {
  void it('parses the payment_token sample', () => {
    const n = parseNotificationBody(SEED_PAYMENT_TOKEN);
    assert.equal(n.notify_type, 'payment_token');
    if (n.notify_type !== 'payment_token') return;
    assert.equal(n.tokenid, 'tk_6a699aae75094caeb066f****988daa32de');
    assert.equal(n.event, 'CONFLICT');
    assert.equal(n.respcd, '0000');
    assert.equal(n.respmsg, '');
    assert.equal(n.cardcd, '5200****1096');
    assert.equal(n.customer_id, undefined);
  });

  void it('parses the subscription sample', () => {
    const n = parseNotificationBody(Buffer.from(SEED_SUBSCRIPTION, 'utf8'));
    assert.deepEqual(n, {
      notify_type: 'subscription',
      state: 'COMPLETED',
      sysdtm: '2024-04-24 15:19:39',
      subscription_id: 'sub_e51bb914919*****f6b0fe36d',
    });
    // 15:19:39 Hong Kong time is 07:19:39 UTC.
    assert.equal(notificationTimeMs(n), Date.UTC(2024, 3, 24, 7, 19, 39));
  });

  void it('rejects the subscription_payment sample as published, with its trailing comma, as malformed JSON', () => {
    const err = expectNotificationError(
      () => parseNotificationBody(SEED_SUBSCRIPTION_PAYMENT),
      'malformed_json',
    );
    assert.match(err.message, /not valid JSON/);
    assert.ok(err.cause instanceof SyntaxError);
    expectNotificationError(
      () => parseNotificationBody(Buffer.from(SEED_SUBSCRIPTION_PAYMENT)),
      'malformed_json',
    );
  });

  void it('accepts the same sample without the trailing comma, with txamt and current_iteration as numbers', () => {
    const n = parseNotificationBody(withoutTrailingComma(SEED_SUBSCRIPTION_PAYMENT));
    assert.equal(n.notify_type, 'subscription_payment');
    if (n.notify_type !== 'subscription_payment') return;
    assert.equal(n.txamt, 300);
    assert.equal(n.current_iteration, 1);
    assert.equal(n.respcd, '0000');
    assert.equal(n.subscription_order_id, 'sub_ord_a360f06eb*****ad6aff24c3a');
    assert.equal(n.cardcd, '');
    assert.equal(n.reason, 'AUTHORISED');
    assert.equal(notificationTimeMs(n), Date.UTC(2024, 3, 24, 7, 19, 37));
  });
});

void describe('malformed bodies', () => {
  void it('rejects empty, truncated and non-UTF-8 bodies as malformed_json', () => {
    expectNotificationError(() => parseNotificationBody(''), 'malformed_json');
    expectNotificationError(() => parseNotificationBody('{"notify_type":'), 'malformed_json');
    expectNotificationError(() => parseNotificationBody(Buffer.from([0x7b, 0xff, 0x7d])), 'malformed_json');
  });

  void it('rejects JSON that is not an object as invalid_notification', () => {
    expectNotificationError(() => parseNotificationBody('[]'), 'invalid_notification');
    expectNotificationError(() => parseNotificationBody('null'), 'invalid_notification');
  });
});

void describe('validation', () => {
  void it('lists every missing field of a subscription_payment notification', () => {
    const err = expectNotificationError(
      () => parseNotification({ notify_type: 'subscription_payment', txamt: '300' }),
      'invalid_notification',
    );
    const fields = err.issues.map((issue) => issue.split(':')[0]);
    assert.deepEqual(fields.sort(), ['respcd', 'subscription_id', 'subscription_order_id']);
    assert.match(err.message, /subscription_order_id/);
    assert.equal((err.cause as { name?: string }).name, 'ZodError');
  });

  void it('requires sysdtm on a subscription state change, which orders late notifications', () => {
    const err = expectNotificationError(
      () => parseNotification({ notify_type: 'subscription', subscription_id: 'sub_1', state: 'ACTIVE' }),
      'invalid_notification',
    );
    assert.deepEqual(
      err.issues.map((issue) => issue.split(':')[0]),
      ['sysdtm'],
    );
  });

  void it('requires tokenid and event on a payment_token notification', () => {
    const err = expectNotificationError(
      () => parseNotification({ notify_type: 'payment_token', respcd: '0000' }),
      'invalid_notification',
    );
    assert.deepEqual(err.issues.map((issue) => issue.split(':')[0]).sort(), ['event', 'tokenid']);
  });

  void it('rejects an unknown notify_type, naming the field', () => {
    const err = expectNotificationError(
      () => parseNotification({ notify_type: 'refund', subscription_id: 'sub_1' }),
      'invalid_notification',
    );
    assert.match(err.issues[0] ?? '', /^notify_type:/);
    expectNotificationError(() => parseNotification({ subscription_id: 'sub_1' }), 'invalid_notification');
  });

  void it('rejects a number field that is not a number', () => {
    const err = expectNotificationError(
      () =>
        parseNotification({
          notify_type: 'subscription_payment',
          subscription_id: 'sub_1',
          subscription_order_id: 'sub_ord_1_0001',
          respcd: '0000',
          txamt: '3.00 HKD',
        }),
      'invalid_notification',
    );
    assert.match(err.issues[0] ?? '', /^txamt:/);
  });

  void it('reads "" and null numbers as absent, never as 0', () => {
    const n = parseNotification({
      notify_type: 'subscription_payment',
      subscription_id: 'sub_1',
      subscription_order_id: 'sub_ord_1_0001',
      respcd: '1205',
      txamt: '',
      current_iteration: null,
    });
    assert.equal(n.notify_type, 'subscription_payment');
    if (n.notify_type !== 'subscription_payment') return;
    assert.equal(n.txamt, undefined);
    assert.equal(n.current_iteration, undefined);
  });

  void it('tolerates extra fields and keeps them', () => {
    const n = parseNotification({
      notify_type: 'subscription',
      subscription_id: 'sub_1',
      state: 'PAST_DUE',
      sysdtm: '2024-04-24 15:19:39',
      userid: 2510351,
      future_field: { nested: true },
    });
    assert.equal(n.notify_type, 'subscription');
    assert.equal((n as Record<string, unknown>).future_field !== undefined, true);
    assert.equal((n as Record<string, unknown>).userid, 2510351);
  });

  void it('offers a non-throwing variant that returns the zod error', () => {
    const ok = safeParseNotification(JSON.parse(SEED_SUBSCRIPTION));
    assert.equal(ok.success, true);
    const bad = safeParseNotification({ notify_type: 'subscription' });
    assert.equal(bad.success, false);
    if (!bad.success) assert.ok(bad.error.issues.length >= 2);
  });
});

void describe('subscription order ids', () => {
  void it('reads the sequence number and the subscription id', () => {
    assert.equal(orderSequenceFromOrderId('sub_ord_a360f06e4c3a_0003'), 3);
    assert.equal(orderSequenceFromOrderId('sub_ord_a360f06e4c3a_0001'), 1);
    assert.equal(orderSequenceFromOrderId('sub_ord_a360f06e4c3a_0120'), 120);
    assert.equal(subscriptionIdFromOrderId('sub_ord_a360f06e4c3a_0003'), 'sub_a360f06e4c3a');
  });

  void it('keeps underscores inside the id part', () => {
    assert.equal(subscriptionIdFromOrderId('sub_ord_ab_cd_0002'), 'sub_ab_cd');
    assert.equal(orderSequenceFromOrderId('sub_ord_ab_cd_0002'), 2);
  });

  void it('returns undefined for ids without the documented form', () => {
    // The seed's own masked sample has no sequence suffix.
    assert.equal(orderSequenceFromOrderId('sub_ord_a360f06eb*****ad6aff24c3a'), undefined);
    assert.equal(subscriptionIdFromOrderId('sub_ord_a360f06eb*****ad6aff24c3a'), undefined);
    assert.equal(orderSequenceFromOrderId('sub_a360f06e4c3a'), undefined);
    assert.equal(orderSequenceFromOrderId(''), undefined);
  });
});
