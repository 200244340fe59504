/**
 * What a test clock's advance does outside its workflow: it reads and moves the clock's world at
 * the gateway emulator (its control API, `/_emulator/test_clocks/:id`), and reads the member
 * subscriptions' clock status through Temporal (a query; a closed workflow counts as ended).
 */
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { MemberReading } from '../domain/clock/advance';
import { clockStatusQuery } from '../workflows/definitions';
import type { TestClockActivities, TestClockWorld } from './contracts';

export interface TestClockActivityDeps {
  client: Client;
  /** The gateway emulator's base URL (where its control API answers). */
  emulatorUrl: string;
  /** How long `readTestClockMembers` waits for its members to be idle before it answers anyway. */
  idleWaitMs?: number;
  /** Between two looks at members that are not idle yet. */
  pollMs?: number;
}

interface WorldReply {
  nowMs: number;
  nextDueMs: number | null;
  processed?: { stateEvents: number; deliveryAttempts: number };
}

const RUNNING = 'RUNNING';

export function createTestClockActivities({
  client,
  emulatorUrl,
  idleWaitMs = 30_000,
  pollMs = 50,
}: TestClockActivityDeps): TestClockActivities {
  async function control(method: 'GET' | 'POST', path: string, body?: unknown): Promise<TestClockWorld> {
    const res = await fetch(`${emulatorUrl}/_emulator/test_clocks${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (res.status >= 400 && res.status < 500)
      throw ApplicationFailure.create({
        type: 'TestClockWorld',
        message: `the emulator answered ${res.status} to ${method} ${path}: ${text}`,
        nonRetryable: true,
      });
    if (!res.ok) throw new Error(`the emulator answered ${res.status} to ${method} ${path}`);
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
    readTestClockWorld: (clockId) => control('GET', `/${encodeURIComponent(clockId)}`),
    advanceTestClockWorld: (clockId, to) =>
      control('POST', `/${encodeURIComponent(clockId)}/advance`, { to: new Date(to).toISOString() }),
    async readTestClockMembers(workflowIds, options = {}) {
      const { idleAt } = options;
      const deadline = Date.now() + idleWaitMs;
      for (;;) {
        const readings = await Promise.all(workflowIds.map(reading));
        const waiting = readings.filter(
          (r) => r !== 'ended' && idleAt !== undefined && !(r.idle && r.now !== null && r.now >= idleAt),
        );
        if (waiting.length === 0 || Date.now() >= deadline) return readings;
        Context.current().heartbeat({ waiting: waiting.length });
        await Context.current().sleep(pollMs);
      }
    },
  };
}
