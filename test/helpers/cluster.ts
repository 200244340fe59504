/**
 * Helpers of the cluster tier (test/cluster/): the comparison of the emulator's record with the
 * engine's mirror.
 */
import type { StackClient } from '../../src/dev/stack-client';

/** One subscription as the emulator records it and as the engine mirrors it. */
export interface Comparison {
  subscriptionId: string;
  emulator: { state: string; cycles: number; paid: number[] };
  engine: { state: string; cycles: number; paid: number[] };
}

/** The emulator's record next to the engine's mirror (through `client`'s API). */
export async function compare(client: StackClient, subscriptionId: string): Promise<Comparison> {
  const truth = await client.emulatorSubscription(subscriptionId);
  const view = await client.subscription(subscriptionId);
  const paidOf = (orders: Array<{ sequence_no: number; status: string }>) =>
    orders
      .filter((o) => o.status === 'PAID')
      .map((o) => o.sequence_no)
      .sort((a, b) => a - b);
  // The engine's view lists recent orders only: compare from its oldest one on.
  const sequences = view.recent_orders.map((o) => o.sequence_no);
  const from = sequences.length > 0 ? Math.min(...sequences) : 1;
  return {
    subscriptionId,
    emulator: {
      state: truth.state,
      cycles: truth.completed_billing_iteration,
      paid: paidOf(truth.orders).filter((n) => n >= from),
    },
    engine: { state: view.state, cycles: view.completed_cycles, paid: paidOf(view.recent_orders) },
  };
}

/** The comparison agrees: same state, same completed cycles, the same orders paid. */
export function agrees(c: Comparison): boolean {
  return JSON.stringify(c.emulator) === JSON.stringify(c.engine);
}
