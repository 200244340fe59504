/**
 * `POST /v1/test_clocks` makes the clock at every gateway emulator (each keeps a world of it),
 * against a real Temporal dev server and the three emulators over HTTP. When one emulator does
 * not make it, the merchant gets a 502 naming it, and the worlds the others made are removed;
 * so are all three when Temporal does not take the clock's workflow: no clock is left half made.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { Client } from '@temporalio/client';
import { buildApp } from '../../src/api/app';
import type { GatewayEnv } from '../../src/gateways/port';
import { auth, useApiEngine } from '../helpers/api-engine';

void describe('test clocks through the API, at every gateway emulator', () => {
  const engine = useApiEngine('api-test-clocks', { gateways: true });
  /** A MadFintech "emulator" that answers 500 to everything. */
  let failing: Server;

  before(async () => {
    failing = createServer((_req, res) => void res.writeHead(500).end('down'));
    await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    await new Promise<void>((resolve) => failing.close(() => resolve()));
  });

  /** Every emulator's environment, with MadFintech's API at `madfintechRoot` instead. */
  const gatewayEnv = (madfintechRoot: string): GatewayEnv => ({
    ...engine.appContext.gatewayEnv,
    MADFINTECH_API_URL: `${madfintechRoot}/api/v1`,
  });

  /** The clocks each real emulator keeps, by id. */
  async function clocksAtEmulators(): Promise<Record<string, string[]>> {
    const roots = {
      qfpay: engine.qfpayEmulator.url,
      qorepay: engine.gateways.qorepay!.url,
      madfintech: engine.gateways.madfintech!.url,
    };
    const lists = await Promise.all(
      Object.entries(roots).map(async ([name, root]) => {
        const res = await fetch(`${root}/_emulator/test_clocks`);
        assert.equal(res.status, 200, name);
        const { data } = (await res.json()) as { data: Array<{ id: string }> };
        return [name, data.map((c) => c.id)] as const;
      }),
    );
    return Object.fromEntries(lists);
  }

  const makeClock = (app: ReturnType<typeof buildApp>) =>
    request(app).post('/v1/test_clocks').set(auth).send({ frozen_time: '2027-05-01T00:00:00Z' });

  it('made at all three emulators, and removed from all three', async () => {
    const made = await makeClock(engine.app);
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const id = made.body.test_clock_id as string;
    assert.deepEqual(await clocksAtEmulators(), { qfpay: [id], qorepay: [id], madfintech: [id] });
    assert.equal((await request(engine.app).delete(`/v1/test_clocks/${id}`).set(auth)).status, 200);
    assert.deepEqual(await clocksAtEmulators(), { qfpay: [], qorepay: [], madfintech: [] });
  });

  /** A port nothing listens on any more. */
  async function closedRoot(): Promise<string> {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const root = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    return root;
  }

  for (const { what, root, answer } of [
    {
      what: 'refuses',
      root: async () => `http://127.0.0.1:${(failing.address() as AddressInfo).port}`,
      answer: 'answered 500',
    },
    { what: 'cannot be reached', root: closedRoot, answer: 'could not be reached' },
  ]) {
    it(`an emulator that ${what}: a 502 naming it, and nothing kept at the others`, async () => {
      const madfintechRoot = await root();
      const app = buildApp({ ...engine.appContext, gatewayEnv: gatewayEnv(madfintechRoot) });
      const res = await makeClock(app);
      assert.equal(res.status, 502, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'gateway_error');
      assert.match(res.body.error.message, new RegExp(`${madfintechRoot} ${answer}`));
      assert.deepEqual(await clocksAtEmulators(), { qfpay: [], qorepay: [], madfintech: [] });
    });
  }

  it('a clock Temporal does not take (its namespace missing): nothing kept at the emulators', async () => {
    const temporal = new Client({ connection: engine.env.connection, namespace: 'no-such-namespace' });
    const app = buildApp({ ...engine.appContext, temporal });
    const res = await makeClock(app);
    assert.equal(res.status, 503, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'temporal_unavailable');
    assert.deepEqual(await clocksAtEmulators(), { qfpay: [], qorepay: [], madfintech: [] });
  });
});
