import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidDurationError, parseDuration } from '../../src/domain/duration';

void describe('parseDuration', () => {
  void it('reads every unit as fixed milliseconds', () => {
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('15m'), 900_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('3d'), 259_200_000);
    assert.equal(parseDuration('2w'), 1_209_600_000);
  });

  void it('accepts zero, surrounding whitespace and a space before the unit', () => {
    assert.equal(parseDuration('0s'), 0);
    assert.equal(parseDuration(' 3d '), 259_200_000);
    assert.equal(parseDuration('1 h'), 3_600_000);
  });

  void it('takes a non-negative integer number as milliseconds', () => {
    assert.equal(parseDuration(0), 0);
    assert.equal(parseDuration(5_000), 5_000);
  });

  for (const junk of [
    '',
    '1',
    '5000',
    'h',
    '1.5h',
    '-1h',
    '+1h',
    '1M',
    '1H',
    '1y',
    '1h30m',
    'one hour',
    '1 hour',
  ]) {
    void it(`rejects the text ${JSON.stringify(junk)} with an InvalidDuration error that quotes it`, () => {
      assert.throws(
        () => parseDuration(junk),
        (error: unknown) =>
          error instanceof InvalidDurationError &&
          error.type === 'InvalidDuration' &&
          error.message.includes(JSON.stringify(junk)),
      );
    });
  }

  for (const junk of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER + 1]) {
    void it(`rejects the number ${junk}`, () => {
      assert.throws(() => parseDuration(junk), InvalidDurationError);
    });
  }

  void it('rejects an amount whose milliseconds overflow a safe integer', () => {
    assert.throws(() => parseDuration('99999999999999w'), InvalidDurationError);
  });

  void it('rejects values that are neither text nor numbers at run time', () => {
    assert.throws(() => parseDuration(null as unknown as string), InvalidDurationError);
    assert.throws(() => parseDuration({} as unknown as string), InvalidDurationError);
  });
});
