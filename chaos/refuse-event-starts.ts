/**
 * A chaos fault inside the workflow sandbox: every merchant-event delivery start made at a
 * workflow task whose time is in the first second of each seven is refused, as a start the server
 * turns down would be (not "already started"). The subscription workflow must keep such an event
 * in its outbox and start it again later (after its back-off, which the next start passes); the
 * audit's "every paid order and every end reported" then checks that no event was lost.
 *
 * Bundled into the chaos run's workflow code only (`chaos/stack.ts`), never into the engine's.
 * Stateless and deterministic: whether a start is refused depends only on the workflow task's
 * time, which every replay sees again. (The history's length, read before, is not: a worker with
 * nothing cached that replays a run to answer a query sees its last task one event longer, and
 * started there the delivery the run had refused. On a test clock, that replay told the clock the
 * run was busy, and the clock waited for ever. A first version remembered in the interceptor the
 * ids it had refused; one of its three runs failed a replay with a nondeterminism error, not
 * understood yet: docs/reliability.md.)
 */
import {
  type Next,
  type StartChildWorkflowExecutionInput,
  type WorkflowInterceptorsFactory,
  type WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';

/** The delivery workflows' ids (`src/workflows/subscription.ts`). */
export const DELIVERY_ID_PREFIX = 'merchant-event:';

/** The message of a refused start (the workflow logs it as the start's failure). */
export const REFUSED_START = 'chaos: this start of a merchant event delivery is refused';

/** The refusals' window: a delivery start in the first of each {@link REFUSED_PERIOD} is refused. */
export const REFUSED_WINDOW_MS = 1_000;
/**
 * Seven: no back-off of the engine's (15 s, 30 s, 60 s … an hour) is a multiple of it, so a retry
 * never lands in a refused window again (with four, every retry from the third on did).
 */
export const REFUSED_PERIOD = 7;

/** Whether a delivery start (`workflowId`) at a workflow task of time `workflowNow` (epoch ms) is refused. */
export function refused(workflowId: string, workflowNow: number): boolean {
  return (
    workflowId.startsWith(DELIVERY_ID_PREFIX) &&
    Math.floor(workflowNow / REFUSED_WINDOW_MS) % REFUSED_PERIOD === 0
  );
}

class RefuseEventStarts implements WorkflowOutboundCallsInterceptor {
  async startChildWorkflowExecution(
    input: StartChildWorkflowExecutionInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'startChildWorkflowExecution'>,
  ): ReturnType<WorkflowOutboundCallsInterceptor['startChildWorkflowExecution'] & object> {
    // The task's time in the sandbox: the same in every replay of it.
    if (refused(input.options.workflowId ?? '', Date.now())) throw new Error(REFUSED_START);
    return next(input);
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({ outbound: [new RefuseEventStarts()] });
