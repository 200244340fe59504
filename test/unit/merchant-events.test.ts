import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import {
  MERCHANT_EVENT_TYPES,
  MerchantEventSchema,
  signMerchantEvent,
  verifyMerchantEvent,
  type MerchantEvent,
} from '../../src/events/merchant-events';

const SECRET = 'whsec_test_4f1c2b';
const NOW = 1_732_158_726; // 2024-11-21T03:12:06Z
const BODY = JSON.stringify({ id: 'evt_1', type: 'subscription.ended' });

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
    id: 'evt_sub_a360_ended',
    type: 'subscription.ended',
    created_at: '2024-12-21T03:12:06Z',
    subscription_id: 'sub_a360',
    data: { final_state: 'CANCELLED' },
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

void describe('signMerchantEvent', () => {
  void it('writes t and a v1 HMAC-SHA256 of "<t>.<raw body>" in hex', () => {
    const expected = createHmac('sha256', SECRET).update(`${NOW}.${BODY}`).digest('hex');
    assert.equal(signMerchantEvent(BODY, SECRET, NOW), `t=${NOW},v1=${expected}`);
  });

  void it('signs the same bytes given as a string or a Buffer', () => {
    assert.equal(
      signMerchantEvent(Buffer.from(BODY, 'utf8'), SECRET, NOW),
      signMerchantEvent(BODY, SECRET, NOW),
    );
  });

  void it('writes one v1 per secret during a rotation', () => {
    const header = signMerchantEvent(BODY, ['new_secret', 'old_secret'], NOW);
    assert.equal(header.split(',').filter((p) => p.startsWith('v1=')).length, 2);
  });

  void it('refuses an empty secret and a timestamp that is not whole seconds', () => {
    assert.throws(() => signMerchantEvent(BODY, '', NOW), TypeError);
    assert.throws(() => signMerchantEvent(BODY, [], NOW), TypeError);
    assert.throws(() => signMerchantEvent(BODY, SECRET, NOW + 0.5), TypeError);
    assert.throws(() => signMerchantEvent(BODY, SECRET, -1), TypeError);
  });
});

void describe('verifyMerchantEvent', () => {
  const header = signMerchantEvent(BODY, SECRET, NOW);

  void it('accepts its own signature and returns the signed timestamp', () => {
    assert.deepEqual(verifyMerchantEvent(BODY, header, SECRET, { nowSec: NOW }), {
      ok: true,
      timestamp: NOW,
    });
  });

  void it('reports a missing header', () => {
    for (const missing of [undefined, null, '', '   ']) {
      assert.deepEqual(verifyMerchantEvent(BODY, missing, SECRET, { nowSec: NOW }), {
        ok: false,
        reason: 'missing',
      });
    }
  });

  void it('reports a malformed header', () => {
    const v1 = header.split(',')[1]!;
    for (const malformed of [
      'garbage',
      v1, // no timestamp
      `t=${NOW}`, // no signature
      `t=soon,${v1}`,
      `t=${NOW},t=${NOW},${v1}`,
      `t=-${NOW},${v1}`,
      `t=${NOW},,${v1}`,
    ]) {
      assert.deepEqual(
        verifyMerchantEvent(BODY, malformed, SECRET, { nowSec: NOW }),
        { ok: false, reason: 'malformed' },
        malformed,
      );
    }
    assert.deepEqual(verifyMerchantEvent(BODY, [header, header], SECRET, { nowSec: NOW }), {
      ok: false,
      reason: 'malformed',
    });
  });

  void it('refuses a tampered body, a wrong secret and a changed timestamp', () => {
    const mismatch = { ok: false, reason: 'mismatch' };
    assert.deepEqual(
      verifyMerchantEvent(BODY.replace('evt_1', 'evt_2'), header, SECRET, { nowSec: NOW }),
      mismatch,
    );
    assert.deepEqual(verifyMerchantEvent(BODY, header, 'another_secret', { nowSec: NOW }), mismatch);
    const shifted = header.replace(`t=${NOW}`, `t=${NOW + 1}`);
    assert.deepEqual(verifyMerchantEvent(BODY, shifted, SECRET, { nowSec: NOW }), mismatch);
  });

  void it('refuses a replay older than the tolerance and a timestamp too far ahead', () => {
    assert.deepEqual(verifyMerchantEvent(BODY, header, SECRET, { nowSec: NOW + 301 }), {
      ok: false,
      reason: 'too_old',
    });
    assert.deepEqual(verifyMerchantEvent(BODY, header, SECRET, { nowSec: NOW - 301 }), {
      ok: false,
      reason: 'too_new',
    });
    assert.equal(verifyMerchantEvent(BODY, header, SECRET, { nowSec: NOW + 300 }).ok, true);
    assert.equal(verifyMerchantEvent(BODY, header, SECRET, { nowSec: NOW - 300 }).ok, true);
    assert.equal(
      verifyMerchantEvent(BODY, header, SECRET, { nowSec: NOW + 3_600, toleranceSec: 7_200 }).ok,
      true,
    );
  });

  void it('checks the signature before the clock, so a forged old request reads as a mismatch', () => {
    const forged = header.replace(/v1=[0-9a-f]+/, `v1=${'0'.repeat(64)}`);
    assert.deepEqual(verifyMerchantEvent(BODY, forged, SECRET, { nowSec: NOW + 10_000 }), {
      ok: false,
      reason: 'mismatch',
    });
  });

  void it('accepts any matching signature and any matching secret during a rotation', () => {
    const rotated = signMerchantEvent(BODY, ['new_secret', SECRET], NOW);
    assert.equal(verifyMerchantEvent(BODY, rotated, SECRET, { nowSec: NOW }).ok, true);
    assert.equal(verifyMerchantEvent(BODY, rotated, 'new_secret', { nowSec: NOW }).ok, true);
    assert.equal(verifyMerchantEvent(BODY, header, ['new_secret', SECRET], { nowSec: NOW }).ok, true);
    assert.equal(verifyMerchantEvent(BODY, rotated, 'retired_secret', { nowSec: NOW }).ok, false);
  });

  void it('ignores unknown schemes and spaces around the parts', () => {
    const [t, v1] = header.split(',');
    assert.equal(verifyMerchantEvent(BODY, `${t}, v0=abc, ${v1}`, SECRET, { nowSec: NOW }).ok, true);
  });

  void it('uses the system clock when no time is given', () => {
    const fresh = signMerchantEvent(BODY, SECRET, Math.floor(Date.now() / 1000));
    assert.equal(verifyMerchantEvent(BODY, fresh, SECRET).ok, true);
  });

  void it('accepts exactly the bodies that were signed (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string({ minLength: 1 }), (body, other, secret) => {
        const signed = signMerchantEvent(body, secret, NOW);
        assert.equal(verifyMerchantEvent(body, signed, secret, { nowSec: NOW }).ok, true);
        if (other !== body)
          assert.equal(verifyMerchantEvent(other, signed, secret, { nowSec: NOW }).ok, false);
      }),
      { numRuns: 300 },
    );
  });
});
