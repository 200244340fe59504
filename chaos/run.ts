/**
 * `npm run chaos`: the engine's promises measured under crashes, restarts and an unreliable QFPay.
 *
 *   npm run chaos                 1,000 subscriptions, 2-minute cycles, about 25 minutes
 *   npm run chaos -- --quick      40 subscriptions, 1-minute cycles, a few minutes (CI)
 *   npm run chaos -- --cluster    on the PostgreSQL topology of `npm run cluster`
 *   options: --subscriptions N  --seed N  --out FILE
 *
 * It starts its own stack and switches on the emulator's faults: duplicated, reordered and
 * dropped notifications; 5xx, timeouts after processing (creations and charges included) and
 * 1145 answers on QFPay calls, with QFPay's clock 2 s ahead of the engine's. It creates the
 * subscriptions through the API and, meanwhile and for a while after, charges some of those in
 * arrears now (as a merchant would), SIGKILLs a worker every 10 s, kills an API process once and
 * restarts the Temporal server once. Then it stops the faults, waits for convergence and audits everything
 * against the emulator's own record. It prints a table, writes JSON, and exits 1 on any
 * violation (never on a speed).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { seededRandom } from '../src/gateways/qfpay/emulator/faults';
import { subscriptionWorkflowId } from '../src/workflows/definitions';
import {
  chargeNowShowsRecovery,
  scheduledCancelsKept,
  type ScheduledCancelRecord,
  chargesInsideWindow,
  eventStartFaultRan,
  outboxesEmptied,
  merchantEventsComplete,
  noCancelOfPaidPlan,
  eventsAgainstLaterTruth,
  type ChargeNowRecord,
  mirrorsTruth,
  noDoubleCharge,
  noStuckWorkflow,
  observeWorkflow,
  dunningReportAgrees,
  type DunningReportReading,
  oneSubscriptionPerKey,
  type Check,
  type Mirror,
  type Truth,
  type WorkflowFinding,
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
import { REFUSED_START } from './refuse-event-starts';
import { startEventReceiver } from './receiver';
import { CHAOS_EVENTS_SECRET, startChaosStack, type ChaosStack } from './stack';

const MARGIN_MS = 15_000;
/**
 * QFPay's clock runs this far ahead of the engine's for the whole run (a skew, as a real gateway's
 * may be): the policies' safety margin covers it, as the docs ask (margin ≥ timeout + skew), and
 * the audit judges every charge by QFPay's clock against {@link MARGIN_MS}.
 */
const CLOCK_LEAD_MS = 2_000;
const FINAL_ACTIONS = ['cancel', 'leave_to_gateway', 'hold_dunning'] as const;

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    cluster: { type: 'boolean', default: false },
    subscriptions: { type: 'string' },
    seed: { type: 'string', default: '20261128' },
    out: { type: 'string' },
  },
});
const quick = args.quick ?? false;
const plan = {
  subscriptions: Number(args.subscriptions ?? (quick ? 40 : 1_000)),
  cycleMinutes: quick ? 1 : 2,
  cycles: 3,
  chaosMs: quick ? 100_000 : 5 * 60_000,
  convergeMs: quick ? 5 * 60_000 : 15 * 60_000,
  seed: Number(args.seed),
};

const started = Date.now();
const log = (message: string) =>
  console.log(`chaos ${String(Math.round((Date.now() - started) / 1000)).padStart(5)}s | ${message}`);

// A seeded PRNG, so a run's choices can be repeated.
const rnd = seededRandom(plan.seed);

/** How long one creation may take under the faults (QFPay's 5xx, killed workers) before the run fails. */
const CREATION_LIMIT_MS = 15 * 60_000;

interface Creation {
  idempotencyKey: string;
  customerId: string;
  tokenId: string;
  card: 'approve' | 'decline' | 'flaky';
  subscriptionId?: string;
}

async function createSubscriptions(
  stack: ChaosStack,
  productIds: string[],
  creations: Creation[],
): Promise<void> {
  const emulator = stack.emulatorUrl;
  await pool(
    Array.from({ length: plan.subscriptions }, (_, i) => i),
    8,
    async (i) => {
      const api = stack.apis[i % stack.apis.length]!;
      const r = rnd();
      const card = r < 0.7 ? 'approve' : r < 0.9 ? 'decline' : 'flaky';
      const customer = await patiently('customer', () =>
        http<{ customer_id: string }>(
          `${api}/v1/customers`,
          'POST',
          { name: `Chaos ${i}`, email: `chaos${i}@example.com` },
          {
            'idempotency-key': `chaos-${plan.seed}-customer-${i}`,
          },
        ),
      );
      const customerId = customer.body.customer_id;
      const token = await patiently('token', () =>
        http<{ token_id: string }>(`${emulator}/_emulator/tokens`, 'POST', {
          customer_id: customerId,
          card_number: '5200000000001096',
        }),
      );
      const tokenId = token.body.token_id;
      if (card === 'decline')
        await http(`${emulator}/_emulator/tokens/${tokenId}/behaviour`, 'POST', {
          charges: 'decline',
          respcd: '1205',
        });
      const idempotencyKey = `chaos-${plan.seed}-${i}`;
      const creation: Creation = { idempotencyKey, customerId, tokenId, card };
      creations.push(creation);
      const body = {
        customer_id: customerId,
        product_id: productIds[i % productIds.length],
        token_id: tokenId,
        total_billing_cycles: plan.cycles,
        dunning_policy: {
          attempt_offsets: plan.cycleMinutes === 1 ? ['8s', '20s'] : ['10s', '30s', '60s'],
          safety_margin: `${(MARGIN_MS + CLOCK_LEAD_MS) / 1000}s`,
          min_attempt_window: '3s',
          escalation: rnd() < 0.5 ? ['notify_customer'] : [],
          final_action: FINAL_ACTIONS[Math.floor(rnd() * FINAL_ACTIONS.length)],
        },
      };
      // A creation that has not completed by then is stuck: a finding, not something to wait out.
      const giveUpAt = Date.now() + CREATION_LIMIT_MS;
      for (;;) {
        const res = await patiently('creation', () =>
          http<{ status: string; result: { subscription_id: string } | null }>(
            `${api}/v1/subscriptions`,
            'POST',
            body,
            {
              'idempotency-key': idempotencyKey,
            },
          ),
        );
        if (res.status >= 400)
          throw new Error(`creation ${idempotencyKey}: ${res.status} ${JSON.stringify(res.body)}`);
        if (res.body.status === 'completed' && res.body.result) {
          creation.subscriptionId = res.body.result.subscription_id;
          return;
        }
        if (Date.now() > giveUpAt)
          throw new Error(
            `creation ${idempotencyKey}: still running after ${CREATION_LIMIT_MS / 60_000} minutes (${JSON.stringify(res.body)})`,
          );
        await sleep(1_000); // still running: the same key attaches to the same creation
      }
    },
  );
}

async function setFaults(stack: ChaosStack, faults: Record<string, unknown>): Promise<void> {
  await patiently('faults', () => http(`${stack.emulatorUrl}/_emulator/faults`, 'POST', faults));
}

interface Disruptions {
  workerKills: number;
  apiKills: number;
  serverRestarts: number;
  cardFlips: number;
}

/**
 * Crashes while the subscriptions are created and bill: a worker SIGKILLed every 10 s, an API
 * process once (when half the creations are done), the Temporal server restarted once (in the
 * middle of the time after the last creation). Runs until `creations` settles, then `chaosMs` more.
 */
async function disrupt(
  stack: ChaosStack,
  creations: { list: Creation[]; done: Promise<unknown> },
): Promise<Disruptions> {
  const done: Disruptions = { workerKills: 0, apiKills: 0, serverRestarts: 0, cardFlips: 0 };
  let created = false;
  let end = Number.POSITIVE_INFINITY;
  void creations.done.finally(() => {
    created = true;
    end = Date.now() + plan.chaosMs;
  });
  let nextKill = Date.now() + 10_000;
  let nextFlip = Date.now() + 15_000;
  let approving = false;
  while (Date.now() < end) {
    const now = Date.now();
    if (now >= nextKill) {
      const worker = stack.workers[done.workerKills % stack.workers.length]!;
      log(`SIGKILL ${worker}`);
      await stack.crash(worker);
      done.workerKills += 1;
      nextKill = now + 10_000;
    }
    if (done.apiKills === 0 && (created || creations.list.length >= plan.subscriptions / 2)) {
      log(`SIGKILL ${stack.apiParts[0]}`);
      await stack.crash(stack.apiParts[0]!);
      done.apiKills += 1;
    }
    if (done.serverRestarts === 0 && created && now >= end - plan.chaosMs / 2) {
      log('restarting the Temporal server');
      await stack.restartTemporal();
      done.serverRestarts += 1;
    }
    if (now >= nextFlip) {
      approving = !approving;
      for (const c of creations.list.filter((x) => x.card === 'flaky')) {
        await http(
          `${stack.emulatorUrl}/_emulator/tokens/${c.tokenId}/behaviour`,
          'POST',
          approving ? { charges: 'approve' } : { charges: 'decline', respcd: '1205' },
        ).catch(() => undefined);
      }
      done.cardFlips += 1;
      nextFlip = now + 15_000;
    }
    await sleep(500);
  }
  return done;
}

/**
 * A merchant who charges now: every 2 s, some of the subscriptions whose cards decline
 * (or flip) and that the engine shows in arrears are charged through the API, while the faults,
 * crashes and QFPay's clock lead go on. Each answer is kept with QFPay's record read right after.
 */
async function chargeNows(
  stack: ChaosStack,
  creations: readonly Creation[],
  until: Promise<unknown>,
  records: ChargeNowRecord[],
): Promise<void> {
  let over = false;
  void until.finally(() => (over = true));
  while (!over) {
    const owing = creations.filter((c) => c.card !== 'approve' && c.subscriptionId !== undefined);
    for (const c of owing) {
      if (over || rnd() > 0.6) continue;
      const api = stack.apis[Math.floor(rnd() * stack.apis.length)]!;
      const id = c.subscriptionId!;
      const view = await http<{ state: string }>(`${api}/v1/subscriptions/${id}`).catch(() => undefined);
      if (!view || view.status !== 200 || !['PAST_DUE', 'UNPAID', 'INCOMPLETE'].includes(view.body.state))
        continue;
      const answer = await http<{
        order_id?: string;
        outcome?: string;
        subscription?: { state: string };
      }>(`${api}/v1/subscriptions/${id}/charge`, 'POST', {}).catch(() => undefined);
      if (answer?.status !== 200 || !answer.body.order_id || !answer.body.outcome) continue;
      const truth = (
        await http<Truth>(`${stack.emulatorUrl}/_emulator/subscriptions/${id}`).catch(() => undefined)
      )?.body;
      const charged = truth?.orders.find((o) => o.subscription_order_id === answer.body.order_id);
      records.push({
        subscriptionId: id,
        orderId: answer.body.order_id,
        outcome: answer.body.outcome,
        answeredState: answer.body.subscription?.state ?? 'UNKNOWN',
        truthOrderStatus: charged?.status ?? null,
        truthNewestSequence: truth?.orders.at(-1)?.sequence_no ?? 0,
        chargedSequence: charged?.sequence_no ?? 0,
      });
    }
    await sleep(2_000);
  }
}

/** What the merchant who cancels at period end did; see {@link cancelsAtPeriodEnd}. */
interface PeriodEndCancels {
  records: ScheduledCancelRecord[];
  /** Every subscription a cancel was asked for, answered or not (left out of the final action's check). */
  asked: Set<string>;
}

/**
 * A merchant who cancels at period end: about a quarter of the subscriptions whose cards approve
 * (half in a quick run) get a cancel scheduled through the API while the faults, crashes and QFPay's clock lead go on,
 * and about a third of those are taken back right after their schedule's answer. The merchant
 * first gives the subscription a safety margin that outlasts a lost activity (its 30 s
 * start-to-close timeout) and a worker's death, as the docs ask of a margin. Scheduling again is
 * answered with the same schedule, so a lost answer is asked again until one comes. A take-back
 * answered 409 "no cancel is scheduled" took effect before; one answered "already CANCELLED" or
 * "has ended" came after the engine had cancelled.
 */
async function cancelsAtPeriodEnd(
  stack: ChaosStack,
  creations: readonly Creation[],
  until: Promise<unknown>,
  done: PeriodEndCancels,
): Promise<void> {
  let over = false;
  void until.finally(() => (over = true));
  const chosen = new Map<string, { undo: boolean; marginSet: boolean; record?: ScheduledCancelRecord }>();
  const settled = new Set<string>();
  const margin = `${plan.cycleMinutes === 1 ? 40 : 60}s`;
  while (!over) {
    for (const c of creations) {
      const id = c.subscriptionId;
      if (over || id === undefined || c.card !== 'approve' || settled.has(id)) continue;
      if (!chosen.has(id)) {
        if (rnd() < (plan.cycleMinutes === 1 ? 0.5 : 0.25))
          chosen.set(id, { undo: rnd() < 0.35, marginSet: false });
        else settled.add(id);
        continue;
      }
      const mine = chosen.get(id)!;
      const api = stack.apis[Math.floor(rnd() * stack.apis.length)]!;
      const path = `${api}/v1/subscriptions/${id}`;
      if (!mine.marginSet) {
        const res = await http(`${path}/dunning-policy`, 'PUT', { safety_margin: margin }).catch(
          () => undefined,
        );
        mine.marginSet = res?.status === 200;
        if (!mine.marginSet) continue;
      }
      if (!mine.record) {
        done.asked.add(id);
        const res = await http<{
          state?: string;
          scheduled_cancel?: { period_end: string; cancel_at: string } | null;
        }>(`${path}/cancel`, 'POST', { at_period_end: true }).catch(() => undefined);
        if (res?.status === 200 && res.body.scheduled_cancel) {
          const { period_end: periodEnd, cancel_at: cancelAt } = res.body.scheduled_cancel;
          mine.record = {
            subscriptionId: id,
            periodEnd,
            cancelAt,
            outcome: mine.undo ? 'unknown' : 'scheduled',
          };
          done.records.push(mine.record);
          if (!mine.undo) settled.add(id);
        } else if (res?.status === 409 && /already|has ended|not known/.test(JSON.stringify(res.body))) {
          settled.add(id); // ended, or in its last cycle: nothing to schedule
        }
        // A take-back follows its schedule at once, while the cancel's time is still ahead.
        if (!mine.record || !mine.undo) continue;
      }
      const res = await http(`${path}/cancel/undo`, 'POST', {}).catch(() => undefined);
      const said = JSON.stringify(res?.body ?? '');
      if (res?.status === 200 || (res?.status === 409 && /no cancel is scheduled/.test(said))) {
        mine.record.outcome = 'undone';
        settled.add(id);
      } else if (res?.status === 409 && /already|has ended/.test(said)) {
        mine.record.outcome = 'scheduled'; // the cancel was carried out first (its workflow may have closed)
        settled.add(id);
      }
    }
    await sleep(2_000);
  }
}

/** Every subscription the emulator has. */
async function allTruths(stack: ChaosStack): Promise<Truth[]> {
  return (
    await patiently('truth', () => http<{ data: Truth[] }>(`${stack.emulatorUrl}/_emulator/subscriptions`))
  ).body.data;
}

async function truthsOf(stack: ChaosStack, ids: ReadonlySet<string>): Promise<Truth[]> {
  return (await allTruths(stack)).filter((t) => ids.has(t.subscription_id));
}

async function mirrorsOf(stack: ChaosStack, ids: readonly string[]): Promise<Map<string, Mirror>> {
  const mirrors = new Map<string, Mirror>();
  await pool(ids, 16, async (id, i) => {
    const res = await patiently('mirror', () =>
      http<Mirror>(`${stack.apis[i % stack.apis.length]}/v1/subscriptions/${id}`),
    );
    if (res.status === 200) mirrors.set(id, res.body);
  });
  return mirrors;
}

/**
 * The dunning report of the run (`GET /v1/reports/dunning`) against the subscriptions' own views:
 * over a range that ends before the views are read, so that nothing in it changes any more.
 */
async function dunningReportCheck(stack: ChaosStack, ids: readonly string[]): Promise<Check> {
  // Ten seconds back (a workflow task's timeout), and five more for visibility: every workflow
  // task that stamped a time in the range has completed, and its upsert is listed.
  const range = { from: started, to: Date.now() - 10_000 };
  await sleep(5_000);
  // The views as the mirror check reads them, read again now that the range has ended.
  const views = new Map(
    [...(await mirrorsOf(stack, ids))].map(([id, m]) => [
      id,
      [...(m.dunning?.history ?? []), ...(m.dunning?.episode ? [m.dunning.episode] : [])],
    ]),
  );
  const query = `from=${new Date(range.from).toISOString()}&to=${new Date(range.to).toISOString()}`;
  const res = await patiently('dunning report', () =>
    http<DunningReportReading>(`${stack.apis[0]}/v1/reports/dunning?${query}`),
  );
  if (res.status !== 200) {
    return { name: 'dunning report agrees', counted: '0', violations: [`the report answered ${res.status}`] };
  }
  return dunningReportAgrees(res.body, views, range);
}

/** Waits until the engine's mirror equals QFPay's truth for every subscription, twice in a row. */
async function converge(
  stack: ChaosStack,
  ids: readonly string[],
): Promise<{ truths: Truth[]; mirrors: Map<string, Mirror>; ms: number }> {
  const from = Date.now();
  let agreed = 0;
  for (;;) {
    const truths = await truthsOf(stack, new Set(ids));
    const mirrors = await mirrorsOf(stack, ids);
    const check = mirrorsTruth(truths, mirrors);
    agreed = check.violations.length === 0 ? agreed + 1 : 0;
    log(
      `convergence: ${ids.length - new Set(check.violations.map((v) => v.split(':')[0])).size}/${ids.length} subscriptions agree`,
    );
    if (agreed >= 2 || Date.now() - from > plan.convergeMs) return { truths, mirrors, ms: Date.now() - from };
    await sleep(15_000);
  }
}

async function workflowFindings(stack: ChaosStack, ids: readonly string[]): Promise<WorkflowFinding[]> {
  const findings: WorkflowFinding[] = [];
  await pool(ids, 8, async (id) => {
    findings.push(
      await observeWorkflow(
        id,
        {
          workflow: () => readWorkflow(stack, id),
          truth: async () =>
            (
              await patiently('truth', () =>
                http<Truth>(`${stack.emulatorUrl}/_emulator/subscriptions/${encodeURIComponent(id)}`),
              )
            ).body.state,
          wait: async () => {
            await sleep(5_000);
          },
        },
        { tries: 12 },
      ),
    );
  });
  return findings;
}

const out = args.out ?? join(__dirname, 'results', quick ? 'quick.json' : 'full.json');
/** Where the evidence of a run goes, beside its JSON: `<out>-parts.log`, `<out>-evidence/`. */
const outBase = out.replace(/\.json$/, '');

/**
 * The decoded history of every subscription a violation names, one file each, and of the first
 * subscription of the run as a sample (so the path is exercised by every run).
 */
async function writeEvidence(stack: ChaosStack, checks: readonly Check[], sample: string): Promise<void> {
  const named = checks.flatMap((c) => c.violations.flatMap(subscriptionsNamed));
  const ids = new Set([...named, sample]);
  const dir = `${outBase}-evidence`;
  mkdirSync(dir, { recursive: true });
  for (const id of [...ids].slice(0, 20)) {
    const lines = await workflowTimeline(stack.temporal, subscriptionWorkflowId(id)).catch((err: unknown) => [
      `history not read: ${String(err)}`,
    ]);
    // QFPay's own record beside it: every order and every attempt the emulator made.
    const truth = await http<Truth>(`${stack.emulatorUrl}/_emulator/subscriptions/${id}`).catch(
      () => undefined,
    );
    writeFileSync(
      join(dir, `${id}.txt`),
      `${lines.join('\n')}\n\nQFPay's record:\n${JSON.stringify(truth?.body ?? null, null, 2)}\n`,
    );
  }
  log(`evidence of ${ids.size} subscriptions in ${dir}, every part's output in ${outBase}-parts.log`);
}

async function main(): Promise<void> {
  log(`plan: ${JSON.stringify({ ...plan, cluster: args.cluster })}`);
  const receiver = await startEventReceiver(CHAOS_EVENTS_SECRET);
  const stack = await startChaosStack({
    cluster: args.cluster ?? false,
    merchantEventsUrl: receiver.url,
    reconcileGraceMs: 20_000,
    log,
    partsLogPath: `${outBase}-parts.log`,
  });
  let exitCode: number | undefined;
  try {
    const products: string[] = [];
    for (const amount of [500, 1_200]) {
      const res = await patiently('product', () =>
        http<{ product_id: string }>(`${stack.apis[0]}/v1/products`, 'POST', {
          name: `Chaos ${amount}`,
          amount,
          currency: 'HKD',
          interval: 'minutes',
          interval_count: plan.cycleMinutes,
        }),
      );
      products.push(res.body.product_id);
    }
    log(
      `creating ${plan.subscriptions} subscriptions with every fault on and crashes meanwhile (then ${plan.chaosMs / 1000} s more)`,
    );
    await setFaults(stack, { seed: plan.seed, ...CHAOS_FAULTS });
    await patiently('clock lead', () =>
      http(`${stack.emulatorUrl}/_emulator/clock/advance`, 'POST', { ms: CLOCK_LEAD_MS }),
    );
    log(`QFPay's clock runs ${CLOCK_LEAD_MS / 1000} s ahead of the engine's`);
    const creations: Creation[] = [];
    const creating = createSubscriptions(stack, products, creations);
    const disrupting = disrupt(stack, { list: creations, done: creating.catch(() => undefined) });
    const chargeNowRecords: ChargeNowRecord[] = [];
    const charging = chargeNows(stack, creations, disrupting, chargeNowRecords);
    const periodEndCancels: PeriodEndCancels = { records: [], asked: new Set() };
    const cancelling = cancelsAtPeriodEnd(stack, creations, disrupting, periodEndCancels);
    await creating;
    log(`created ${creations.length}; faults and crashes go on for ${plan.chaosMs / 1000} s`);
    const disruptions = await disrupting;
    await charging;
    await cancelling;
    await setFaults(stack, NO_FAULTS);
    log('faults off; waiting for convergence');
    const ids = creations.map((c) => c.subscriptionId!).filter(Boolean);
    const { truths, mirrors, ms: convergeMs } = await converge(stack, ids);
    const open = await untilEventsDelivered(stack, ids, receiver.deliveries, log);
    // Every attempt of the earlier truth must have its event by now; every event must name an
    // attempt of a truth read after it (plans bill on while the events are awaited, and after).
    const events = merchantEventsComplete(truths, receiver.deliveries);
    const perAttempt = await eventsAgainstLaterTruth(receiver.deliveries, () =>
      truthsOf(stack, new Set(ids)),
    );
    const refusedStarts = countLines(`${outBase}-parts.log`, REFUSED_START);
    const stuck = noStuckWorkflow(await workflowFindings(stack, ids));
    const reportAgrees = await dunningReportCheck(stack, ids);
    // The scheduled cancels are judged once QFPay's clock has passed every period end they name.
    const latestEnd = Math.max(0, ...periodEndCancels.records.map((r) => Date.parse(r.periodEnd)));
    while (Date.now() + CLOCK_LEAD_MS < latestEnd + 5_000) await sleep(1_000);
    const truthsAfterPeriodEnds = await truthsOf(
      stack,
      new Set(periodEndCancels.records.map((r) => r.subscriptionId)),
    );
    const checks: Check[] = [
      mirrorsTruth(truths, mirrors),
      chargesInsideWindow(truths, MARGIN_MS),
      noDoubleCharge(truths),
      oneSubscriptionPerKey(creations, await allTruths(stack)),
      events,
      outboxesEmptied(ids.length, open.holding),
      eventStartFaultRan(refusedStarts, receiver.deliveries),
      perAttempt,
      chargeNowShowsRecovery(chargeNowRecords),
      noCancelOfPaidPlan(truths, periodEndCancels.asked),
      scheduledCancelsKept(periodEndCancels.records, truthsAfterPeriodEnds),
      reportAgrees,
      stuck,
    ];
    const figures = {
      subscriptions: ids.length,
      ...(await notificationFigures(stack)),
      ...disruptions,
      manualChargesAudited: Number(checks[1]!.counted.split(' ')[0]),
      merchantChargeNows: chargeNowRecords.length,
      cancelsAtPeriodEnd: periodEndCancels.records.length,
      eventDeliveries: receiver.deliveries.length,
      eventDeliveriesInterrupted: receiver.interrupted,
      eventDeliveriesRepeated: events.repeated,
      eventDeliveryStartsRefused: refusedStarts,
      benignWorkflowTaskFailures: stuck.benignTaskFailures,
      convergenceSeconds: Math.round(convergeMs / 1000),
      runSeconds: Math.round((Date.now() - started) / 1000),
    };
    report(figures, checks);
    const violations = checks.reduce((n, c) => n + c.violations.length, 0);
    mkdirSync(dirname(out), { recursive: true });
    await writeEvidence(stack, checks, ids[0]!);
    writeFileSync(
      out,
      `${JSON.stringify({ date: new Date().toISOString(), plan, cluster: args.cluster, figures, checks }, null, 2)}\n`,
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
