/**
 * The one table of failure types and their HTTP answers: what could be tried again is a 503, a
 * refusal a 409, and a type the table does not hold (a workflow's own refusal) a 409.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FAILURE_TYPES, failureAnswer } from '../../src/domain/failure-types';

void describe('failure types', () => {
  void it('answers each by its entry, and anything else as a conflict', () => {
    assert.deepEqual(
      Object.entries(FAILURE_TYPES)
        .filter(([, a]) => a.status === 503)
        .map(([type]) => type),
      ['GatewayUnavailable', 'GatewayNotConfigured', 'MerchantEndpointUnavailable'],
    );
    assert.equal(failureAnswer('GatewayUnavailable').code, 'gateway_unavailable');
    assert.equal(failureAnswer('GatewayRefused').status, 409);
    for (const type of [undefined, null, '', 'Refused', 'constructor', 'toString', '__proto__'])
      assert.deepEqual(
        [failureAnswer(type).status, failureAnswer(type).code],
        [409, 'conflict'],
        String(type),
      );
  });
});
