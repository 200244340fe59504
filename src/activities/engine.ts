/**
 * Activities that act on Temporal itself or on the merchant: handing a fact to a subscription's
 * workflow (signal-with-start, so it is started if need be), and running escalation steps.
 */
import type { Client } from '@temporalio/client';
import {
  WORKFLOW_TYPES,
  handoverSignal,
  subscriptionWorkflowId,
  type MerchantEvent,
} from '../workflows/definitions';
import type { EngineActivities, MerchantEventActivities } from './contracts';

export interface EngineActivityDeps {
  client: Client;
  taskQueue: string;
  merchantEvents: MerchantEventActivities;
}

export function createEngineActivities({
  client,
  taskQueue,
  merchantEvents,
}: EngineActivityDeps): EngineActivities {
  return {
    async handOverSubscription(input, handover) {
      await client.workflow.signalWithStart(WORKFLOW_TYPES.subscription, {
        workflowId: subscriptionWorkflowId(input.subscriptionId),
        taskQueue,
        args: [input],
        signal: handoverSignal,
        signalArgs: [handover],
      });
    },

    async runEscalationStep({ event }: { step: string; event: MerchantEvent }) {
      // Each step is one signed merchant event (its `data.step` names it); the merchant's systems
      // reach the customer (`notify_customer`) or their operations team (`notify_operations`).
      const { delivered } = await merchantEvents.deliverMerchantEvent(event);
      return { delivered };
    },
  };
}
