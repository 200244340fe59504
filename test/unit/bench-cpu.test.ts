/**
 * The bench's CPU meter reads Linux's /proc: the process listening on a port is found by its
 * socket, and a process's CPU time grows with the work it does.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { cpuTotal, perItem, pidListeningOn, processCpuMs, startCpuMeter } from '../../bench/cpu';

const linux = existsSync('/proc/self/stat');

describe('bench CPU meter', { skip: !linux && 'no /proc' }, () => {
  it('finds the process listening on a port, and nobody on a closed one', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      assert.equal(pidListeningOn(port), process.pid);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    assert.equal(pidListeningOn(port), null);
  });

  it("counts a process's CPU time as it works, and none for a process that does not exist", () => {
    const meter = startCpuMeter({ api: process.pid, worker: process.pid, server: null });
    const before = processCpuMs(process.pid)!;
    const own = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    const ownBefore = own();
    // Until both clocks moved 50 ms: /proc counts whole scheduler ticks, cpuUsage() microseconds.
    let x = 0;
    while (processCpuMs(process.pid)! < before + 50 || own() < ownBefore + 50) x += Math.sqrt(x + 1);
    const used = meter();
    assert.ok(used.api! >= 40, `api ${used.api} ms`);
    assert.ok(used.bench! >= 40, `bench ${used.bench} ms`);
    assert.equal(used.server, null);
    assert.equal(processCpuMs(2 ** 22 + 7), null);
    assert.deepEqual(perItem({ api: 10, worker: 5, server: null, bench: 1 }, 4), {
      api: 2.5,
      worker: 1.25,
      server: null,
      bench: 0.25,
    });
  });
});

describe('cpuTotal', () => {
  it('sums every part, and is unmeasured when one part is', () => {
    assert.equal(cpuTotal({ api: 1.5, worker: 2, server: 3, bench: 0.5 }), 7);
    assert.equal(cpuTotal({ api: 1.5, worker: null, server: 3, bench: 0.5 }), null);
  });
});
