import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  parseSignType,
  signNotification,
  signRequest,
  signaturesEqual,
  signingString,
  verifyNotificationSignature,
  verifyRequestSignature,
  wireParams,
} from '../../src/gateways/qfpay/signing';

const APP_KEY = 'abcd1234';

void describe('request signing', () => {
  void it('matches the documented example: MD5 of the sorted params plus the key, upper-case hex', () => {
    const params = wireParams({ txcurrcd: 'HKD', mchid: 'ZaMVg12345', txamt: 100 });
    assert.equal(signingString(params, APP_KEY), 'mchid=ZaMVg12345&txamt=100&txcurrcd=HKDabcd1234');
    assert.equal(signRequest(params, APP_KEY), '3CB3AA9C21D818AB4CAFAA8FA3FEACF4');
    assert.equal(signRequest(params, APP_KEY, 'MD5'), '3CB3AA9C21D818AB4CAFAA8FA3FEACF4');
  });

  void it('signs with SHA256 over the same string when asked', () => {
    const params = wireParams({ mchid: 'ZaMVg12345', txamt: 100, txcurrcd: 'HKD' });
    const expected = createHash('sha256')
      .update('mchid=ZaMVg12345&txamt=100&txcurrcd=HKDabcd1234')
      .digest('hex')
      .toUpperCase();
    const signature = signRequest(params, APP_KEY, 'SHA256');
    assert.equal(signature, expected);
    assert.match(signature, /^[0-9A-F]{64}$/);
    assert.ok(verifyRequestSignature(params, APP_KEY, signature, 'SHA256'));
    assert.ok(!verifyRequestSignature(params, APP_KEY, signature, 'MD5'));
  });

  void it('drops empty strings, null and undefined before signing', () => {
    const params = wireParams({
      mchid: 'ZaMVg12345',
      txamt: 100,
      txcurrcd: 'HKD',
      a: '',
      b: null,
      c: undefined,
    });
    assert.deepEqual(params, { mchid: 'ZaMVg12345', txamt: '100', txcurrcd: 'HKD' });
    assert.equal(signRequest(params, APP_KEY), '3CB3AA9C21D818AB4CAFAA8FA3FEACF4');
  });

  void it('keeps 0 and false, which are not empty', () => {
    assert.deepEqual(wireParams({ n: 0, f: false }), { n: '0', f: 'false' });
  });

  void it('sends nested objects and arrays as JSON strings and signs those strings', () => {
    const products = [{ product_id: 'prod_1', quantity: 2 }];
    const params = wireParams({ customer_id: 'cust_1', products, billing_address: { city: 'HK' } });
    assert.equal(params.products, '[{"product_id":"prod_1","quantity":2}]');
    assert.equal(params.billing_address, '{"city":"HK"}');
    assert.equal(
      signingString(params, 'k'),
      'billing_address={"city":"HK"}&customer_id=cust_1&products=[{"product_id":"prod_1","quantity":2}]k',
    );
  });
});

void describe('notification signatures', () => {
  const raw = Buffer.from(
    '{"notify_type":"subscription","state":"ACTIVE", "sysdtm":"2024-04-24 15:19:39"}',
    'utf8',
  );

  void it('verifies the MD5 of the raw body bytes plus the key', () => {
    const expected = createHash('md5')
      .update(Buffer.concat([raw, Buffer.from(APP_KEY)]))
      .digest('hex')
      .toUpperCase();
    assert.equal(signNotification(raw, APP_KEY), expected);
    assert.ok(verifyNotificationSignature(raw, APP_KEY, expected));
    assert.ok(verifyNotificationSignature(raw.toString('utf8'), APP_KEY, expected));
  });

  void it('rejects the same notification re-serialised (signature is over bytes, not JSON)', () => {
    const signature = signNotification(raw, APP_KEY);
    const reserialised = JSON.stringify(JSON.parse(raw.toString('utf8')));
    assert.notEqual(reserialised, raw.toString('utf8'));
    assert.ok(!verifyNotificationSignature(reserialised, APP_KEY, signature));
  });

  void it('rejects a body signed with another key', () => {
    assert.ok(!verifyNotificationSignature(raw, APP_KEY, signNotification(raw, 'other-key')));
  });
});

void describe('signature comparison', () => {
  const signature = signNotification('body', APP_KEY);

  void it('rejects a missing header', () => {
    assert.equal(signaturesEqual(signature, undefined), false);
    assert.equal(signaturesEqual(signature, null), false);
    assert.equal(verifyNotificationSignature('body', APP_KEY, undefined), false);
  });

  void it('rejects a signature of a different length without throwing', () => {
    assert.equal(signaturesEqual(signature, signature.slice(1)), false);
    assert.equal(signaturesEqual(signature, signature + '0'), false);
    assert.equal(signaturesEqual(signature, ''), false);
  });

  void it('accepts lower-case hex and surrounding whitespace', () => {
    assert.equal(signaturesEqual(signature, signature.toLowerCase()), true);
    assert.equal(signaturesEqual(signature, ` ${signature}\t`), true);
  });

  void it('rejects a signature that differs in one character', () => {
    const last = signature.at(-1) === 'A' ? 'B' : 'A';
    assert.equal(signaturesEqual(signature, signature.slice(0, -1) + last), false);
  });
});

void describe('X-QF-SIGNTYPE', () => {
  void it('reads an absent or empty header as MD5, and known types case-insensitively', () => {
    assert.equal(parseSignType(undefined), 'MD5');
    assert.equal(parseSignType(''), 'MD5');
    assert.equal(parseSignType('sha256'), 'SHA256');
    assert.equal(parseSignType(' MD5 '), 'MD5');
  });

  void it('returns undefined for an unknown type', () => {
    assert.equal(parseSignType('SHA1'), undefined);
  });
});
