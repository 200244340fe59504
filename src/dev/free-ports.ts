/**
 * Ports nothing listens on, for the servers tests, the benchmark and the chaos run start.
 *
 * A port found free is given to a process that binds it later, after other processes have
 * started. Two kinds of neighbour could take it in between:
 * - the OS itself, which hands out ports of its ephemeral range (`ip_local_port_range`) to every
 *   outgoing connection and to every `listen(0)`, such as the Temporal dev server's own internal
 *   services. So the ports come from outside that range, where the OS never picks on its own.
 * - another process of this machine choosing the same way (test files run in parallel). So each
 *   port is claimed by a file created exclusively, naming the claiming process; a claim of a
 *   process that is gone is taken over. A claim lasts until {@link releasePort} or the process's
 *   exit.
 *
 * The range stays above the cluster's layouts (src/dev/cluster.ts, 10000 to 30400).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LOWEST = 30_500;
const MAX_TRIES = 10_000;

/** Where the claims are kept. */
export function claimDirectory(): string {
  return join(tmpdir(), 'qfpay-engine-ports');
}

/**
 * The range the ports are chosen from: below the OS's ephemeral range, or above it when that
 * leaves more room. `undefined` where the OS does not say (then the OS picks, as `listen(0)`).
 */
export function listeningPortRange(): [number, number] | undefined {
  const path = '/proc/sys/net/ipv4/ip_local_port_range';
  if (!existsSync(path)) return undefined;
  const [low, high] = readFileSync(path, 'utf8').trim().split(/\s+/).map(Number);
  if (low === undefined || high === undefined || !Number.isInteger(low) || !Number.isInteger(high))
    return undefined;
  const below: [number, number] = [LOWEST, low - 1];
  const above: [number, number] = [high + 1, 65_535];
  const size = ([a, b]: [number, number]) => b - a + 1;
  const best = size(below) >= size(above) ? below : above;
  return size(best) >= 500 ? best : undefined;
}

const claimed = new Set<number>();
let releaseOnExit = false;

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function claim(port: number): boolean {
  const dir = claimDirectory();
  mkdirSync(dir, { recursive: true });
  const path = join(dir, String(port));
  for (let i = 0; i < 2; i += 1) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      claimed.add(port);
      if (!releaseOnExit) {
        releaseOnExit = true;
        process.once('exit', () => {
          for (const p of claimed) rmSync(join(dir, String(p)), { force: true });
        });
      }
      return true;
    } catch {
      let holder: number;
      try {
        holder = Number(readFileSync(path, 'utf8'));
      } catch {
        // Released in between: try again.
        continue;
      }
      if (processAlive(holder)) return false;
      rmSync(path, { force: true });
    }
  }
  return false;
}

/** Gives a port's claim back, once the server it was for has gone. */
export function releasePort(port: number): void {
  if (!claimed.delete(port)) return;
  rmSync(join(claimDirectory(), String(port)), { force: true });
}

/** Whether nothing listens on the port, on any address (the API binds `::`). */
async function bindable(port: number): Promise<boolean> {
  const tryListen = (host: string) =>
    new Promise<boolean | 'no-family'>((resolve) => {
      const s = createServer();
      s.once('error', (error: NodeJS.ErrnoException) =>
        resolve(error.code === 'EAFNOSUPPORT' || error.code === 'EADDRNOTAVAIL' ? 'no-family' : false),
      );
      s.listen({ port, host, exclusive: true }, () => s.close(() => resolve(true)));
    });
  const dual = await tryListen('::');
  if (dual !== 'no-family') return dual;
  return (await tryListen('0.0.0.0')) === true;
}

async function osPickedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * `count` distinct ports nothing listens on and no other live process has claimed, each now
 * claimed by this process. `range` narrows the choice (for tests of this function).
 */
export async function freePorts(
  count: number,
  options: { range?: [number, number] } = {},
): Promise<number[]> {
  const range = options.range ?? listeningPortRange();
  const ports: number[] = [];
  for (let tries = 0; ports.length < count; tries += 1) {
    if (tries >= MAX_TRIES) throw new Error(`no free port found in ${MAX_TRIES} tries`);
    const candidate =
      range === undefined
        ? await osPickedPort()
        : options.range !== undefined
          ? range[0] + (tries % (range[1] - range[0] + 1))
          : range[0] + Math.floor(Math.random() * (range[1] - range[0] + 1));
    if (ports.includes(candidate) || claimed.has(candidate)) continue;
    if (!(await bindable(candidate))) continue;
    if (!claim(candidate)) continue;
    ports.push(candidate);
  }
  return ports;
}

/** One port; see {@link freePorts}. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}
