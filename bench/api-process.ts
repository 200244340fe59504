/**
 * Runs the engine's API as its own process (`src/api/main.ts`, the production entry point), so
 * the load generator and the API do not share an event loop: autocannon in the benchmark's
 * process, the API in another, as a merchant's traffic would meet it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '../src/dev/free-ports';

export interface ApiProcess {
  pid: number;
  url: string;
  /** SIGTERM (the API drains in-flight requests), then SIGKILL if it does not exit in time. */
  stop(): Promise<void>;
}

/** Thrown when the API process cannot start. */
export class ApiProcessError extends Error {
  readonly type = 'ApiProcessError' as const;
}

const ROOT = join(__dirname, '..');

const live = new Set<ChildProcess>();
// However the benchmark ends, no API process outlives it.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * Starts `src/api/main.ts` with the engine's environment variables and waits for `/readyz`.
 * @param env `TEMPORAL_*`, `QFPAY_*`, `API_KEYS`, … (`PORT` is chosen here)
 * @param entry the process's module: the API by default, `bench/bare-webhook-api.ts` for lever 5
 */
export async function startApiProcess(
  env: Record<string, string>,
  startTimeoutMs = 60_000,
  entry = join(ROOT, 'src', 'api', 'main.ts'),
): Promise<ApiProcess> {
  const port = await freePort();
  // `--api-cpu-prof DIR`: the API writes a V8 CPU profile there when it stops (bench/api-profile.ts).
  const profile = env.BENCH_API_CPU_PROF_DIR
    ? ['--cpu-prof', `--cpu-prof-dir=${env.BENCH_API_CPU_PROF_DIR}`]
    : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', entry], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'silent', ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  live.add(child);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      live.delete(child);
      resolve(code);
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + startTimeoutMs;
  let gone: number | null | undefined;
  void exited.then((code) => (gone = code));
  for (;;) {
    if (gone !== undefined)
      throw new ApiProcessError(`the API process exited with ${gone ?? 'a signal'} before it was ready`);
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await stop();
      throw new ApiProcessError(`the API process was not ready within ${startTimeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { pid: child.pid ?? -1, url, stop };
}
