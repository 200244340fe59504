/**
 * One attempt at sending a merchant event, against a real HTTP receiver that verifies every
 * request with the official Standard Webhooks library, as a merchant's receiver does.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { Webhook } from 'standardwebhooks';
import {
  MERCHANT_ENDPOINT_REJECTED,
  MERCHANT_ENDPOINT_UNAVAILABLE,
  createMerchantEventActivities,
  parseRetryAfter,
  type MerchantEventActivitiesOptions,
  type MerchantEventLogger,
} from '../../src/activities/merchant-events';
import type { MerchantEndpointState } from '../../src/events/merchant-endpoint';
import type { MerchantEvent } from '../../src/events/merchant-events';
import { freePort } from '../../src/dev/free-ports';
import type { MerchantEndpointOff } from '../../src/workflows/definitions';

const SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
const NEXT_SECRET = `whsec_${Buffer.alloc(32, 8).toString('base64')}`;

const event: MerchantEvent = {
  id: 'evt.sub_a360.payment_failed.0003.1732158726000',
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
  /** What the official verifier said: the parsed event, or its error message. */
  verified: { ok: true; payload: unknown } | { ok: false; error: string };
}

interface Receiver {
  url: string;
  received: Received[];
}

type Respond = (request: Received, response: ServerResponse) => void;

function verify(rawBody: Buffer, headers: IncomingHttpHeaders, secret = SECRET): Received['verified'] {
  try {
    return { ok: true, payload: new Webhook(secret).verify(rawBody, headers as Record<string, string>) };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

/** A merchant's receiver: verifies every request on its raw body, then answers as `respond` says. */
async function startReceiver(t: TestContext, respond?: Respond): Promise<Receiver> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks);
      const request = { headers: req.headers, rawBody, verified: verify(rawBody, req.headers) };
      received.push(request);
      if (respond) return respond(request, res);
      res.writeHead(request.verified.ok ? 204 : 400).end();
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
  return { url: `http://127.0.0.1:${port}/webhooks/engine`, received };
}

function recordingLogger(): MerchantEventLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (fields, message) => lines.push(JSON.stringify({ ...fields, message })),
    warn: (fields, message) => lines.push(JSON.stringify({ ...fields, message })),
  };
}

/** An endpoint switch kept in memory (the one on Temporal is exercised by the workflow tests). */
function memorySwitch(): NonNullable<MerchantEventActivitiesOptions['endpointSwitch']> & {
  off?: MerchantEndpointOff;
} {
  const sw: NonNullable<MerchantEventActivitiesOptions['endpointSwitch']> & { off?: MerchantEndpointOff } = {
    state: () =>
      Promise.resolve<MerchantEndpointState>(sw.off ? { enabled: false, ...sw.off } : { enabled: true }),
    turnOff: (off) => {
      sw.off ??= off;
      return Promise.resolve();
    },
  };
  return sw;
}

function activities(url: string, options: Partial<MerchantEventActivitiesOptions> = {}) {
  return createMerchantEventActivities({ url, secrets: [SECRET], ...options });
}

void describe('sendMerchantEvent against a real receiver (official Standard Webhooks verifier)', () => {
  void it('sends a signed event the official library accepts; webhook-id is the body id', async (t) => {
    const receiver = await startReceiver(t);
    const logger = recordingLogger();
    const { sendMerchantEvent } = activities(receiver.url, { logger });

    assert.deepEqual(await sendMerchantEvent(event), {
      result: 'delivered',
      httpStatus: 204,
      reason: 'HTTP 204',
    });

    assert.equal(receiver.received.length, 1);
    const [request] = receiver.received;
    assert.deepEqual(request?.verified, { ok: true, payload: event });
    assert.equal(request?.headers['webhook-id'], event.id);
    assert.match(String(request?.headers['webhook-signature']), /^v1,[A-Za-z0-9+/]+=*$/);
    assert.match(String(request?.headers['content-type']), /^application\/json/);
    assert.ok(logger.lines.length > 0);
    assert.ok(logger.lines.every((line) => !line.includes(SECRET)));
  });

  void it('keeps the id across attempts while each attempt is signed at its own time', async (t) => {
    const receiver = await startReceiver(t);
    let now = Date.now();
    const { sendMerchantEvent } = activities(receiver.url, { clock: () => now });
    await sendMerchantEvent(event);
    now += 2_000;
    await sendMerchantEvent(event);
    const [first, second] = receiver.received;
    assert.equal(first?.headers['webhook-id'], second?.headers['webhook-id']);
    assert.notEqual(first?.headers['webhook-timestamp'], second?.headers['webhook-timestamp']);
    assert.ok(first?.verified.ok && second?.verified.ok);
  });

  void it('sends the event as given, keeping fields the schema does not name', async (t) => {
    const receiver = await startReceiver(t);
    const withExtra = { ...event, data: { ...event.data, trigger_by: 'auto' } } as MerchantEvent;
    await activities(receiver.url).sendMerchantEvent(withExtra);
    assert.deepEqual(JSON.parse(receiver.received[0]?.rawBody.toString('utf8') ?? ''), withExtra);
  });

  void it('signs with every secret during a rotation, so a receiver on either secret accepts', async (t) => {
    const receiver = await startReceiver(t);
    await activities(receiver.url, { secrets: [NEXT_SECRET, SECRET] }).sendMerchantEvent(event);
    const [request] = receiver.received;
    assert.equal(String(request?.headers['webhook-signature']).split(' ').length, 2);
    for (const secret of [NEXT_SECRET, SECRET])
      assert.equal(verify(request!.rawBody, request!.headers, secret).ok, true);
  });

  void it('is refused by the official verifier when the body is tampered with on the way', async (t) => {
    const receiver = await startReceiver(t);
    const tampering: typeof fetch = (input, init) =>
      fetch(input, { ...init, body: String(init?.body).replace('"amount":1000', '"amount":1') });
    const attempt = await activities(receiver.url, { fetch: tampering }).sendMerchantEvent(event);
    assert.deepEqual(attempt, { result: 'failed', httpStatus: 400, reason: 'HTTP 400' });
    assert.deepEqual(receiver.received[0]?.verified, { ok: false, error: 'No matching signature found' });
  });

  void it('is refused when the engine signs with a clock far behind the receiver', async (t) => {
    const receiver = await startReceiver(t);
    await activities(receiver.url, { clock: () => Date.now() - 3_600_000 }).sendMerchantEvent(event);
    assert.deepEqual(receiver.received[0]?.verified, { ok: false, error: 'Message timestamp too old' });
  });

  for (const status of [400, 401, 404, 408, 409, 429, 500, 502, 503]) {
    void it(`reports HTTP ${status} as a failed attempt, worth another`, async (t) => {
      const receiver = await startReceiver(t, (_request, res) => res.writeHead(status).end());
      assert.deepEqual(await activities(receiver.url).sendMerchantEvent(event), {
        result: 'failed',
        httpStatus: status,
        reason: `HTTP ${status}`,
      });
    });
  }

  void it('reports the endpoint’s Retry-After on 429 and 503, in seconds or as a date', async (t) => {
    const answers = [
      { status: 429, retryAfter: '120' },
      { status: 503, retryAfter: new Date(Date.now() + 600_000).toUTCString() },
    ];
    const receiver = await startReceiver(t, (_request, res) => {
      const { status, retryAfter } = answers.shift()!;
      res.writeHead(status, { 'retry-after': retryAfter }).end();
    });
    let now = Date.now();
    const { sendMerchantEvent } = activities(receiver.url, { clock: () => now });
    const first = await sendMerchantEvent(event);
    assert.equal(first.result === 'failed' && first.retryAfterMs, 120_000);
    now = Date.now();
    const second = await sendMerchantEvent(event);
    assert.ok(
      second.result === 'failed' && second.retryAfterMs! > 590_000 && second.retryAfterMs! <= 600_000,
    );
  });

  void it('parses Retry-After as delta-seconds or an HTTP date, and ignores anything else', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('30', now), 30_000);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:01:00 GMT', now), 60_000);
    assert.equal(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(null, now), undefined);
    assert.equal(parseRetryAfter('', now), undefined);
  });

  void it('does not follow a redirect, and reports it as a failed attempt', async (t) => {
    const receiver = await startReceiver(t, (_request, res) => {
      res.writeHead(302, { location: 'http://127.0.0.1:9/elsewhere' }).end();
    });
    const attempt = await activities(receiver.url).sendMerchantEvent(event);
    assert.equal(attempt.result, 'failed');
    assert.equal(attempt.httpStatus, 302);
    assert.match(attempt.reason, /redirect \(not followed/);
    assert.equal(receiver.received.length, 1);
  });

  void it('turns the endpoint off on 410 Gone, and sends nothing more while it is off', async (t) => {
    const receiver = await startReceiver(t, (_request, res) => res.writeHead(410).end());
    const endpointSwitch = memorySwitch();
    const { sendMerchantEvent } = activities(receiver.url, { endpointSwitch });
    const gone = await sendMerchantEvent(event);
    assert.equal(gone.result, 'gone');
    assert.equal(gone.httpStatus, 410);
    assert.equal(endpointSwitch.off?.eventId, event.id);
    assert.equal(endpointSwitch.off?.endpoint, receiver.url);
    const next = await sendMerchantEvent({ ...event, id: 'evt.other' });
    assert.equal(next.result, 'endpoint_off');
    assert.match(next.reason, /turned off since .* \(HTTP 410 for evt\.sub_a360/);
    assert.equal(receiver.received.length, 1);
  });

  void it('reports a timeout as a failed attempt', async (t) => {
    const receiver = await startReceiver(t, () => {
      // Never answers; the server's cleanup closes the connection.
    });
    const logger = recordingLogger();
    const attempt = await activities(receiver.url, { timeoutMs: 100, logger }).sendMerchantEvent(event);
    assert.deepEqual(attempt, { result: 'failed', httpStatus: 0, reason: 'no answer within 0.1 s' });
    assert.equal(receiver.received.length, 1);
    assert.ok(logger.lines.every((line) => !line.includes(SECRET)));
  });

  void it('reports a refused connection as a failed attempt without quoting the URL', async () => {
    const port = await freePort();
    const attempt = await activities(
      `http://127.0.0.1:${port}/webhooks/engine?token=url-secret`,
    ).sendMerchantEvent(event);
    assert.equal(attempt.result, 'failed');
    assert.equal(attempt.httpStatus, 0);
    assert.ok(!attempt.reason.includes('url-secret'));
  });

  void it('sends nothing when no URL is configured', async () => {
    const calls: unknown[] = [];
    const spy: typeof fetch = (...args) => {
      calls.push(args);
      return Promise.reject(new Error('must not be called'));
    };
    for (const url of [undefined, null, '', '  ']) {
      const { sendMerchantEvent } = createMerchantEventActivities({ url, secrets: [], fetch: spy });
      assert.equal((await sendMerchantEvent(event)).result, 'not_configured');
    }
    assert.equal(calls.length, 0);
  });

  void it('sends nothing for an event that does not match its schema or whose id cannot be a header', async (t) => {
    const receiver = await startReceiver(t);
    const { sendMerchantEvent } = activities(receiver.url);
    const broken = { ...event, data: { ...event.data, sequence_no: 0 } } as MerchantEvent;
    assert.equal((await sendMerchantEvent(broken)).result, 'invalid');
    const unsendable = { ...event, id: 'evt_sub_a360\u0000_failed_0003', subscription_id: 'sub_a360\u0000' };
    assert.equal((await sendMerchantEvent(unsendable)).result, 'invalid');
    assert.equal(receiver.received.length, 0);
  });

  void it('refuses a configuration with a URL but no whsec_ secret, or a URL that embeds credentials', () => {
    const hook = 'https://merchant.example/hook';
    assert.throws(() => createMerchantEventActivities({ url: hook, secrets: [] }), TypeError);
    assert.throws(() => createMerchantEventActivities({ url: hook, secrets: ['dev-secret'] }), TypeError);
    assert.throws(
      () => activities('https://user:pass@merchant.example/hook'),
      (error: unknown) => error instanceof TypeError && !error.message.includes('pass'),
    );
    assert.throws(() => activities('ftp://merchant.example/hook'), TypeError);
    assert.throws(() => activities('not a url'), TypeError);
  });
});

void describe('deliverMerchantEvent (deliveries started before attempts were scheduled)', () => {
  void it('keeps its contract: a value on 2xx, a retryable failure carrying Retry-After, a final one on 410', async (t) => {
    const answers = [200, 429, 410];
    const receiver = await startReceiver(t, (_request, res) => {
      res.writeHead(answers.shift()!, { 'retry-after': '7' }).end();
    });
    const { deliverMerchantEvent } = activities(receiver.url, { endpointSwitch: memorySwitch() });
    assert.deepEqual(await deliverMerchantEvent(event), { status: 200, delivered: true });
    await assert.rejects(deliverMerchantEvent(event), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.type, MERCHANT_ENDPOINT_UNAVAILABLE);
      assert.equal(error.nonRetryable, false);
      assert.equal(error.nextRetryDelay, 7_000);
      return true;
    });
    await assert.rejects(deliverMerchantEvent(event), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.type, MERCHANT_ENDPOINT_REJECTED);
      assert.equal(error.nonRetryable, true);
      return true;
    });
  });
});
