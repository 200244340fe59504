import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import {
  MERCHANT_EVENT_DATA_SCHEMAS,
  MERCHANT_EVENT_TYPES,
  MerchantEventSchema,
  merchantEventSecretProblem,
  signMerchantEvent,
  verifyMerchantEvent,
  type MerchantEvent,
} from '../../src/events/merchant-events';
import { SNAKE_CASE, nonSnakeKeys } from '../helpers/json-keys';

const SECRET = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
const OTHER_SECRET = `whsec_${Buffer.alloc(32, 2).toString('base64')}`;
const NOW = 1_732_158_726; // 2024-11-21T03:12:06Z
const ID = 'evt_1';
const BODY = JSON.stringify({ id: ID, type: 'subscription.ended' });

const examples: MerchantEvent[] = [
  {
    id: 'evt_sub_a360_state_0003',
    type: 'subscription.state_changed',
    created_at: '2024-11-21T03:12:06.000Z',
    subscription_id: 'sub_a360',
    data: { from: 'ACTIVE', to: 'PAST_DUE', cause: 'Retry Failed' },
  },
  {
    id: 'evt_sub_a360_paid_0002',
    type: 'subscription.payment_succeeded',
    created_at: '2024-11-21T03:12:06Z',
    subscription_id: 'sub_a360',
    data: {
      order_id: 'sub_ord_a360_0002',
      sequence_no: 2,
      amount: 1000,
      currency: 'HKD',
      respcd: '0000',
    },
  },
  {
    id: 'evt_sub_a360_failed_0003',
    type: 'subscription.payment_failed',
    created_at: '2024-11-21T03:12:06Z',
    subscription_id: 'sub_a360',
    data: {
      order_id: 'sub_ord_a360_0003',
      sequence_no: 3,
      amount: null,
      currency: null,
      respcd: '1205',
    },
  },
  {
    id: 'evt_sub_a360_dunning_0003_1',
    type: 'subscription.dunning_attempt',
    created_at: '2024-11-21T04:12:07Z',
    subscription_id: 'sub_a360',
    data: {
      order_id: 'sub_ord_a360_0003',
      attempt: 1,
      scheduled_at: '2024-11-21T04:12:06Z',
      result: 'failed',
      respcd: '1205',
    },
  },
  {
    id: 'evt_sub_a360_recovered_0003',
    type: 'subscription.dunning_recovered',
    created_at: '2024-11-22T03:12:07Z',
    subscription_id: 'sub_a360',
    data: { order_id: 'sub_ord_a360_0003', attempts: 2 },
  },
  {
    id: 'evt_sub_a360_exhausted_0003',
    type: 'subscription.dunning_exhausted',
    created_at: '2024-11-24T03:12:07Z',
    subscription_id: 'sub_a360',
    data: { order_id: 'sub_ord_a360_0003', attempts: 3, final_action: 'leave_to_qfpay' },
  },
  {
    id: 'evt.sub_a360.billing_paused.1732158726000',
    type: 'subscription.billing_paused',
    created_at: '2024-11-21T03:12:06.000Z',
    subscription_id: 'sub_a360',
    data: { paused_by: 'merchant', resumes_at: '2024-12-01T00:00:00.000Z' },
  },
  {
    id: 'evt.sub_a360.billing_resumed.1732158726000',
    type: 'subscription.billing_resumed',
    created_at: '2024-12-01T00:00:00.000Z',
    subscription_id: 'sub_a360',
    data: {
      resumed_by: 'schedule',
      paused_since: '2024-11-21T03:12:06.000Z',
      resumed_at: '2024-12-01T00:00:00.000Z',
    },
  },
  {
    id: 'evt.sub_a360.dunning_held.1732158726000',
    type: 'subscription.dunning_held',
    created_at: '2024-11-21T03:12:06.000Z',
    subscription_id: 'sub_a360',
    data: { held_by: 'merchant', until: null },
  },
  {
    id: 'evt.sub_a360.dunning_released.1732158726000',
    type: 'subscription.dunning_released',
    created_at: '2024-12-01T00:00:00.000Z',
    subscription_id: 'sub_a360',
    data: {
      released_by: 'merchant',
      held_since: '2024-11-21T03:12:06.000Z',
      released_at: '2024-12-01T00:00:00.000Z',
    },
  },
  {
    id: 'evt.sub_a360.cancel_scheduled.1732418400000',
    type: 'subscription.cancel_scheduled',
    created_at: '2024-11-24T03:20:00.000Z',
    subscription_id: 'sub_a360',
    data: { period_end: '2024-12-21T03:12:06.000Z', cancel_at: '2024-12-21T01:07:06.000Z' },
  },
  {
    id: 'evt.sub_a360.cancel_unscheduled.1732418400000',
    type: 'subscription.cancel_unscheduled',
    created_at: '2024-11-25T09:00:00.000Z',
    subscription_id: 'sub_a360',
    data: { period_end: '2024-12-21T03:12:06.000Z', scheduled_at: '2024-11-24T03:20:00.000Z' },
  },
  {
    id: 'evt_sub_a360_ended',
    type: 'subscription.ended',
    created_at: '2024-12-21T03:12:06Z',
    subscription_id: 'sub_a360',
    data: { final_state: 'CANCELLED' },
  },
  {
    id: 'evt.sub_a360.renewal_upcoming.4',
    type: 'subscription.renewal_upcoming',
    created_at: '2024-12-18T03:12:06.000Z',
    subscription_id: 'sub_a360',
    metadata: { order_ref: 'R-5521' },
    data: { billing_time: '2024-12-21T03:12:06.000Z', sequence_no: 4, amount: 9900, currency: 'HKD' },
  },
  {
    id: 'evt.sub_a360.trial_will_end.1',
    type: 'subscription.trial_will_end',
    created_at: '2024-11-28T00:00:00.000Z',
    subscription_id: 'sub_a360',
    data: { trial_end: '2024-12-01T00:00:00.000Z', amount: null, currency: null },
  },
  {
    id: 'evt.sub_a360.payment_method_expiring.4',
    type: 'payment_method.expiring',
    created_at: '2024-12-14T03:12:06.000Z',
    subscription_id: 'sub_a360',
    data: {
      token_id: 'tk_6a699aae75094caeb066f988daa32de',
      expires_at: '2024-11-30T16:00:00.000Z',
      billing_time: '2024-12-21T03:12:06.000Z',
      sequence_no: 4,
    },
  },
];

void describe('merchant event schema', () => {
  void it('has an example for every event type, and every example parses unchanged', () => {
    assert.deepEqual(
      examples.map((e) => e.type),
      MERCHANT_EVENT_TYPES,
    );
    for (const event of examples) assert.deepEqual(MerchantEventSchema.parse(event), event);
  });

  void it('names every field in snake_case, as the API does', () => {
    for (const [type, schema] of Object.entries(MERCHANT_EVENT_DATA_SCHEMAS)) {
      for (const key of Object.keys(schema.shape)) assert.match(key, SNAKE_CASE, `${type}: data.${key}`);
    }
    for (const event of examples) assert.deepEqual(nonSnakeKeys(event), [], event.type);
  });

  void it('rejects data that belongs to another event type', () => {
    const wrong = { ...examples[0]!, data: { final_state: 'CANCELLED' } };
    assert.equal(MerchantEventSchema.safeParse(wrong).success, false);
  });

  void it('rejects an unknown type, a missing id and a created_at that is not ISO-8601', () => {
    const base = examples[6]!;
    assert.equal(MerchantEventSchema.safeParse({ ...base, type: 'subscription.renamed' }).success, false);
    assert.equal(MerchantEventSchema.safeParse({ ...base, id: '' }).success, false);
    assert.equal(
      MerchantEventSchema.safeParse({ ...base, created_at: '2024-11-21 03:12:06' }).success,
      false,
    );
  });

  void it('accepts the optional fields left out, as a workflow emits them when QFPay gave none', () => {
    const payment = MerchantEventSchema.parse({
      ...examples[2]!,
      data: { order_id: 'sub_ord_a360_0003', sequence_no: 3, respcd: '1205' },
    });
    assert.equal(payment.type, 'subscription.payment_failed');
    const attempt = MerchantEventSchema.parse({
      ...examples[3]!,
      data: {
        order_id: 'sub_ord_a360_0003',
        attempt: 2,
        scheduled_at: '2024-11-22T03:12:06.000Z',
        result: 'error',
      },
    });
    assert.equal(attempt.type, 'subscription.dunning_attempt');
  });

  void it('accepts an escalation step on dunning_exhausted and refuses an unknown one', () => {
    const exhausted = examples[5]!;
    const withStep = { ...exhausted, data: { ...exhausted.data, step: 'notify_customer' } };
    assert.equal(MerchantEventSchema.safeParse(withStep).success, true);
    const unknownStep = { ...exhausted, data: { ...exhausted.data, step: 'page_ceo' } };
    assert.equal(MerchantEventSchema.safeParse(unknownStep).success, false);
  });

  void it('rejects a dunning_exhausted event with an unknown final action', () => {
    const exhausted = examples[5]!;
    const bad = { ...exhausted, data: { ...exhausted.data, final_action: 'refund' } };
    assert.equal(MerchantEventSchema.safeParse(bad).success, false);
  });
});

void describe('signMerchantEvent (Standard Webhooks)', () => {
  void it('matches the specification’s published test vector', () => {
    // The vector of the official libraries' own tests.
    const headers = signMerchantEvent(
      'msg_p5jXN8AQM9LWM0D4loKWxJek',
      '{"test": 2432232314}',
      ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
      1_614_265_330,
    );
    assert.deepEqual(headers, {
      'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      'webhook-timestamp': '1614265330',
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    });
  });

  void it('is accepted by the official verifier, and refused once the body, id or time changes', () => {
    const now = Math.floor(Date.now() / 1000);
    const headers = signMerchantEvent(ID, BODY, [SECRET], now);
    assert.deepEqual(new Webhook(SECRET).verify(BODY, headers), JSON.parse(BODY));
    const refused = (body: string, changed: Record<string, string>) =>
      assert.throws(
        () => new Webhook(SECRET).verify(body, { ...headers, ...changed }),
        WebhookVerificationError,
      );
    refused(BODY.replace('evt_1', 'evt_2'), {});
    refused(BODY, { 'webhook-id': 'evt_2' });
    refused(BODY, { 'webhook-timestamp': String(now + 1) });
    refused(BODY, { 'webhook-timestamp': String(now - 301) });
    assert.throws(() => new Webhook(OTHER_SECRET).verify(BODY, headers), WebhookVerificationError);
  });

  void it('signs with every secret during a rotation: a receiver on either secret accepts', () => {
    const now = Math.floor(Date.now() / 1000);
    const headers = signMerchantEvent(ID, BODY, [OTHER_SECRET, SECRET], now);
    assert.equal(headers['webhook-signature'].split(' ').length, 2);
    for (const secret of [OTHER_SECRET, SECRET]) new Webhook(secret).verify(BODY, headers);
    const retired = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    assert.throws(() => new Webhook(retired).verify(BODY, headers), WebhookVerificationError);
  });

  void it('refuses no secret, a secret that is not whsec_ base64 of 24-64 bytes, and a bad timestamp', () => {
    assert.throws(() => signMerchantEvent(ID, BODY, [], NOW), TypeError);
    for (const bad of [
      'dev-merchant-events-secret',
      'whsec_',
      'whsec_not base64!',
      `whsec_${Buffer.alloc(16).toString('base64')}`,
    ]) {
      assert.throws(() => signMerchantEvent(ID, BODY, [bad], NOW), TypeError, bad);
      assert.notEqual(merchantEventSecretProblem(bad), undefined, bad);
    }
    assert.equal(merchantEventSecretProblem(SECRET), undefined);
    assert.throws(() => signMerchantEvent(ID, BODY, [SECRET], NOW + 0.5), TypeError);
    assert.throws(() => signMerchantEvent(ID, BODY, [SECRET], -1), TypeError);
  });

  void it('is accepted for exactly the bodies that were signed (property)', () => {
    const now = Math.floor(Date.now() / 1000);
    fc.assert(
      fc.property(fc.string(), fc.string(), (body, other) => {
        const headers = signMerchantEvent(ID, body, [SECRET], now);
        new Webhook(SECRET).verify(body, headers, { jsonParse: false });
        if (other !== body) {
          assert.throws(() => new Webhook(SECRET).verify(other, headers, { jsonParse: false }));
        }
      }),
      { numRuns: 300 },
    );
  });
});

void describe('verifyMerchantEvent', () => {
  const headers = signMerchantEvent(ID, BODY, [SECRET], NOW);

  void it('accepts what the official library signed, with Node and fetch headers alike', () => {
    const ok = { ok: true, id: ID, timestamp: NOW };
    assert.deepEqual(verifyMerchantEvent(BODY, headers, SECRET, { nowSec: NOW }), ok);
    assert.deepEqual(
      verifyMerchantEvent(Buffer.from(BODY), new Headers(headers), SECRET, { nowSec: NOW }),
      ok,
    );
    const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    assert.deepEqual(verifyMerchantEvent(BODY, upper, SECRET, { nowSec: NOW }), ok);
  });

  void it('says why it refuses: missing, malformed, mismatch, too old, too new', () => {
    const refused = (reason: string, h: Record<string, string | string[]>, body = BODY, nowSec = NOW) =>
      assert.deepEqual(
        verifyMerchantEvent(body, h, SECRET, { nowSec }),
        { ok: false, reason },
        JSON.stringify(h),
      );
    refused('missing', {});
    refused('missing', { ...headers, 'webhook-id': '' });
    refused('malformed', { ...headers, 'webhook-timestamp': 'soon' });
    refused('malformed', { ...headers, 'webhook-signature': 'v0,abc' });
    refused('malformed', { ...headers, 'webhook-signature': [headers['webhook-signature'], 'v1,x'] });
    refused('mismatch', headers, BODY.replace('evt_1', 'evt_2'));
    refused('mismatch', { ...headers, 'webhook-id': 'evt_2' });
    refused('mismatch', { ...headers, 'webhook-timestamp': String(NOW + 1) });
    refused('too_old', headers, BODY, NOW + 301);
    refused('too_new', headers, BODY, NOW - 301);
    assert.equal(
      verifyMerchantEvent(BODY, headers, SECRET, { nowSec: NOW + 3_600, toleranceSec: 7_200 }).ok,
      true,
    );
    assert.equal(verifyMerchantEvent(BODY, headers, OTHER_SECRET, { nowSec: NOW }).ok, false);
  });

  void it('accepts any matching secret during a rotation', () => {
    const rotated = signMerchantEvent(ID, BODY, [OTHER_SECRET, SECRET], NOW);
    assert.equal(verifyMerchantEvent(BODY, rotated, SECRET, { nowSec: NOW }).ok, true);
    assert.equal(verifyMerchantEvent(BODY, headers, [OTHER_SECRET, SECRET], { nowSec: NOW }).ok, true);
  });

  void it('agrees with the official verifier on every body (property)', () => {
    const now = Math.floor(Date.now() / 1000);
    fc.assert(
      fc.property(fc.string(), fc.string(), (body, other) => {
        const signed = signMerchantEvent(ID, body, [SECRET], now);
        assert.equal(verifyMerchantEvent(body, signed, SECRET).ok, true);
        let official = true;
        try {
          new Webhook(SECRET).verify(other, signed, { jsonParse: false });
        } catch {
          official = false;
        }
        assert.equal(verifyMerchantEvent(other, signed, SECRET).ok, official);
      }),
      { numRuns: 200 },
    );
  });
});
