/**
 * Configuration of `npm run cluster`, the production topology on one machine: the variables of
 * `npm start` (same names, other defaults so both run side by side) plus PostgreSQL's port and
 * password and the number of workers and API replicas.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { isLoopbackUrl, problemLines, setVariables } from '../config';
import { withOlderVariableNames } from '../gateways/qfpay/emulator/environment';
import {
  StackConfigError,
  nonEmpty,
  port,
  portClashes,
  stackConfigSchema,
  type StackConfig,
} from './stack-config';

const replicas = z.coerce.number().int().min(1).max(16);

export const clusterConfigSchema = stackConfigSchema.extend({
  /** The load balancer in front of the API replicas, which listen on PORT+1 … PORT+M. */
  PORT: port.default(3100),
  /** The Temporal server's gRPC frontend; its other ports are derived (see temporalServerPorts). */
  TEMPORAL_PORT: port.default(7433),
  TEMPORAL_UI_PORT: port.default(8433),
  CODEC_SERVER_PORT: port.default(8434),
  EMULATOR_PORT: port.default(4110),
  /** PostgreSQL, Temporal's persistence and visibility store. */
  POSTGRES_PORT: port.default(5433),
  /** Password of the `temporal` database user (set once, when the database is created). */
  POSTGRES_PASSWORD: nonEmpty.default('temporal-local'),
  /** PostgreSQL's data, the emulator's state and the load balancer's files. */
  DATA_DIR: nonEmpty.default('./.data-cluster'),
  /** N: worker processes on the task queue. */
  CLUSTER_WORKERS: replicas.default(2),
  /** M: API processes behind the load balancer. */
  CLUSTER_API_REPLICAS: replicas.default(2),
  /** The Temporal server's own log level (its `LOG_LEVEL`): debug, info, warn or error. */
  TEMPORAL_LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('warn'),
  /** A first start (initdb, schema) and the server's shard acquisition take longer than npm start. */
  STACK_READY_TIMEOUT_MS: z.coerce.number().int().positive().default(240_000),
});

export type ClusterConfig = z.output<typeof clusterConfigSchema> &
  Pick<StackConfig, 'dataDir' | 'useEmulator'>;

/**
 * Temporal on PostgreSQL stores cluster-membership ports as SMALLINT
 * (`cluster_membership.rpc_port`): a port above this makes the server crash at start-up.
 */
export const MAX_TEMPORAL_PORT = 32_767;

/**
 * The Temporal server's ports, laid out like its defaults around 7233 (history 7234, matching
 * 7235, worker 7239, HTTP 7243, membership 6933…6939), shifted to `TEMPORAL_PORT`.
 */
export function temporalServerPorts(frontend: number) {
  return {
    frontendGrpc: frontend,
    historyGrpc: frontend + 1,
    matchingGrpc: frontend + 2,
    metrics: frontend + 5,
    workerGrpc: frontend + 6,
    frontendHttp: frontend + 10,
    frontendMembership: frontend - 300,
    historyMembership: frontend - 299,
    matchingMembership: frontend - 298,
    workerMembership: frontend - 294,
  };
}

/** The ports the API replicas listen on, behind the load balancer on `PORT`. */
export function apiReplicaPorts(config: Pick<ClusterConfig, 'PORT' | 'CLUSTER_API_REPLICAS'>): number[] {
  return Array.from({ length: config.CLUSTER_API_REPLICAS }, (_, i) => config.PORT + 1 + i);
}

/** Every port the cluster listens on, named after the variable it derives from. */
export function clusterPorts(config: ClusterConfig): Array<[string, number]> {
  const temporal = Object.entries(temporalServerPorts(config.TEMPORAL_PORT)).map(
    ([name, value]): [string, number] => [
      name === 'frontendGrpc' ? 'TEMPORAL_PORT' : `TEMPORAL_PORT (${name}, ${value - config.TEMPORAL_PORT})`,
      value,
    ],
  );
  return [
    ['POSTGRES_PORT', config.POSTGRES_PORT],
    ...temporal,
    ['TEMPORAL_UI_PORT', config.TEMPORAL_UI_PORT],
    ['CODEC_SERVER_PORT', config.CODEC_SERVER_PORT],
    ...(config.useEmulator ? [['EMULATOR_PORT', config.EMULATOR_PORT] as [string, number]] : []),
    ['PORT', config.PORT],
    ...apiReplicaPorts(config).map((p, i): [string, number] => [`PORT+${i + 1} (API replica ${i + 1})`, p]),
  ];
}

/**
 * Parses the cluster's configuration.
 * @throws StackConfigError naming every variable that is wrong
 */
export function loadClusterConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): ClusterConfig {
  const parsed = clusterConfigSchema.safeParse(setVariables(withOlderVariableNames(env)));
  if (!parsed.success) throw new StackConfigError(problemLines(parsed.error), 'npm run cluster');
  const c = parsed.data;
  const useEmulator = c.QFPAY_BASE_URL === undefined || isLoopbackUrl(c.QFPAY_BASE_URL);
  const config: ClusterConfig = { ...c, dataDir: resolve(cwd, c.DATA_DIR), useEmulator };
  const problems: string[] = [];
  const temporal = temporalServerPorts(c.TEMPORAL_PORT);
  if (temporal.frontendHttp > MAX_TEMPORAL_PORT || temporal.frontendMembership < 1024) {
    problems.push(
      `TEMPORAL_PORT: ${c.TEMPORAL_PORT} puts the server's ports at ${temporal.frontendMembership}…${temporal.frontendHttp}; ` +
        `they must lie within 1024…${MAX_TEMPORAL_PORT} (Temporal on PostgreSQL stores membership ports as SMALLINT), ` +
        `so TEMPORAL_PORT must be within 1324…${MAX_TEMPORAL_PORT - 10}`,
    );
  }
  const replicaPorts = apiReplicaPorts(c);
  if (replicaPorts.at(-1)! > 65_535)
    problems.push(`PORT: ${c.PORT} leaves no room for the API replicas above it`);
  problems.push(...portClashes(clusterPorts(config)));
  if (problems.length > 0) throw new StackConfigError(problems, 'npm run cluster');
  return config;
}
