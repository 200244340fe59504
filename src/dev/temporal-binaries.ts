/**
 * Finds the Temporal binaries the project runs against: the CLI (dev server + Web UI), the
 * Java time-skipping test server and, for `npm run cluster`, the Temporal server with its SQL
 * tool and the Web UI server. Order: environment variable, then the cache that
 * `npm run provision` fills, then PATH, then (CLI and test server only) the SDK's own download.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import type { EphemeralServerExecutable } from '@temporalio/testing';

export const TEMPORAL_CLI_VERSION = '1.5.1';
export const TEMPORAL_TEST_SERVER_VERSION = '1.38.0';
/** The server and Web UI versions the CLI embeds (scripts/provision-temporal.sh --cluster). */
export const TEMPORAL_SERVER_VERSION = '1.29.1';
export const TEMPORAL_UI_SERVER_VERSION = '2.42.1';

/** Where provisioned tools are cached (`QFPAY_ENGINE_CACHE`, default `~/.cache/qfpay-engine`). */
export function cacheDir(): string {
  return (
    process.env.QFPAY_ENGINE_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'qfpay-engine')
  );
}

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function find(envVar: string, cached: string, pathName: string): string | undefined {
  const fromEnv = process.env[envVar];
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new Error(`${envVar}=${fromEnv} is not an executable file`);
    return fromEnv;
  }
  if (isExecutable(cached)) return cached;
  return onPath(pathName);
}

/** Path of the Temporal CLI, or undefined when only the SDK download is left. */
export function findTemporalCli(): string | undefined {
  return find(
    'TEMPORAL_CLI_PATH',
    join(cacheDir(), `temporal-cli-${TEMPORAL_CLI_VERSION}`, 'temporal'),
    'temporal',
  );
}

/** Path of the time-skipping test server, or undefined when only the SDK download is left. */
export function findTestServer(): string | undefined {
  return find(
    'TEMPORAL_TEST_SERVER_PATH',
    join(cacheDir(), `temporal-test-server-${TEMPORAL_TEST_SERVER_VERSION}`, 'temporal-test-server'),
    'temporal-test-server',
  );
}

/** The SDK's executable option for the dev server. */
export function devServerExecutable(): EphemeralServerExecutable {
  const path = findTemporalCli();
  return path ? { type: 'existing-path', path } : { type: 'cached-download' };
}

/** The SDK's executable option for the time-skipping test server. */
export function testServerExecutable(): EphemeralServerExecutable {
  const path = findTestServer();
  return path ? { type: 'existing-path', path } : { type: 'cached-download' };
}

/**
 * The Temporal server of `npm run cluster`: its binary and SQL tool, the config template the
 * temporalio/server image renders from its environment (`config/docker.yaml`) and the PostgreSQL
 * schema files, laid out as the provisioning caches them (a binary given by variable or found on
 * PATH needs `config/` and `schema/` beside it too).
 */
export interface TemporalServerFiles {
  server: string;
  sqlTool: string;
  /** Holds `docker.yaml`: run with `--config <it> --env docker`. */
  configDir: string;
  /** `schema/postgresql/v12`, with `temporal/versioned` and `visibility/versioned`. */
  schemaDir: string;
}

/** The Temporal server's files, or undefined when any is missing. */
export function findTemporalServer(): TemporalServerFiles | undefined {
  const cached = join(cacheDir(), `temporal-server-${TEMPORAL_SERVER_VERSION}`);
  const server = find('TEMPORAL_SERVER_PATH', join(cached, 'temporal-server'), 'temporal-server');
  const sqlTool = find('TEMPORAL_SQL_TOOL_PATH', join(cached, 'temporal-sql-tool'), 'temporal-sql-tool');
  if (!server || !sqlTool) return undefined;
  const configDir = join(dirname(server), 'config');
  const schemaDir = join(dirname(sqlTool), 'schema', 'postgresql', 'v12');
  if (!existsSync(join(configDir, 'docker.yaml')) || !existsSync(schemaDir)) return undefined;
  return { server, sqlTool, configDir, schemaDir };
}

/** The Web UI server and the directory of its `docker.yaml` config template, if found. */
export function findTemporalUiServer(): { server: string; configDir: string } | undefined {
  const server = find(
    'TEMPORAL_UI_SERVER_PATH',
    join(cacheDir(), `temporal-ui-server-${TEMPORAL_UI_SERVER_VERSION}`, 'temporal-ui-server'),
    'temporal-ui-server',
  );
  if (!server) return undefined;
  const configDir = join(dirname(server), 'config');
  return existsSync(join(configDir, 'docker.yaml')) ? { server, configDir } : undefined;
}
