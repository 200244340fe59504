/** The bench's `--server-config` values, as the dev server is given them. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { serverConfigArgs } from '../../bench/stack';

describe('serverConfigArgs', () => {
  it('gives each name=value to the dev server as a dynamic config value', () => {
    assert.deepEqual(
      serverConfigArgs(['system.enableActivityEagerExecution=true', 'limit.maxIDLength=255']),
      [
        '--dynamic-config-value',
        'system.enableActivityEagerExecution=true',
        '--dynamic-config-value',
        'limit.maxIDLength=255',
      ],
    );
    assert.deepEqual(serverConfigArgs([]), []);
  });

  it('refuses what is not name=value, naming it', () => {
    for (const bad of ['system.enableActivityEagerExecution', '=true', 'a b=true', 'x=']) {
      assert.throws(
        () => serverConfigArgs([bad]),
        new RegExp(`"${bad.replace(/[.]/g, '\\.')}" is not name=value`),
      );
    }
  });
});
