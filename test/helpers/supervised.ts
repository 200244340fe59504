/**
 * Runs a stack command (`scripts/start.ts`, `scripts/cluster.ts`) as a user does: a child
 * process with its output collected, waited for until its banner says it is ready, stopped with
 * SIGINT. Its parts' pids come from its `<name> | <part> pid <pid>` lines.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

export interface Supervised {
  process: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  /** The pids the command printed, by part (the latest for a restarted part). */
  pids: () => Record<string, number>;
}

/** Spawns `scripts/<script>.ts` with `env` over this process's environment, collecting its output. */
function spawnScript(script: string, args: string[], env: NodeJS.ProcessEnv) {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.NODE_TEST_CONTEXT;
  const proc = spawn(process.execPath, ['--import', 'tsx', join('scripts', `${script}.ts`), ...args], {
    cwd: root,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  proc.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
  proc.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<number | null>((done) => proc.once('exit', (code) => done(code)));
  return { proc, output: () => text, exited };
}

/** Runs `scripts/<script>.ts` to its end: its exit code and output. */
export async function runScript(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; output: string }> {
  const run = spawnScript(script, args, env);
  return { code: await run.exited, output: run.output() };
}

/** Starts `scripts/<script>` with `env` over this process's environment. */
export function startSupervised(script: 'start' | 'cluster', env: NodeJS.ProcessEnv): Supervised {
  const { proc, output, exited } = spawnScript(script, [], env);
  const pids = () => {
    const found: Record<string, number> = {};
    for (const m of output().matchAll(new RegExp(`^${script}\\s+\\| ([\\w-]+) pid (\\d+)`, 'gm')))
      found[m[1]!] = Number(m[2]);
    return found;
  };
  return { process: proc, output, exited, pids };
}

/** Waits until the output matches `pattern` (bounded, as a hang guard). */
export async function untilOutput(s: Supervised, pattern: RegExp, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(s.output())) {
    if (s.process.exitCode !== null) assert.fail(`the command exited early:\n${s.output().slice(-4000)}`);
    if (Date.now() > deadline) assert.fail(`no ${pattern} in ${timeoutMs} ms:\n${s.output().slice(-4000)}`);
    await new Promise((done) => setTimeout(done, 200));
  }
}

/** Waits for the ready banner; returns the parts' pids. */
export async function untilReady(s: Supervised, timeoutMs = 90_000): Promise<Record<string, number>> {
  await untilOutput(s, /is ready \(in [\d.]+ s\)/, timeoutMs);
  return s.pids();
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGINT, then its exit code (a bounded wait: a stop that hangs fails). */
export async function stopWithSigint(s: Supervised, timeoutMs = 45_000): Promise<number | null> {
  s.process.kill('SIGINT');
  const timeout = new Promise<'timeout'>((done) => setTimeout(() => done('timeout'), timeoutMs).unref());
  const code = await Promise.race([s.exited, timeout]);
  assert.notEqual(code, 'timeout', `did not stop after SIGINT:\n${s.output().slice(-4000)}`);
  return code as number | null;
}
