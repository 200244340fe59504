/**
 * The QFPay emulator's variables are `EMULATOR_…`; the `SANDBOX_…` names they had before are still
 * read, each only where its new name is unset, by the emulator and by `npm start` and
 * `npm run cluster`. A stack's data folder from before keeps its emulator state.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadClusterConfig } from '../../src/dev/cluster-config';
import { adoptOlderEmulatorState, emulatorStateFile, partEnvironment } from '../../src/dev/stack';
import { loadStackConfig } from '../../src/dev/stack-config';
import {
  OLDER_VARIABLE_NAMES,
  parseEmulatorEnvironment,
  withOlderVariableNames,
  type EmulatorEnvironment,
} from '../../src/gateways/qfpay/emulator/environment';

function environment(env: NodeJS.ProcessEnv): EmulatorEnvironment {
  const parsed = parseEmulatorEnvironment(env);
  if (!parsed.ok) assert.fail(parsed.problems);
  return parsed.environment;
}

describe("the emulator's variables and their older names", () => {
  it('reads EMULATOR_STATE_FILE, and SANDBOX_STATE_FILE when it is absent', () => {
    assert.equal(environment({}).EMULATOR_STATE_FILE, undefined);
    assert.equal(
      environment({ EMULATOR_STATE_FILE: '/data/new.json' }).EMULATOR_STATE_FILE,
      '/data/new.json',
    );
    assert.equal(environment({ SANDBOX_STATE_FILE: '/data/old.json' }).EMULATOR_STATE_FILE, '/data/old.json');
    // An empty variable is an unset one, here as everywhere in the configuration.
    assert.equal(
      environment({ EMULATOR_STATE_FILE: '', SANDBOX_STATE_FILE: '/data/old.json' }).EMULATOR_STATE_FILE,
      '/data/old.json',
    );
  });

  it('takes the new name when both are set', () => {
    const env = environment({ EMULATOR_STATE_FILE: '/data/new.json', SANDBOX_STATE_FILE: '/data/old.json' });
    assert.equal(env.EMULATOR_STATE_FILE, '/data/new.json');
  });

  it('reads every older name: port, host, notify URL, state file, time scale', () => {
    const env = environment({
      SANDBOX_PORT: '4999',
      SANDBOX_HOST: '127.0.0.1',
      SANDBOX_NOTIFY_URL: 'http://127.0.0.1:3000/webhooks/qfpay',
      SANDBOX_STATE_FILE: '/data/old.json',
      SANDBOX_TIME_SCALE: '60',
    });
    assert.equal(env.EMULATOR_PORT, 4999);
    assert.equal(env.EMULATOR_HOST, '127.0.0.1');
    assert.equal(env.EMULATOR_NOTIFY_URL, 'http://127.0.0.1:3000/webhooks/qfpay');
    assert.equal(env.EMULATOR_STATE_FILE, '/data/old.json');
    assert.equal(env.EMULATOR_TIME_SCALE, 60);
    assert.deepEqual(Object.keys(OLDER_VARIABLE_NAMES).sort(), [
      'EMULATOR_HOST',
      'EMULATOR_NOTIFY_URL',
      'EMULATOR_PORT',
      'EMULATOR_STATE_FILE',
      'EMULATOR_TIME_SCALE',
    ]);
  });

  it('names a bad value under the new name, whichever name carried it', () => {
    const parsed = parseEmulatorEnvironment({ SANDBOX_TIME_SCALE: '-1' });
    assert.equal(parsed.ok, false);
    assert.match(parsed.ok ? '' : parsed.problems, /EMULATOR_TIME_SCALE/);
  });

  it('leaves the environment it was given as it was', () => {
    const given = { SANDBOX_PORT: '4999' };
    assert.equal(withOlderVariableNames(given).EMULATOR_PORT, '4999');
    assert.deepEqual(given, { SANDBOX_PORT: '4999' });
  });
});

describe('npm start and npm run cluster: the emulator port and state', () => {
  it('read EMULATOR_PORT, and SANDBOX_PORT when it is absent', () => {
    assert.equal(loadStackConfig({}).EMULATOR_PORT, 4010);
    assert.equal(loadStackConfig({ EMULATOR_PORT: '4020' }).EMULATOR_PORT, 4020);
    assert.equal(loadStackConfig({ SANDBOX_PORT: '4030' }).EMULATOR_PORT, 4030);
    assert.equal(loadStackConfig({ EMULATOR_PORT: '4020', SANDBOX_PORT: '4030' }).EMULATOR_PORT, 4020);
    assert.equal(loadClusterConfig({}).EMULATOR_PORT, 4110);
    assert.equal(loadClusterConfig({ SANDBOX_PORT: '4130' }).EMULATOR_PORT, 4130);
  });

  it('give the emulator its variables under their new names, its state in the data folder', () => {
    const config = loadStackConfig({ SANDBOX_PORT: '4030', DATA_DIR: '/tmp/stack-data' });
    const env = partEnvironment(config, { SANDBOX_STATE_FILE: '/elsewhere/old.json' });
    assert.equal(env.EMULATOR_PORT, '4030');
    assert.equal(env.EMULATOR_HOST, '127.0.0.1');
    assert.equal(env.EMULATOR_NOTIFY_URL, `http://127.0.0.1:${config.PORT}/webhooks/qfpay`);
    assert.equal(env.EMULATOR_STATE_FILE, '/tmp/stack-data/qfpay-emulator-state.json');
    assert.equal(env.QFPAY_BASE_URL, 'http://127.0.0.1:4030');
    // What the emulator reads: the stack's own setting wins over an older one inherited.
    assert.equal(environment(env).EMULATOR_STATE_FILE, '/tmp/stack-data/qfpay-emulator-state.json');
  });

  it('carry on with the emulator state a data folder kept under its older name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stack-data-'));
    try {
      assert.equal(adoptOlderEmulatorState(dir), false, 'nothing to rename');
      writeFileSync(join(dir, 'sandbox-state.json'), '{"older":true}');
      assert.equal(adoptOlderEmulatorState(dir), true);
      assert.equal(existsSync(join(dir, 'sandbox-state.json')), false);
      assert.equal(readFileSync(emulatorStateFile(dir), 'utf8'), '{"older":true}');
      // A current file is never replaced by an older one.
      writeFileSync(join(dir, 'sandbox-state.json'), '{"older":"again"}');
      assert.equal(adoptOlderEmulatorState(dir), false);
      assert.equal(readFileSync(emulatorStateFile(dir), 'utf8'), '{"older":true}');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
