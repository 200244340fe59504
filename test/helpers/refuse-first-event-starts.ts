/**
 * A workflow interceptor for tests: the first start in a run of every merchant-event delivery is
 * refused, as a start the server turns down would be (the chaos run's fault,
 * `chaos/refuse-event-starts.ts`, with every delivery chosen). Each event is started on its second
 * try: a flush that retries events refused before and starts fresh ones hands the old ones over and
 * is refused the new. Deterministic: it depends only on the delivery's id and the run's own past.
 * Bundled only into the workflow code of the tests that use it.
 */
import type { WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { DELIVERY_ID_PREFIX, RefuseEventStarts } from '../../chaos/refuse-event-starts';

export const interceptors: WorkflowInterceptorsFactory = () => ({
  outbound: [new RefuseEventStarts((workflowId) => workflowId.startsWith(DELIVERY_ID_PREFIX))],
});
