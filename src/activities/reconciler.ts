/**
 * The reconciler's sweep: lists the running subscriptions of its own task queue whose
 * `ReconcileAt` search attribute has passed and signals each, so a subscription asks its gateway
 * about a billing time that went by with no payment result, without a timer of its own.
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { SEARCH_ATTRIBUTES, WORKFLOW_TYPES, reconcileSignal } from '../workflows/definitions';
import type { ReconcilerActivities, ReconcileSweep } from './contracts';
import { quoteQueryValue } from '../temporal/visibility-query';

/** The visibility query for the subscriptions of `taskQueue` due by `dueBy`. */
export function dueSubscriptionsQuery(taskQueue: string, dueBy: number): string {
  return [
    `WorkflowType = '${WORKFLOW_TYPES.subscription}'`,
    `ExecutionStatus = 'Running'`,
    `TaskQueue = ${quoteQueryValue(taskQueue)}`,
    `${SEARCH_ATTRIBUTES.reconcileAt.name} <= '${new Date(dueBy).toISOString()}'`,
  ].join(' AND ');
}

export function createReconcilerActivities({ client }: { client: Client }): ReconcilerActivities {
  return {
    async signalDueSubscriptions({ dueBy }) {
      const context = Context.current();
      const sweep: ReconcileSweep = { due: 0, signalled: 0, gone: 0 };
      const query = dueSubscriptionsQuery(context.info.taskQueue, dueBy);
      for await (const execution of client.workflow.list({ query })) {
        sweep.due += 1;
        try {
          await client.workflow.getHandle(execution.workflowId).signal(reconcileSignal);
          sweep.signalled += 1;
        } catch (err) {
          // It ended since the listing (visibility lags): nothing left to ask for it.
          if (!(err instanceof WorkflowNotFoundError)) throw err;
          sweep.gone += 1;
        }
        context.heartbeat(sweep);
      }
      return sweep;
    },
  };
}
