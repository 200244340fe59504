/**
 * What a test clock's advance does outside its workflow: it reads and moves the clock's worlds at
 * the gateways' emulators (each one's control API, `/_emulator/test_clocks/:id`: QFPay's, and
 * QorePay's and MadFintech's where they are emulators too), and reads the member subscriptions'
 * clock status through Temporal (a query; a closed workflow counts as ended). To the clock's
 * workflow the worlds are one: the earliest due time of any, and what all of them processed.
 */
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { MemberReading } from '../domain/clock/advance';
import { clockStatusQuery } from '../workflows/definitions';
import type { TestClockActivities, TestClockWorld } from './contracts';

export interface TestClockActivityDeps {
  client: Client;
  /**
   * The root URLs of the gateways' emulators (where each control API answers), QFPay's first,
   * read at each call (a stack may start an emulator after the worker's activities are made).
   */
  emulatorUrls: () => readonly string[];
  /** How long `readTestClockMembers` waits for its members to be idle before it answers anyway. */
  idleWaitMs?: number;
  /** Between the first two looks at members that are not idle yet; it doubles up to `maxPollMs`. */
  pollMs?: number;
  /** The longest wait between two looks. */
  maxPollMs?: number;
}

interface WorldReply {
  nowMs: number;
  nextDueMs: number | null;
  processed?: { stateEvents: number; deliveryAttempts: number };
}

const RUNNING = 'RUNNING';

/** How often a call to the clock's world heartbeats while it waits for the emulator's answer. */
const HEARTBEAT_EVERY_MS = 2_000;

/** The running activity's context, or undefined when called outside one (a test calling it directly). */
function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

export function createTestClockActivities({
  client,
  emulatorUrls,
  idleWaitMs = 30_000,
  pollMs = 50,
  maxPollMs = 1_000,
}: TestClockActivityDeps): TestClockActivities {
  async function control(
    emulatorUrl: string,
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<TestClockWorld> {
    // A world's move may take a while (a month's billing and its deliveries): the activity says it
    // is alive meanwhile, so that a worker that dies is noticed by its heartbeat timeout, not later.
    const context = activityContext();
    const beat = context && setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
    try {
      const res = await fetch(`${emulatorUrl}/_emulator/test_clocks${path}`, {
        method,
        ...(context ? { signal: context.cancellationSignal } : {}),
        ...(body === undefined
          ? {}
          : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      });
      return worldOf(`${method} ${emulatorUrl} ${path}`, res, await res.text());
    } finally {
      if (beat) clearInterval(beat);
    }
  }

  /**
   * The clock's worlds at every emulator, one after the other, as one: the first's time (they
   * move together), the earliest next due time, and the sum of what they processed.
   */
  async function everyWorld(method: 'GET' | 'POST', path: string, body?: unknown): Promise<TestClockWorld> {
    const worlds: TestClockWorld[] = [];
    for (const url of emulatorUrls()) worlds.push(await control(url, method, path, body));
    return joinWorlds(worlds);
  }

  /** The world in the emulator's answer to `call`; a 4xx is final, anything else not 2xx is retried. */
  function worldOf(call: string, res: Pick<Response, 'status' | 'ok'>, text: string): TestClockWorld {
    if (res.status >= 400 && res.status < 500)
      throw ApplicationFailure.create({
        type: 'TestClockWorld',
        message: `the emulator answered ${res.status} to ${call}: ${text}`,
        nonRetryable: true,
      });
    if (!res.ok) throw new Error(`the emulator answered ${res.status} to ${call}`);
    const reply = JSON.parse(text) as WorldReply;
    const processed = (reply.processed?.stateEvents ?? 0) + (reply.processed?.deliveryAttempts ?? 0);
    return { nowMs: reply.nowMs, nextDueMs: reply.nextDueMs, processed };
  }

  async function reading(workflowId: string): Promise<MemberReading> {
    const handle = client.workflow.getHandle(workflowId);
    try {
      if ((await handle.describe()).status.name !== RUNNING) return 'ended';
      return (await handle.query(clockStatusQuery)) ?? 'ended';
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return 'ended';
      throw err;
    }
  }

  return {
    readTestClockWorld: (clockId) => everyWorld('GET', `/${encodeURIComponent(clockId)}`),
    advanceTestClockWorld: (clockId, to) =>
      everyWorld('POST', `/${encodeURIComponent(clockId)}/advance`, { to: new Date(to).toISOString() }),
    async readTestClockMembers(workflowIds, options = {}) {
      const { idleAt } = options;
      const deadline = Date.now() + idleWaitMs;
      for (let look = 0; ; look += 1) {
        const readings = await Promise.all(workflowIds.map(reading));
        const waiting = readings.filter(
          (r) => r !== 'ended' && idleAt !== undefined && !(r.idle && r.now !== null && r.now >= idleAt),
        );
        if (waiting.length === 0 || Date.now() >= deadline) return readings;
        Context.current().heartbeat({ waiting: waiting.length });
        // Each look is a query per member (a replay where the worker has none cached): the looks
        // grow apart while members work, so a busy machine is not kept busier by the clock itself.
        await Context.current().sleep(Math.min(pollMs * 2 ** look, maxPollMs));
      }
    },
  };
}

/**
 * A clock's worlds at several emulators as one world: the first one's time (an advance moves
 * them all to the same time), the earliest time any has something due, and all they processed.
 * @throws Error for no world at all (no emulator to keep the clock)
 */
export function joinWorlds(worlds: readonly TestClockWorld[]): TestClockWorld {
  const [first] = worlds;
  if (first === undefined) throw new Error('no gateway emulator keeps test clocks here');
  const due = worlds.flatMap((w) => (w.nextDueMs === null ? [] : [w.nextDueMs]));
  return {
    nowMs: first.nowMs,
    nextDueMs: due.length === 0 ? null : Math.min(...due),
    processed: worlds.reduce((sum, w) => sum + w.processed, 0),
  };
}
