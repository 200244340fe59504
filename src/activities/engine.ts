/**
 * Activities that act on Temporal itself: handing a new subscription to its workflow
 * (signal-with-start, so it is started if need be), and reading a customer's token record.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { DEFAULT_QFPAY_TIME_OFFSET, parseQfpayTime } from '../gateways/qfpay/time';
import {
  SUBSCRIPTION_WORKFLOW_REUSE_POLICY,
  WORKFLOW_TYPES,
  customerTokensWorkflowId,
  handoverSignal,
  subscriptionWorkflowId,
  testClockSearchAttributes,
  tokensQuery,
  type PaymentTokenRecord,
} from '../workflows/definitions';
import { subscriptionStartMetadata } from '../workflows/summaries';
import type { EngineActivities } from './contracts';

export interface EngineActivityDeps {
  client: Client;
  taskQueue: string;
  /** The UTC offset QFPay writes its times in (a token's expiry). @default '+08:00' */
  qfpayTimeOffset?: string;
}

export function createEngineActivities({
  client,
  taskQueue,
  qfpayTimeOffset = DEFAULT_QFPAY_TIME_OFFSET,
}: EngineActivityDeps): EngineActivities {
  return {
    async tokenExpiry({ customerId, tokenId }) {
      let tokens: PaymentTokenRecord[];
      try {
        tokens = await client.workflow.getHandle(customerTokensWorkflowId(customerId)).query(tokensQuery);
      } catch (err) {
        // No token notification for this customer yet: no expiry known.
        if (err instanceof WorkflowNotFoundError) return null;
        throw err;
      }
      const expiry = tokens.find((t) => t.tokenId === tokenId)?.expiry;
      return expiry === undefined ? null : (parseQfpayTime(expiry, qfpayTimeOffset) ?? null);
    },
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
          // On a test clock, listed by it from the start (a workflow that a notification from the
          // clock's world started first writes it itself, once the handover names the clock).
          ...testClockSearchAttributes(input.options?.testClock),
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
