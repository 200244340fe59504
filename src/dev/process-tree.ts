/**
 * Finding and stopping every process a command started, including those that left its process
 * group (a supervisor's parts are `detached`), and those whose parent has died (re-parented to
 * init). The test runner and CI's step limit use it so that a hung test file or step never leaves
 * a Java test server, a dev server or an emulator behind.
 *
 * A process belongs to a run when it carries the run's tag in its environment (children inherit
 * it), descends from one that does, or shares a process group with one that does. On a system
 * without `/proc`, only the root's process group is known.
 */
import { readFileSync, readdirSync } from 'node:fs';

/** The environment variable that marks a run's processes. */
export const PROCESS_TAG_VARIABLE = 'QFPAY_ENGINE_RUN_TAG';

interface ProcessInfo {
  pid: number;
  ppid: number;
  pgrp: number;
  command: string;
}

function readProcesses(): ProcessInfo[] | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const list: ProcessInfo[] = [];
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // The command name is in parentheses and may itself hold spaces or parentheses.
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      // fields[0] is the state; a zombie has exited already.
      if (fields[0] === 'Z') continue;
      list.push({
        pid: Number(name),
        ppid: Number(fields[1]),
        pgrp: Number(fields[2]),
        command: stat.slice(stat.indexOf('(') + 1, close),
      });
    } catch {
      // Gone meanwhile.
    }
  }
  return list;
}

/** Whether a process carries `tag`, or a tag nested under it (`tag/…`: a test file of a CI step). */
function carriesTag(pid: number, tag: string): boolean {
  const entry = `${PROCESS_TAG_VARIABLE}=${tag}`;
  try {
    return readFileSync(`/proc/${pid}/environ`, 'latin1')
      .split('\0')
      .some((e) => e === entry || e.startsWith(`${entry}/`));
  } catch {
    return false;
  }
}

/** The pids of this process and its ancestors: never ours to kill. */
function selfAndAncestors(byPid: Map<number, ProcessInfo>): Set<number> {
  const mine = new Set<number>();
  for (let pid: number | undefined = process.pid; pid !== undefined && pid > 0 && !mine.has(pid);) {
    mine.add(pid);
    pid = byPid.get(pid)?.ppid;
  }
  return mine;
}

/**
 * The live processes of a run: those tagged with `tag`, the `roots`, everything that descends from
 * them, and the members of their process groups. This process and its ancestors are never listed.
 */
export function runProcesses({ tag, roots = [] }: { tag?: string; roots?: number[] }): ProcessInfo[] {
  const all = readProcesses();
  if (!all) return [];
  const byPid = new Map(all.map((p) => [p.pid, p]));
  const mine = selfAndAncestors(byPid);
  const found = new Set<number>(roots.filter((pid) => byPid.has(pid)));
  if (tag !== undefined) for (const p of all) if (carriesTag(p.pid, tag)) found.add(p.pid);
  // Never this process's own group: it holds the runner and its other children.
  const ownGroup = byPid.get(process.pid)?.pgrp;
  const groups = new Set([...found].map((pid) => byPid.get(pid)!.pgrp).filter((g) => g !== ownGroup));
  for (const p of all) if (groups.has(p.pgrp)) found.add(p.pid);
  // Descendants, to a fixed point.
  for (let grew = true; grew;) {
    grew = false;
    for (const p of all) {
      if (!found.has(p.pid) && found.has(p.ppid)) {
        found.add(p.pid);
        grew = true;
      }
    }
  }
  return [...found].filter((pid) => !mine.has(pid)).map((pid) => byPid.get(pid)!);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Exited meanwhile, or not ours.
  }
}

/**
 * Stops every process of a run: SIGTERM, then SIGKILL to what is left after `graceMs`, scanning
 * again each time (a dying parent may start or orphan others). Without `/proc`, signals the
 * process group of each root. Returns the processes it found (pid and command), for the report.
 */
export async function stopRun({
  tag,
  roots = [],
  graceMs = 5_000,
}: {
  tag?: string;
  roots?: number[];
  graceMs?: number;
}): Promise<{ pid: number; command: string }[]> {
  if (readProcesses() === undefined) {
    for (const root of roots) signal(-root, 'SIGKILL');
    return [];
  }
  const seen = new Map<number, string>();
  const scan = () => {
    const list = runProcesses({ tag, roots });
    for (const p of list) seen.set(p.pid, p.command);
    return list;
  };
  for (const p of scan()) signal(p.pid, 'SIGTERM');
  const until = Date.now() + graceMs;
  while (Date.now() < until && scan().length > 0) await new Promise((r) => setTimeout(r, 100));
  for (let round = 0; round < 5; round += 1) {
    const left = scan();
    if (left.length === 0) break;
    for (const p of left) signal(p.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
  }
  return [...seen].map(([pid, command]) => ({ pid, command }));
}
