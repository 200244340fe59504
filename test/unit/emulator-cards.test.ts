import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  cardFingerprint,
  cardScheme,
  formatTokenExpiry,
  maskCardNumber,
  normaliseCardNumber,
  parseExpiryDate,
  verificationOutcome,
} from '../../src/gateways/qfpay/emulator/cards';

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
