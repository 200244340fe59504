/**
 * `npm run chaos:clocked`: the chaos audit's promises on a test-clocked run.
 *
 *   npm run chaos:clocked                 10 clocks × 20 subscriptions, a year each
 *   npm run chaos:clocked -- --quick      4 clocks × 5 subscriptions (CI)
 *   options: --clocks K  --subscriptions N (per clock)  --seed N  --out FILE
 *
 * It starts the chaos stack (chaos/stack.ts), makes K test clocks through the API and on each N
 * monthly subscriptions of twelve cycles (through the API, with `test_clock`): some cards approve,
 * some are planned (at clock times) to decline at a renewal and be fixed between the engine's
 * first and second attempts, some to decline for good so that dunning exhausts; the policies'
 * final actions and escalations vary as in chaos/run.ts. It switches on chaos/run.ts's faults in
 * each clock's world (the emulator's `/_emulator/faults` with the clock's header), advances every
 * clock twelve months at once (one advance call each, in parallel) while SIGKILLing a worker every
 * 30 s (`--kill-every`), and once every clock is `ready` stops the faults and the kills, waits for convergence and
 * audits with chaos/audit.ts's checks, reading QFPay's truth from each clock's world: deadlines
 * are judged in the clock's time, since that is the time the world records. It prints a table,
 * writes JSON (chaos/results/clocked-quick.json or clocked-full.json) with the evidence beside it,
 * and exits 1 on any violation (never on a speed).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { monthsAfter } from '../src/dev/clock-scenario';
import { DAY, HOUR } from '../src/domain/duration';
import { seededRandom } from '../src/gateways/qfpay/emulator/faults';
import { TEST_CLOCK_HEADER } from '../src/gateways/test-clock-header';
import {
  clockStatusQuery,
  subscriptionWorkflowId,
  testClockQuery,
  testClockWorkflowId,
} from '../src/workflows/definitions';
import {
  chargesInsideWindow,
  clocksReady,
  eventsInClockTime,
  eventStartFaultRan,
  outboxesEmptied,
  merchantEventsComplete,
  mirrorsTruth,
  noCancelOfPaidPlan,
  noDoubleCharge,
  noStuckWorkflow,
  observeWorkflow,
  eventsAgainstLaterTruth,
  oneSubscriptionPerKey,
  type Check,
  type ClockSpan,
  type Mirror,
  type Truth,
  type WorkflowFinding,
  type WorkflowReading,
} from './audit';
import { subscriptionsNamed, workflowTimeline } from './evidence';
import {
  CHAOS_FAULTS,
  countLines,
  http,
  NO_FAULTS,
  notificationFigures,
  patiently,
  pool,
  readWorkflow,
  report,
  sleep,
  untilEventsDelivered,
} from './harness';
import { startEventReceiver } from './receiver';
import { REFUSED_START } from './refuse-event-starts';
import { CHAOS_EVENTS_SECRET, startChaosStack, type ChaosStack } from './stack';

/** The policies' safety margin, and the audit's: a manual charge within it of the next billing (clock time) is a violation. */
const MARGIN_MS = DAY;
const FINAL_ACTIONS = ['cancel', 'leave_to_gateway', 'hold_dunning'] as const;
/** The clocks start here (the 10th: every month has its billing day), clock k an hour later than clock k − 1. */
const START = Date.parse('2027-01-10T02:00:00Z');
const CYCLES = 12;

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    clocks: { type: 'string' },
    subscriptions: { type: 'string' },
    seed: { type: 'string', default: '20270110' },
    'kill-every': { type: 'string' },
    'advance-limit': { type: 'string' },
    out: { type: 'string' },
  },
});
const quick = args.quick ?? false;
const plan = {
  clocks: Number(args.clocks ?? (quick ? 4 : 10)),
  subscriptionsPerClock: Number(args.subscriptions ?? (quick ? 5 : 20)),
  months: 12,
  cycles: CYCLES,
  /**
   * An advance still running after this is a finding ("every clock ready"), and the audit goes on
   * (`--advance-limit` minutes; CI derives it from its step's limit, so that the two agree).
   */
  advanceLimitMs: Number(args['advance-limit'] ?? (quick ? 40 : 60)) * 60_000,
  convergeMs: (quick ? 3 : 10) * 60_000,
  /**
   * Once the faults are off, every clock goes this much further, so that what was still on its way
   * at the target arrives: a notification held back past it, the engine's reconciliation after a
   * dropped one. A clock that stands still delivers nothing more, and its mirror could not agree.
   */
  settleMs: HOUR,
  /**
   * A worker SIGKILLed this often during the advances. Every kill costs each step it catches a few
   * seconds (its members' tasks wait for another worker), and a year under these faults is up to
   * about 100 steps in a row: at one kill every 10 s, as `npm run chaos` does, a quick run's
   * slowest clock needed more than 20 minutes.
   */
  killEveryMs: Number(args['kill-every'] ?? 30) * 1000,
  seed: Number(args.seed),
};
for (const [option, value] of Object.entries({
  clocks: plan.clocks,
  subscriptions: plan.subscriptionsPerClock,
  'kill-every': plan.killEveryMs,
  'advance-limit': plan.advanceLimitMs,
}))
  if (!(Number.isFinite(value) && value > 0)) {
    console.error(`--${option}: a positive number`);
    process.exit(2);
  }

const started = Date.now();
const log = (message: string) =>
  console.log(`clocked ${String(Math.round((Date.now() - started) / 1000)).padStart(5)}s | ${message}`);
const rnd = seededRandom(plan.seed);

type Card = 'approve' | 'fixed' | 'lost';

interface Clock extends ClockSpan {
  status: string;
  frozenMs: number;
}

interface Creation {
  clockId: string;
  idempotencyKey: string;
  customerId: string;
  tokenId: string;
  card: Card;
  /** The renewal (clock time) the card declines at, for `fixed` and `lost`. */
  failsAt?: string;
  finalAction: (typeof FINAL_ACTIONS)[number];
  subscriptionId?: string;
}

const onClock = (clockId: string) => ({ [TEST_CLOCK_HEADER]: clockId });

async function emulator<T>(
  stack: ChaosStack,
  clockId: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const res = await patiently(`${method} ${path}`, () =>
    http<T>(`${stack.emulatorUrl}/_emulator${path}`, method, body, onClock(clockId)),
  );
  if (res.status >= 400)
    throw new Error(`emulator ${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

async function api<T>(
  stack: ChaosStack,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const res = await patiently(`${method} ${path}`, () =>
    http<T>(`${stack.apis[0]}${path}`, method, body, headers),
  );
  if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

async function makeClock(stack: ChaosStack, k: number): Promise<Clock> {
  const startMs = START + k * HOUR;
  const made = await api<{ test_clock_id: string; frozen_time: string; status: string }>(
    stack,
    'POST',
    '/v1/test_clocks',
    { frozen_time: new Date(startMs).toISOString(), name: `chaos ${k}` },
  );
  return {
    id: made.test_clock_id,
    startMs,
    targetMs: monthsAfter(startMs, plan.months),
    status: made.status,
    frozenMs: Date.parse(made.frozen_time),
  };
}

/** One subscription on `clock`, its card planned at clock times, created through the API. */
async function createOne(stack: ChaosStack, clock: Clock, productId: string, i: number): Promise<Creation> {
  const key = `clocked-${plan.seed}-${clock.id}-${i}`;
  const r = rnd();
  const card: Card = r < 0.5 ? 'approve' : r < 0.8 ? 'fixed' : 'lost';
  const finalAction = FINAL_ACTIONS[Math.floor(rnd() * FINAL_ACTIONS.length)]!;
  const escalation = rnd() < 0.5 ? ['notify_customer'] : [];
  const renewal = 1 + Math.floor(rnd() * (plan.cycles - 2));
  const customer = await api<{ customer_id: string }>(
    stack,
    'POST',
    '/v1/customers',
    { name: `Clocked ${i}`, email: `clocked${i}@example.com`, test_clock: clock.id },
    { 'idempotency-key': `${key}-customer` },
  );
  const token = await emulator<{ token_id: string }>(stack, clock.id, 'POST', '/tokens', {
    customer_id: customer.customer_id,
    card_number: '5200000000001096',
  });
  const creation: Creation = {
    clockId: clock.id,
    idempotencyKey: key,
    customerId: customer.customer_id,
    tokenId: token.token_id,
    card,
    finalAction,
  };
  if (card !== 'approve') {
    // Declines from half a month before the renewal; `fixed` approves again half a day after it,
    // between the engine's first attempt (an hour) and its second (a day).
    const failsAt = monthsAfter(clock.startMs, renewal);
    creation.failsAt = new Date(failsAt).toISOString();
    const behaviour = `/tokens/${token.token_id}/behaviour`;
    await emulator(stack, clock.id, 'POST', behaviour, {
      charges: 'decline',
      respcd: '1205',
      from: new Date(failsAt - 15 * DAY).toISOString(),
    });
    if (card === 'fixed')
      await emulator(stack, clock.id, 'POST', behaviour, {
        charges: 'approve',
        from: new Date(failsAt + 12 * HOUR).toISOString(),
      });
  }
  const body = {
    customer_id: customer.customer_id,
    product_id: productId,
    token_id: token.token_id,
    total_billing_cycles: plan.cycles,
    test_clock: clock.id,
    dunning_policy: {
      attempt_offsets: ['1h', '1d', '3d'],
      safety_margin: '1d',
      min_attempt_window: '1h',
      escalation,
      final_action: finalAction,
    },
  };
  for (;;) {
    const res = await api<{ status: string; result: { subscription_id: string } | null }>(
      stack,
      'POST',
      '/v1/subscriptions',
      body,
      { 'idempotency-key': key },
    );
    if (res.status === 'completed' && res.result) {
      creation.subscriptionId = res.result.subscription_id;
      return creation;
    }
    if (res.status !== 'running') throw new Error(`creation ${key}: ${JSON.stringify(res)}`);
    await sleep(1_000); // still running: the same key attaches to the same creation
  }
}

/** Polls `probe` every `everyMs` until it returns a value, or until `limitMs` (then undefined). */
async function until<T>(
  probe: () => Promise<T | undefined>,
  limitMs: number,
  everyMs: number,
): Promise<T | undefined> {
  const end = Date.now() + limitMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined || Date.now() > end) return value;
    await sleep(everyMs);
  }
}

/**
 * Advances every clock to its target at once (a 409 "advancing" after a lost answer is the same
 * advance) and waits, up to `limitMs`, until each is ready there; `onReady` hears each as it is.
 */
async function advanceEvery(
  stack: ChaosStack,
  clocks: readonly Clock[],
  limitMs: number,
  onReady: (clock: Clock) => void = () => undefined,
): Promise<Array<Clock | undefined>> {
  await Promise.all(
    clocks.map(async (clock) => {
      const res = await patiently('advance', () =>
        http(`${stack.apis[0]}/v1/test_clocks/${clock.id}/advance`, 'POST', {
          frozen_time: new Date(clock.targetMs).toISOString(),
        }),
      );
      if (res.status !== 200 && res.status !== 409)
        throw new Error(`advance ${clock.id}: ${res.status} ${JSON.stringify(res.body)}`);
    }),
  );
  return Promise.all(
    clocks.map((clock, k) =>
      until(
        async () => {
          const now = await readClock(stack, clock);
          if (now.status !== 'ready' || now.frozenMs !== clock.targetMs) return undefined;
          onReady(clock);
          log(`clock ${k} ready at ${new Date(now.frozenMs).toISOString()}`);
          return now;
        },
        limitMs,
        1_000,
      ),
    ),
  );
}

async function readClock(stack: ChaosStack, clock: Clock): Promise<Clock> {
  const view = await api<{ status: string; frozen_time: string; subscriptions: number }>(
    stack,
    'GET',
    `/v1/test_clocks/${clock.id}`,
  );
  return { ...clock, status: view.status, frozenMs: Date.parse(view.frozen_time) };
}

/**
 * Every 30 s until `over` settles, logs each clock still advancing: its time, its steps, and what
 * each member says of itself (its clock time, idle or not, its next wake), so that a slow advance
 * can be told from a stuck one.
 */
async function watchProgress(
  stack: ChaosStack,
  clocks: readonly Clock[],
  over: Promise<unknown>,
): Promise<void> {
  let done = false;
  void over.finally(() => (done = true)).catch(() => undefined);
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  while (!done) {
    await new Promise((resolve) => setTimeout(resolve, 30_000));
    if (done) break;
    for (const clock of clocks) {
      try {
        const view = await stack.temporal.workflow
          .getHandle(testClockWorkflowId(clock.id))
          .query(testClockQuery);
        if (view.status === 'ready') continue;
        const members = await Promise.all(
          view.members.map(async (id) => {
            try {
              const m = await stack.temporal.workflow.getHandle(id).query(clockStatusQuery);
              return m === null
                ? `${id}: no clock`
                : `${id.slice(-8)} now=${iso(m.now)} idle=${m.idle} wake=${iso(m.wakeAt)}`;
            } catch (err) {
              return `${id.slice(-8)}: ${err instanceof Error ? err.message : String(err)}`;
            }
          }),
        );
        log(
          `clock ${clock.id} at ${iso(view.now)} after ${view.steps} steps; members: ${members.join('; ')}`,
        );
      } catch (err) {
        log(`clock ${clock.id}: not readable (${err instanceof Error ? err.message : String(err)})`);
      }
    }
  }
}

/** SIGKILLs a worker every `plan.killEveryMs` (`--kill-every` seconds, 30 by default), the workers in turn, until `over` settles; returns how many. */
async function killWorkers(stack: ChaosStack, over: Promise<unknown>): Promise<number> {
  const every = plan.killEveryMs;
  let done = false;
  void over.finally(() => (done = true));
  let kills = 0;
  let next = Date.now() + every;
  while (!done) {
    if (Date.now() >= next) {
      const worker = stack.workers[kills % stack.workers.length]!;
      log(`SIGKILL ${worker}`);
      await stack.crash(worker);
      kills += 1;
      next = Date.now() + every;
    }
    await sleep(500);
  }
  return kills;
}

/** Every subscription of one clock's world, QFPay's truth in the clock's time. */
async function worldTruths(stack: ChaosStack, clockId: string): Promise<Truth[]> {
  return (await emulator<{ data: Truth[] }>(stack, clockId, 'GET', '/subscriptions')).data;
}

async function truthsOf(stack: ChaosStack, creations: readonly Creation[]): Promise<Truth[]> {
  const ids = new Set(creations.map((c) => c.subscriptionId));
  const clocks = [...new Set(creations.map((c) => c.clockId))];
  return (await Promise.all(clocks.map((id) => worldTruths(stack, id))))
    .flat()
    .filter((t) => ids.has(t.subscription_id));
}

async function mirrorsOf(stack: ChaosStack, ids: readonly string[]): Promise<Map<string, Mirror>> {
  const mirrors = new Map<string, Mirror>();
  await pool(ids, 8, async (id, i) => {
    const res = await patiently('mirror', () =>
      http<Mirror>(`${stack.apis[i % stack.apis.length]}/v1/subscriptions/${id}`),
    );
    if (res.status === 200) mirrors.set(id, res.body);
  });
  return mirrors;
}

/** Until the engine's mirror equals every clock world's truth twice in a row (bounded: the audit then reports what differs). */
async function converge(
  stack: ChaosStack,
  creations: readonly Creation[],
): Promise<{ truths: Truth[]; mirrors: Map<string, Mirror>; ms: number }> {
  const from = Date.now();
  const ids = creations.map((c) => c.subscriptionId!);
  let agreed = 0;
  for (;;) {
    const truths = await truthsOf(stack, creations);
    const mirrors = await mirrorsOf(stack, ids);
    const check = mirrorsTruth(truths, mirrors);
    agreed = check.violations.length === 0 ? agreed + 1 : 0;
    log(
      `convergence: ${ids.length - new Set(check.violations.map((v) => v.split(':')[0])).size}/${ids.length} subscriptions agree`,
    );
    if (agreed >= 2 || Date.now() - from > plan.convergeMs) return { truths, mirrors, ms: Date.now() - from };
    await sleep(5_000);
  }
}

/**
 * A clocked workflow as the stuck check reads it. On a clock a subscription keeps no timer: what
 * wakes it is its clock's next advance. So one that has caught up with its clock (its clock time
 * is the clock's) and has nothing to do there is waiting, not stuck; one behind its clock, or
 * busy with nothing pending, is stuck.
 */
async function readClockedWorkflow(stack: ChaosStack, id: string, clock: Clock): Promise<WorkflowReading> {
  const reading = await readWorkflow(stack, id);
  if (reading.status !== 'RUNNING' || reading.pendingWork) return reading;
  const status = await stack.temporal.workflow.getHandle(subscriptionWorkflowId(id)).query(clockStatusQuery);
  const waitsForClock = status !== null && status.idle && status.now !== null && status.now >= clock.frozenMs;
  return { ...reading, pendingWork: waitsForClock };
}

async function workflowFindings(
  stack: ChaosStack,
  creations: readonly Creation[],
  clocks: ReadonlyMap<string, Clock>,
): Promise<WorkflowFinding[]> {
  const findings: WorkflowFinding[] = [];
  await pool(creations, 4, async (c) => {
    const id = c.subscriptionId!;
    const clock = clocks.get(c.clockId)!;
    findings.push(
      await observeWorkflow(
        id,
        {
          workflow: () => readClockedWorkflow(stack, id, clock),
          truth: async () =>
            (await emulator<Truth>(stack, c.clockId, 'GET', `/subscriptions/${encodeURIComponent(id)}`))
              .state,
          wait: async () => {
            await sleep(5_000);
          },
        },
        { tries: 6 },
      ),
    );
  });
  return findings;
}

const out = args.out ?? join(__dirname, 'results', quick ? 'clocked-quick.json' : 'clocked-full.json');
const outBase = out.replace(/\.json$/, '');

/** The decoded history and the clock world's record of every subscription a violation names, and of a sample. */
async function writeEvidence(
  stack: ChaosStack,
  checks: readonly Check[],
  creations: readonly Creation[],
): Promise<void> {
  const named = new Set([...checks.flatMap((c) => c.violations.flatMap(subscriptionsNamed))]);
  const chosen = creations.filter((c) => named.has(c.subscriptionId!));
  const sample = creations.find((c) => c.card === 'fixed') ?? creations[0];
  const dir = `${outBase}-evidence`;
  mkdirSync(dir, { recursive: true });
  for (const c of [...new Set([...chosen.slice(0, 20), ...(sample ? [sample] : [])])]) {
    const id = c.subscriptionId!;
    const lines = await workflowTimeline(stack.temporal, subscriptionWorkflowId(id)).catch((err: unknown) => [
      `history not read: ${String(err)}`,
    ]);
    const truth = await emulator<unknown>(stack, c.clockId, 'GET', `/subscriptions/${id}`).catch(() => null);
    writeFileSync(
      join(dir, `${id}.txt`),
      `${JSON.stringify(c)}\n\n${lines.join('\n')}\n\nQFPay's record (clock ${c.clockId}):\n${JSON.stringify(truth, null, 2)}\n`,
    );
  }
  log(`evidence in ${dir}, every part's output in ${outBase}-parts.log`);
}

async function main(): Promise<void> {
  log(`plan: ${JSON.stringify(plan)}`);
  const receiver = await startEventReceiver(CHAOS_EVENTS_SECRET);
  const stack = await startChaosStack({
    cluster: false,
    merchantEventsUrl: receiver.url,
    reconcileGraceMs: 20_000,
    log,
    partsLogPath: `${outBase}-parts.log`,
  });
  let exitCode: number | undefined;
  try {
    const clocks: Clock[] = [];
    for (let k = 0; k < plan.clocks; k += 1) clocks.push(await makeClock(stack, k));
    log(`${clocks.length} clocks made; ${plan.subscriptionsPerClock} subscriptions on each`);
    const creations: Creation[] = [];
    for (const [k, clock] of clocks.entries()) {
      const product = await api<{ product_id: string }>(stack, 'POST', '/v1/products', {
        name: `Clocked ${k}`,
        amount: k % 2 === 0 ? 500 : 1_200,
        currency: 'HKD',
        interval: 'monthly',
        interval_count: 1,
        test_clock: clock.id,
      });
      await pool(
        Array.from({ length: plan.subscriptionsPerClock }, (_, i) => i),
        4,
        async (i) => {
          creations.push(await createOne(stack, clock, product.product_id, i));
        },
      );
    }
    log(`created ${creations.length}; waiting for each to join its clock`);
    for (const clock of clocks) {
      const joined = await until(
        async () => {
          const view = await api<{ subscriptions: number }>(stack, 'GET', `/v1/test_clocks/${clock.id}`);
          return view.subscriptions >= plan.subscriptionsPerClock ? true : undefined;
        },
        60_000,
        500,
      );
      if (!joined) throw new Error(`clock ${clock.id}: its subscriptions did not all join within a minute`);
    }
    for (const [k, clock] of clocks.entries())
      await emulator(stack, clock.id, 'POST', '/faults', { seed: plan.seed + k, ...CHAOS_FAULTS });
    log(`faults on in every clock's world; advancing every clock ${plan.months} months at once`);
    const advanceStarted = Date.now();
    const advanceSeconds = new Map<string, number>();
    const readiness = advanceEvery(stack, clocks, plan.advanceLimitMs, (clock) =>
      advanceSeconds.set(clock.id, Math.round((Date.now() - advanceStarted) / 1000)),
    );
    const progress = watchProgress(stack, clocks, readiness);
    const workerKills = await killWorkers(stack, readiness);
    await progress;
    await readiness;
    const yearClocks = await Promise.all(clocks.map((c) => readClock(stack, c)));
    for (const clock of clocks) await emulator(stack, clock.id, 'POST', '/faults', NO_FAULTS);
    log(
      `faults and kills off; every clock ${plan.settleMs / 60_000} minutes further, so what was on its way arrives`,
    );
    const settled = clocks.map((c) => ({ ...c, targetMs: c.targetMs + plan.settleMs }));
    await advanceEvery(stack, settled, plan.convergeMs);
    const finalClocks = await Promise.all(settled.map((c) => readClock(stack, c)));
    for (const c of finalClocks.filter((c) => c.status !== 'ready'))
      log(`clock ${c.id} not ready ${plan.settleMs / 60_000} minutes further: ${c.status}`);
    log('waiting for convergence');
    const ids = creations.map((c) => c.subscriptionId!);
    const { truths, mirrors, ms: convergeMs } = await converge(stack, creations);
    const open = await untilEventsDelivered(stack, ids, receiver.deliveries, log);
    const mine = new Set(ids);
    const deliveries = receiver.deliveries.filter((d) => mine.has(d.subscription_id));
    const events = merchantEventsComplete(truths, deliveries);
    const perAttempt = await eventsAgainstLaterTruth(deliveries, () => truthsOf(stack, creations));
    const clockById = new Map(finalClocks.map((c) => [c.id, c]));
    const clockOf = new Map(creations.map((c) => [c.subscriptionId!, clockById.get(c.clockId)!]));
    const refusedStarts = countLines(`${outBase}-parts.log`, REFUSED_START);
    const stuck = noStuckWorkflow(await workflowFindings(stack, creations, clockById));
    const allTruths = (await Promise.all(clocks.map((c) => worldTruths(stack, c.id)))).flat();
    const checks: Check[] = [
      clocksReady(yearClocks),
      mirrorsTruth(truths, mirrors),
      chargesInsideWindow(truths, MARGIN_MS),
      noDoubleCharge(truths),
      oneSubscriptionPerKey(creations, allTruths),
      events,
      eventsInClockTime(deliveries, clockOf),
      outboxesEmptied(ids.length, open.holding),
      eventStartFaultRan(refusedStarts, deliveries),
      perAttempt,
      noCancelOfPaidPlan(truths),
      stuck,
    ];
    const notifications: Record<string, number> = {};
    for (const c of clocks)
      for (const [k, v] of Object.entries(await notificationFigures(stack, onClock(c.id))))
        notifications[k] = (notifications[k] ?? 0) + v;
    const count = (card: Card) => creations.filter((c) => c.card === card).length;
    const figures = {
      clocks: clocks.length,
      subscriptions: ids.length,
      cardsApproving: count('approve'),
      cardsFixedBetweenAttempts: count('fixed'),
      cardsDecliningForGood: count('lost'),
      orders: truths.reduce((n, t) => n + t.orders.length, 0),
      charges: truths.reduce((n, t) => n + t.orders.reduce((m, o) => m + o.attempts.length, 0), 0),
      manualCharges: Number(checks[2]!.counted.split(' ')[0]),
      ...notifications,
      workerKills,
      eventDeliveries: deliveries.length,
      eventDeliveriesInterrupted: receiver.interrupted,
      eventDeliveriesRepeated: events.repeated,
      eventDeliveryStartsRefused: refusedStarts,
      benignWorkflowTaskFailures: stuck.benignTaskFailures,
      slowestAdvanceSeconds: Math.max(0, ...advanceSeconds.values()),
      convergenceSeconds: Math.round(convergeMs / 1000),
      runSeconds: Math.round((Date.now() - started) / 1000),
    };
    report(figures, checks);
    const violations = checks.reduce((n, c) => n + c.violations.length, 0);
    mkdirSync(dirname(out), { recursive: true });
    await writeEvidence(stack, checks, creations);
    writeFileSync(
      out,
      `${JSON.stringify(
        {
          date: new Date().toISOString(),
          plan,
          clocks: finalClocks.map((c) => ({ ...c, advanceSeconds: advanceSeconds.get(c.id) ?? null })),
          creations,
          figures,
          checks,
        },
        null,
        2,
      )}\n`,
    );
    log(`wrote ${out}`);
    exitCode = violations === 0 ? 0 : 1;
  } finally {
    await stack.stop();
    await receiver.close();
  }
  process.exit(exitCode ?? 1);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
