/**
 * A workflow interceptor for tests: every merchant-event delivery start a run makes in its first
 * {@link REFUSED_FOR_MS} of Temporal's time is refused, as a start the server turns down would be
 * (not "already started"). Bundled only into the workflow code of the tests that use it.
 *
 * It depends on the workflow task's time and the run's start, which a replay from the history sees
 * again (a replay of a run recorded with it needs it in its bundle too). Only where one worker
 * keeps the run cached, as in these tests: a worker with nothing cached that answers a query may
 * run the code ahead at an earlier task's time (docs/reliability.md), which is why the chaos runs'
 * fault decides by the delivery's id instead (`chaos/refuse-event-starts.ts`).
 */
import {
  type Next,
  type StartChildWorkflowExecutionInput,
  type WorkflowInterceptorsFactory,
  type WorkflowOutboundCallsInterceptor,
  workflowInfo,
} from '@temporalio/workflow';
import { DELIVERY_ID_PREFIX } from '../../chaos/refuse-event-starts';

/** How long after a run's start its delivery starts are refused. */
export const REFUSED_FOR_MS = 10_000;

/** The message of a refused start. */
export const REFUSED_EARLY_START = 'test: a merchant event delivery started this early is refused';

class RefuseEarlyEventStarts implements WorkflowOutboundCallsInterceptor {
  async startChildWorkflowExecution(
    input: StartChildWorkflowExecutionInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'startChildWorkflowExecution'>,
  ): ReturnType<WorkflowOutboundCallsInterceptor['startChildWorkflowExecution'] & object> {
    const early = Date.now() < workflowInfo().runStartTime.getTime() + REFUSED_FOR_MS;
    if (early && (input.options.workflowId ?? '').startsWith(DELIVERY_ID_PREFIX))
      throw new Error(REFUSED_EARLY_START);
    return next(input);
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({ outbound: [new RefuseEarlyEventStarts()] });
