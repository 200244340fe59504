/**
 * The process supervisor behind `npm start` and `npm run cluster`: each part is a child process
 * in its own process group, started by the caller in order and waited for before the next,
 * stopped in reverse order (the part's stop signal, then SIGKILL after a grace period). Before the
 * stack is running, any part that exits fails the start-up; once it is running, a part marked
 * `restart` is started again after an unexpected exit (with a growing delay, like an
 * orchestrator's restart policy), and any other part that exits stops the whole stack and is
 * reported through `failed`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** Why a stack could not start or stopped on its own. */
export type StackErrorType =
  'port_in_use' | 'temporal_cli_missing' | 'prerequisite_missing' | 'part_exited' | 'not_ready' | 'aborted';

/** A failure of a supervisor; `message` is meant for the user as is (no stack trace needed). */
export class StackError extends Error {
  override readonly name = 'StackError';
  constructor(
    readonly type: StackErrorType,
    message: string,
    readonly part?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A part that exited while it should have been running. */
export interface PartExit<Name extends string = string> {
  part: Name;
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface PartInfo<Name extends string = string> {
  name: Name;
  description: string;
  pid: number;
}

/** `exit code 1`, `killed by SIGKILL` and the like. */
export function exitText(exit: Pick<PartExit, 'code' | 'signal'>): string {
  return exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code ?? 'unknown'}`;
}

/** How to run one part. */
export interface PartSpec {
  command: string;
  args: string[];
  /** Its environment; default the supervisor's. */
  env?: NodeJS.ProcessEnv;
  /** The signal that asks it to stop. @default 'SIGTERM' */
  stopSignal?: NodeJS.Signals;
  /**
   * Send the stop signal to the leader only, which stops its own children (PostgreSQL: a signal
   * to every backend at once is not a clean shutdown). @default false: the whole group
   */
  signalLeaderOnly?: boolean;
  /** Drop its output while it is being stopped (servers that complain about their own shutdown). */
  quietWhileStopping?: boolean;
  /** A job that runs to completion: its exit is expected (see {@link Supervisor.completion}). */
  oneShot?: boolean;
  /** Once the stack is running, start it again after an unexpected exit. @default false */
  restart?: boolean;
}

interface Child {
  name: string;
  spec: PartSpec;
  process: ChildProcess;
  startedAt: number;
  exited: Promise<PartExit>;
  hasExited: boolean;
  /** Set once the supervisor asked it to stop: its exit is then expected. */
  stopping: boolean;
}

export interface SupervisorOptions {
  /** Working directory of every part. */
  cwd: string;
  /** Default environment of every part. */
  env: NodeJS.ProcessEnv;
  /** The user-facing name of a part ("the worker"). */
  describe: (name: string) => string;
  output: (part: string, line: string, stream: 'stdout' | 'stderr') => void;
  progress: (message: string) => void;
  /** How long {@link Supervisor.waitFor} and {@link Supervisor.completion} wait. */
  readyTimeoutMs: number;
  /** How long a part gets after its stop signal before SIGKILL. */
  stopGraceMs: number;
  /** Aborting during start-up makes the waits reject with `aborted`. */
  signal?: AbortSignal;
  /** Called with the new pid whenever a part is restarted. */
  onRestart?: (name: string, pid: number) => void;
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));
/** Resolves with 'timeout' after `ms`, without keeping the process alive for it. */
const timeoutAfter = (ms: number) =>
  new Promise<'timeout'>((done) => setTimeout(() => done('timeout'), ms).unref());

/** The longest delay before a crashed part is started again. */
const MAX_RESTART_DELAY_MS = 30_000;
/** A part that ran this long before it exited is restarted at once again. */
const HEALTHY_RUN_MS = 60_000;

function signalGroup(proc: ChildProcess, signal: NodeJS.Signals): void {
  if (proc.pid === undefined) return;
  try {
    // Negative pid: the whole process group, so nothing a part spawned is left behind.
    process.kill(-proc.pid, signal);
  } catch {
    // Already gone.
  }
}

export class Supervisor {
  /** The current process of each part, in start order (a restart keeps the place). */
  private readonly children = new Map<string, Child>();
  private readonly restartDelays = new Map<string, number>();
  private stopping: Promise<void> | undefined;
  private running = false;
  /** The part that died first: the others are stopped because of it and must not be blamed. */
  private firstExit: PartExit | undefined;
  private reportFailure: (exit: PartExit) => void = () => {};
  /** Resolves when a part that is not restarted exits on its own; the rest are stopped by then. */
  readonly failed = new Promise<PartExit>((done) => (this.reportFailure = done));
  // A crash of the supervising process itself must not leave the parts running.
  private readonly onExit = () => this.killAll();

  constructor(private readonly options: SupervisorOptions) {
    process.once('exit', this.onExit);
  }

  /** Starts a part (a job or a server) now. */
  start(name: string, spec: PartSpec): void {
    if (this.options.signal?.aborted) throw new StackError('aborted', 'start-up interrupted', name);
    this.launch(name, spec);
  }

  private launch(name: string, spec: PartSpec): Child {
    const proc = spawn(spec.command, spec.args, {
      cwd: this.options.cwd,
      env: spec.env ?? this.options.env,
      detached: true, // its own process group: a terminal's Ctrl-C reaches only the supervisor
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const child: Child = {
      name,
      spec,
      process: proc,
      startedAt: Date.now(),
      hasExited: false,
      stopping: false,
      exited: new Promise<PartExit>((done) => {
        proc.once('error', (err) => {
          child.hasExited = true;
          this.options.output(name, `cannot run ${spec.command}: ${err.message}`, 'stderr');
          done({ part: name, code: null, signal: null });
        });
        proc.once('exit', (code, signal) => {
          child.hasExited = true;
          done({ part: name, code, signal });
        });
      }),
    };
    for (const [stream, source] of [
      ['stdout', proc.stdout],
      ['stderr', proc.stderr],
    ] as const) {
      if (!source) continue;
      createInterface({ input: source }).on('line', (line) => {
        if (spec.quietWhileStopping && child.stopping) return;
        this.options.output(name, line, stream);
      });
    }
    this.children.set(name, child);
    void child.exited.then((exit) => this.onChildExit(child, exit));
    return child;
  }

  private onChildExit(child: Child, exit: PartExit): void {
    if (child.stopping || this.stopping || child.spec.oneShot) return;
    if (this.running && child.spec.restart) {
      const ranMs = Date.now() - child.startedAt;
      const previous = ranMs >= HEALTHY_RUN_MS ? 0 : (this.restartDelays.get(child.name) ?? 0);
      const delay = previous === 0 ? 1_000 : Math.min(previous * 2, MAX_RESTART_DELAY_MS);
      this.restartDelays.set(child.name, delay);
      this.options.progress(
        `${this.options.describe(child.name)} exited (${exitText(exit)}); restarting it in ${delay / 1000} s`,
      );
      void new Promise((done) => setTimeout(done, delay).unref()).then(() => {
        if (this.stopping || this.children.get(child.name) !== child) return;
        const next = this.launch(child.name, child.spec);
        this.options.progress(`${child.name} pid ${next.process.pid ?? -1} (restarted)`);
        if (next.process.pid !== undefined) this.options.onRestart?.(child.name, next.process.pid);
      });
      return;
    }
    this.firstExit ??= exit;
    void this.stopAll().then(() => this.reportFailure(exit));
  }

  private current(name: string): Child {
    const child = this.children.get(name);
    if (!child) throw new Error(`no part named ${name}`);
    return child;
  }

  /**
   * Polls `probe` until it answers true, failing early if a part exits.
   * @throws StackError `part_exited`, `not_ready` (after `readyTimeoutMs`), `aborted`
   */
  async waitFor(name: string, what: string, probe: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + this.options.readyTimeoutMs;
    for (;;) {
      if (this.options.signal?.aborted) throw new StackError('aborted', 'start-up interrupted', name);
      const child = this.current(name);
      if (this.firstExit !== undefined || child.hasExited) {
        const exit = this.firstExit ?? (await child.exited);
        throw new StackError(
          'part_exited',
          `${this.options.describe(exit.part)} exited during start-up (${exitText(exit)}); see its output above`,
          exit.part,
        );
      }
      if (await probe()) return;
      if (Date.now() > deadline) {
        throw new StackError(
          'not_ready',
          `${this.options.describe(name)} was not ready (${what}) within ${this.options.readyTimeoutMs} ms`,
          name,
        );
      }
      await sleep(200);
    }
  }

  /**
   * Waits for a one-shot part to finish.
   * @throws StackError `part_exited` when it fails, `not_ready` when it does not finish in time
   */
  async completion(name: string): Promise<void> {
    const child = this.current(name);
    const result = await Promise.race([child.exited, timeoutAfter(this.options.readyTimeoutMs)]);
    if (result === 'timeout') {
      throw new StackError(
        'not_ready',
        `${this.options.describe(name)} did not finish within ${this.options.readyTimeoutMs} ms`,
        name,
      );
    }
    if (result.code !== 0) {
      throw new StackError(
        'part_exited',
        `${this.options.describe(name)} failed (${exitText(result)}); see its output above`,
        name,
      );
    }
  }

  /** From now on, parts marked `restart` are started again when they exit. */
  markRunning(): void {
    this.running = true;
  }

  /** The parts that run now (jobs that finished are left out). */
  parts(): Array<{ name: string; pid: number }> {
    return [...this.children.values()]
      .filter((c) => !(c.spec.oneShot && c.hasExited))
      .map((c) => ({ name: c.name, pid: c.process.pid ?? -1 }));
  }

  private async stopChild(child: Child): Promise<void> {
    child.stopping = true;
    if (!child.hasExited) {
      const signal = child.spec.stopSignal ?? 'SIGTERM';
      if (child.spec.signalLeaderOnly) child.process.kill(signal);
      else signalGroup(child.process, signal);
      const grace = timeoutAfter(this.options.stopGraceMs);
      if ((await Promise.race([child.exited, grace])) === 'timeout') signalGroup(child.process, 'SIGKILL');
      await child.exited;
    }
    signalGroup(child.process, 'SIGKILL'); // anything left in its group
  }

  /**
   * Stops one part and starts it again with the same command (a deliberate restart, not a
   * crash); resolves with the new pid once it is launched.
   */
  async restart(name: string): Promise<number> {
    const child = this.current(name);
    this.options.progress(`restarting ${this.options.describe(name)}`);
    await this.stopChild(child);
    const next = this.launch(name, child.spec);
    return next.process.pid ?? -1;
  }

  /**
   * Kills one part without warning (SIGKILL to its whole group, as a crash would) and starts it
   * again at once; resolves with the new pid once it is launched.
   */
  async crash(name: string): Promise<number> {
    const child = this.current(name);
    child.stopping = true;
    signalGroup(child.process, 'SIGKILL');
    await child.exited;
    const next = this.launch(name, child.spec);
    this.options.progress(`${name} killed (SIGKILL) and started again, pid ${next.process.pid ?? -1}`);
    return next.process.pid ?? -1;
  }

  /** Stops one part for good (e.g. the old workers of a rolling upgrade). */
  async stopPart(name: string): Promise<void> {
    const child = this.current(name);
    this.options.progress(`stopping ${this.options.describe(name)}`);
    await this.stopChild(child);
    this.children.delete(name);
  }

  /** Stops every part in reverse start order. Idempotent. */
  stopAll(): Promise<void> {
    this.stopping ??= (async () => {
      for (const child of [...this.children.values()].reverse()) {
        if (!child.hasExited) this.options.progress(`stopping ${this.options.describe(child.name)}`);
        await this.stopChild(child);
      }
      process.removeListener('exit', this.onExit);
    })();
    return this.stopping;
  }

  /** SIGKILLs every part at once (a second Ctrl-C). */
  killAll(): void {
    for (const child of this.children.values()) {
      child.stopping = true;
      signalGroup(child.process, 'SIGKILL');
    }
  }
}

/** `GET url` answers 2xx within 2 s. */
export async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}
