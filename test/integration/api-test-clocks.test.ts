/**
 * `POST /v1/test_clocks` makes the clock at every gateway emulator (each keeps a world of it),
 * against a real Temporal dev server and the three emulators over HTTP. When one emulator does
 * not make it, the merchant gets a 502 naming it, and the worlds the others made are removed;
 * so are all three when Temporal does not take the clock's workflow: no clock is left half made.
 * When a world the others made cannot be removed either, the 502 says where it stays.
 * `DELETE /v1/test_clocks/:id` removes the clock everywhere or says where it could not: an
 * emulator that does not remove its world gets a 502 naming it, the clock stays in the engine,
 * and asking again finishes the removal.
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
  /** An "emulator" that answers 500 to everything. */
  let failing: Server;
  /** An "emulator" that makes a clock (201) and then cannot remove it (500). */
  let keeping: Server;

  const listen = async (server: Server) =>
    new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const rootOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  before(async () => {
    failing = createServer((_req, res) => void res.writeHead(500).end('down'));
    keeping = createServer((req, res) => {
      req.resume();
      if (req.method === 'POST') void res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
      else void res.writeHead(500).end('down');
    });
    await Promise.all([listen(failing), listen(keeping)]);
  });
  after(async () => {
    await Promise.all(
      [failing, keeping].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
    );
  });

  /**
   * Every emulator's environment, with MadFintech's API at `madfintechRoot` instead (and
   * QorePay's at `qorepayRoot`, when given).
   */
  const gatewayEnv = (madfintechRoot: string, qorepayRoot?: string): GatewayEnv => ({
    ...engine.appContext.gatewayEnv,
    MADFINTECH_API_URL: `${madfintechRoot}/api/v1`,
    ...(qorepayRoot === undefined ? {} : { QOREPAY_API_URL: `${qorepayRoot}/api/v1` }),
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

  const unhealthy = [
    { what: 'refuses', root: async () => rootOf(failing), answer: 'answered 500' },
    { what: 'cannot be reached', root: closedRoot, answer: 'could not be reached' },
  ];

  for (const { what, root, answer } of unhealthy) {
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

  it('a world that cannot be removed after a refusal: the 502 says where it stays', async () => {
    const app = buildApp({
      ...engine.appContext,
      gatewayEnv: gatewayEnv(rootOf(failing), rootOf(keeping)),
    });
    const res = await makeClock(app);
    assert.equal(res.status, 502, JSON.stringify(res.body));
    const { message } = res.body.error as { message: string };
    assert.match(message, new RegExp(`${rootOf(failing)} answered 500`));
    assert.doesNotMatch(message, /nothing was kept/);
    assert.match(message, new RegExp(`stays at ${rootOf(keeping)}`));
    // The real emulators it reached kept nothing.
    const kept = await clocksAtEmulators();
    assert.deepEqual([kept.qfpay, kept.madfintech], [[], []]);
  });

  for (const { what, root, answer } of unhealthy) {
    it(`removing, an emulator that ${what}: a 502 naming it, the clock stays, and asking again removes it`, async () => {
      const made = await makeClock(engine.app);
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const id = made.body.test_clock_id as string;
      const madfintechRoot = await root();
      const app = buildApp({ ...engine.appContext, gatewayEnv: gatewayEnv(madfintechRoot) });
      const res = await request(app).delete(`/v1/test_clocks/${id}`).set(auth);
      assert.equal(res.status, 502, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'gateway_error');
      assert.match(res.body.error.message, new RegExp(`${madfintechRoot} ${answer}`));
      // The clock is still the merchant's: it reads, and MadFintech's world of it is still there.
      assert.equal((await request(engine.app).get(`/v1/test_clocks/${id}`).set(auth)).status, 200);
      assert.deepEqual((await clocksAtEmulators()).madfintech, [id]);
      // Asking again, with every emulator answering, removes it everywhere.
      const again = await request(engine.app).delete(`/v1/test_clocks/${id}`).set(auth);
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.deepEqual(await clocksAtEmulators(), { qfpay: [], qorepay: [], madfintech: [] });
      assert.equal((await request(engine.app).get(`/v1/test_clocks/${id}`).set(auth)).status, 404);
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
