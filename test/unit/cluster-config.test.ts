/**
 * The configuration of `npm run cluster` and what it reads from docker-compose.yml: its port
 * layout (below PostgreSQL's SMALLINT limit, no clash, beside npm start's defaults), Compose's
 * interpolation, and the compose services whose jobs and environment the cluster runs.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { nginxConfig } from '../../src/dev/cluster';
import {
  MAX_TEMPORAL_PORT,
  apiReplicaPorts,
  clusterPorts,
  loadClusterConfig,
  temporalServerPorts,
} from '../../src/dev/cluster-config';
import {
  ComposeVariableError,
  composeEnvironment,
  composeHostPath,
  composeJobCommand,
  interpolate,
} from '../../src/dev/compose-env';
import { StackConfigError, loadStackConfig } from '../../src/dev/stack-config';

const root = join(__dirname, '..', '..');

describe('cluster configuration', () => {
  it('runs beside npm start with the defaults: no port in common', () => {
    const cluster = loadClusterConfig({});
    const start = loadStackConfig({});
    const startPorts = new Set([
      start.PORT,
      start.TEMPORAL_PORT,
      start.TEMPORAL_UI_PORT,
      start.CODEC_SERVER_PORT,
      start.EMULATOR_PORT,
    ]);
    for (const [name, port] of clusterPorts(cluster)) assert.ok(!startPorts.has(port), `${name} ${port}`);
    assert.equal(cluster.CLUSTER_WORKERS, 2);
    assert.deepEqual(apiReplicaPorts(cluster), [3101, 3102]);
  });

  it("lays the server's ports out like Temporal's defaults around TEMPORAL_PORT", () => {
    assert.deepEqual(temporalServerPorts(7233), {
      frontendGrpc: 7233,
      historyGrpc: 7234,
      matchingGrpc: 7235,
      metrics: 7238,
      workerGrpc: 7239,
      frontendHttp: 7243,
      frontendMembership: 6933,
      historyMembership: 6934,
      matchingMembership: 6935,
      workerMembership: 6939,
    });
  });

  it('refuses a TEMPORAL_PORT whose layout passes the SMALLINT membership-port limit', () => {
    assert.doesNotThrow(() => loadClusterConfig({ TEMPORAL_PORT: String(MAX_TEMPORAL_PORT - 10) }));
    assert.throws(
      () => loadClusterConfig({ TEMPORAL_PORT: String(MAX_TEMPORAL_PORT - 9) }),
      (err: unknown) => err instanceof StackConfigError && /TEMPORAL_PORT: .*SMALLINT/.test(err.message),
    );
    assert.throws(() => loadClusterConfig({ TEMPORAL_PORT: '1000' }), StackConfigError);
  });

  it('names ports that clash, including the API replicas above PORT and the derived server ports', () => {
    assert.throws(
      () => loadClusterConfig({ PORT: '5000', EMULATOR_PORT: '5002' }),
      (err: unknown) =>
        err instanceof StackConfigError &&
        /PORT\+2 \(API replica 2\): 5002 is also EMULATOR_PORT/.test(err.message),
    );
    assert.throws(
      () => loadClusterConfig({ TEMPORAL_PORT: '7433', POSTGRES_PORT: '7434' }),
      (err: unknown) => err instanceof StackConfigError && /7434/.test(err.message),
    );
  });

  it('writes nginx a round-robin upstream over every replica', () => {
    const conf = nginxConfig(3100, [3101, 3102, 3103], '/data/nginx');
    assert.match(conf, /listen 127\.0\.0\.1:3100;/);
    for (const p of [3101, 3102, 3103]) assert.match(conf, new RegExp(`server 127\\.0\\.0\\.1:${p} `));
    assert.match(conf, /daemon off;/);
    assert.match(conf, /pid \/data\/nginx\/nginx\.pid;/);
  });
});

describe('docker-compose.yml as the cluster reads it', () => {
  it('interpolates like Compose', () => {
    const vars = { SET: 'value', EMPTY: '' };
    assert.equal(interpolate('${SET}-${UNSET}', vars), 'value-');
    assert.equal(
      interpolate('${UNSET:-fallback} ${EMPTY:-fallback} ${EMPTY-kept}', vars),
      'fallback fallback ',
    );
    assert.equal(interpolate('$$SET $SET', vars), '$SET value');
    assert.equal(interpolate('${SET:?needed}', vars), 'value');
    assert.throws(() => interpolate('${EMPTY:?set EMPTY}', vars), ComposeVariableError);
  });

  it("runs the schema and namespace jobs' own scripts from the repository", () => {
    assert.deepEqual(composeJobCommand('temporal-schema'), [
      '/bin/sh',
      join(root, 'deploy', 'temporal', 'setup-schema.sh'),
    ]);
    assert.deepEqual(composeJobCommand('temporal-setup'), [
      '/bin/sh',
      join(root, 'deploy', 'temporal', 'setup-namespace.sh'),
    ]);
  });

  it('has every variable the cluster replaces with a host value', () => {
    const vars = { POSTGRES_PASSWORD: 'pw' };
    const has = (service: string, keys: string[]) => {
      const env = composeEnvironment(service, vars);
      for (const key of keys) assert.ok(key in env, `${service} sets ${key}`);
      return env;
    };
    has('postgresql', ['POSTGRES_USER']);
    assert.equal(
      has('temporal-schema', ['POSTGRES_SEEDS', 'DB_PORT', 'POSTGRES_USER', 'SQL_PASSWORD']).SQL_PASSWORD,
      'pw',
    );
    const server = has('temporal', [
      'DB',
      'POSTGRES_SEEDS',
      'DB_PORT',
      'POSTGRES_USER',
      'POSTGRES_PWD',
      'BIND_ON_IP',
      'DYNAMIC_CONFIG_FILE_PATH',
      'PROMETHEUS_ENDPOINT',
    ]);
    assert.equal(server.DB, 'postgres12');
    const dynamic = composeHostPath('temporal', server.DYNAMIC_CONFIG_FILE_PATH!);
    assert.equal(dynamic, join(root, 'deploy', 'temporal', 'dynamicconfig', 'production-sql.yaml'));
    assert.ok(existsSync(dynamic));
    has('temporal-setup', ['TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE', 'TEMPORAL_NAMESPACE_RETENTION']);
    has('temporal-ui', ['TEMPORAL_ADDRESS']);
  });

  it('refuses to run without the secrets compose requires', () => {
    assert.throws(() => composeEnvironment('temporal', {}), ComposeVariableError);
  });
});
