/**
 * `npm run chaos:episodes`: the dunning invariant at volume.
 *
 *   npm run chaos:episodes                       100,000 pure episodes and 200 on the time-skipping server
 *   npm run chaos:episodes -- --quick            5,000 and 20
 *   options: --pure N  --temporal N  --first-seed N (of the Temporal episodes)  --out FILE
 *
 * Pure episodes drive the workflow's own decision functions (`chaos/episode-simulator.ts`) with
 * random failure times, outages, policy changes, clock skew, and pending and timed-out charges.
 * Temporal episodes run the real workflow on the time-skipping test server against the QFPay
 * double, with random charge answers and random worker restarts (a new worker with no cache
 * rebuilds the workflow from its history), and check every charge against its window, that no
 * two charges ran at once, and that no workflow task failed. Exits 1 on any violation.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { EngineDouble, failingSubscription, startWith } from '../test/helpers/dunning-scenario';
import type { ScriptedCharge } from '../test/helpers/qfpay-doubles';
import { createTestWorker, startTimeSkipping, workflowTaskFailures } from '../test/helpers/temporal';
import { cancelUpdate, snapshotQuery } from '../src/workflows/definitions';
import { random, runEpisode } from './episode-simulator';
import { HOUR, DAY } from '../src/domain/duration';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    pure: { type: 'string' },
    temporal: { type: 'string' },
    out: { type: 'string' },
    'first-seed': { type: 'string', default: '1' },
  },
});
const firstSeed = Number(args['first-seed']);
const pureCount = Number(args.pure ?? (args.quick ? 5_000 : 100_000));
const temporalCount = Number(args.temporal ?? (args.quick ? 20 : 200));

/** `CHAOS_TRACE=1` prints each step of the Temporal episodes (to see where one spends its time). */
const trace = (message: string) => {
  if (process.env.CHAOS_TRACE) console.log(`  ${new Date().toISOString()} ${message}`);
};

function pureEpisodes(): {
  episodes: number;
  charges: number;
  unconfirmed: number;
  outages: number;
  violations: string[];
} {
  const totals = { episodes: 0, charges: 0, unconfirmed: 0, outages: 0, violations: [] as string[] };
  for (let seed = 1; seed <= pureCount; seed += 1) {
    const r = runEpisode({ seed });
    totals.episodes += 1;
    totals.charges += r.charges;
    totals.unconfirmed += r.unconfirmedCharges;
    totals.outages += r.outages;
    totals.violations.push(...r.violations);
  }
  return totals;
}

interface TemporalTotals {
  episodes: number;
  charges: number;
  restarts: number;
  violations: string[];
  /** The episode's workflow (read when it hangs, to show where it stood). */
  workflowId?: string;
}

/**
 * When an episode counts as hung: a hang detector, not a speed limit (an episode takes 5–15 s of
 * real time on this machine, its hours pass on the test server). A hung episode is a violation:
 * it prints where its workflow stood and ends the run.
 */
const EPISODE_HANG_MS = 10 * 60_000;

/** Waits (in real time: the double answers at once) until the workflow runs no activity. */
async function untilNoActivityRuns(handle: {
  describe(): Promise<{ raw: { pendingActivities?: unknown[] | null } }>;
}) {
  for (let i = 0; i < 600; i += 1) {
    if (((await handle.describe()).raw.pendingActivities?.length ?? 0) === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One random episode on the time-skipping server; returns what it did and what it broke. */
async function temporalEpisode(
  env: TestWorkflowEnvironment,
  seed: number,
  totals: TemporalTotals,
): Promise<void> {
  const rnd = random(seed);
  const nextBillingIn = [3 * HOUR, DAY, 30 * DAY][Math.floor(rnd() * 3)]!;
  const { subscriptionId, clock, qfpay, failCycle2 } = await failingSubscription(env, nextBillingIn);
  const answers: ScriptedCharge[] = [
    { outcome: 'failed' },
    { outcome: 'succeeded' },
    { outcome: 'server_error' },
    { outcome: 'timeout_after', then: 'failed' },
    { outcome: 'timeout_after', then: 'succeeded' },
    { outcome: 'pending' },
  ];
  qfpay.chargeScript = Array.from({ length: 8 }, () => answers[Math.floor(rnd() * answers.length)]!);
  // At most one charge in flight: from the activity's start to its answer.
  const qfpayActivities = qfpay.activities();
  let active = 0;
  const activities = {
    ...qfpayActivities,
    ...new EngineDouble().activities(),
    chargeOrder: async (...input: Parameters<typeof qfpayActivities.chargeOrder>) => {
      active += 1;
      if (active > 1) totals.violations.push(`seed ${seed}: two charges at once`);
      try {
        return await qfpayActivities.chargeOrder(...input);
      } finally {
        active -= 1;
      }
    },
  };
  const offsets = [['1h', '1d', '3d'], ['30m', '2h'], ['10m']][Math.floor(rnd() * 3)]!;
  let taskQueue: string | undefined;
  let handle: Awaited<ReturnType<typeof startWith>> | undefined;
  const fake = { env, track: () => undefined };
  const steps = 2 + Math.floor(rnd() * 4);
  // The double does not bill the next cycle: the whole episode stays before the next billing
  // time (each step and each outage takes at most its share of 90 % of the time to it).
  const slice = (nextBillingIn * 0.9) / (2 * steps);
  for (let step = 0; step < steps; step += 1) {
    // Each step runs on a new worker without a cache: the workflow is rebuilt from its history.
    const w = await createTestWorker(env, {
      maxCachedWorkflows: 0,
      activities,
      ...(taskQueue ? { taskQueue } : {}),
    });
    taskQueue = w.taskQueue;
    if (step > 0) totals.restarts += 1;
    trace(`seed ${seed} step ${step + 1}/${steps} (next billing in ${nextBillingIn / HOUR} h)`);
    await w.worker.runUntil(async () => {
      if (!handle) {
        handle = await startWith(fake, w.taskQueue, subscriptionId, {
          attemptOffsets: offsets,
          finalAction: 'leave_to_gateway',
        });
        totals.workflowId = handle.workflowId;
        await env.sleep(60_000);
        clock.now = await env.currentTimeMs();
        await failCycle2(handle);
      }
      await env.sleep(Math.floor(rnd() * slice));
      clock.now = await env.currentTimeMs();
      // The worker stops only between activities: the test server cannot skip time past an
      // activity a stopped worker abandoned (it waits for the activity's timeout in real time).
      await untilNoActivityRuns(handle);
    });
    // The worker is gone for a while (an outage). It ends before the workflow's next timer fires:
    // a workflow task waiting for a worker holds the test server's time-skipping lock, so an
    // outage across a timer would be waited out in real time (hours). Late wake-ups after an
    // outage are the pure episodes' part.
    if (rnd() < 0.5) {
      const drawn = Math.floor(rnd() * slice);
      const untilTimer = (await nextTimerAt(handle!)) - (await env.currentTimeMs()) - 1_000;
      const outage = Math.min(drawn, untilTimer);
      if (outage > 0) await env.sleep(outage);
    }
  }
  trace(`seed ${seed}: cancel and wait for the end`);
  const last = await createTestWorker(env, { activities, taskQueue: taskQueue! });
  await last.worker.runUntil(async () => {
    const h = handle!;
    await h.query(snapshotQuery);
    if ((await h.describe()).status.name === 'RUNNING')
      await h.executeUpdate(cancelUpdate, { args: [{}] }).catch(() => undefined);
    trace(`seed ${seed}: ${(await h.describe()).status.name}`);
    await h.result().catch(() => undefined);
    trace(`seed ${seed}: ended`);
    if ((await workflowTaskFailures(h)) > 0) totals.violations.push(`seed ${seed}: a workflow task failed`);
  });
  // Every charge QFPay processed came inside its window: before next billing − margin (2 h).
  for (const c of qfpay.charged) {
    if (c.at >= qfpay.state.remote.nextBillingTime! - 2 * HOUR) {
      totals.violations.push(`seed ${seed}: a charge at ${new Date(c.at).toISOString()} past the window`);
    }
  }
  totals.charges += qfpay.count('chargeOrder');
  totals.episodes += 1;
}

/** When the workflow's earliest open timer fires (server time), from its history; ∞ if none. */
async function nextTimerAt(handle: { fetchHistory(): Promise<temporal.api.history.v1.IHistory> }) {
  const open = new Map<string, number>();
  for (const e of (await handle.fetchHistory()).events ?? []) {
    const started = e.timerStartedEventAttributes;
    if (started) {
      const at = Number(e.eventTime?.seconds ?? 0) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6);
      const timeout = started.startToFireTimeout;
      const ms = Number(timeout?.seconds ?? 0) * 1000 + Math.floor((timeout?.nanos ?? 0) / 1e6);
      open.set(String(e.eventId), at + ms);
    }
    const closed =
      e.timerFiredEventAttributes?.startedEventId ?? e.timerCanceledEventAttributes?.startedEventId;
    if (closed !== undefined && closed !== null) open.delete(String(closed));
  }
  return Math.min(Infinity, ...open.values());
}

/** Where a hung episode stood: its pending work and its last history events. */
async function showWhereItStood(env: TestWorkflowEnvironment, workflowId: string): Promise<void> {
  try {
    const handle = env.client.workflow.getHandle(workflowId);
    const description = await handle.describe();
    const pending = (description.raw.pendingActivities ?? []).map(
      (a) => `${a.activityType?.name} state ${a.state} attempt ${a.attempt}`,
    );
    console.log(`  ${workflowId}: ${description.status.name}; pending: ${pending.join(', ') || 'none'}`);
    const { EventType } = temporal.api.enums.v1;
    const events = (await handle.fetchHistory()).events ?? [];
    for (const e of events.slice(-12)) {
      const at = new Date(Number(e.eventTime?.seconds ?? 0) * 1000).toISOString();
      console.log(`    ${e.eventId} ${at} ${EventType[e.eventType ?? 0]}`);
    }
  } catch (err) {
    console.log(`  ${workflowId}: not read (${String(err)})`);
  }
}

async function temporalEpisodes(): Promise<TemporalTotals> {
  const totals: TemporalTotals = { episodes: 0, charges: 0, restarts: 0, violations: [] };
  let env: TestWorkflowEnvironment | undefined;
  let hung = false;
  // Ctrl-C or a stop leaves no test server behind.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void (env?.teardown() ?? Promise.resolve()).finally(() => process.exit(130));
    });
  }
  // The worker of an episode that hung still polls the server torn down under it: its one
  // complaint is expected; anything else still stops the run.
  process.on('uncaughtException', (err) => {
    if (hung && /Channel has been shut down/.test(err.message)) return;
    console.error(err);
    process.exit(1);
  });
  for (let seed = firstSeed; totals.episodes < temporalCount; seed += 1) {
    // A fresh server now and then: ended workflows with abandoned work slow the test server down.
    if (totals.episodes % 20 === 0) {
      await env?.teardown();
      env = await startTimeSkipping();
    }
    const from = Date.now();
    const episode: TemporalTotals = { episodes: 0, charges: 0, restarts: 0, violations: [] };
    let timer: NodeJS.Timeout | undefined;
    const run = temporalEpisode(env!, seed, episode).then(() => true);
    run.catch(() => undefined); // a hung episode fails once its server is gone
    const finished = await Promise.race([
      run,
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), EPISODE_HANG_MS))),
    ]);
    clearTimeout(timer);
    const seconds = Math.round((Date.now() - from) / 1000);
    if (!finished) {
      hung = true;
      totals.violations.push(`seed ${seed}: not finished after ${seconds} s of real time`);
      if (episode.workflowId) await showWhereItStood(env!, episode.workflowId);
      break;
    }
    totals.episodes += 1;
    totals.charges += episode.charges;
    totals.restarts += episode.restarts;
    totals.violations.push(...episode.violations);
    console.log(`temporal episode ${totals.episodes}/${temporalCount} (seed ${seed}): ${seconds} s`);
  }
  await env?.teardown().catch(() => undefined);
  return totals;
}

async function main(): Promise<void> {
  const started = Date.now();
  const pure = pureEpisodes();
  console.log(
    `pure: ${pure.episodes.toLocaleString('en-US')} episodes, ${pure.charges.toLocaleString('en-US')} charges, ${pure.violations.length} violations (${Math.round((Date.now() - started) / 1000)} s)`,
  );
  const temporal = await temporalEpisodes();
  console.log(
    `temporal: ${temporal.episodes} episodes, ${temporal.charges} charges, ${temporal.restarts} worker restarts, ${temporal.violations.length} violations`,
  );
  for (const v of [...pure.violations, ...temporal.violations].slice(0, 20)) console.log(`  ✖ ${v}`);
  const out = args.out ?? join(__dirname, 'results', args.quick ? 'episodes-quick.json' : 'episodes.json');
  const { violations: pureViolations, ...pureFigures } = pure;
  const { violations: temporalViolations, ...temporalFigures } = temporal;
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        pure: { ...pureFigures, violations: pureViolations.length },
        temporal: { ...temporalFigures, violations: temporalViolations.length },
        seconds: Math.round((Date.now() - started) / 1000),
      },
      null,
      2,
    )}\n`,
  );
  console.log(`wrote ${out}`);
  process.exit(pureViolations.length + temporalViolations.length === 0 ? 0 : 1);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
