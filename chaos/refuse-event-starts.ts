/**
 * A chaos fault inside the workflow sandbox: the first start of about one merchant-event delivery
 * in {@link REFUSED_ONE_IN} (chosen by the delivery's id) is refused, as a start the server turns
 * down would be (not "already started"). The subscription workflow must keep such an event in its
 * outbox and start it again after its back-off; the audit's "every paid order and every end
 * reported" and "every recorded event handed to its delivery" then check that no event was lost.
 *
 * Bundled into the chaos run's workflow code only (`chaos/stack.ts`), never into the engine's.
 *
 * Deterministic whatever worker runs the code, and when: the choice depends only on the delivery's
 * id and on whether this run already refused it, which the run's own interceptor (one per workflow
 * run: the factory is called for each) remembers, and which a replay rebuilds in the same order.
 * Two earlier versions were not. One decided by the history's length, which a worker with nothing
 * cached that replays a run to answer a query sees one event longer in its last activation. The
 * next decided by the workflow task's time, which that same replay can differ in: it may run the
 * code past the last task's events at the time of the last task it knows, so a delivery it started
 * there was refused when the run was replayed again (a nondeterminism error, and a clock that
 * waited for ever, in chaos:clocked on 2026-12-07).
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

/** About one delivery in this many has its first start refused. */
export const REFUSED_ONE_IN = 3;

/** Whether the delivery `workflowId` is one whose first start is refused (a stable hash of the id). */
export function refusedOnce(workflowId: string): boolean {
  if (!workflowId.startsWith(DELIVERY_ID_PREFIX)) return false;
  let hash = 0;
  for (let i = 0; i < workflowId.length; i += 1) hash = (hash * 31 + workflowId.charCodeAt(i)) >>> 0;
  return hash % REFUSED_ONE_IN === 0;
}

/**
 * Refuses the first start in a run of each delivery `chosen` picks (by its workflow id): the
 * chaos run's about one in three by default; a test may pick every delivery.
 */
export class RefuseEventStarts implements WorkflowOutboundCallsInterceptor {
  /** The deliveries this run has refused once. */
  private readonly refused = new Set<string>();

  constructor(private readonly chosen: (workflowId: string) => boolean = refusedOnce) {}

  async startChildWorkflowExecution(
    input: StartChildWorkflowExecutionInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'startChildWorkflowExecution'>,
  ): ReturnType<WorkflowOutboundCallsInterceptor['startChildWorkflowExecution'] & object> {
    const id = input.options.workflowId ?? '';
    if (this.chosen(id) && !this.refused.has(id)) {
      this.refused.add(id);
      throw new Error(REFUSED_START);
    }
    return next(input);
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({ outbound: [new RefuseEventStarts()] });
