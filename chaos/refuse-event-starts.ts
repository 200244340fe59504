/**
 * A chaos fault inside the workflow sandbox: the first start of every merchant-event delivery in a
 * run is refused, as a start the server turns down would be (not "already started"). The
 * subscription workflow must keep such an event in its outbox and start it again later; the
 * audit's "every paid order and every end reported" then checks that no event was lost.
 *
 * Bundled into the chaos run's workflow code only (`chaos/stack.ts`), never into the engine's.
 * Deterministic: what it refuses depends only on what this run has started before, which replay
 * repeats.
 */
import type {
  Next,
  StartChildWorkflowExecutionInput,
  WorkflowInterceptorsFactory,
  WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';

/** The delivery workflows' ids (`src/workflows/subscription.ts`). */
export const DELIVERY_ID_PREFIX = 'merchant-event:';

/** The message of a refused start (the workflow logs it as the start's failure). */
export const REFUSED_START = 'chaos: the first start of this merchant event is refused';

class RefuseFirstEventStart implements WorkflowOutboundCallsInterceptor {
  private readonly refused = new Set<string>();

  async startChildWorkflowExecution(
    input: StartChildWorkflowExecutionInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'startChildWorkflowExecution'>,
  ): ReturnType<WorkflowOutboundCallsInterceptor['startChildWorkflowExecution'] & object> {
    const id = input.options.workflowId;
    if (id?.startsWith(DELIVERY_ID_PREFIX) && !this.refused.has(id)) {
      this.refused.add(id);
      throw new Error(REFUSED_START);
    }
    return next(input);
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({ outbound: [new RefuseFirstEventStart()] });
