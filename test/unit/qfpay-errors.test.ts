import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  QfpayError,
  RESPCD_TABLE,
  classifyHttpStatus,
  classifyRespcd,
  isQfpayError,
  isRetryable,
  type QfpayErrorKind,
  type QfpayErrorReason,
} from '../../src/gateways/qfpay/errors';

/** The classification the engine relies on, written out independently of the table. */
const EXPECTED: Record<string, [QfpayErrorKind, QfpayErrorReason]> = {
  '1100': ['transient', 'maintenance'],
  '1205': ['transient', 'try_later'],
  '1252': ['transient', 'server_error'],
  '1254': ['transient', 'server_error'],
  '1295': ['transient', 'network'],
  '1296': ['transient', 'network'],
  '1297': ['transient', 'bank_busy'],
  '1143': ['pending', 'pending'],
  '1145': ['pending', 'pending'],
  '1298': ['pending', 'pending'],
  '1108': ['permanent', 'signature'],
  '1103': ['permanent', 'validation'],
  '1104': ['permanent', 'validation'],
  '1136': ['permanent', 'not_found'],
  '1268': ['permanent', 'not_found'],
  '1102': ['permanent', 'duplicate'],
  '2011': ['permanent', 'duplicate'],
  '1147': ['permanent', 'declined'],
  '1201': ['permanent', 'declined'],
  '1202': ['permanent', 'declined'],
  '1203': ['permanent', 'declined'],
  '1204': ['permanent', 'declined'],
  '1212': ['permanent', 'declined'],
  '1294': ['permanent', 'declined'],
  '2005': ['permanent', 'declined'],
  '1181': ['permanent', 'expired'],
  '1260': ['permanent', 'already_paid'],
  '1101': ['permanent', 'order_state'],
  '1125': ['permanent', 'order_state'],
  '1142': ['permanent', 'order_state'],
  '1261': ['permanent', 'order_state'],
  '1262': ['permanent', 'order_state'],
  '1263': ['permanent', 'order_state'],
  '1264': ['permanent', 'order_state'],
  '1266': ['permanent', 'order_state'],
  '1267': ['permanent', 'order_state'],
  '1150': ['permanent', 'refund_rejected'],
  '1155': ['permanent', 'refund_rejected'],
  '1265': ['permanent', 'refund_rejected'],
  '1269': ['permanent', 'refund_rejected'],
  '1270': ['permanent', 'refund_rejected'],
  '1271': ['permanent', 'refund_rejected'],
  '1272': ['permanent', 'refund_rejected'],
  '1105': ['permanent', 'merchant_config'],
  '1106': ['permanent', 'merchant_config'],
  '1107': ['permanent', 'merchant_config'],
  '1241': ['permanent', 'merchant_config'],
  '1242': ['permanent', 'merchant_config'],
  '1243': ['permanent', 'merchant_config'],
  '1251': ['permanent', 'merchant_config'],
  '1250': ['permanent', 'forbidden'],
};

void describe('respcd table', () => {
  void it('has exactly the expected rows', () => {
    assert.deepEqual(Object.keys(RESPCD_TABLE).sort(), Object.keys(EXPECTED).sort());
  });

  for (const [respcd, [kind, reason]] of Object.entries(EXPECTED)) {
    void it(`classifies ${respcd} as ${kind} ${reason}`, () => {
      const cls = classifyRespcd(respcd);
      assert.equal(cls.kind, kind);
      assert.equal(cls.reason, reason);
      assert.ok(cls.description.length > 0);
    });
  }

  void it('classifies unknown codes as permanent unknown', () => {
    for (const code of ['9999', '1109', 'abcd', '']) {
      assert.deepEqual(
        { kind: classifyRespcd(code).kind, reason: classifyRespcd(code).reason },
        { kind: 'permanent', reason: 'unknown' },
      );
    }
  });

  void it('ignores surrounding whitespace in a code', () => {
    assert.equal(classifyRespcd(' 1143 ').kind, 'pending');
  });

  void it('refuses to classify 0000, which is success', () => {
    assert.throws(() => classifyRespcd('0000'), RangeError);
  });

  void it('cannot be changed at run time', () => {
    assert.ok(Object.isFrozen(RESPCD_TABLE));
  });
});

void describe('HTTP status classification', () => {
  void it('treats 2xx as no failure', () => {
    assert.equal(classifyHttpStatus(200), undefined);
    assert.equal(classifyHttpStatus(204), undefined);
  });

  void it('treats 429 as transient rate_limited', () => {
    assert.deepEqual(pick(classifyHttpStatus(429)), { kind: 'transient', reason: 'rate_limited' });
  });

  void it('treats every 5xx as transient server_error', () => {
    for (const status of [500, 502, 503, 504, 599]) {
      assert.deepEqual(pick(classifyHttpStatus(status)), { kind: 'transient', reason: 'server_error' });
    }
  });

  void it('treats other 4xx and 3xx as permanent http_error', () => {
    for (const status of [301, 400, 401, 403, 404, 405, 413, 422]) {
      assert.deepEqual(pick(classifyHttpStatus(status)), { kind: 'permanent', reason: 'http_error' });
    }
  });
});

void describe('QfpayError', () => {
  void it('carries a stable type, the endpoint, the respcd fields and the HTTP status', () => {
    const err = QfpayError.fromRespcd(
      '/subscription/v1/charge',
      { respcd: '1201', respmsg: 'insufficient balance', resperr: 'declined' },
      200,
    );
    assert.ok(err instanceof Error);
    assert.equal(err.type, 'QfpayError');
    assert.equal(err.name, 'QfpayError');
    assert.equal(err.kind, 'permanent');
    assert.equal(err.reason, 'declined');
    assert.equal(err.respcd, '1201');
    assert.equal(err.respmsg, 'insufficient balance');
    assert.equal(err.resperr, 'declined');
    assert.equal(err.httpStatus, 200);
    assert.equal(err.endpoint, '/subscription/v1/charge');
    assert.match(err.message, /1201/);
    assert.match(err.message, /insufficient balance/);
    assert.equal(err.retryable, false);
  });

  void it('keeps the original cause as an object, not a string', () => {
    const cause = new SyntaxError('Unexpected token <');
    const err = new QfpayError({
      kind: 'permanent',
      reason: 'bad_response',
      endpoint: '/x',
      message: 'm',
      cause,
    });
    assert.equal(err.cause, cause);
  });

  void it('serialises to plain fields without the cause', () => {
    const err = new QfpayError({
      kind: 'transient',
      reason: 'rate_limited',
      endpoint: '/x',
      message: 'm',
      httpStatus: 429,
      retryAfterMs: 1000,
      cause: new Error('secret detail'),
    });
    const json = JSON.parse(JSON.stringify(err)) as Record<string, unknown>;
    assert.equal(json.type, 'QfpayError');
    assert.equal(json.kind, 'transient');
    assert.equal(json.httpStatus, 429);
    assert.equal(json.retryAfterMs, 1000);
    assert.equal('cause' in json, false);
  });
});

void describe('isRetryable', () => {
  const make = (respcd: string) => QfpayError.fromRespcd('/subscription/v1/charge', { respcd });

  void it('is true only for transient QFPay errors', () => {
    assert.equal(isRetryable(make('1205')), true);
    assert.equal(isRetryable(make('1297')), true);
    assert.equal(
      isRetryable(new QfpayError({ kind: 'transient', reason: 'timeout', endpoint: '/x', message: 'm' })),
      true,
    );
  });

  void it('is false for pending outcomes, which must be confirmed by query', () => {
    for (const code of ['1143', '1145', '1298']) assert.equal(isRetryable(make(code)), false);
  });

  void it('is false for permanent errors and for anything that is not a QfpayError', () => {
    assert.equal(isRetryable(make('1108')), false);
    assert.equal(isRetryable(make('9999')), false);
    assert.equal(isRetryable(new Error('boom')), false);
    assert.equal(isRetryable(undefined), false);
  });

  void it('recognises a QfpayError by its type across module copies', () => {
    const foreign = { type: 'QfpayError', kind: 'transient', reason: 'timeout' };
    assert.equal(isQfpayError(foreign), true);
    assert.equal(isRetryable(foreign), true);
  });
});

function pick(cls: { kind: string; reason: string } | undefined) {
  return cls && { kind: cls.kind, reason: cls.reason };
}
