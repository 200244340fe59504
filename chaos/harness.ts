/**
 * What the chaos runs share (`chaos/run.ts`, `chaos/clocked.ts`): a patient merchant's HTTP
 * calls, the faults they switch on at the emulator, a workflow's reading for the stuck check, the
 * wait for merchant events in flight, and the printed table. The checks themselves are in
 * `audit.ts`.
 */
import { readFileSync } from 'node:fs';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES, snapshotQuery, subscriptionWorkflowId } from '../src/workflows/definitions';
import { heldThroughout, type Check, type HoldingSample, type WorkflowReading } from './audit';
import { CHAOS_API_KEY, type ChaosStack } from './stack';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function http<T>(
  url: string,
  method = 'GET',
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T }> {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${CHAOS_API_KEY}`, ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Plain text.
  }
  return { status: res.status, body: parsed as T };
}

/** Calls until it gets an answer that is not a 5xx, 429 or network error (the suite is a patient merchant). */
export async function patiently<T>(
  what: string,
  call: () => Promise<{ status: number; body: T }>,
): Promise<{ status: number; body: T }> {
  let last: string;
  for (let attempt = 1; ; attempt += 1) {
    try {
      const res = await call();
      if (res.status < 500 && res.status !== 429) return res;
      last = `status ${res.status}`;
    } catch (err) {
      // A killed API process: try again (another one, or the same once restarted).
      last = err instanceof Error ? err.message : String(err);
    }
    if (attempt >= 60) throw new Error(`${what}: no answer after ${attempt} tries (last: ${last})`);
    await sleep(Math.min(5_000, 250 * attempt));
  }
}

export async function pool<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const i = next++;
        await work(items[i]!, i);
      }
    }),
  );
}

export const NO_FAULTS = {
  duplicateRate: 0,
  reorderRate: 0,
  dropRate: 0,
  serverErrorRate: 0,
  timeoutRate: 0,
  rateLimitRate: 0,
  slowRate: 0,
  pendingChargeRate: 0,
  endpoints: null,
};

/** Every fault at once, for the whole run: on QFPay calls (creation included) and on notifications. */
export const CHAOS_FAULTS = {
  duplicateRate: 0.3,
  reorderRate: 0.2,
  delayMs: 5_000,
  dropRate: 0.05,
  serverErrorRate: 0.03,
  // A timed-out call was processed: the client cannot tell (a creation QFPay committed, a charge made).
  timeoutRate: 0.03,
  timeoutMs: 12_000,
  timeoutProcesses: true,
  // Charges answered 1145 (processing), settled later.
  pendingChargeRate: 0.05,
  endpoints: null,
};

/** A subscription whose workflow still held events it had not handed to a delivery workflow. */
export interface EventsHeld {
  id: string;
  count: number;
}

/** How long a workflow must hold events, in every sample, for the audit to count them as never handed over. */
export const HELD_TOO_LONG_MS = 2 * 60_000;

/** What was still open when the wait for merchant events ended (nothing, once settled). */
export interface EventsOpen {
  /**
   * The subscriptions whose workflows held events in their outbox in every sample of the wait's
   * last {@link HELD_TOO_LONG_MS}, and how many each held last.
   */
  holding: EventsHeld[];
  /** Deliveries pending or retrying in the delivery log. */
  pending: number;
  retrying: number;
}

/**
 * Waits until no subscription workflow holds an event it has not handed to a delivery workflow
 * (a refused start is tried again with a backoff), and the delivery log has none pending or
 * retrying (bounded at 5 minutes; then it logs what was still open). Plans bill on meanwhile, so
 * a workflow may hold fresh events at the bound, waiting its first backoff: the audit's
 * `outboxesEmptied` reports those that held events in every sample of the last
 * {@link HELD_TOO_LONG_MS} (`heldThroughout`).
 */
export async function untilEventsDelivered(
  stack: ChaosStack,
  ids: readonly string[],
  deliveries: readonly unknown[],
  log: (line: string) => void,
): Promise<EventsOpen> {
  const until = Date.now() + 5 * 60_000;
  let open: EventsOpen = { holding: [], pending: 0, retrying: 0 };
  const samples: HoldingSample[] = [];
  for (let last = -1; Date.now() < until;) {
    const [pending = 0, retrying = 0] = await Promise.all(
      ['pending', 'retrying'].map(async (status) => {
        const res = await patiently('event log', () =>
          http<{ data?: unknown[] }>(`${stack.apis[0]}/v1/merchant-events?status=${status}`),
        );
        return res.body.data?.length ?? 0;
      }),
    );
    const holding: EventsHeld[] = [];
    await pool(ids, 8, async (id) => {
      const view = await patiently('events waiting', async () => ({
        status: 200,
        body: await stack.temporal.workflow.getHandle(subscriptionWorkflowId(id)).query(snapshotQuery),
      }));
      if (view.body.eventsWaiting) holding.push({ id, count: view.body.eventsWaiting });
    });
    open = { holding: holding.sort((a, b) => a.id.localeCompare(b.id)), pending, retrying };
    samples.push({ at: Date.now(), holding: open.holding });
    if (holding.length === 0 && pending === 0 && retrying === 0 && deliveries.length === last) return open;
    last = deliveries.length;
    await sleep(10_000);
  }
  const held = heldThroughout(samples, HELD_TOO_LONG_MS);
  const named = (list: readonly EventsHeld[]) =>
    list.length === 0 ? 'none' : list.map((h) => `${h.id} (${h.count})`).join(', ');
  log(
    `events still open after 5 minutes (plans bill on): ${deliveries.length} deliveries received; ` +
      `${open.pending} pending and ${open.retrying} retrying in the delivery log; events not yet ` +
      `handed to a delivery workflow: ${named(open.holding)}; held in every sample of the last ` +
      `${HELD_TOO_LONG_MS / 60_000} minutes: ${named(held)}`,
  );
  return { ...open, holding: held };
}

export async function readWorkflow(stack: ChaosStack, id: string): Promise<WorkflowReading> {
  const { EventType } = temporal.api.enums.v1;
  const handle = stack.temporal.workflow.getHandle(subscriptionWorkflowId(id));
  const description = await handle.describe();
  const events = (await handle.fetchHistory()).events ?? [];
  const timers = new Map<string, boolean>();
  for (const e of events) {
    if (e.eventType === EventType.EVENT_TYPE_TIMER_STARTED) timers.set(String(e.eventId), true);
    const closed =
      e.timerFiredEventAttributes?.startedEventId ?? e.timerCanceledEventAttributes?.startedEventId;
    if (closed !== undefined && closed !== null) timers.delete(String(closed));
  }
  return {
    status: description.status.name,
    workflowTaskFailures: events.flatMap((e) => {
      const a = e.workflowTaskFailedEventAttributes;
      if (e.eventType !== EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED || !a) return [];
      const cause = temporal.api.enums.v1.WorkflowTaskFailedCause[a.cause ?? 0] ?? String(a.cause);
      return [{ cause, message: a.failure?.message ?? '' }];
    }),
    // With the reconciler, a subscription that waits for its next notification keeps no timer:
    // its ReconcileAt is what wakes it (the Schedule's sweep signals it once that time passes).
    pendingWork:
      timers.size > 0 ||
      (description.raw.pendingActivities?.length ?? 0) > 0 ||
      description.typedSearchAttributes.get(SEARCH_ATTRIBUTES.reconcileAt) !== undefined,
  };
}

/** The emulator's notifications (of a test clock's world with its header): sent, duplicated, held back, dropped. */
export async function notificationFigures(
  stack: ChaosStack,
  headers: Record<string, string> = {},
): Promise<Record<string, number>> {
  const res = await http<{ data: Array<{ status: string; fault: string | null; attempts: unknown[] }> }>(
    `${stack.emulatorUrl}/_emulator/notifications`,
    'GET',
    undefined,
    headers,
  );
  const data = res.body.data;
  return {
    notifications: data.filter((n) => n.fault !== 'duplicate').length,
    duplicated: data.filter((n) => n.fault === 'duplicate').length,
    reordered: data.filter((n) => n.fault === 'delayed').length,
    dropped: data.filter((n) => n.fault === 'dropped').length,
    deliveryAttempts: data.reduce((sum, n) => sum + n.attempts.length, 0),
  };
}

/** How many lines of a file hold `text` (0 if the file is missing). */
export function countLines(path: string, text: string): number {
  try {
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((line) => line.includes(text)).length;
  } catch {
    return 0;
  }
}

export function report(figures: Record<string, number>, checks: Check[]): void {
  console.log('\n| figure | value |\n|---|---|');
  for (const [k, v] of Object.entries(figures)) console.log(`| ${k} | ${v.toLocaleString('en-US')} |`);
  console.log('\n| check | examined | violations |\n|---|---|---|');
  for (const c of checks) console.log(`| ${c.name} | ${c.counted} | ${c.violations.length} |`);
  for (const c of checks) for (const v of c.violations.slice(0, 10)) console.log(`  ✖ ${c.name}: ${v}`);
}
