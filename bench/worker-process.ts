/** Starts the engine's worker as a child process and talks to it over IPC. */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type {
  WorkerChildReply,
  WorkerChildRequest,
  WorkerChildStatus,
  WorkerTuning,
} from './worker-protocol';

/** A worker child process. */
export interface WorkerProcess {
  pid: number;
  /** How long `Worker.create` took in the child (bundling included when no bundle is given). */
  createMs: number;
  /** Cache, in-flight work and memory; `gc` runs a full collection first. */
  status(gc?: boolean): Promise<WorkerChildStatus>;
  /** Waits until the worker holds no activation or activity (bounded). */
  idle(timeoutMs?: number): Promise<WorkerChildStatus>;
  /** Graceful shutdown, then SIGKILL if it does not exit in time. */
  stop(): Promise<void>;
}

/** Thrown when the worker child cannot start or stops answering. */
export class WorkerProcessError extends Error {
  readonly type = 'WorkerProcessError' as const;
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'WorkerProcessError';
  }
}

const live = new Set<ChildProcess>();

/** Kills every worker child still running (used on Ctrl-C). */
export function killWorkerProcesses(): void {
  for (const child of live) child.kill('SIGKILL');
}

/**
 * Forks `worker-child.ts` with the engine's environment variables.
 * @param nodeOptions extra Node flags, e.g. a larger `--max-old-space-size`
 * @param env `TEMPORAL_*`, `QFPAY_*`, `WORKER_MAX_CACHED_WORKFLOWS`, `WORKFLOW_BUNDLE_PATH`, …
 */
export async function startWorkerProcess(
  env: Record<string, string>,
  tuning: WorkerTuning = {},
  nodeOptions: string[] = [],
  startTimeoutMs = 120_000,
): Promise<WorkerProcess> {
  const child = fork(join(__dirname, 'worker-child.ts'), [], {
    execArgv: ['--import', 'tsx', '--expose-gc', ...nodeOptions],
    env: { ...process.env, LOG_LEVEL: 'silent', ...env, BENCH_WORKER_OPTIONS: JSON.stringify(tuning) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  live.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => live.delete(child));

  const createMs = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new WorkerProcessError(`worker child not ready within ${startTimeoutMs} ms`)),
      startTimeoutMs,
    );
    child.on('message', (message: WorkerChildReply) => {
      if (message.kind === 'ready') {
        clearTimeout(timer);
        resolve(message.createMs);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new WorkerProcessError(`worker child exited with ${code ?? 'a signal'} before it was ready`));
    });
  });

  let nextId = 1;
  const waiting = new Map<number, (status: WorkerChildStatus) => void>();
  child.on('message', (message: WorkerChildReply) => {
    if (message.kind !== 'status') return;
    const { kind: _kind, id, ...status } = message;
    waiting.get(id)?.(status);
    waiting.delete(id);
  });

  function status(gc = false): Promise<WorkerChildStatus> {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new WorkerProcessError('worker child did not answer a status request within 30 s'));
      }, 30_000);
      waiting.set(id, (s) => {
        clearTimeout(timer);
        resolve(s);
      });
      child.send({ kind: 'status', id, gc } satisfies WorkerChildRequest);
    });
  }

  return {
    pid: child.pid ?? -1,
    createMs,
    status,
    async idle(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let quietSince: number | undefined;
      for (;;) {
        const s = await status();
        const quiet = s.inFlightActivations === 0 && s.inFlightActivities === 0;
        if (quiet) quietSince ??= Date.now();
        else quietSince = undefined;
        // Quiet for a moment: the server may still be handing out the last tasks.
        if (quietSince !== undefined && Date.now() - quietSince >= 300) return s;
        if (Date.now() > deadline) return s;
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (child.connected) child.send({ kind: 'shutdown' } satisfies WorkerChildRequest);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
