/**
 * A chaos fault inside the workflow sandbox: every merchant-event delivery start made while the
 * history's length is in the first 10 of each 40 events is refused, as a start the server turns
 * down would be (not "already started"). The subscription workflow must keep such an event in its
 * outbox and start it again later (its history grows meanwhile, so a later start goes through);
 * the audit's "every paid order and every end reported" then checks that no event was lost.
 *
 * Bundled into the chaos run's workflow code only (`chaos/stack.ts`), never into the engine's.
 * Stateless and deterministic: whether a start is refused depends only on the history's length
 * at the workflow task that starts it, which replay sees again. (A first version remembered in
 * the interceptor the ids it had refused; one of its three runs failed a replay with a
 * nondeterminism error, not understood yet: docs/reliability.md.)
 */
import {
  workflowInfo,
  type Next,
  type StartChildWorkflowExecutionInput,
  type WorkflowInterceptorsFactory,
  type WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';

/** The delivery workflows' ids (`src/workflows/subscription.ts`). */
export const DELIVERY_ID_PREFIX = 'merchant-event:';

/** The message of a refused start (the workflow logs it as the start's failure). */
export const REFUSED_START = 'chaos: this start of a merchant event delivery is refused';

/** Whether a delivery start (`workflowId`) at a task of history length `historyLength` is refused. */
export function refused(workflowId: string, historyLength: number): boolean {
  return workflowId.startsWith(DELIVERY_ID_PREFIX) && historyLength % 40 < 10;
}

class RefuseEventStarts implements WorkflowOutboundCallsInterceptor {
  async startChildWorkflowExecution(
    input: StartChildWorkflowExecutionInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'startChildWorkflowExecution'>,
  ): ReturnType<WorkflowOutboundCallsInterceptor['startChildWorkflowExecution'] & object> {
    if (refused(input.options.workflowId ?? '', workflowInfo().historyLength)) throw new Error(REFUSED_START);
    return next(input);
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({ outbound: [new RefuseEventStarts()] });
