/**
 * The bench's load generator. autocannon ends a run of `amount` requests on its own one-second
 * tick, so its callback comes up to a second after the last response: a load's rate must be
 * taken over its responses, not until that callback (a 7 s load read as 8 s is 12 % slower).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { runAutocannon } from '../../bench/load';

describe('runAutocannon', () => {
  let server: Server;
  let url: string;
  before(async () => {
    server = createServer((_req, res) => void res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('times a load from its start to its last response', async () => {
    const { latencies, arrivalsMs, durationMs } = await runAutocannon({ url, connections: 2, amount: 40 });
    assert.equal(latencies.length, 40);
    assert.equal(arrivalsMs.length, 40);
    assert.ok(
      arrivalsMs.every((t, i) => t >= 0 && (i === 0 || t >= arrivalsMs[i - 1]!)),
      'in arrival order',
    );
    assert.equal(durationMs, arrivalsMs.at(-1));
  });
});
