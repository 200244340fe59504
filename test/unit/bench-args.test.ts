/** The bench's command line: what it cannot run is a usage error naming the option, not a crash. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BenchUsageError, parseBenchArgs } from '../../bench/run';

describe('parseBenchArgs', () => {
  it('names an option the bench does not know, as a usage error', () => {
    assert.throws(
      () => parseBenchArgs(['--json', 'out.json']),
      (err: unknown) => err instanceof BenchUsageError && /'--json'/.test(err.message),
    );
  });

  it('names a value it cannot use, as a usage error', () => {
    assert.throws(
      () => parseBenchArgs(['--creations', 'many']),
      (err: unknown) => err instanceof BenchUsageError && /--creations/.test(err.message),
    );
  });

  it('takes the options it knows', () => {
    const o = parseBenchArgs(['--db', 'memory', '--phases', 'creation', '--creations', '200']);
    assert.deepEqual(o.dbs, ['memory']);
    assert.equal(o.creations, 200);
    assert.ok(o.phases.has('creation'));
  });
});
