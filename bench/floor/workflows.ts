/**
 * The memory floor for phase 5: the smallest workflow that keeps a subscription's place in the
 * worker's cache. Same workflow type and fact signal as the engine's, no state machine, no timers.
 * The worker memory phase measures it next to the engine's workflow, so "KB per subscription" can
 * be read against what the Temporal SDK itself costs per cached workflow.
 */
import { condition, setHandler } from '@temporalio/workflow';
import { factSignal } from '../../src/workflows/definitions';

export async function subscriptionWorkflow(): Promise<void> {
  let facts = 0;
  setHandler(factSignal, () => {
    facts += 1;
  });
  await condition(() => facts < 0);
}
