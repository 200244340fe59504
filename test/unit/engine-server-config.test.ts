/**
 * The engine's Temporal server config: the same on every server it runs (the dev servers' flags and
 * the cluster's dynamic config file), and a bench run's `--server-config` replaces a value by name.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { ENGINE_SERVER_CONFIG, devServerArgs, engineServerConfig } from '../../src/dev/stack';

const CLUSTER_CONFIG = join(
  __dirname,
  '..',
  '..',
  'deploy',
  'temporal',
  'dynamicconfig',
  'production-sql.yaml',
);

describe("the engine's server config", () => {
  it('turns on eager activity dispatch', () => {
    assert.equal(ENGINE_SERVER_CONFIG['system.enableActivityEagerExecution'], 'true');
  });

  it('is what the dev server is given, each value once', () => {
    const args = devServerArgs(7233, '/tmp/x.sqlite');
    const given = args.flatMap((a, i) => (a === '--dynamic-config-value' ? [args[i + 1]] : []));
    assert.deepEqual(given, engineServerConfig());
    assert.deepEqual(
      engineServerConfig(),
      Object.entries(ENGINE_SERVER_CONFIG).map(([name, value]) => `${name}=${value}`),
    );
  });

  it("is in the cluster's dynamic config file with the same values", () => {
    const file = parse(readFileSync(CLUSTER_CONFIG, 'utf8')) as Record<string, { value: unknown }[]>;
    for (const [name, value] of Object.entries(ENGINE_SERVER_CONFIG))
      assert.equal(String(file[name]?.[0]?.value), value, name);
  });

  it('lets a value given by name replace the engine’s, and adds others', () => {
    assert.deepEqual(
      engineServerConfig(['system.enableActivityEagerExecution=false', 'limit.maxIDLength=255']),
      ['system.enableActivityEagerExecution=false', 'limit.maxIDLength=255'],
    );
  });
});
