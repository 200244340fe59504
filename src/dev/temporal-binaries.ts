/**
 * Finds the Temporal binaries the project runs against: the CLI (dev server + Web UI) and the
 * Java time-skipping test server. Order: environment variable, then the cache that
 * `npm run provision` fills, then PATH, then the SDK's own download (for users with internet).
 */
import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { EphemeralServerExecutable } from '@temporalio/testing';

export const TEMPORAL_CLI_VERSION = '1.5.1';
export const TEMPORAL_TEST_SERVER_VERSION = '1.38.0';

/** Where provisioned tools are cached (`QFPAY_ENGINE_CACHE`, default `~/.cache/qfpay-engine`). */
export function cacheDir(): string {
  return (
    process.env.QFPAY_ENGINE_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'qfpay-engine')
  );
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
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
