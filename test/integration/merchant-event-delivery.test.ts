import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import {
  INVALID_MERCHANT_EVENT,
  MERCHANT_ENDPOINT_REJECTED,
  MERCHANT_ENDPOINT_UNAVAILABLE,
  createMerchantEventActivities,
  type MerchantEventLogger,
} from '../../src/activities/merchant-events';
import {
  verifyMerchantEvent,
  type MerchantEvent,
  type MerchantEventVerification,
} from '../../src/events/merchant-events';
import { freePort } from '../../src/dev/free-ports';

const SECRET = 'whsec_integration_9d2e71';

const event: MerchantEvent = {
  id: 'evt_sub_a360_failed_0003',
  type: 'subscription.payment_failed',
  created_at: '2024-11-21T03:12:06Z',
  subscription_id: 'sub_a360',
  data: {
    order_id: 'sub_ord_a360_0003',
    sequence_no: 3,
    amount: 1000,
    currency: 'HKD',
    respcd: '1205',
  },
};

interface Received {
  headers: IncomingHttpHeaders;
  rawBody: Buffer;
  verification: MerchantEventVerification;
}

interface Receiver {
  url: string;
  received: Received[];
  /** The receiver's clock, unix seconds; the real clock unless a test moves it. */
  nowSec: () => number;
  setClock(nowSec: () => number): void;
}

type Respond = (request: Received, response: ServerResponse) => void;

/** A merchant's receiver: verifies every request on its raw body, then answers as `respond` says. */
async function startReceiver(t: TestContext, respond?: Respond): Promise<Receiver> {
  const received: Received[] = [];
  let clock = () => Math.floor(Date.now() / 1000);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks);
      const verification = verifyMerchantEvent(rawBody, req.headers['x-engine-signature'], SECRET, {
        nowSec: clock(),
      });
      const request = { headers: req.headers, rawBody, verification };
      received.push(request);
      if (respond) return respond(request, res);
      res.writeHead(verification.ok ? 200 : 400, { 'content-type': 'application/json' });
      res.end(JSON.stringify(verification));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks/engine`,
    received,
    nowSec: () => clock(),
    setClock(nowSec) {
      clock = nowSec;
    },
  };
}

function statusOf(error: ApplicationFailure): unknown {
  return (error.details?.[0] as { status?: unknown } | undefined)?.status;
}

function isFailure(type: string, nonRetryable: boolean, status: number) {
  return (error: unknown) => {
    assert.ok(error instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
    assert.equal(error.type, type);
    assert.equal(error.nonRetryable, nonRetryable);
    assert.equal(statusOf(error), status);
    assert.ok(!error.message.includes(SECRET));
    return true;
  };
}

function recordingLogger(): MerchantEventLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (fields, message) => lines.push(JSON.stringify({ ...fields, message })),
    warn: (fields, message) => lines.push(JSON.stringify({ ...fields, message })),
  };
}

void describe('deliverMerchantEvent against a real receiver', () => {
  void it('delivers a signed event that the receiver verifies on the raw body', async (t) => {
    const receiver = await startReceiver(t);
    const logger = recordingLogger();
    const { deliverMerchantEvent } = createMerchantEventActivities({
      url: receiver.url,
      secret: SECRET,
      logger,
    });

    assert.deepEqual(await deliverMerchantEvent(event), { status: 200, delivered: true });

    assert.equal(receiver.received.length, 1);
    const [request] = receiver.received;
    assert.equal(request?.verification.ok, true);
    assert.equal(request?.headers['x-engine-event-id'], event.id);
    assert.equal(request?.headers['x-engine-event-type'], event.type);
    assert.match(String(request?.headers['content-type']), /^application\/json/);
    assert.deepEqual(JSON.parse(request?.rawBody.toString('utf8') ?? ''), event);
    assert.ok(logger.lines.length > 0);
    assert.ok(logger.lines.every((line) => !line.includes(SECRET)));
  });

  void it('sends the event as given, keeping fields the schema does not name', async (t) => {
    const receiver = await startReceiver(t);
    const { deliverMerchantEvent } = createMerchantEventActivities({ url: receiver.url, secret: SECRET });
    const withExtra = { ...event, data: { ...event.data, trigger_by: 'auto' } } as MerchantEvent;
    await deliverMerchantEvent(withExtra);
    assert.deepEqual(JSON.parse(receiver.received[0]?.rawBody.toString('utf8') ?? ''), withExtra);
  });

  void it('signs for every secret during a rotation, so a receiver on either secret accepts', async (t) => {
    const receiver = await startReceiver(t);
    const { deliverMerchantEvent } = createMerchantEventActivities({
      url: receiver.url,
      secret: ['whsec_next_secret', SECRET],
    });
    assert.deepEqual(await deliverMerchantEvent(event), { status: 200, delivered: true });
    const header = String(receiver.received[0]?.headers['x-engine-signature']);
    assert.equal(header.match(/v1=/g)?.length, 2);
  });

  void it('is refused when the body is tampered with on the way', async (t) => {
    const receiver = await startReceiver(t);
    const tampering: typeof fetch = (input, init) =>
      fetch(input, { ...init, body: String(init?.body).replace('"amount":1000', '"amount":1') });
    const { deliverMerchantEvent } = createMerchantEventActivities({
      url: receiver.url,
      secret: SECRET,
      fetch: tampering,
    });

    await assert.rejects(deliverMerchantEvent(event), isFailure(MERCHANT_ENDPOINT_REJECTED, true, 400));
    assert.deepEqual(receiver.received[0]?.verification, { ok: false, reason: 'mismatch' });
  });

  void it('is refused when a captured request is replayed after the tolerance', async (t) => {
    const receiver = await startReceiver(t);
    const { deliverMerchantEvent } = createMerchantEventActivities({ url: receiver.url, secret: SECRET });
    await deliverMerchantEvent(event);
    const captured = receiver.received[0];
    assert.ok(captured?.verification.ok);

    // An attacker resends the same bytes and headers ten minutes later.
    const signedAt = captured.verification.timestamp;
    receiver.setClock(() => signedAt + 600);
    const replay = await fetch(receiver.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-engine-signature': String(captured.headers['x-engine-signature']),
        'x-engine-event-id': String(captured.headers['x-engine-event-id']),
      },
      body: captured.rawBody,
    });
    await replay.arrayBuffer();

    assert.equal(replay.status, 400);
    assert.deepEqual(receiver.received[1]?.verification, { ok: false, reason: 'too_old' });
  });

  void it('is refused when the engine signs with a clock far behind the receiver', async (t) => {
    const receiver = await startReceiver(t);
    const { deliverMerchantEvent } = createMerchantEventActivities({
      url: receiver.url,
      secret: SECRET,
      clock: () => (receiver.nowSec() - 3_600) * 1000,
    });
    await assert.rejects(deliverMerchantEvent(event), isFailure(MERCHANT_ENDPOINT_REJECTED, true, 400));
    assert.deepEqual(receiver.received[0]?.verification, { ok: false, reason: 'too_old' });
  });

  void it('throws a retryable MerchantEndpointUnavailable on HTTP 500', async (t) => {
    const receiver = await startReceiver(t, (_request, res) => {
      res.writeHead(500).end('boom');
    });
    const { deliverMerchantEvent } = createMerchantEventActivities({ url: receiver.url, secret: SECRET });
    await assert.rejects(deliverMerchantEvent(event), isFailure(MERCHANT_ENDPOINT_UNAVAILABLE, false, 500));
  });

  void it('throws a non-retryable MerchantEndpointRejected on HTTP 400, keeping the status', async (t) => {
    const receiver = await startReceiver(t, (_request, res) => {
      res.writeHead(400).end('no');
    });
    const { deliverMerchantEvent } = createMerchantEventActivities({ url: receiver.url, secret: SECRET });
    await assert.rejects(deliverMerchantEvent(event), isFailure(MERCHANT_ENDPOINT_REJECTED, true, 400));
  });

  for (const status of [408, 409, 425, 429, 502, 503]) {
    void it(`treats HTTP ${status} as retryable`, async (t) => {
      const receiver = await startReceiver(t, (_request, res) => {
        res.writeHead(status).end();
      });
      const { deliverMerchantEvent } = createMerchantEventActivities({ url: receiver.url, secret: SECRET });
      await assert.rejects(
        deliverMerchantEvent(event),
        isFailure(MERCHANT_ENDPOINT_UNAVAILABLE, false, status),
      );
    });
  }

  void it('honours a Retry-After on HTTP 429 as the next retry delay', async (t) => {
    const receiver = await startReceiver(t, (_request, res) => {
      res.writeHead(429, { 'retry-after': '120' }).end();
    });
    const { deliverMerchantEvent } = createMerchantEventActivities({ url: receiver.url, secret: SECRET });
    await assert.rejects(deliverMerchantEvent(event), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.nextRetryDelay, 120_000);
      return true;
    });
  });

  void it('does not follow a redirect, and retries it', async (t) => {
    const receiver = await startReceiver(t, (_request, res) => {
      res.writeHead(302, { location: 'http://127.0.0.1:9/elsewhere' }).end();
    });
    const { deliverMerchantEvent } = createMerchantEventActivities({ url: receiver.url, secret: SECRET });
    await assert.rejects(deliverMerchantEvent(event), isFailure(MERCHANT_ENDPOINT_UNAVAILABLE, false, 302));
    assert.equal(receiver.received.length, 1);
  });

  void it('throws a retryable failure, keeping the cause, when the endpoint does not answer in time', async (t) => {
    const receiver = await startReceiver(t, () => {
      // Never answers; the server's cleanup closes the connection.
    });
    const logger = recordingLogger();
    const { deliverMerchantEvent } = createMerchantEventActivities({
      url: receiver.url,
      secret: SECRET,
      timeoutMs: 100,
      logger,
    });
    await assert.rejects(deliverMerchantEvent(event), (error: unknown) => {
      isFailure(MERCHANT_ENDPOINT_UNAVAILABLE, false, 0)(error);
      assert.match((error as Error).message, /within 100 ms/);
      assert.ok((error as Error).cause instanceof Error);
      return true;
    });
    assert.equal(receiver.received.length, 1);
    assert.ok(logger.lines.every((line) => !line.includes(SECRET)));
  });

  void it('throws a retryable failure when the endpoint refuses the connection', async (t) => {
    const receiver = await startReceiver(t);
    const port = await freePort();

    const { deliverMerchantEvent } = createMerchantEventActivities({
      url: `http://127.0.0.1:${port}/webhooks/engine?token=url-secret`,
      secret: SECRET,
    });
    await assert.rejects(deliverMerchantEvent(event), (error: unknown) => {
      isFailure(MERCHANT_ENDPOINT_UNAVAILABLE, false, 0)(error);
      assert.ok(!(error as Error).message.includes('url-secret'));
      return true;
    });
    assert.equal(receiver.received.length, 0);
  });

  void it('skips delivery without calling anything when no URL is configured', async () => {
    const calls: unknown[] = [];
    const spy: typeof fetch = (...args) => {
      calls.push(args);
      return Promise.reject(new Error('must not be called'));
    };
    for (const url of [undefined, null, '', '  ']) {
      const { deliverMerchantEvent } = createMerchantEventActivities({ url, secret: '', fetch: spy });
      assert.deepEqual(await deliverMerchantEvent(event), { status: 0, delivered: false });
    }
    assert.equal(calls.length, 0);
  });

  void it('refuses to send an event that does not match its schema', async (t) => {
    const receiver = await startReceiver(t);
    const { deliverMerchantEvent } = createMerchantEventActivities({ url: receiver.url, secret: SECRET });
    const broken = { ...event, data: { ...event.data, sequence_no: 0 } } as MerchantEvent;
    await assert.rejects(deliverMerchantEvent(broken), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.type, INVALID_MERCHANT_EVENT);
      assert.equal(error.nonRetryable, true);
      return true;
    });
    assert.equal(receiver.received.length, 0);
  });

  void it('fails for good, sending nothing, when an event id cannot be a header value (a control character)', async (t) => {
    const receiver = await startReceiver(t);
    const { deliverMerchantEvent } = createMerchantEventActivities({ url: receiver.url, secret: SECRET });
    const unsendable = { ...event, id: 'evt_sub_a360\u0000_failed_0003', subscription_id: 'sub_a360\u0000' };
    await assert.rejects(deliverMerchantEvent(unsendable), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.type, INVALID_MERCHANT_EVENT);
      assert.equal(error.nonRetryable, true, 'not retried for days');
      return true;
    });
    assert.equal(receiver.received.length, 0);
  });

  void it('refuses a configuration with a URL but no secret, or a URL that embeds credentials', () => {
    assert.throws(
      () => createMerchantEventActivities({ url: 'https://merchant.example/hook', secret: '' }),
      TypeError,
    );
    assert.throws(
      () => createMerchantEventActivities({ url: 'https://user:pass@merchant.example/hook', secret: SECRET }),
      (error: unknown) => error instanceof TypeError && !error.message.includes('pass'),
    );
    assert.throws(
      () => createMerchantEventActivities({ url: 'ftp://merchant.example/hook', secret: SECRET }),
      TypeError,
    );
    assert.throws(() => createMerchantEventActivities({ url: 'not a url', secret: SECRET }), TypeError);
  });
});
