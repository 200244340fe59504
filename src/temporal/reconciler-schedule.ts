/**
 * The reconciler's Temporal Schedule (issue 31, lever 2): every `everyMs` it starts one
 * `reconcilerWorkflow` on the engine's task queue, which signals the subscriptions whose
 * `ReconcileAt` has passed. The worker makes sure it exists, with the interval configured, when it
 * starts (`RECONCILER=schedule`); several workers agree, as each writes the same.
 */
import {
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptionsStartWorkflowAction,
  type ScheduleSpec,
} from '@temporalio/client';
import { WORKFLOW_TYPES } from '../workflows/definitions';
import type { reconcilerWorkflow } from '../workflows/reconciler';

/** The Schedule's id (and its runs' workflow id prefix), one per task queue. */
export function reconcilerScheduleId(taskQueue: string): string {
  return `subscription-reconciler:${taskQueue}`;
}

export async function ensureReconcilerSchedule(
  client: Client,
  { taskQueue, everyMs }: { taskQueue: string; everyMs: number },
): Promise<'created' | 'updated'> {
  const scheduleId = reconcilerScheduleId(taskQueue);
  const spec: ScheduleSpec = { intervals: [{ every: everyMs }] };
  const action: ScheduleOptionsStartWorkflowAction<typeof reconcilerWorkflow> = {
    type: 'startWorkflow',
    workflowType: WORKFLOW_TYPES.reconciler,
    workflowId: scheduleId,
    taskQueue,
    args: [],
    // A sweep that hangs does not hold the next ones back for ever (overlap: skip).
    workflowRunTimeout: Math.max(10 * 60_000, 5 * everyMs),
  };
  // One sweep covers everything due, so missed ticks need no catching up beyond the next one.
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: Math.max(10_000, everyMs) };
  try {
    await client.schedule.create({ scheduleId, spec, action, policies });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  await client.schedule.getHandle(scheduleId).update((previous) => ({
    spec,
    action,
    policies,
    state: { paused: previous.state.paused, ...(previous.state.note ? { note: previous.state.note } : {}) },
  }));
  return 'updated';
}

/** The worker's start: keeps the Schedule when the configuration has the reconciler (`RECONCILER`). */
export async function startReconciler(
  client: Client,
  config: { RECONCILER: 'schedule' | 'timer'; RECONCILE_EVERY_MS: number; TEMPORAL_TASK_QUEUE: string },
): Promise<'created' | 'updated' | 'off'> {
  if (config.RECONCILER !== 'schedule') return 'off';
  return ensureReconcilerSchedule(client, {
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    everyMs: config.RECONCILE_EVERY_MS,
  });
}
