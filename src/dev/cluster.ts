/**
 * `npm run cluster`: the production topology of docker-compose.yml on one machine, without
 * Docker. PostgreSQL (Debian's, as the `postgres` user when run as root), the schema job
 * (deploy/temporal/setup-schema.sh), the Temporal server (all services in one process, rendered
 * from the config template of the temporalio/server image with compose's environment), the
 * namespace job (deploy/temporal/setup-namespace.sh), the Web UI server, the QFPay emulator, N
 * workers, M API replicas and nginx in front of them, all under the supervisor of `npm start`
 * (src/dev/supervisor.ts). The jobs' command lines and the environment of the jobs, the server
 * and the Web UI are read from docker-compose.yml, with only host names, ports and paths
 * replaced. Everything lives under DATA_DIR; a second start carries on with the same data.
 */
import { execFile, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  mkdirSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, delimiter, dirname, join, resolve } from 'node:path';
import type { Connection } from '@temporalio/client';
import { ConfigError, loadConfig } from '../config';
import {
  apiReplicaPorts,
  clusterPorts,
  loadClusterConfig,
  temporalServerPorts,
  type ClusterConfig,
} from './cluster-config';
import { composeEnvironment, composeHostPath, composeJobCommand } from './compose-env';
import { endpointsOf } from './stack-client';
import { StackConfigError } from './stack-config';
import {
  adoptOlderEmulatorState,
  describePortInUse,
  emulatorStateFile,
  ensureTemporalCli,
  partEnvironment,
  portsInUse,
  temporalAnswers,
  workflowPollers,
} from './stack';
import { StackError, Supervisor, httpOk, type PartExit, type PartSpec } from './supervisor';
import {
  findTemporalServer,
  findTemporalUiServer,
  isExecutable,
  onPath,
  type TemporalServerFiles,
} from './temporal-binaries';
import { writeWorkflowBundle } from './workflow-bundle';

const ROOT = resolve(__dirname, '..', '..');

/** The user-facing name of a part of the cluster. */
export function describeClusterPart(name: string): string {
  const fixed: Record<string, string> = {
    initdb: 'the PostgreSQL initialisation (initdb)',
    postgres: 'PostgreSQL',
    schema: 'the schema job (deploy/temporal/setup-schema.sh)',
    temporal: 'the Temporal server',
    namespace: 'the namespace job (deploy/temporal/setup-namespace.sh)',
    'temporal-ui': 'the Temporal Web UI',
    codec: 'the codec server',
    emulator: 'the QFPay emulator',
    lb: 'the load balancer (nginx)',
  };
  const replica = /^(worker|api)-(.+)$/.exec(name);
  if (replica) return `${replica[1] === 'worker' ? 'worker' : 'API replica'} ${replica[2]}`;
  return fixed[name] ?? name;
}

/** What the cluster runs besides Node: found on this machine, or the start is refused. */
export interface ClusterBinaries {
  temporal: TemporalServerFiles;
  ui: { server: string; configDir: string };
  /** The Temporal CLI: the namespace job's `temporal`. */
  cli: string;
  /** The directory of PostgreSQL's `postgres`, `initdb` and `pg_isready`. */
  postgresBin: string;
  nginx: string;
}

/** Debian's newest PostgreSQL (`/usr/lib/postgresql/N/bin`), POSTGRES_BIN_DIR, or `initdb` on PATH. */
export function findPostgresBin(): string | undefined {
  const has = (dir: string) => ['postgres', 'initdb', 'pg_isready'].every((b) => isExecutable(join(dir, b)));
  const fromEnv = process.env.POSTGRES_BIN_DIR;
  if (fromEnv) return has(fromEnv) ? fromEnv : undefined;
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (has(join(debian, v, 'bin'))) return join(debian, v, 'bin');
  }
  const initdb = onPath('initdb');
  return initdb && has(dirname(realpathSync(initdb))) ? dirname(realpathSync(initdb)) : undefined;
}

/** NGINX_PATH, `nginx` on PATH, or Debian's /usr/sbin/nginx. */
export function findNginx(): string | undefined {
  const fromEnv = process.env.NGINX_PATH;
  if (fromEnv) return isExecutable(fromEnv) ? fromEnv : undefined;
  return onPath('nginx') ?? (isExecutable('/usr/sbin/nginx') ? '/usr/sbin/nginx' : undefined);
}

/**
 * Everything the cluster needs, provisioning the Temporal server and Web UI first
 * (`scripts/provision-temporal.sh --cluster`, needs Go) when they are missing.
 * @throws StackError `prerequisite_missing` naming each missing piece and how to get it
 */
export function ensureClusterBinaries(log: (message: string) => void = () => {}): ClusterBinaries {
  const cli = ensureTemporalCli(log);
  if (!findTemporalServer() || !findTemporalUiServer()) {
    log(
      'the Temporal server or Web UI server is missing: building them (scripts/provision-temporal.sh --cluster, needs Go; once only)',
    );
    spawnSync('bash', [join(ROOT, 'scripts', 'provision-temporal.sh'), '--if-possible', '--cluster'], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  const temporal = findTemporalServer();
  const ui = findTemporalUiServer();
  const postgresBin = findPostgresBin();
  const nginx = findNginx();
  const missing: string[] = [];
  if (!temporal)
    missing.push(
      '  - the Temporal server and temporal-sql-tool: install Go >= 1.23 and run npm run provision:cluster',
    );
  if (!ui)
    missing.push('  - the Temporal Web UI server: install Go >= 1.23 and run npm run provision:cluster');
  if (!postgresBin)
    missing.push(
      '  - PostgreSQL (postgres, initdb, pg_isready): apt-get install postgresql, or set POSTGRES_BIN_DIR',
    );
  if (!nginx) missing.push('  - nginx, the load balancer: apt-get install nginx, or set NGINX_PATH');
  if (missing.length > 0 || !temporal || !ui || !postgresBin || !nginx) {
    throw new StackError('prerequisite_missing', ['npm run cluster needs:', ...missing].join('\n'));
  }
  return { temporal, ui, cli, postgresBin, nginx };
}

/** Where the running cluster can be reached. */
export interface ClusterUrls {
  /** The load balancer: the API as merchants and QFPay see it. */
  api: string;
  /** Each API replica directly. */
  replicas: string[];
  openapi: string;
  webhook: string;
  webUi: string;
  /** The codec server the Web UI decrypts payloads through. */
  codecServer: string;
  /** `host:port` of the Temporal server's gRPC frontend. */
  temporal: string;
  /** The Temporal server's Prometheus endpoint. */
  temporalMetrics: string;
  emulator: string | null;
  /** PostgreSQL, without the password. */
  postgres: string;
}

export interface RunningCluster {
  config: ClusterConfig;
  urls: ClusterUrls;
  apiKey: string;
  /** Milliseconds from the call to every part being ready. */
  readyMs: number;
  /** The parts running now, with their current pids (a restarted part has a new one). */
  parts(): Array<{ name: string; description: string; pid: number }>;
  /** Resolves if a part that is not restarted exits on its own (none in this topology). */
  failed: Promise<PartExit>;
  /** Stops a part and starts it again; resolves with its new pid. */
  restart(name: string): Promise<number>;
  /** SIGKILLs a part (a crash) and starts it again at once; resolves with its new pid. */
  crash(name: string): Promise<number>;
  /** Stops one part for good (e.g. the old workers of a rolling upgrade). */
  stopPart(name: string): Promise<void>;
  /**
   * Starts another worker on the task queue, e.g. a new build (`WORKFLOW_BUNDLE_PATH`), and
   * waits until it polls.
   */
  startWorker(name: string, env?: Record<string, string>): Promise<number>;
  stop(): Promise<void>;
  kill(): void;
}

export interface StartClusterOptions {
  config: ClusterConfig;
  onOutput?: (part: string, line: string, stream: 'stdout' | 'stderr') => void;
  onProgress?: (message: string) => void;
  /** The environment the Node parts inherit (default `process.env`); the cluster's settings win. */
  env?: NodeJS.ProcessEnv;
  binaries?: ClusterBinaries;
  signal?: AbortSignal;
  /**
   * Start PostgreSQL, the schema job, the Temporal server and the namespace job only (the
   * benchmark runs its own workers and API against them). `urls` still name the other parts.
   */
  temporalOnly?: boolean;
}

/** Exit status 0 of a short command, within 5 s. */
function succeeds(command: string, args: string[]): Promise<boolean> {
  return new Promise((done) => {
    execFile(command, args, { timeout: 5_000 }, (err) => done(err === null));
  });
}

/** The uid and gid of a system user, or undefined when it does not exist. */
function systemUser(name: string): { uid: number; gid: number } | undefined {
  const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/**
 * PostgreSQL refuses to run as root: as root, its commands run as the `postgres` user
 * (setpriv execs, so the pid is PostgreSQL's own and signals reach it directly).
 */
function databaseCommand(command: string, args: string[]): { command: string; args: string[] } {
  if (process.getuid?.() !== 0) return { command, args };
  return {
    command: 'setpriv',
    args: ['--reuid=postgres', '--regid=postgres', '--clear-groups', '--', command, ...args],
  };
}

/** Prepares DATA_DIR/postgres; returns the password file for a first initdb, if one is needed. */
function preparePostgresDir(pgdata: string, password: string): string | undefined {
  const root = process.getuid?.() === 0;
  const owner = root ? systemUser('postgres') : undefined;
  if (root && !owner) {
    throw new StackError(
      'prerequisite_missing',
      "running as root, PostgreSQL needs the `postgres` system user (Debian's postgresql package creates it)",
    );
  }
  const fresh = !existsSync(join(pgdata, 'PG_VERSION'));
  if (fresh) {
    rmSync(pgdata, { recursive: true, force: true }); // a half-done initdb
    mkdirSync(pgdata, { recursive: true, mode: 0o700 });
    if (owner) chownSync(pgdata, owner.uid, owner.gid);
  }
  if (
    root &&
    spawnSync('setpriv', [
      '--reuid=postgres',
      '--regid=postgres',
      '--clear-groups',
      '--',
      'test',
      '-w',
      pgdata,
    ]).status !== 0
  ) {
    throw new StackError(
      'prerequisite_missing',
      `PostgreSQL runs as the postgres user, which cannot reach ${pgdata}: every directory above DATA_DIR must be ` +
        'searchable by others (chmod o+x), or choose a DATA_DIR under such a directory (e.g. in /var/tmp).',
    );
  }
  if (!fresh) return undefined;
  const pwfile = join(dirname(pgdata), '.postgres-initial-password');
  writeFileSync(pwfile, password, { mode: 0o600 });
  if (owner) chownSync(pwfile, owner.uid, owner.gid);
  return pwfile;
}

/** nginx in front of the API replicas: round robin, the next replica when one refuses. */
export function nginxConfig(listenPort: number, replicaPorts: number[], dir: string): string {
  return `# Written by npm run cluster (src/dev/cluster.ts) on every start.
daemon off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  # Temporary files stay in DATA_DIR; bodies and answers are kept in memory, so the workers
  # (an unprivileged user when nginx starts as root) never need to write there.
  client_body_temp_path ${join(dir, 'tmp', 'body')};
  proxy_temp_path ${join(dir, 'tmp', 'proxy')};
  fastcgi_temp_path ${join(dir, 'tmp', 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'tmp', 'uwsgi')};
  scgi_temp_path ${join(dir, 'tmp', 'scgi')};
  client_max_body_size 1m;
  client_body_buffer_size 1m;
  proxy_max_temp_file_size 0;
  upstream engine_api {
${replicaPorts.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;`).join('\n')}
    keepalive 16;
  }
  server {
    listen 127.0.0.1:${listenPort};
    location / {
      proxy_pass http://engine_api;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      # A replica that refuses the connection (killed, restarting) is skipped: the request
      # goes to the next one. A request already sent is not repeated (POST is not idempotent).
      proxy_next_upstream error timeout;
    }
  }
}
`;
}

/**
 * The flags that make the Temporal server or the Web UI server render `<configDir>/docker.yaml`,
 * the config template of their Docker images, from the environment.
 */
function dockerConfig(configDir: string): string[] {
  return ['--root', dirname(configDir), '--config', basename(configDir), '--env', 'docker'];
}

/** The variables a Go part of the cluster needs from this process, and nothing of the engine's. */
function systemEnvironment(base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'USER'];
  return Object.fromEntries(keep.filter((k) => base[k] !== undefined).map((k) => [k, base[k]]));
}

/**
 * Starts the cluster and resolves once every part is ready.
 * @throws StackConfigError when the engine's parts would refuse the configuration
 * @throws StackError `port_in_use`, `prerequisite_missing` (nothing started), `part_exited` /
 *   `not_ready` (what was started is stopped again), `aborted`
 */
export async function startCluster(options: StartClusterOptions): Promise<RunningCluster> {
  const started = Date.now();
  const { config } = options;
  const progress = options.onProgress ?? (() => {});
  const output =
    options.onOutput ??
    ((part: string, line: string, stream: 'stdout' | 'stderr') =>
      (stream === 'stdout' ? process.stdout : process.stderr).write(`${part.padEnd(11)} | ${line}\n`));
  const base = options.env ?? process.env;
  const env = partEnvironment(config, base);
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) throw new StackConfigError(err.problems, 'npm run cluster');
    throw err;
  }
  const taken = await portsInUse(
    clusterPorts(config).map(([variable, port]) => ({ variable, port, what: 'npm run cluster' })),
  );
  if (taken.length > 0) throw new StackError('port_in_use', taken.map(describePortInUse).join('\n'));
  const bin = options.binaries ?? ensureClusterBinaries(progress);

  const { dataDir } = config;
  mkdirSync(dataDir, { recursive: true });
  if (adoptOlderEmulatorState(dataDir)) {
    progress(`renamed the emulator's state file to ${emulatorStateFile(dataDir)}`);
  }
  // The jobs call `temporal-sql-tool` and `temporal` by name, as in the admin-tools image.
  const binDir = join(dataDir, 'bin');
  rmSync(binDir, { recursive: true, force: true });
  mkdirSync(binDir, { recursive: true });
  symlinkSync(bin.temporal.sqlTool, join(binDir, 'temporal-sql-tool'));
  symlinkSync(bin.cli, join(binDir, 'temporal'));
  const system = systemEnvironment(base);
  const jobPath = `${binDir}${delimiter}${base.PATH ?? ''}`;
  // Compose's variables: the values docker-compose.yml interpolates.
  const composeVars = {
    ...base,
    POSTGRES_PASSWORD: config.POSTGRES_PASSWORD,
    TEMPORAL_NAMESPACE: config.TEMPORAL_NAMESPACE,
  };
  const dbUser = composeEnvironment('postgresql', composeVars).POSTGRES_USER ?? 'temporal';

  const supervisor = new Supervisor({
    cwd: ROOT,
    env,
    describe: describeClusterPart,
    output: (part, line, stream) => {
      // The sql tool logs every statement at DEBUG on a first start: hundreds of lines.
      if (part === 'schema' && line.includes('DEBUG')) return;
      output(part, line, stream);
    },
    progress,
    readyTimeoutMs: config.STACK_READY_TIMEOUT_MS,
    stopGraceMs: config.STACK_STOP_GRACE_MS,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const node = (entry: string, extra: Record<string, string> = {}): PartSpec => ({
    command: process.execPath,
    args: ['--import', 'tsx', entry],
    env: { ...env, ...extra },
    restart: true,
  });

  const ports = temporalServerPorts(config.TEMPORAL_PORT);
  const temporalAddress = `127.0.0.1:${config.TEMPORAL_PORT}`;
  const { webUiUrl: webUi, emulatorUrl, apiUrl, apiKey } = endpointsOf(config);
  const replicaUrls = apiReplicaPorts(config).map((p) => `http://127.0.0.1:${p}`);
  const codecServer = `http://127.0.0.1:${config.CODEC_SERVER_PORT}`;
  let connection: Connection | undefined;

  function finish(): RunningCluster {
    supervisor.markRunning();
    return {
      config,
      urls: {
        api: apiUrl,
        replicas: replicaUrls,
        openapi: `${apiUrl}/openapi.json`,
        webhook: `${apiUrl}/webhooks/qfpay`,
        webUi,
        codecServer,
        temporal: temporalAddress,
        temporalMetrics: `http://127.0.0.1:${ports.metrics}/metrics`,
        emulator: config.useEmulator ? emulatorUrl : null,
        postgres: `postgresql://${dbUser}@127.0.0.1:${config.POSTGRES_PORT}/temporal`,
      },
      apiKey,
      readyMs: Date.now() - started,
      parts: () => supervisor.parts().map((p) => ({ ...p, description: describeClusterPart(p.name) })),
      failed: supervisor.failed,
      restart: (name) => supervisor.restart(name),
      crash: (name) => supervisor.crash(name),
      stopPart: (name) => supervisor.stopPart(name),
      startWorker,
      async stop() {
        await connection?.close().catch(() => {});
        await supervisor.stopAll();
      },
      kill: () => supervisor.killAll(),
    };
  }

  const startWorker = async (name: string, extra: Record<string, string> = {}): Promise<number> => {
    supervisor.start(name, node('worker.ts', extra));
    const pid = supervisor.parts().find((p) => p.name === name)!.pid;
    // The SDK's default identity: the poller of this very process.
    const identity = `${pid}@${hostname()}`;
    await supervisor.waitFor(name, 'polling its task queue', async () => {
      connection ??= await temporalAnswers(temporalAddress);
      if (!connection) return false;
      const pollers = await workflowPollers(
        connection,
        config.TEMPORAL_NAMESPACE,
        config.TEMPORAL_TASK_QUEUE,
      );
      return pollers.includes(identity);
    });
    return pid;
  };

  try {
    // PostgreSQL.
    const pgdata = join(dataDir, 'postgres');
    const pwfile = preparePostgresDir(pgdata, config.POSTGRES_PASSWORD);
    if (pwfile) {
      progress(`initialising PostgreSQL in ${pgdata} (user ${dbUser})`);
      supervisor.start('initdb', {
        ...databaseCommand(join(bin.postgresBin, 'initdb'), [
          '-D',
          pgdata,
          '-U',
          dbUser,
          `--pwfile=${pwfile}`,
          '--auth-host=scram-sha-256',
          '--auth-local=peer',
          '--encoding=UTF8',
          '--no-locale',
        ]),
        oneShot: true,
      });
      try {
        await supervisor.completion('initdb');
      } finally {
        rmSync(pwfile, { force: true });
      }
    }
    progress(`starting PostgreSQL on 127.0.0.1:${config.POSTGRES_PORT} (data: ${pgdata})`);
    supervisor.start('postgres', {
      ...databaseCommand(join(bin.postgresBin, 'postgres'), [
        '-D',
        pgdata,
        '-p',
        String(config.POSTGRES_PORT),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'unix_socket_directories=',
        // The server's stores open up to SQL_MAX_CONNS (20) + SQL_VIS_MAX_CONNS (10) each.
        '-c',
        'max_connections=200',
      ]),
      // SIGINT is PostgreSQL's fast shutdown, to the postmaster only: it stops its own backends.
      stopSignal: 'SIGINT',
      signalLeaderOnly: true,
      restart: true,
    });
    const pgIsReady = join(bin.postgresBin, 'pg_isready');
    await supervisor.waitFor('postgres', 'pg_isready', () =>
      succeeds(pgIsReady, [
        '-h',
        '127.0.0.1',
        '-p',
        String(config.POSTGRES_PORT),
        '-U',
        dbUser,
        '-d',
        'postgres',
      ]),
    );

    // The schema job: compose's temporal-schema service, on the host.
    const [schemaCommand, ...schemaArgs] = composeJobCommand('temporal-schema');
    progress(`running ${describeClusterPart('schema')}`);
    supervisor.start('schema', {
      command: schemaCommand!,
      args: schemaArgs,
      env: {
        ...system,
        ...composeEnvironment('temporal-schema', composeVars),
        POSTGRES_SEEDS: '127.0.0.1',
        DB_PORT: String(config.POSTGRES_PORT),
        TEMPORAL_SCHEMA_DIR: bin.temporal.schemaDir,
        PATH: jobPath,
      },
      oneShot: true,
    });
    await supervisor.completion('schema');

    // The Temporal server: compose's temporal service, rendered by the image's config template.
    const serverCompose = composeEnvironment('temporal', composeVars);
    const dynamicConfig = composeHostPath('temporal', serverCompose.DYNAMIC_CONFIG_FILE_PATH ?? '');
    if (!dynamicConfig) throw new Error('docker-compose.yml: the temporal service mounts no dynamic config');
    progress(
      `starting ${describeClusterPart('temporal')} on ${temporalAddress} (ports ${ports.frontendMembership}…${ports.frontendHttp})`,
    );
    supervisor.start('temporal', {
      command: bin.temporal.server,
      args: [...dockerConfig(bin.temporal.configDir), '--allow-no-auth', 'start'],
      env: {
        ...system,
        ...serverCompose,
        POSTGRES_SEEDS: '127.0.0.1',
        DB_PORT: String(config.POSTGRES_PORT),
        // The template takes the visibility store's port from VISIBILITY_DB_PORT or POSTGRES_PORT,
        // not DB_PORT (compose's 5432 is the default, which hides it).
        VISIBILITY_DB_PORT: String(config.POSTGRES_PORT),
        BIND_ON_IP: '127.0.0.1',
        DYNAMIC_CONFIG_FILE_PATH: dynamicConfig,
        PROMETHEUS_ENDPOINT: `127.0.0.1:${ports.metrics}`,
        FRONTEND_GRPC_PORT: String(ports.frontendGrpc),
        FRONTEND_HTTP_PORT: String(ports.frontendHttp),
        FRONTEND_MEMBERSHIP_PORT: String(ports.frontendMembership),
        HISTORY_GRPC_PORT: String(ports.historyGrpc),
        HISTORY_MEMBERSHIP_PORT: String(ports.historyMembership),
        MATCHING_GRPC_PORT: String(ports.matchingGrpc),
        MATCHING_MEMBERSHIP_PORT: String(ports.matchingMembership),
        WORKER_GRPC_PORT: String(ports.workerGrpc),
        WORKER_MEMBERSHIP_PORT: String(ports.workerMembership),
        LOG_LEVEL: config.TEMPORAL_LOG_LEVEL,
      },
      quietWhileStopping: true,
      restart: true,
    });
    await supervisor.waitFor('temporal', 'gRPC GetSystemInfo', async () => {
      connection ??= await temporalAnswers(temporalAddress);
      return connection !== undefined;
    });

    // The namespace job: compose's temporal-setup service, on the host.
    const [setupCommand, ...setupArgs] = composeJobCommand('temporal-setup');
    progress(`running ${describeClusterPart('namespace')}`);
    supervisor.start('namespace', {
      command: setupCommand!,
      args: setupArgs,
      env: {
        ...system,
        ...composeEnvironment('temporal-setup', composeVars),
        TEMPORAL_ADDRESS: temporalAddress,
        PATH: jobPath,
      },
      oneShot: true,
    });
    await supervisor.completion('namespace');
    // The frontend's namespace cache catches up within seconds; the engine needs it to.
    await supervisor.waitFor('temporal', `namespace ${config.TEMPORAL_NAMESPACE} usable`, async () => {
      try {
        await connection!.workflowService.listWorkflowExecutions({
          namespace: config.TEMPORAL_NAMESPACE,
          pageSize: 1,
          query: 'SubscriptionState = "ACTIVE"',
        });
        return true;
      } catch {
        return false;
      }
    });

    if (options.temporalOnly) return finish();

    // The codec server (compose's codec-server), which the Web UI decrypts payloads through.
    progress(`starting ${describeClusterPart('codec')} on ${codecServer}`);
    supervisor.start('codec', node(join('src', 'codec-server', 'main.ts')));
    await supervisor.waitFor('codec', '/healthz', () => httpOk(`${codecServer}/healthz`));

    // The Web UI: compose's temporal-ui service.
    progress(`starting ${describeClusterPart('temporal-ui')} on ${webUi}`);
    supervisor.start('temporal-ui', {
      command: bin.ui.server,
      args: [...dockerConfig(bin.ui.configDir), 'start'],
      env: {
        ...system,
        ...composeEnvironment('temporal-ui', composeVars),
        TEMPORAL_ADDRESS: temporalAddress,
        TEMPORAL_UI_PORT: String(config.TEMPORAL_UI_PORT),
        TEMPORAL_CORS_ORIGINS: `${webUi},http://localhost:${config.TEMPORAL_UI_PORT}`,
        TEMPORAL_DEFAULT_NAMESPACE: config.TEMPORAL_NAMESPACE,
        TEMPORAL_CODEC_ENDPOINT: codecServer,
      },
      restart: true,
    });
    await supervisor.waitFor('temporal-ui', 'HTTP', () => httpOk(webUi));

    if (config.useEmulator) {
      progress(`starting ${describeClusterPart('emulator')} on ${emulatorUrl}`);
      supervisor.start('emulator', node(join('src', 'gateways', 'qfpay', 'emulator', 'main.ts')));
      await supervisor.waitFor('emulator', '/healthz', () => httpOk(`${emulatorUrl}/healthz`));
    }

    // Like the image (Dockerfile): every worker starts from one prebuilt workflow bundle.
    if (!env.WORKFLOW_BUNDLE_PATH) {
      progress('bundling the workflow code once for every worker');
      env.WORKFLOW_BUNDLE_PATH = await writeWorkflowBundle(join(dataDir, 'workflow-bundle.js'));
    }
    for (let i = 1; i <= config.CLUSTER_WORKERS; i += 1) {
      progress(`starting ${describeClusterPart(`worker-${i}`)} on task queue ${config.TEMPORAL_TASK_QUEUE}`);
      await startWorker(`worker-${i}`);
    }

    for (const [i, url] of replicaUrls.entries()) {
      const name = `api-${i + 1}`;
      progress(`starting ${describeClusterPart(name)} on ${url}`);
      supervisor.start(name, node(join('src', 'api', 'main.ts'), { PORT: new URL(url).port }));
      await supervisor.waitFor(name, '/readyz', () => httpOk(`${url}/readyz`));
    }

    const nginxDir = join(dataDir, 'nginx');
    mkdirSync(join(nginxDir, 'tmp'), { recursive: true });
    chmodSync(nginxDir, 0o755);
    const nginxConf = join(nginxDir, 'nginx.conf');
    writeFileSync(nginxConf, nginxConfig(config.PORT, apiReplicaPorts(config), nginxDir));
    progress(`starting ${describeClusterPart('lb')} on ${apiUrl} → ${replicaUrls.join(', ')}`);
    supervisor.start('lb', {
      command: bin.nginx,
      args: ['-e', 'stderr', '-p', nginxDir, '-c', nginxConf],
      // SIGQUIT: nginx's graceful shutdown, finishing the requests in flight.
      stopSignal: 'SIGQUIT',
      signalLeaderOnly: true,
      restart: true,
    });
    await supervisor.waitFor('lb', '/readyz through it', () => httpOk(`${apiUrl}/readyz`));
  } catch (err) {
    await connection?.close().catch(() => {});
    await supervisor.stopAll();
    throw err;
  }
  return finish();
}

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
      EMULATOR_PORT: String(base + 21),
      TEMPORAL_UI_PORT: String(base + 22),
      TEMPORAL_PORT: String(base + 400), // membership ports at base+100…, HTTP at base+410
      CLUSTER_WORKERS: String(settings.workers),
      CLUSTER_API_REPLICAS: String(settings.replicas),
      DATA_DIR: dataDir,
    };
    const config = loadClusterConfig(env);
    const wanted = clusterPorts(config).map(([variable, port]) => ({ variable, port, what: 'a cluster' }));
    if ((await portsInUse(wanted)).length === 0) return env;
  }
  throw new StackError('port_in_use', 'no free port layout for a cluster between 10000 and 32767');
}

/**
 * A temporary DATA_DIR. PostgreSQL runs as the `postgres` user when run as root, so the
 * directory must be reachable by others (mkdtemp makes it private).
 */
export function temporaryClusterDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'qfpay-cluster-'));
  chmodSync(dir, 0o755);
  return dir;
}
