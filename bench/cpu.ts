/**
 * CPU time of the stack's processes, from Linux's /proc: the API, the worker, the Temporal server
 * (the process listening on the frontend's port) and the bench process itself (the load generator
 * and the emulator). Where /proc is missing the figures are `null` ("unmeasured").
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import type { BenchStack } from './stack';

/** The processes whose CPU a run reports. */
export const CPU_PARTS = ['api', 'worker', 'server', 'bench'] as const;
export type CpuPart = (typeof CPU_PARTS)[number];
/** CPU ms of each part over a run; null where it could not be read. */
export type CpuFigures = Record<CpuPart, number | null>;

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU ms a process has used so far; null when it cannot be read. */
export function processCpuMs(pid: number | null): number | null {
  if (pid === null || pid <= 0) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may hold spaces) start after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) / clockTicks()) * 1000;
  } catch {
    return null;
  }
}

/** The pid of the process listening on TCP `port` (IPv4 or IPv6); null when none is found. */
export function pidListeningOn(port: number): number | null {
  if (!existsSync('/proc/net/tcp')) return null;
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local_address is ADDR:PORT; state 0A is LISTEN; the socket's inode is column 10.
      if (cols[1]?.endsWith(`:${hexPort}`) && cols[3] === '0A' && cols[9]) inodes.add(cols[9]);
    }
  }
  if (inodes.size === 0) return null;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue; // gone, or not ours to read
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${entry}/fd/${fd}`);
        const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
        if (inode && inodes.has(inode)) return Number(entry);
      } catch {
        // Closed meanwhile.
      }
    }
  }
  return null;
}

/** The pids a CPU meter reads; the bench process is read through `process.cpuUsage()`. */
export interface CpuPids {
  api: number;
  worker: number;
  server: number | null;
}

function sample(pids: CpuPids): CpuFigures {
  const own = process.cpuUsage();
  return {
    api: processCpuMs(pids.api),
    worker: processCpuMs(pids.worker),
    server: processCpuMs(pids.server),
    bench: (own.user + own.system) / 1000,
  };
}

/** Starts measuring; the returned function gives each part's CPU ms since. */
export function startCpuMeter(pids: CpuPids): () => CpuFigures {
  const before = sample(pids);
  return () => {
    const after = sample(pids);
    const figures = {} as CpuFigures;
    for (const part of CPU_PARTS) {
      const a = after[part];
      const b = before[part];
      figures[part] = a === null || b === null ? null : Math.round(a - b);
    }
    return figures;
  };
}

/** Each part's CPU ms divided by `count` (per notification), to 0.01 ms. */
export function perItem(figures: CpuFigures, count: number): CpuFigures {
  const out = {} as CpuFigures;
  for (const part of CPU_PARTS) {
    const v = figures[part];
    out[part] = v === null || count <= 0 ? null : Math.round((v / count) * 100) / 100;
  }
  return out;
}

/** The pids of a bench stack's API, worker and Temporal server (the one listening on its port). */
export function stackCpuPids(stack: Pick<BenchStack, 'apiPid' | 'worker' | 'temporalAddress'>): CpuPids {
  return {
    api: stack.apiPid,
    worker: stack.worker.pid,
    server: pidListeningOn(Number(stack.temporalAddress.split(':').at(-1))),
  };
}

/** The sum of every part's figure, or null when one is unmeasured. */
export function cpuTotal(figures: CpuFigures): number | null {
  const values = CPU_PARTS.map((p) => figures[p]);
  return values.every((v) => v !== null) ? (values as number[]).reduce((a, b) => a + b, 0) : null;
}
