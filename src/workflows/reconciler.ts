/**
 * The reconciler (issue 31, lever 2): one run per tick of the engine's Temporal Schedule. It
 * signals every running subscription of its task queue whose `ReconcileAt` has passed: the
 * billing time went by with no payment result, and the subscription wants to ask its gateway.
 * Such a subscription keeps no timer of its own for that question, so a paid cycle moves none.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { ReconcilerActivities, ReconcileSweep } from '../activities/contracts';

const sweeps = proxyActivities<ReconcilerActivities>({
  startToCloseTimeout: '10m',
  heartbeatTimeout: '1m',
  retry: { initialInterval: '5s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 3 },
});

export async function reconcilerWorkflow(): Promise<ReconcileSweep> {
  // The tick's own time: a subscription's question falls due at or after it, as it will find.
  return sweeps.signalDueSubscriptions({ dueBy: Date.now() });
}
