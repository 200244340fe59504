/**
 * A gateway behind the port failing a merchant's read (orders, schedule): each failure answers a
 * clear status, never a 500.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toApiError } from '../../src/api/errors';
import { GatewayError } from '../../src/gateways/port';

void describe("a gateway's failure on a merchant's read", () => {
  void it('answers 404, 409, 503 or 502 by what the gateway said', () => {
    const cases: Array<[GatewayError, number, string]> = [
      [new GatewayError('madfintech order x not found', false, 404), 404, 'not_found'],
      [new GatewayError('no recurring schedule yet', false, 409), 409, 'conflict'],
      [new GatewayError('HTTP 503', true, 503), 503, 'gateway_unavailable'],
      [new GatewayError('timed out', true), 503, 'gateway_unavailable'],
      [new GatewayError('HTTP 400: bad shop id', false, 400), 502, 'gateway_error'],
    ];
    for (const [err, status, code] of cases) {
      const answer = toApiError(err);
      assert.deepEqual([answer.status, answer.code, answer.message], [status, code, err.message]);
    }
  });
});
