/**
 * The chaos suite's audit: pure checks of what the engine did against the emulator's own record
 * (QFPay's truth) and the merchant events the suite's receiver took. Each check returns the
 * violations it found (an empty list is a pass) and what it counted.
 */

import { VIEW_ORDERS } from '../src/api/views';

/** One subscription as the emulator records it (`GET /_emulator/subscriptions/:id`). */
export interface Truth {
  subscription_id: string;
  customer_id: string;
  state: string;
  completed_billing_iteration: number;
  orders: Array<{
    subscription_order_id: string;
    sequence_no: number;
    status: 'PAID' | 'FAILED';
    deadline: string | null;
    billing_time?: string | null;
    paid_at?: string | null;
    attempts: Array<{ at: string; trigger: string; approved: boolean; syssn?: string }>;
  }>;
  /** Its state changes, as the emulator made them (`reason` says what caused each). */
  history?: Array<{ at: string; from: string | null; to: string; reason: string }>;
}

/** A merchant's charge-now as the suite made it, and QFPay's record read right after its answer. */
export interface ChargeNowRecord {
  subscriptionId: string;
  orderId: string;
  /** The charge's `outcome` (`succeeded`, `failed`, `pending`). */
  outcome: string;
  /** The subscription's state in the charge's answer. */
  answeredState: string;
  /** QFPay's record just after the answer: the charged order's status, and its newest order. */
  truthOrderStatus: string | null;
  truthNewestSequence: number;
  chargedSequence: number;
}

/** One subscription as the engine shows it (`GET /v1/subscriptions/:id`, the parts the audit reads). */
export interface Mirror {
  subscription_id: string;
  state: string;
  completed_cycles: number;
  recent_orders: Array<{ order_id: string; sequence_no: number; status: 'PAID' | 'FAILED' }>;
  /** Its dunning episodes (the dunning report's check counts them). */
  dunning?: { episode: EpisodeView | null; history: EpisodeView[] };
}

/** One merchant event as the receiver took it. */
export interface Delivery {
  id: string;
  type: string;
  subscription_id: string;
  data: Record<string, unknown>;
  /** The signature checked out. */
  verified: boolean;
  /** When the engine dated it (a clock time on a test clock). */
  created_at?: string;
  /** The test clock its subscription lives on, if any. */
  test_clock?: string;
}

export interface Check {
  name: string;
  /** What was examined, e.g. "1,000 subscriptions" or "812 manual charges". */
  counted: string;
  violations: string[];
}

/** The engine's mirror equals QFPay's truth: state, paid cycles, every order it shows, none missing. */
export function mirrorsTruth(truths: readonly Truth[], mirrors: ReadonlyMap<string, Mirror>): Check {
  const violations: string[] = [];
  for (const t of truths) {
    const m = mirrors.get(t.subscription_id);
    if (!m) {
      violations.push(`${t.subscription_id}: the engine has no subscription`);
      continue;
    }
    if (m.state !== t.state) violations.push(`${t.subscription_id}: state ${m.state}, QFPay ${t.state}`);
    if (m.completed_cycles !== t.completed_billing_iteration) {
      violations.push(
        `${t.subscription_id}: ${m.completed_cycles} cycles paid, QFPay ${t.completed_billing_iteration}`,
      );
    }
    for (const o of m.recent_orders) {
      const truth = t.orders.find((x) => x.subscription_order_id === o.order_id);
      if (truth?.status !== o.status) {
        violations.push(
          `${t.subscription_id}: order ${o.sequence_no} ${o.status}, QFPay ${truth?.status ?? 'none'}`,
        );
      }
    }
    // Every order QFPay has, among the newest the view shows, is one the engine knows: a
    // notification lost while a later one arrived is filled by a query.
    const shown = new Set(m.recent_orders.map((o) => o.order_id));
    const newestSequence = t.orders.at(-1)?.sequence_no ?? 0;
    for (const order of t.orders) {
      if (order.sequence_no <= newestSequence - VIEW_ORDERS) continue;
      if (!shown.has(order.subscription_order_id))
        violations.push(`${t.subscription_id}: the engine does not know order ${order.sequence_no}`);
    }
  }
  return { name: 'mirror equals QFPay', counted: `${truths.length} subscriptions`, violations };
}

/** Every manual charge landed before the order's next billing time minus the safety margin. */
export function chargesInsideWindow(truths: readonly Truth[], marginMs: number): Check {
  const violations: string[] = [];
  let charges = 0;
  for (const t of truths) {
    for (const o of t.orders) {
      for (const a of o.attempts.filter((x) => x.trigger === 'manual')) {
        charges += 1;
        const deadline = o.deadline === null ? undefined : Date.parse(o.deadline) - marginMs;
        if (deadline === undefined || Date.parse(a.at) >= deadline) {
          violations.push(
            `${o.subscription_order_id}: manual charge at ${a.at}, past ${o.deadline} − margin`,
          );
        }
      }
    }
  }
  return { name: 'no manual charge inside the margin', counted: `${charges} manual charges`, violations };
}

/** No order paid twice, no cycle billed twice. */
export function noDoubleCharge(truths: readonly Truth[]): Check {
  const violations: string[] = [];
  let orders = 0;
  for (const t of truths) {
    const sequences = t.orders.map((o) => o.sequence_no);
    if (new Set(sequences).size !== sequences.length)
      violations.push(`${t.subscription_id}: a cycle billed twice`);
    for (const o of t.orders) {
      orders += 1;
      const approved = o.attempts.filter((a) => a.approved).length;
      if (approved > 1) violations.push(`${o.subscription_order_id}: paid ${approved} times`);
    }
  }
  return { name: 'no double charge', counted: `${orders} orders`, violations };
}

/** One QFPay subscription per creation (idempotency key): each customer of the run has exactly one. */
export function oneSubscriptionPerKey(
  creations: ReadonlyArray<{ idempotencyKey: string; customerId: string }>,
  truths: readonly Truth[],
): Check {
  const violations: string[] = [];
  for (const c of creations) {
    const subs = truths.filter((t) => t.customer_id === c.customerId).length;
    if (subs !== 1) violations.push(`key ${c.idempotencyKey}: ${subs} subscriptions at QFPay`);
  }
  return {
    name: 'one subscription per idempotency key',
    counted: `${creations.length} creations`,
    violations,
  };
}

/**
 * Merchant events: every signature checks out; every paid order and every end was reported; no
 * fact was reported under two ids. (A delivery repeated under the same id is at-least-once
 * delivery, which receivers deduplicate by id: counted, not a violation.)
 */
export function merchantEventsComplete(
  truths: readonly Truth[],
  deliveries: readonly Delivery[],
): Check & { repeated: number } {
  const violations: string[] = [];
  for (const d of deliveries.filter((x) => !x.verified)) violations.push(`event ${d.id}: bad signature`);
  const byId = new Map<string, Delivery>();
  for (const d of deliveries) byId.set(d.id, d);
  const idsPerFact = new Map<string, Set<string>>();
  for (const d of byId.values()) {
    const fact =
      d.type === 'subscription.payment_succeeded'
        ? `paid ${String(d.data.order_id)}`
        : d.type === 'subscription.ended'
          ? `ended ${d.subscription_id}`
          : undefined;
    if (fact) idsPerFact.set(fact, (idsPerFact.get(fact) ?? new Set()).add(d.id));
  }
  for (const [fact, ids] of idsPerFact)
    if (ids.size > 1) violations.push(`${fact} reported ${ids.size} times`);
  for (const t of truths) {
    for (const o of t.orders.filter((x) => x.status === 'PAID')) {
      if (!idsPerFact.has(`paid ${o.subscription_order_id}`))
        violations.push(`paid ${o.subscription_order_id} not reported`);
    }
    if (
      ['CANCELLED', 'COMPLETED', 'INCOMPLETE_EXPIRED'].includes(t.state) &&
      !idsPerFact.has(`ended ${t.subscription_id}`)
    ) {
      violations.push(`the end of ${t.subscription_id} not reported`);
    }
  }
  return {
    name: 'merchant events: signed, complete, once',
    counted: `${deliveries.length} deliveries of ${byId.size} events`,
    violations,
    repeated: deliveries.length - byId.size,
  };
}

/**
 * No merchant event lost when its delivery workflow could not be started. The chaos run refuses
 * the first start of about one delivery in three (`chaos/refuse-event-starts.ts`), so many events the engine recorded took that path, and the events check above ("every paid order and every end reported")
 * finds one that was lost. This check makes sure the fault ran: starts refused (counted from the
 * workers' logs of them) while events were delivered.
 */
export function eventStartFaultRan(refusedStarts: number, deliveries: readonly Delivery[]): Check {
  const events = new Set(deliveries.map((d) => d.id)).size;
  return {
    name: 'events kept when their delivery start is refused',
    counted: `${refusedStarts} refused starts, ${events} events delivered`,
    violations:
      events > 0 && refusedStarts === 0
        ? ['no delivery start was refused: the fault did not run, so no event was tested against it']
        : [],
  };
}

/** The outboxes that held events when one sample of the wait for merchant events was taken. */
export interface HoldingSample {
  at: number;
  holding: readonly { id: string; count: number }[];
}

/**
 * The subscriptions that held events in every sample of the last `forMs` (the samples must span
 * it), with the last sample's count. Plans bill on while the run waits for its events, so a
 * workflow may hold fresh events at any one moment: a refused start waits its backoff (15 s). One
 * that holds events in every sample for minutes never hands them over, or waits far too long.
 */
export function heldThroughout(
  samples: readonly HoldingSample[],
  forMs: number,
): { id: string; count: number }[] {
  const last = samples.at(-1);
  if (!last || last.at - samples[0]!.at < forMs) return [];
  const window = samples.filter((s) => s.at >= last.at - forMs);
  return last.holding.filter(({ id }) => window.every((s) => s.holding.some((h) => h.id === id)));
}

/**
 * Every event the engine recorded left its subscription's outbox for a delivery workflow once the
 * run settled: one still held (a refused start never tried again) is an event the merchant does
 * not get. `holding` lists the workflows that still held some, with how many each.
 */
export function outboxesEmptied(
  subscriptions: number,
  holding: readonly { id: string; count: number }[],
): Check {
  return {
    name: 'every recorded event handed to its delivery',
    counted: `${subscriptions} subscriptions' outboxes`,
    violations: holding.map(
      ({ id, count }) => `${count} events of ${id} never handed to a delivery workflow`,
    ),
  };
}

/** A subscription workflow as the suite found it after convergence. */
export interface WorkflowFinding {
  subscriptionId: string;
  status: 'RUNNING' | 'COMPLETED' | string;
  /** QFPay's state of the subscription. */
  truthState: string;
  /** Its failed workflow tasks: the cause's name (as in the history) and the failure's message. */
  workflowTaskFailures: Array<{ cause: string; message: string }>;
  /** A timer, an activity or a `ReconcileAt` for the reconciler's sweep is pending (something will wake the workflow). */
  pendingWork: boolean;
}

/**
 * Causes that are Temporal at work, not the workflow failing: the server refuses a task that
 * would close the workflow while a new signal waits (the workflow then takes the signal), and a
 * restarted worker's sticky queue is reset.
 */
export const BENIGN_TASK_FAILURE_CAUSES: ReadonlySet<string> = new Set([
  'WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND',
  'WORKFLOW_TASK_FAILED_CAUSE_RESET_STICKY_TASK_QUEUE',
]);

/**
 * No stuck workflow: no workflow task failed (other than the benign causes); a subscription that
 * ended at QFPay has a closed workflow; a running one has a timer, an activity or a
 * `ReconcileAt` (the reconciler's sweep signals it then) pending.
 */
export function noStuckWorkflow(
  findings: readonly WorkflowFinding[],
): Check & { benignTaskFailures: number } {
  const violations: string[] = [];
  let benign = 0;
  for (const f of findings) {
    const failures = f.workflowTaskFailures.filter((x) => !BENIGN_TASK_FAILURE_CAUSES.has(x.cause));
    benign += f.workflowTaskFailures.length - failures.length;
    if (failures.length > 0) {
      const causes = [...new Set(failures.map((x) => `${x.cause}: ${x.message}`.slice(0, 200)))];
      violations.push(
        `${f.subscriptionId}: ${failures.length} workflow task failures (${causes.join('; ')})`,
      );
    }
    const ended = ['CANCELLED', 'COMPLETED', 'INCOMPLETE_EXPIRED'].includes(f.truthState);
    if (ended && f.status === 'RUNNING')
      violations.push(`${f.subscriptionId}: ended at QFPay, workflow still running`);
    if (!ended && f.status === 'RUNNING' && !f.pendingWork)
      violations.push(`${f.subscriptionId}: running with nothing pending`);
    if (!ended && f.status !== 'RUNNING')
      violations.push(`${f.subscriptionId}: workflow ${f.status} while QFPay says ${f.truthState}`);
  }
  return {
    name: 'no stuck workflow',
    counted: `${findings.length} workflows (${benign} benign task failures)`,
    violations,
    benignTaskFailures: benign,
  };
}

/** What the suite reads of a workflow (the rest of a finding is QFPay's state). */
export type WorkflowReading = Omit<WorkflowFinding, 'subscriptionId' | 'truthState'>;

/**
 * One workflow's finding, judged against a QFPay state read *after* the workflow: QFPay moves on
 * while the suite audits (a subscription with a fixed number of cycles completes), and the engine
 * closes its workflow only after QFPay has ended the subscription, so a truth read later can never
 * make a correct workflow look early. A workflow that lags behind QFPay (still running, or between
 * a timer and its next activity) is read again after `wait`, up to `tries` readings; what remains
 * is a finding.
 */
export async function observeWorkflow(
  subscriptionId: string,
  read: { workflow(): Promise<WorkflowReading>; truth(): Promise<string>; wait(): Promise<void> },
  options: { tries: number },
): Promise<WorkflowFinding> {
  let finding: WorkflowFinding | undefined;
  for (let i = 0; i < options.tries; i += 1) {
    if (i > 0) await read.wait();
    const workflow = await read.workflow();
    finding = { subscriptionId, ...workflow, truthState: await read.truth() };
    if (noStuckWorkflow([finding]).violations.length === 0) break;
  }
  return finding!;
}

/**
 * A charge-now that succeeded shows the subscription recovered in its own answer: not still
 * PAST_DUE, UNPAID or INCOMPLETE while QFPay has the charged order PAID and no newer order (the
 * merchant was told "succeeded" and shown a subscription still in arrears).
 */
export function chargeNowShowsRecovery(records: readonly ChargeNowRecord[]): Check {
  const violations: string[] = [];
  const succeeded = records.filter((r) => r.outcome === 'succeeded');
  for (const r of succeeded) {
    const stillOwing = ['PAST_DUE', 'UNPAID', 'INCOMPLETE'].includes(r.answeredState);
    const paidAndNewest = r.truthOrderStatus === 'PAID' && r.truthNewestSequence === r.chargedSequence;
    if (stillOwing && paidAndNewest)
      violations.push(
        `${r.subscriptionId}: charge-now of ${r.orderId} succeeded, the answer shows ${r.answeredState}, QFPay has it PAID`,
      );
  }
  return {
    name: 'a charge-now that succeeded shows the recovery',
    counted: `${records.length} merchant charge-nows (${succeeded.length} succeeded)`,
    violations,
  };
}

/**
 * One event per declined attempt: every `payment_failed` event names a declined attempt QFPay
 * recorded (its id ends with the attempt's syssn), so no attempt is reported under two ids. A decline reported
 * twice, once under its syssn and once under a time of the engine's, breaks it. Fewer events than
 * attempts is not a violation: an attempt whose notification was lost, and that a later one
 * replaced in the order's row, cannot be known. `truths` must be read after the deliveries were
 * collected: plans go on billing meanwhile, and an event of a newer attempt is judged against a
 * truth that has it.
 */
export function oneEventPerAttempt(truths: readonly Truth[], deliveries: readonly Delivery[]): Check {
  const violations: string[] = [];
  const declined = new Map<string, { subscriptionId: string; sequenceNo: number; syssns: Set<string> }>();
  let attempts = 0;
  for (const t of truths) {
    for (const o of t.orders) {
      const syssns = new Set(o.attempts.filter((a) => !a.approved).map((a) => a.syssn ?? ''));
      attempts += syssns.size;
      declined.set(o.subscription_order_id, {
        subscriptionId: t.subscription_id,
        sequenceNo: o.sequence_no,
        syssns,
      });
    }
  }
  for (const d of deliveries) {
    if (d.type !== 'subscription.payment_failed') continue;
    const order = declined.get(String(d.data.order_id));
    if (!order) continue;
    // The id ends with the attempt's syssn: two events for one attempt cannot both name it.
    const attempt = d.id.slice(d.id.lastIndexOf('.') + 1);
    if (!order.syssns.has(attempt))
      violations.push(
        `${order.subscriptionId}: order ${order.sequenceNo}: event ${d.id} names no declined attempt of QFPay's (${[...order.syssns].join(', ') || 'none'})`,
      );
  }
  return {
    name: 'one payment_failed event per declined attempt',
    counted: `${attempts} declined attempts`,
    violations: [...new Set(violations)],
  };
}

/**
 * {@link oneEventPerAttempt} over the events delivered so far, judged against a truth read after
 * them. `deliveries` is the receiver's live list: it is copied before the read, so an event of an
 * attempt made while the truth was read (plans bill on) is not judged against a truth without it.
 */
export async function eventsAgainstLaterTruth(
  deliveries: readonly Delivery[],
  readTruths: () => Promise<Truth[]>,
): Promise<Check> {
  const delivered = [...deliveries];
  return oneEventPerAttempt(await readTruths(), delivered);
}

/**
 * No cancel of a paid plan: when a subscription was cancelled through the API (in this suite only
 * the final action of an exhausted episode cancels, and the merchant's scheduled cancels, left out), its newest order billed by then was not PAID
 * already. The final action asks QFPay first; a cancel sent after the order was paid breaks it.
 */
export function noCancelOfPaidPlan(
  truths: readonly Truth[],
  /** Subscriptions the merchant asked to cancel (their own check is {@link scheduledCancelsKept}). */
  merchantCancels: ReadonlySet<string> = new Set(),
): Check {
  const violations: string[] = [];
  let cancels = 0;
  for (const t of truths) {
    if (merchantCancels.has(t.subscription_id)) continue;
    const cancel = t.history?.find((h) => h.to === 'CANCELLED' && h.reason === 'cancelled through the API');
    if (!cancel) continue;
    cancels += 1;
    const at = Date.parse(cancel.at);
    const billed = t.orders.filter((o) => o.billing_time != null && Date.parse(o.billing_time) <= at);
    const newest = billed.reduce<Truth['orders'][number] | undefined>(
      (n, o) => (n === undefined || o.sequence_no > n.sequence_no ? o : n),
      undefined,
    );
    if (newest?.paid_at != null && Date.parse(newest.paid_at) < at)
      violations.push(
        `${t.subscription_id}: cancelled at ${cancel.at}, order ${newest.sequence_no} paid at ${newest.paid_at}`,
      );
  }
  return { name: 'no cancel of a paid plan', counted: `${cancels} cancels through the API`, violations };
}

/** A merchant's cancel at period end as the suite asked for it, and what became of it. */
export interface ScheduledCancelRecord {
  subscriptionId: string;
  /** From the schedule's answer: the billing time the customer must not be billed at, and when the engine cancels. */
  periodEnd: string;
  cancelAt: string;
  /** `scheduled`: left in place; `undone`: taken back (answered); `unknown`: a take-back whose answer was lost. */
  outcome: 'scheduled' | 'undone' | 'unknown';
}

/**
 * Cancel at period end kept: a scheduled cancel reached QFPay from its time on (the period was not
 * cut short) and before the period's end, and no order was billed at or after that end; one taken
 * back was not cancelled. Times are QFPay's, as the schedule's answer gave them.
 */
export function scheduledCancelsKept(
  records: readonly ScheduledCancelRecord[],
  truths: readonly Truth[],
): Check {
  const violations: string[] = [];
  const byId = new Map(truths.map((t) => [t.subscription_id, t]));
  const judged = records.filter((r) => r.outcome !== 'unknown');
  for (const r of judged) {
    const t = byId.get(r.subscriptionId);
    if (!t) {
      violations.push(`${r.subscriptionId}: QFPay has no such subscription`);
      continue;
    }
    const end = Date.parse(r.periodEnd);
    const cancel = t.history?.find((h) => h.to === 'CANCELLED' && h.reason === 'cancelled through the API');
    if (r.outcome === 'undone') {
      if (cancel)
        violations.push(
          `${r.subscriptionId}: cancelled at ${cancel.at} though its scheduled cancel was taken back`,
        );
      continue;
    }
    for (const o of t.orders) {
      if (o.billing_time != null && Date.parse(o.billing_time) >= end)
        violations.push(
          `${r.subscriptionId}: order ${o.sequence_no} billed at ${o.billing_time}, at or after the period end ${r.periodEnd} of its scheduled cancel`,
        );
    }
    if (!cancel) {
      violations.push(
        `${r.subscriptionId}: ${t.state}, never cancelled, though a cancel was scheduled for the period end ${r.periodEnd}`,
      );
    } else if (Date.parse(cancel.at) < Date.parse(r.cancelAt)) {
      violations.push(
        `${r.subscriptionId}: cancelled at ${cancel.at}, before its time ${r.cancelAt}: the period was cut short`,
      );
    } else if (Date.parse(cancel.at) >= end) {
      violations.push(
        `${r.subscriptionId}: cancelled at ${cancel.at}, not before the period end ${r.periodEnd}`,
      );
    }
  }
  const undone = judged.filter((r) => r.outcome === 'undone').length;
  return {
    name: 'cancel at period end kept',
    counted: `${judged.length - undone} scheduled cancels (${undone} taken back)`,
    violations,
  };
}

/** A subscription's dunning episodes as its view shows them (`dunning.episode` and `dunning.history`). */
export interface EpisodeView {
  opened_at: string;
  closed_at: string | null;
  outcome: 'recovered' | 'exhausted' | 'lost' | 'stopped' | null;
}

/** What the audit reads of `GET /v1/reports/dunning`. */
export interface DunningReportReading {
  totals: { opened: number; recovered: number; exhausted: number; lost: number; stopped: number };
  subscriptions_read: number;
}

/**
 * The dunning report counts what the subscriptions show: over a range that ended before their
 * views were read (so no episode of it changes any more), the report's totals equal the episodes
 * of the views opened, and closed by outcome, in the range, and it read every subscription with
 * one. A subscription it misses (a `DunningActivityAt` not written, after a crash or a
 * continue-as-new) shows as a difference.
 */
export function dunningReportAgrees(
  report: DunningReportReading,
  views: ReadonlyMap<string, readonly EpisodeView[]>,
  range: { from: number; to: number },
): Check {
  const within = (iso: string | null) =>
    iso !== null && Date.parse(iso) >= range.from && Date.parse(iso) < range.to;
  const expected = { opened: 0, recovered: 0, exhausted: 0, lost: 0, stopped: 0 };
  let touched = 0;
  for (const episodes of views.values()) {
    if (episodes.some((e) => within(e.opened_at) || within(e.closed_at))) touched += 1;
    for (const e of episodes) {
      if (within(e.opened_at)) expected.opened += 1;
      if (within(e.closed_at) && e.outcome !== null) expected[e.outcome] += 1;
    }
  }
  const violations: string[] = [];
  for (const key of Object.keys(expected) as Array<keyof typeof expected>) {
    if (report.totals[key] !== expected[key])
      violations.push(
        `${key}: the report says ${report.totals[key]}, the subscriptions show ${expected[key]}`,
      );
  }
  if (report.subscriptions_read < touched)
    violations.push(
      `the report read ${report.subscriptions_read} subscriptions, ${touched} show an episode in the range`,
    );
  return {
    name: 'dunning report agrees',
    counted: `${expected.opened} episodes opened, ${expected.recovered + expected.exhausted + expected.lost + expected.stopped} closed, over ${touched} subscriptions`,
    violations,
  };
}

/** A test clock as a clocked run made and advanced it. */
export interface ClockSpan {
  id: string;
  /** Its frozen time when made, and where the advance took it (epoch ms). */
  startMs: number;
  targetMs: number;
}

/**
 * Every merchant event of a subscription on a test clock is marked with its clock and dated in the
 * clock's time: at or after the clock's start, at or before its target (an event dated in real
 * time, or unmarked, breaks it). `clockOf` names each subscription's clock.
 */
export function eventsInClockTime(
  deliveries: readonly Delivery[],
  clockOf: ReadonlyMap<string, ClockSpan>,
): Check {
  const violations: string[] = [];
  let events = 0;
  for (const d of new Map(deliveries.map((x) => [x.id, x])).values()) {
    const clock = clockOf.get(d.subscription_id);
    if (!clock) continue;
    events += 1;
    if (d.test_clock !== clock.id)
      violations.push(`event ${d.id} (${d.type}): marked ${String(d.test_clock)}, not ${clock.id}`);
    const at = d.created_at === undefined ? Number.NaN : Date.parse(d.created_at);
    if (!(at >= clock.startMs && at <= clock.targetMs))
      violations.push(
        `event ${d.id} (${d.type}): dated ${String(d.created_at)}, outside its clock's ${new Date(clock.startMs).toISOString()} … ${new Date(clock.targetMs).toISOString()}`,
      );
  }
  return { name: 'merchant events in clock time', counted: `${events} events`, violations };
}

/** Every clock's advance ended: `ready` at its target. */
export function clocksReady(clocks: ReadonlyArray<ClockSpan & { status: string; frozenMs: number }>): Check {
  const violations = clocks
    .filter((c) => c.status !== 'ready' || c.frozenMs !== c.targetMs)
    .map(
      (c) =>
        `${c.id}: ${c.status} at ${new Date(c.frozenMs).toISOString()}, target ${new Date(c.targetMs).toISOString()}`,
    );
  return { name: 'every clock ready at its target', counted: `${clocks.length} clocks`, violations };
}
