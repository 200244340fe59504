/**
 * The engine's worker as a process of its own (`worker.ts`, as production runs it), so that a test
 * can crash it: SIGKILL, with no drain and no word to the Temporal server, its activities and
 * workflow tasks left in flight. Another is started on the same task queue as a restart would.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

export interface WorkerProcess {
  process: ChildProcess;
  /** The last part of what it printed (for a failure's message). */
  output(): string;
  /** SIGKILLs it; resolves once it is gone. */
  kill(): Promise<void>;
}

/**
 * Starts `worker.ts` with `env` over this process's environment; resolves once it says it started
 * (polling its task queue). Bounded only as a hang guard.
 */
export async function startWorkerProcess(
  env: Record<string, string>,
  guardMs = 180_000,
): Promise<WorkerProcess> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'info', LOG_FORMAT: 'json', ...env };
  delete childEnv.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, ['--import', 'tsx', 'worker.ts'], {
    cwd: root,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const collect = (chunk: Buffer) => (text = (text + chunk.toString()).slice(-20_000));
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const worker: WorkerProcess = {
    process: child,
    output: () => text,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
  const deadline = Date.now() + guardMs;
  while (!/worker started/.test(text)) {
    if (child.exitCode !== null) assert.fail(`the worker exited with ${child.exitCode}:\n${text}`);
    if (Date.now() > deadline) {
      await worker.kill();
      assert.fail(`the worker did not start within ${guardMs} ms:\n${text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return worker;
}
