/**
 * `npm start` as a user runs it: the supervisor is spawned as a child process on free ports with a
 * temporary DATA_DIR. It becomes ready (API /readyz, Web UI), takes a subscription, starts a
 * SIGKILLed worker again (with backoff, saying so), stops cleanly
 * on SIGINT (exit 0, no part left running), and on a second start on the same DATA_DIR the
 * subscription's workflow is still there and its durable dunning timer still fires. A port already
 * in use is named, with a non-zero exit and no stack trace.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { freePorts } from '../../src/dev/free-ports';
import { StackClient } from '../../src/dev/stack-client';
import {
  alive,
  startSupervised,
  stopWithSigint,
  untilOutput,
  untilReady,
  type Supervised,
} from '../helpers/supervised';

const dataDir = mkdtempSync(join(tmpdir(), 'qfpay-start-'));
const running: Supervised[] = [];
after(() => {
  for (const s of running) if (s.process.exitCode === null) s.process.kill('SIGKILL');
  for (const s of running) {
    for (const m of s.output().matchAll(/^start\s+\| \w+ pid (\d+)$/gm)) {
      try {
        process.kill(-Number(m[1]), 'SIGKILL');
      } catch {
        // Already stopped.
      }
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe('npm start', () => {
  it('runs, restarts a crashed part, stops on SIGINT, restarts on the same data with timers intact, and names a taken port', async () => {
    const [apiPort, temporalPort, uiPort, emulatorPort, codecPort] = await freePorts(5);
    const env: NodeJS.ProcessEnv = {
      PORT: String(apiPort),
      TEMPORAL_PORT: String(temporalPort),
      TEMPORAL_UI_PORT: String(uiPort),
      EMULATOR_PORT: String(emulatorPort),
      CODEC_SERVER_PORT: String(codecPort),
      DATA_DIR: dataDir,
      API_KEYS: 'start-test-key',
      ...(process.env.TEST_WORKFLOW_BUNDLE ? { WORKFLOW_BUNDLE_PATH: process.env.TEST_WORKFLOW_BUNDLE } : {}),
    };
    const client = new StackClient({
      apiUrl: `http://127.0.0.1:${apiPort}`,
      apiKey: 'start-test-key',
      emulatorUrl: `http://127.0.0.1:${emulatorPort}`,
      webUiUrl: `http://127.0.0.1:${uiPort}`,
      namespace: 'default',
    });

    // First run.
    const first = startSupervised('start', env);
    running.push(first);
    const pids = await untilReady(first);
    assert.deepEqual(Object.keys(pids).sort(), ['api', 'codec', 'emulator', 'temporal', 'worker']);
    assert.equal((await fetch(`http://127.0.0.1:${apiPort}/readyz`)).status, 200);
    assert.equal((await fetch(`http://127.0.0.1:${uiPort}/`)).status, 200);

    // Every other gateway's emulator runs beside QFPay's: a subscription is created on each.
    const auth = { authorization: 'Bearer start-test-key', 'content-type': 'application/json' };
    const listed = await fetch(`http://127.0.0.1:${apiPort}/v1/gateways`, { headers: auth });
    const names = ((await listed.json()) as { data: Array<{ name: string }> }).data.map((g) => g.name);
    assert.deepEqual(names, ['qfpay', 'qorepay', 'madfintech']);
    for (const gateway of names.slice(1)) {
      assert.match(
        first.output(),
        new RegExp(`started the ${gateway} emulator on http://127\\.0\\.0\\.1:\\d+`),
      );
      const created = await fetch(`http://127.0.0.1:${apiPort}/v1/gateways/${gateway}/subscriptions`, {
        method: 'POST',
        headers: { ...auth, 'idempotency-key': `start-${gateway}` },
        body: JSON.stringify({
          customer: { id: `client-start-${gateway}` },
          plan: { name: 'Monthly', amount: 1000, currency: 'USD', interval: { unit: 'month', count: 1 } },
          payment_method: { token: `card-start-${gateway}` },
        }),
      });
      const body = (await created.json()) as { result?: { subscription_id: string; state: string } };
      assert.equal(created.status, 201, JSON.stringify(body));
      assert.ok(body.result?.subscription_id.startsWith(`${gateway}:`), JSON.stringify(body));
    }

    // A card that declines: the first charge fails (INCOMPLETE) and a dunning episode opens with
    // one attempt 30 s after the failure, long before the hourly plan's next billing time.
    const sub = await client.createSubscription({
      name: 'Restart Test',
      interval: 'hours',
      amount: 500,
      declineFirstCharge: true,
      dunningPolicy: {
        attempt_offsets: ['30s'],
        safety_margin: '15s',
        min_attempt_window: '1s',
        escalation: [],
        final_action: 'leave_to_qfpay',
      },
    });
    const before = await client.waitForSubscription(
      sub.subscriptionId,
      'INCOMPLETE with a dunning episode',
      (v) => v.state === 'INCOMPLETE' && v.dunning.episode !== null,
    );
    assert.equal(before.dunning.episode!.attempts.length, 0, 'the attempt is still to come');

    assert.equal(await stopWithSigint(first), 0, first.output().slice(-4000));
    for (const [name, pid] of Object.entries(pids))
      assert.ok(!alive(pid), `${name} (pid ${pid}) still running`);
    assert.match(first.output(), /start\s+\| stopped/);

    // Second run on the same DATA_DIR.
    const second = startSupervised('start', env);
    running.push(second);
    const secondPids = await untilReady(second);
    const again = await client.subscription(sub.subscriptionId);
    assert.equal(again.workflow_id, sub.workflowId);
    // The same episode, still open or (on a slow restart, once its attempt came due) closed.
    const episodeAgain = again.dunning.episode ?? again.dunning.history.at(-1);
    assert.equal(episodeAgain?.order_id, before.dunning.episode!.order_id);
    const truth = await client.emulatorSubscription(sub.subscriptionId);
    assert.equal(truth.subscription_id, sub.subscriptionId, 'the emulator kept its state');

    // A third start while the second runs: every port is taken, PORT among them.
    const third = startSupervised('start', env);
    running.push(third);
    const code = await third.exited;
    assert.equal(code, 1);
    assert.match(
      third.output(),
      new RegExp(`PORT ${apiPort} is already in use \\(the engine's API\\); set PORT=… to use another`),
    );
    assert.match(third.output(), new RegExp(`TEMPORAL_PORT ${temporalPort} is already in use`));
    assert.doesNotMatch(third.output(), /^\s+at .+:\d+:\d+\)?$/m, 'no stack trace');

    // A crashed worker is started again, and the stack says so; nothing else stops.
    process.kill(-secondPids.worker!, 'SIGKILL');
    await untilOutput(second, /worker pid \d+ \(restarted\)/);
    assert.match(second.output(), /exited \(killed by SIGKILL\); restarting it in 1 s/);
    assert.equal(second.process.exitCode, null, 'npm start keeps running');
    assert.equal((await fetch(`http://127.0.0.1:${apiPort}/readyz`)).status, 200);

    // The durable timer set in the first run fires in the second: the attempt is made.
    const attempted = await client.waitForSubscription(
      sub.subscriptionId,
      'the dunning attempt after the restart',
      (v) => (v.dunning.episode?.attempts.length ?? v.dunning.history.at(-1)?.attempts.length ?? 0) >= 1,
      45_000,
    );
    const attempt = (attempted.dunning.episode ?? attempted.dunning.history.at(-1))!.attempts[0]!;
    assert.equal(attempt.result, 'failed', 'the card still declines');

    assert.equal(await stopWithSigint(second), 0, second.output().slice(-4000));
  });
});
