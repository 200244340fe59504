/**
 * The production topology, run for real (`npm run test:cluster`): `npm run cluster` on free
 * ports with a temporary DATA_DIR — PostgreSQL, the schema and namespace jobs of
 * docker-compose.yml, the Temporal server, the Web UI, the emulator, two workers and two API
 * replicas behind nginx. In order:
 *   1. a subscription's lifecycle across replicas: created through one, read, billed and
 *      cancelled through the other, listed through SQL visibility;
 *   2. mid-run, a worker and an API replica are killed (SIGKILL) and the Temporal server is
 *      restarted, while billing cycles run: nothing is lost (the emulator's record and the
 *      engine's mirror agree for every subscription) and the supervisor brought the parts back;
 *   3. a rolling worker upgrade: a patched second build replays the histories recorded on the
 *      cluster (the unpatched change does not), runs beside the first build, takes over, and
 *      both old and new subscriptions carry on;
 *   4. `npm run cluster` itself restarts on the same data: everything is still there and bills on.
 * No assertion on time: every wait is bounded polling with a generous limit, to fail rather
 * than hang.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import {
  freeClusterEnvironment,
  startCluster,
  temporaryClusterDataDir,
  type RunningCluster,
} from '../../src/dev/cluster';
import { loadClusterConfig } from '../../src/dev/cluster-config';
import { StackClient, type CreatedSubscription } from '../../src/dev/stack-client';
import { writeWorkflowBundle } from '../../src/dev/workflow-bundle';
import { agrees, compare, type Comparison } from '../helpers/cluster';
import { testDataConverter } from '../helpers/temporal';
import { alive, runScript, startSupervised, stopWithSigint, untilReady } from '../helpers/supervised';
import { UPGRADE_MEMO, UPGRADE_PATCH_ID } from './fixtures/workflows-v2';

const API_KEY = 'cluster-test-key';
/** The bound of every wait on the engine: generous, so a busy 2-core machine never trips it. */
const CONVERGENCE_MS = 300_000;

const dataDir = temporaryClusterDataDir();
const output: string[] = [];
const log = (line: string) => {
  output.push(line);
  if (output.length > 400) output.shift();
};
let env: Record<string, string>;
let cluster: RunningCluster | undefined;
let temporal: Client | undefined;
const subscriptions: CreatedSubscription[] = [];

const recent = () => output.slice(-80).join('\n');
const clientFor = (apiUrl: string) =>
  new StackClient({
    apiUrl,
    apiKey: API_KEY,
    emulatorUrl: `http://127.0.0.1:${env.EMULATOR_PORT}`,
    webUiUrl: `http://127.0.0.1:${env.TEMPORAL_UI_PORT}`,
    namespace: 'default',
  });
const lb = () => clientFor(`http://127.0.0.1:${env.PORT}`);

/** Waits until the emulator's record and the engine's mirror agree for every subscription. */
async function everySubscriptionAgrees(client: StackClient, what: string): Promise<Comparison[]> {
  let last: Comparison[] = [];
  return client
    .waitFor(
      what,
      async () => {
        last = await Promise.all(subscriptions.map((s) => compare(client, s.subscriptionId)));
        return last.every(agrees) ? last : undefined;
      },
      CONVERGENCE_MS,
    )
    .catch((err: unknown) => {
      const differing = last.filter((c) => !agrees(c));
      throw new Error(`${String(err)}\nstill differing: ${JSON.stringify(differing, null, 1)}\n${recent()}`);
    });
}

/** Moves the emulator's clock to just after the latest next billing time of all subscriptions. */
async function billEverySubscription(client: StackClient): Promise<void> {
  const truths = await Promise.all(subscriptions.map((s) => client.emulatorSubscription(s.subscriptionId)));
  const times = truths.flatMap((t) =>
    t.state === 'ACTIVE' && t.next_billing_time ? [Date.parse(t.next_billing_time)] : [],
  );
  assert.ok(times.length > 0, 'an active subscription to bill');
  await client.emulator('POST', '/_emulator/clock/advance', {
    to: new Date(Math.max(...times) + 1_000).toISOString(),
  });
}

function pidOf(name: string): number {
  const part = cluster!.parts().find((p) => p.name === name);
  assert.ok(part, `part ${name} runs`);
  return part.pid;
}

before(async () => {
  env = await freeClusterEnvironment({ workers: 2, replicas: 2 }, dataDir);
  env.API_KEYS = API_KEY;
  if (process.env.TEST_WORKFLOW_BUNDLE) env.WORKFLOW_BUNDLE_PATH = process.env.TEST_WORKFLOW_BUNDLE;
  try {
    cluster = await startCluster({
      config: loadClusterConfig(env),
      env: { ...process.env, ...env },
      onOutput: (part, line) => log(`${part} | ${line}`),
      onProgress: (message) => log(`cluster | ${message}`),
    });
  } catch (err) {
    throw new Error(`the cluster did not start:\n${recent()}`, { cause: err });
  }
  temporal = new Client({
    connection: await Connection.connect({ address: cluster.urls.temporal }),
    dataConverter: testDataConverter(),
  });
});

after(async () => {
  await temporal?.connection.close().catch(() => {});
  await cluster?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the production topology (npm run cluster)', () => {
  it('runs a lifecycle across API replicas: create through one, read, bill and cancel through the other', async () => {
    const [first, second] = cluster!.urls.replicas.map(clientFor);
    const sub = await first!.createSubscription({ name: 'Across Replicas', totalBillingCycles: 12 });
    subscriptions.push(sub);
    await second!.waitForSubscription(
      sub.subscriptionId,
      'ACTIVE with cycle 1 paid, read through the other replica',
      (v) => v.state === 'ACTIVE' && v.completed_cycles === 1,
      CONVERGENCE_MS,
    );
    // SQL visibility: the search attributes the workflow upserted, queried through replica 2.
    await second!.waitFor(
      'listed as ACTIVE through visibility',
      async () => {
        const list = await second!.apiExpect<{ data: Array<{ subscription_id: string }> }>(
          200,
          'GET',
          `/v1/subscriptions?state=ACTIVE&customer_id=${sub.customerId}`,
        );
        return list.data.some((i) => i.subscription_id === sub.subscriptionId) ? true : undefined;
      },
      CONVERGENCE_MS,
    );
    await second!.advanceToNextBilling(sub.subscriptionId);
    await first!.waitForSubscription(
      sub.subscriptionId,
      'cycle 2 paid',
      (v) => v.completed_cycles === 2,
      CONVERGENCE_MS,
    );
    await second!.apiExpect(200, 'POST', `/v1/subscriptions/${sub.subscriptionId}/cancel`, {
      reason: 'cluster test',
    });
    await first!.waitForSubscription(
      sub.subscriptionId,
      'CANCELLED',
      (v) => v.state === 'CANCELLED',
      CONVERGENCE_MS,
    );
    assert.equal((await first!.emulatorSubscription(sub.subscriptionId)).state, 'CANCELLED');
  });

  it('loses nothing when a worker and an API replica are killed and the Temporal server restarts mid-run', async () => {
    const client = lb();
    for (let i = 0; i < 6; i += 1) {
      subscriptions.push(await client.createSubscription({ name: `Mid Run ${i}`, totalBillingCycles: 24 }));
    }
    await everySubscriptionAgrees(client, 'the first cycle of every subscription mirrored');

    // A billing cycle for every subscription: the notifications reach the API replicas through
    // nginx while a worker and a replica die.
    const worker = pidOf('worker-1');
    const replica = pidOf('api-2');
    await billEverySubscription(client);
    process.kill(worker, 'SIGKILL');
    process.kill(replica, 'SIGKILL');
    await everySubscriptionAgrees(client, 'the cycle billed while a worker and a replica died mirrored');

    // The next cycle with the Temporal server restarting: notifications that meet it down are
    // refused (503) and redelivered by the emulator on QFPay's schedule (2 min, then 10 min).
    const restarting = cluster!.restart('temporal');
    await billEverySubscription(client);
    await restarting;
    await client.waitFor(
      'the API ready again',
      async () => ((await fetch(`${client.endpoints.apiUrl}/readyz`)).ok ? true : undefined),
      CONVERGENCE_MS,
    );
    await client.emulator('POST', '/_emulator/clock/advance', { ms: 15 * 60_000 });
    const final = await everySubscriptionAgrees(
      client,
      'the cycle billed across the server restart mirrored',
    );
    assert.ok(final.filter((c) => c.engine.state === 'ACTIVE').every((c) => c.engine.cycles === 3));

    // The supervisor restarted what was killed.
    assert.notEqual(pidOf('worker-1'), worker);
    assert.notEqual(pidOf('api-2'), replica);
  });

  it('rolls a worker upgrade: a patched build replays the cluster histories, runs beside the first and takes over', async () => {
    const fixtures = join(__dirname, 'fixtures');
    const v2 = await writeWorkflowBundle(
      join(dataDir, 'workflow-bundle-v2.js'),
      join(fixtures, 'workflows-v2.ts'),
    );
    const unpatched = await writeWorkflowBundle(
      join(dataDir, 'workflow-bundle-v2-unpatched.js'),
      join(fixtures, 'workflows-v2-unpatched.ts'),
    );

    // The replay guard (npm run replay), over the histories recorded on this cluster by the
    // first build: the patched build replays them all, the unpatched change none.
    const replay = (bundle: string) =>
      runScript('replay', ['--bundle', bundle, '--query', 'WorkflowType="subscriptionWorkflow"'], {
        TEMPORAL_ADDRESS: cluster!.urls.temporal,
      });
    const patchedReplay = await replay(v2);
    assert.equal(patchedReplay.code, 0, patchedReplay.output);
    assert.match(
      patchedReplay.output,
      new RegExp(`replayed ${subscriptions.length} histories .*: ${subscriptions.length} replayed, 0 failed`),
    );
    const unpatchedReplay = await replay(unpatched);
    assert.equal(unpatchedReplay.code, 1, unpatchedReplay.output);
    assert.match(unpatchedReplay.output, new RegExp(`0 replayed, ${subscriptions.length} failed`));
    assert.match(unpatchedReplay.output, /Nondeterminism/);

    // The second build beside the first on the same task queue, then the first drains and stops.
    await cluster!.startWorker('worker-v2', { WORKFLOW_BUNDLE_PATH: v2 });
    await cluster!.stopPart('worker-1');
    await cluster!.stopPart('worker-2');

    const client = lb();
    const fresh = await client.createSubscription({ name: 'After Upgrade', totalBillingCycles: 24 });
    subscriptions.push(fresh);
    await billEverySubscription(client);
    await everySubscriptionAgrees(client, 'old and new subscriptions billed on the new build');

    const memo = async (workflowId: string) =>
      (await temporal!.workflow.getHandle(workflowId).describe()).memo ?? {};
    assert.deepEqual(await memo(fresh.workflowId), UPGRADE_MEMO, 'a new subscription runs the patched code');
    const markers = (await temporal!.workflow.getHandle(fresh.workflowId).fetchHistory()).events ?? [];
    const patches = markers
      .map((e) => e.markerRecordedEventAttributes)
      .filter((m) => m?.markerName === 'core_patch')
      .flatMap((m) => Object.values(m!.details ?? {}).flatMap((p) => p.payloads ?? []))
      .map((p) => Buffer.from(p.data ?? []).toString());
    assert.ok(
      patches.some((text) => text.includes(UPGRADE_PATCH_ID)),
      `the new history records the patch marker (${patches.join(', ')})`,
    );
    assert.deepEqual(
      await memo(subscriptions[1]!.workflowId),
      {},
      'an old subscription kept its recorded path',
    );
  });

  it('restarts as npm run cluster on the same data: every subscription is still there and bills on', async () => {
    await cluster!.stop();
    cluster = undefined;
    const again = startSupervised('cluster', {
      ...env,
      WORKFLOW_BUNDLE_PATH: join(dataDir, 'workflow-bundle-v2.js'),
    });
    try {
      await untilReady(again, CONVERGENCE_MS);
      const client = lb();
      await everySubscriptionAgrees(client, 'every subscription as it was before the restart');
      await billEverySubscription(client);
      await everySubscriptionAgrees(client, 'a cycle billed after the restart mirrored');
    } finally {
      assert.equal(await stopWithSigint(again, 120_000), 0, again.output().slice(-3000));
    }
    const left = Object.entries(again.pids()).filter(([, pid]) => alive(pid));
    assert.deepEqual(left, [], 'no part left running');
  });
});
