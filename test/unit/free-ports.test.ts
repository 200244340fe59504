import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { claimDirectory, freePorts, listeningPortRange } from '../../src/dev/free-ports';

/**
 * The ports the harnesses give their servers (chaos, bench, tests). A port the OS hands out on
 * its own (an outgoing connection's local port, a `listen(0)` of the dev server's own services)
 * must never be one of them: the part would then fail to start with EADDRINUSE.
 */
function ephemeralRange(): [number, number] | undefined {
  const path = '/proc/sys/net/ipv4/ip_local_port_range';
  if (!existsSync(path)) return undefined;
  const [low, high] = readFileSync(path, 'utf8').trim().split(/\s+/).map(Number);
  return [low!, high!];
}

async function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

/** A process id that is certainly not running: one that just exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

/** A free pair of adjacent ports in the range freePorts uses, claimed by no one. */
async function adjacentFreePair(): Promise<number> {
  const [low, high] = listeningPortRange()!;
  for (let p = low + Math.floor(Math.random() * (high - low - 1)); ; p = p + 2 > high ? low : p + 2) {
    const held = [p, p + 1].some((q) => existsSync(`${claimDirectory()}/${q}`));
    if (held) continue;
    try {
      const a = await listenOn(p);
      const b = await listenOn(p + 1);
      await Promise.all([a, b].map((s) => new Promise((done) => s.close(done))));
      return p;
    } catch {
      // One of the two is in use; try the next pair.
    }
  }
}

void describe('freePorts', () => {
  void it('never returns a port of the range the OS picks its own ports from', async () => {
    const range = ephemeralRange();
    if (range === undefined) return;
    const ports = await freePorts(40);
    assert.equal(new Set(ports).size, ports.length);
    for (const port of ports) {
      assert.ok(port < range[0] || port > range[1], `${port} is in the OS's range ${range.join('–')}`);
    }
  });

  void it('passes over a port something listens on', async () => {
    const p = await adjacentFreePair();
    const busy = await listenOn(p);
    try {
      assert.deepEqual(await freePorts(1, { range: [p, p + 1] }), [p + 1]);
    } finally {
      await new Promise((done) => busy.close(done));
    }
  });

  void it('passes over a port another live process has claimed, and takes over a dead one’s claim', async () => {
    const p = await adjacentFreePair();
    mkdirSync(claimDirectory(), { recursive: true });
    writeFileSync(`${claimDirectory()}/${p}`, String(process.ppid));
    try {
      assert.deepEqual(await freePorts(1, { range: [p, p + 1] }), [p + 1]);
      writeFileSync(`${claimDirectory()}/${p}`, String(deadPid()));
      assert.deepEqual(await freePorts(1, { range: [p, p] }), [p]);
      assert.equal(readFileSync(`${claimDirectory()}/${p}`, 'utf8'), String(process.pid));
    } finally {
      rmSync(`${claimDirectory()}/${p}`, { force: true });
      rmSync(`${claimDirectory()}/${p + 1}`, { force: true });
    }
  });
});
