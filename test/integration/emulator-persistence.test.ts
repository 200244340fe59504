import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startQfpayEmulator } from '../../src/gateways/qfpay/emulator/server';
import { StateFileError } from '../../src/gateways/qfpay/emulator/store';
import { MINUTE, EmulatorTestClient, startTestEmulator, type TestEmulator } from '../helpers/emulator-client';

const iso = (ms: number) => new Date(ms).toISOString();
const FEB_15 = Date.parse('2025-02-15T02:00:00Z');

describe('emulator state file', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'qfpay-emulator-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps customers, subscriptions, schedules and pending notifications across a restart', async () => {
    const stateFile = path.join(dir, 'state.json');
    let t: TestEmulator = await startTestEmulator({ stateFile });
    const active = await t.client.subscribe();
    const failing = await t.client.subscribe();
    await t.client.setCharges(failing.tokenId, 'decline');
    await t.client.advance({ to: iso(FEB_15) });
    // One notification fails and waits for its redelivery in 2 minutes.
    t.receiver.fail();
    await t.client.ok('/subscription/v1/cancel', { subscription_id: active.subscriptionId });
    await t.emulator.settle();
    const rowsBefore = await t.client.ok('/subscription/v1/query', {});
    const failingBefore = await t.client.inspect(failing.subscriptionId);
    assert.equal(failingBefore.state, 'PAST_DUE');
    await t.close();

    const content = JSON.parse(readFileSync(stateFile, 'utf8')) as {
      version: number;
      clock: { nowMs: number };
    };
    assert.equal(content.version, 1);
    assert.equal(content.clock.nowMs, FEB_15);
    assert.deepEqual(readdirSync(dir), ['state.json'], 'no temporary file left behind');

    t = await startTestEmulator({ stateFile });
    try {
      assert.equal((await t.client.control<{ nowMs: number }>('GET', '/clock')).body.nowMs, FEB_15);
      assert.deepEqual(await t.client.ok('/subscription/v1/query', {}), rowsBefore);
      assert.deepEqual(await t.client.inspect(failing.subscriptionId), failingBefore);
      // The QFPay retry scheduled before the restart still happens, on time.
      await t.client.setCharges(failing.tokenId, 'approve');
      await t.client.advance({ to: failingBefore.pending_retry?.at ?? '' });
      const failingAfter = await t.client.inspect(failing.subscriptionId);
      assert.equal(failingAfter.state, 'ACTIVE');
      assert.equal(failingAfter.orders[1]?.attempts[1]?.at, failingBefore.pending_retry?.at);
      // So does the redelivery of the notification that failed.
      const log = await t.client.control<{ data: { status: string; attempts: { at: string }[] }[] }>(
        'GET',
        `/notifications?subscription_id=${active.subscriptionId}`,
      );
      const cancelled = log.body.data.at(-1);
      assert.equal(cancelled?.status, 'delivered');
      assert.deepEqual(
        cancelled?.attempts.map((a) => a.at),
        [iso(FEB_15), iso(FEB_15 + 2 * MINUTE)],
      );
      assert.deepEqual(t.receiver.states(active.subscriptionId), ['CANCELLED']);
      // A new id never collides with a restored one.
      const again = await t.client.subscribe();
      assert.notEqual(again.subscriptionId, active.subscriptionId);
    } finally {
      await t.close();
    }
  });

  it('writes the state file shortly after a change, without waiting for shutdown', async () => {
    const stateFile = path.join(dir, 'nested', 'debounced.json');
    const t = await startTestEmulator({ stateFile, stateFileDebounceMs: 20 });
    try {
      await t.client.createCustomer();
      for (let i = 0; i < 100 && !existsSync(stateFile); i += 1) await new Promise((r) => setTimeout(r, 20));
      const content = JSON.parse(readFileSync(stateFile, 'utf8')) as { customers: unknown[] };
      assert.equal(content.customers.length, 1);
    } finally {
      await t.close();
    }
  });

  it('refuses to start from a state file that is not valid', async () => {
    const stateFile = path.join(dir, 'broken.json');
    writeFileSync(stateFile, '{"version": 1, "custo');
    await assert.rejects(startQfpayEmulator({ stateFile }), StateFileError);
    writeFileSync(stateFile, '{"version": 99}');
    await assert.rejects(startQfpayEmulator({ stateFile }), StateFileError);
  });
});

/** The emulator's variables under their names, and under the names they had before (still read). */
const VARIABLE_NAMES = {
  current: ['EMULATOR_PORT', 'EMULATOR_HOST', 'EMULATOR_STATE_FILE', 'EMULATOR_NOTIFY_URL'],
  older: ['SANDBOX_PORT', 'SANDBOX_HOST', 'SANDBOX_STATE_FILE', 'SANDBOX_NOTIFY_URL'],
} as const;

describe('npm run emulator (src/gateways/qfpay/emulator/main.ts)', () => {
  for (const [which, [portVar, hostVar, stateFileVar, notifyUrlVar]] of Object.entries(VARIABLE_NAMES)) {
    it(`starts from the environment (${which} variable names), logs JSON lines, and writes its state on SIGTERM`, async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'qfpay-emulator-main-'));
      const stateFile = path.join(dir, 'state.json');
      const env: NodeJS.ProcessEnv = { ...process.env };
      for (const name of [...VARIABLE_NAMES.current, ...VARIABLE_NAMES.older]) delete env[name];
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', path.join('src', 'gateways', 'qfpay', 'emulator', 'main.ts')],
        {
          cwd: path.resolve(__dirname, '..', '..'),
          env: {
            ...env,
            [portVar]: '0',
            [hostVar]: '127.0.0.1',
            [stateFileVar]: stateFile,
            [notifyUrlVar]: '',
            QFPAY_APP_CODE: 'main-test-code',
            QFPAY_APP_KEY: 'main-test-key',
            LOG_LEVEL: 'info',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      try {
        const lines: Record<string, unknown>[] = [];
        let buffered = '';
        const ready = new Promise<string>((resolve, reject) => {
          child.stdout.on('data', (chunk: Buffer) => {
            buffered += chunk.toString('utf8');
            let newline: number;
            while ((newline = buffered.indexOf('\n')) >= 0) {
              const line = JSON.parse(buffered.slice(0, newline)) as Record<string, unknown>;
              buffered = buffered.slice(newline + 1);
              lines.push(line);
              if (line.msg === 'QFPay emulator ready') resolve(String(line.url));
            }
          });
          child.once('exit', (code) => reject(new Error(`emulator exited early with ${code}`)));
        });
        const url = await ready;
        const client = new EmulatorTestClient(url, 'main-test-code', 'main-test-key');
        const customerId = await client.createCustomer();
        assert.match(customerId, /^cust_/);
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        const [code] = (await exited) as [number | null];
        assert.equal(code, 0);
        assert.ok(lines.some((l) => l.msg === 'stopped'));
        const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { customers: { customerId: string }[] };
        assert.deepEqual(
          state.customers.map((c) => c.customerId),
          [customerId],
        );
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
