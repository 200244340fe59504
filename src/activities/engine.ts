/**
 * Activities that act on Temporal itself: handing a new subscription to its workflow
 * (signal-with-start, so it is started if need be).
 */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import {
  SUBSCRIPTION_WORKFLOW_REUSE_POLICY,
  WORKFLOW_TYPES,
  handoverSignal,
  subscriptionWorkflowId,
} from '../workflows/definitions';
import { subscriptionStartMetadata } from '../workflows/summaries';
import type { EngineActivities } from './contracts';

export interface EngineActivityDeps {
  client: Client;
  taskQueue: string;
}

export function createEngineActivities({ client, taskQueue }: EngineActivityDeps): EngineActivities {
  return {
    async handOverSubscription(input, handover, price) {
      const { fact } = handover;
      try {
        await client.workflow.signalWithStart(WORKFLOW_TYPES.subscription, {
          // What the Web UI shows for it (ids, price and cycles; no personal data).
          ...subscriptionStartMetadata({
            subscriptionId: input.subscriptionId,
            origin: input.origin,
            productIds: fact.productIds,
            totalBillingCycles: fact.totalBillingCycles,
            ...(fact.startTime === undefined ? {} : { startTime: fact.startTime }),
            ...(price ? { price } : {}),
          }),
          workflowId: subscriptionWorkflowId(input.subscriptionId),
          taskQueue,
          args: [input],
          signal: handoverSignal,
          signalArgs: [handover],
          workflowIdReusePolicy: SUBSCRIPTION_WORKFLOW_REUSE_POLICY,
        });
      } catch (err) {
        // QFPay's notifications adopted the subscription and its workflow has already run to its
        // end (a slow creation): an ended subscription stays ended, as for a late notification.
        if (err instanceof WorkflowExecutionAlreadyStartedError) return 'ended';
        throw err;
      }
      return 'handed_over';
    },
  };
}
