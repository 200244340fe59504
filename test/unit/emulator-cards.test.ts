import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  behaviourAt,
  cardFingerprint,
  cardScheme,
  formatTokenExpiry,
  maskCardNumber,
  normaliseCardNumber,
  parseExpiryDate,
  planBehaviour,
  verificationOutcome,
} from '../../src/gateways/qfpay/emulator/cards';
import type { ChargeBehaviour, PaymentToken } from '../../src/gateways/qfpay/emulator/model';

describe('emulator cards', () => {
  it('behaves as QFPay documents its sandbox test cards', () => {
    for (const card of ['5200000000001096', '4000000000001091', '5200000000001005', '4000000000001000']) {
      assert.equal(verificationOutcome(card), 'approved', card);
    }
    assert.equal(verificationOutcome('5200000000001120'), 'declined_at_verification');
    assert.equal(verificationOutcome('4000000000001125'), 'declined_at_verification');
    assert.equal(verificationOutcome('5200000000001013'), 'declined_at_3ds');
    assert.equal(verificationOutcome('4000000000001018'), 'declined_at_3ds');
    assert.equal(verificationOutcome('4111111111111111'), 'approved');
  });

  it('masks like QFPay (5200****1096) and names the scheme', () => {
    assert.equal(maskCardNumber('5200000000001096'), '5200****1096');
    assert.equal(cardScheme('5200000000001096'), 'MASTERCARD');
    assert.equal(cardScheme('4000000000001091'), 'VISA');
    assert.equal(cardScheme('371449635398431'), 'AMEX');
  });

  it('normalises typed card numbers and rejects non-numbers', () => {
    assert.equal(normaliseCardNumber('5200 0000 0000 1096'), '5200000000001096');
    assert.equal(normaliseCardNumber('5200-0000-0000-1096'), '5200000000001096');
    assert.equal(normaliseCardNumber('52000000000010x6'), undefined);
    assert.equal(normaliseCardNumber('1234'), undefined);
  });

  it('reads expiry dates in the usual forms and writes QFPay’s token_expiry_date', () => {
    assert.deepEqual(parseExpiryDate('04/24'), { year: 2024, month: 4 });
    assert.deepEqual(parseExpiryDate('12/2030'), { year: 2030, month: 12 });
    assert.deepEqual(parseExpiryDate('2027-02'), { year: 2027, month: 2 });
    assert.deepEqual(parseExpiryDate('0928'), { year: 2028, month: 9 });
    assert.equal(parseExpiryDate('13/25'), undefined);
    assert.equal(parseExpiryDate('soon'), undefined);
    assert.equal(formatTokenExpiry({ year: 2024, month: 4 }), '2024-04-30 00:00:00');
    assert.equal(formatTokenExpiry({ year: 2028, month: 2 }), '2028-02-29 00:00:00');
  });

  it('fingerprints a card without keeping its number', () => {
    const fp = cardFingerprint('5200000000001096');
    assert.equal(fp, cardFingerprint('5200000000001096'));
    assert.notEqual(fp, cardFingerprint('4000000000001091'));
    assert.ok(!fp.includes('1096'));
  });
});

describe('a card whose answer changes at a planned time', () => {
  const approve: ChargeBehaviour = { charges: 'approve' };
  const decline: ChargeBehaviour = { charges: 'decline', respcd: '1205' };
  type Plan = Pick<PaymentToken, 'behaviour' | 'planned'>;

  it('declines from the third renewal and approves again half a day later', () => {
    let token: Plan = { behaviour: approve };
    token = planBehaviour(token, { fromMs: 3_000, behaviour: decline }, 0);
    token = planBehaviour(token, { fromMs: 3_500, behaviour: approve }, 0);
    assert.deepEqual(behaviourAt(token, 2_999), approve);
    assert.deepEqual(behaviourAt(token, 3_000), decline, 'a change applies from its own time');
    assert.deepEqual(behaviourAt(token, 3_499), decline);
    assert.deepEqual(behaviourAt(token, 3_500), approve);
    // Judged at the charge's time, not when it is processed: the plan is kept whole.
    assert.equal(token.planned?.length, 2);
  });

  it('a change from now replaces what has come, and keeps what is still to come', () => {
    let token: Plan = { behaviour: approve };
    token = planBehaviour(token, { fromMs: 100, behaviour: decline }, 0);
    token = planBehaviour(token, { fromMs: 500, behaviour: decline }, 0);
    token = planBehaviour(token, { fromMs: 200, behaviour: approve }, 200);
    assert.deepEqual(token.behaviour, approve);
    assert.deepEqual(token.planned, [{ fromMs: 500, behaviour: decline }]);
  });

  it('answers as the latest change made for the latest time that has come (property)', () => {
    const behaviour = fc.constantFrom(approve, decline, {
      charges: 'decline',
      respcd: '1294',
    } as ChargeBehaviour);
    const change = fc.record({
      fromMs: fc.integer({ min: 0, max: 50 }),
      behaviour,
      waitMs: fc.integer({ min: 0, max: 10 }),
    });
    fc.assert(
      fc.property(fc.array(change, { maxLength: 12 }), fc.integer({ min: 0, max: 80 }), (changes, lateMs) => {
        let token: Plan = { behaviour: approve };
        let now = 0;
        // The model: every change with the time it takes effect (never before it was made).
        const made: Array<{ effective: number; behaviour: ChargeBehaviour }> = [];
        for (const c of changes) {
          now += c.waitMs;
          token = planBehaviour(token, { fromMs: c.fromMs, behaviour: c.behaviour }, now);
          made.push({ effective: Math.max(c.fromMs, now), behaviour: c.behaviour });
        }
        const at = now + lateMs;
        let expected: { effective: number; behaviour: ChargeBehaviour } = {
          effective: -1,
          behaviour: approve,
        };
        for (const m of made) if (m.effective <= at && m.effective >= expected.effective) expected = m;
        assert.deepEqual(behaviourAt(token, at), expected.behaviour);
        // The plan stays in time order.
        const times = (token.planned ?? []).map((p) => p.fromMs);
        assert.deepEqual(
          times,
          [...times].sort((a, b) => a - b),
        );
      }),
    );
  });
});
