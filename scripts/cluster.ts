/**
 * `npm run cluster`: the production topology on this machine — PostgreSQL, the schema job, the
 * Temporal server, the namespace job, the Web UI, the QFPay emulator, N workers and M API
 * replicas behind nginx — supervised as one group until Ctrl-C. See docs/deployment.md.
 *
 * Exit status: 0 after Ctrl-C/SIGTERM, 1 when a part could not start, 78 for a bad configuration.
 */
import { describeClusterPart, startCluster, type RunningCluster } from '../src/dev/cluster';
import { loadClusterConfig } from '../src/dev/cluster-config';
import { runStackCommand } from '../src/dev/stack-command';

function banner(cluster: RunningCluster): string {
  const { urls, config } = cluster;
  const seconds = (cluster.readyMs / 1000).toFixed(1);
  return [
    '',
    `QFPay subscription engine cluster is ready (in ${seconds} s).`,
    '',
    `  API (nginx)     ${urls.api}/v1   (Authorization: Bearer ${cluster.apiKey})`,
    `  API replicas    ${urls.replicas.join('  ')}`,
    `  Webhook         ${urls.webhook}`,
    `  Temporal UI     ${urls.webUi}/namespaces/${config.TEMPORAL_NAMESPACE}/workflows`,
    `  Codec server    ${urls.codecServer}   (the Web UI decrypts payloads through it)`,
    `  Temporal gRPC   ${urls.temporal}   (metrics ${urls.temporalMetrics})`,
    `  PostgreSQL      ${urls.postgres}   (password: POSTGRES_PASSWORD)`,
    ...(urls.emulator ? [`  QFPay emulator  ${urls.emulator}`] : []),
    `  Workers         ${config.CLUSTER_WORKERS} on task queue ${config.TEMPORAL_TASK_QUEUE}`,
    `  Data            ${config.dataDir}`,
    '',
    `  Try it: PORT=${config.PORT} EMULATOR_PORT=${config.EMULATOR_PORT} npm run demo   ·   docs/deployment.md   ·   stop: Ctrl-C`,
    '',
  ].join('\n');
}

runStackCommand({
  name: 'cluster',
  width: 11,
  loadConfig: () => loadClusterConfig(),
  start: (config, say, signal) => startCluster({ config, onProgress: say, signal }),
  parts: (cluster) => cluster.parts(),
  banner,
  describe: describeClusterPart,
}).catch((err: unknown) => {
  process.stderr.write(`npm run cluster failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
