/**
 * Helpers of the cluster tier (test/cluster/): ports for a whole `npm run cluster` that are free
 * and keep the Temporal server below PostgreSQL's SMALLINT limit, a DATA_DIR the `postgres` user
 * can reach, and the comparison of the emulator's record with the engine's mirror.
 */
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterPorts, loadClusterConfig } from '../../src/dev/cluster-config';
import type { StackClient } from '../../src/dev/stack-client';
import { portsInUse } from '../../src/dev/stack';

/**
 * The environment of a cluster on free ports: every port of the layout (API replicas above
 * PORT, the server's ports around TEMPORAL_PORT) between 10000 and 32767.
 */
export async function freeClusterEnvironment(
  settings: { workers: number; replicas: number },
  dataDir: string,
): Promise<Record<string, string>> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const base = 10_000 + Math.floor(Math.random() * 2_000) * 10; // 10000…29990
    const env = {
      PORT: String(base),
      POSTGRES_PORT: String(base + 20),
      SANDBOX_PORT: String(base + 21),
      TEMPORAL_UI_PORT: String(base + 22),
      TEMPORAL_PORT: String(base + 400), // membership ports at base+100…, HTTP at base+410
      CLUSTER_WORKERS: String(settings.workers),
      CLUSTER_API_REPLICAS: String(settings.replicas),
      DATA_DIR: dataDir,
    };
    const config = loadClusterConfig(env);
    const wanted = clusterPorts(config).map(([variable, port]) => ({ variable, port, what: 'test' }));
    if ((await portsInUse(wanted)).length === 0) return env;
  }
  throw new Error('no free port layout for a cluster between 10000 and 32767');
}

/**
 * A temporary DATA_DIR. PostgreSQL runs as the `postgres` user when the tests run as root, so
 * the directory must be reachable by others (mkdtemp makes it private).
 */
export function clusterDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'qfpay-cluster-'));
  chmodSync(dir, 0o755);
  return dir;
}

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
