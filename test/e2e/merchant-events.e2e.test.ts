/**
 * Merchant events end to end, every part real (dev server, worker, API, emulator over HTTP), with a
 * merchant receiver written as the documentation says: the official `standardwebhooks` verifier
 * on the raw body. It accepts every event of a subscription's life, refuses a tampered one, and
 * the body's `id` is the `webhook-id`. An endpoint that answers 410 Gone is turned off; the
 * operator finds the failed events with `GET /v1/merchant-events?status=failed`, turns the
 * endpoint back on and redelivers them, under the same ids.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { eventually, startStack, type Stack } from '../helpers/stack';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

interface Received {
  headers: IncomingHttpHeaders;
  raw: Buffer;
  /** The event the official verifier returned, or why it refused. */
  event?: { id: string; type: string; subscription_id: string };
  refused?: string;
}

const received: Received[] = [];
/** What the receiver answers: 204, or 410 while the test says the endpoint is gone. */
let answer = 204;
const receiver = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks);
    const entry: Received = { headers: req.headers, raw };
    try {
      entry.event = new Webhook(SECRET).verify(
        raw,
        req.headers as Record<string, string>,
      ) as Received['event'];
    } catch (err) {
      entry.refused = err instanceof WebhookVerificationError ? err.message : String(err);
    }
    received.push(entry);
    res.writeHead(entry.event ? answer : 400).end();
  });
});

let stack: Stack;
before(async () => {
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const { port } = receiver.address() as AddressInfo;
  stack = await startStack(
    { frozen: true },
    { MERCHANT_EVENTS_URL: `http://127.0.0.1:${port}/webhooks/engine`, MERCHANT_EVENTS_SECRET: SECRET },
  );
});
after(async () => {
  await stack?.close();
  receiver.closeAllConnections();
  await new Promise((resolve) => receiver.close(resolve));
});

interface Delivery {
  event_id: string;
  type: string;
  subscription_id: string;
  status: string;
  attempts: number;
  failure: string | null;
}

async function deliveries(query: string): Promise<Delivery[]> {
  const res = await stack.api('GET', `/v1/merchant-events?limit=100&${query}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.data as Delivery[];
}

describe('merchant events end to end, verified by the official Standard Webhooks library', () => {
  let subscriptionId = '';

  it('delivers every event of a subscription signed so the official verifier accepts it', async () => {
    const customer = await stack.api('POST', '/v1/customers', {
      name: 'Grace Hopper',
      email: 'grace@example.com',
    });
    const token = await stack.emulator('POST', '/_emulator/tokens', {
      customer_id: customer.body.customer_id,
      card_number: '4000000000001091',
    });
    const product = await stack.api('POST', '/v1/products', {
      name: 'Events monthly',
      amount: 4200,
      currency: 'HKD',
      interval: 'monthly',
      interval_count: 1,
    });
    const created = await stack.api(
      'POST',
      '/v1/subscriptions',
      {
        customer_id: customer.body.customer_id,
        product_id: product.body.product_id,
        token_id: token.token_id,
      },
      { 'idempotency-key': 'events-e2e-1' },
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    subscriptionId = created.body.result.subscription_id;
    const truth = await stack.emulator('GET', `/_emulator/subscriptions/${subscriptionId}`);
    await stack.qfpayEmulator.advance({ to: Date.parse(truth.next_billing_time) + 1_000 });

    const settled = await eventually(
      'cycle 2 paid and every event delivered',
      async () => {
        const all = await deliveries(`subscription_id=${subscriptionId}`);
        const paid = all.filter((d) => d.type === 'subscription.payment_succeeded').length >= 2;
        if (paid && all.every((d) => d.status === 'delivered')) return all;
        throw new Error(JSON.stringify(all.map((d) => [d.type, d.status, d.attempts, d.failure])));
      },
      60_000,
    );
    const ids = new Set(settled.map((d) => d.event_id));
    const mine = received.filter((r) => r.event?.subscription_id === subscriptionId);
    assert.deepEqual(
      new Set(mine.map((r) => r.event!.id)),
      ids,
      'every delivery in the log reached the receiver',
    );
    for (const r of received) {
      assert.equal(r.refused, undefined, `refused: ${r.refused}`);
      assert.equal(r.event!.id, r.headers['webhook-id'], 'the body id is the webhook-id');
    }
  });

  it('refuses a tampered event, a changed id and another secret', () => {
    const { raw, headers } = received[0]!;
    const verify = (body: Buffer, h: IncomingHttpHeaders, secret = SECRET) =>
      new Webhook(secret).verify(body, h as Record<string, string>);
    // One hex digit of the id changed (to another digit: an id may already end in 0).
    const other = subscriptionId.endsWith('0') ? '1' : '0';
    const tampered = Buffer.from(
      raw.toString('utf8').replace(subscriptionId, `${subscriptionId.slice(0, -1)}${other}`),
    );
    assert.notDeepEqual(tampered, raw);
    assert.throws(() => verify(tampered, headers), WebhookVerificationError);
    assert.throws(() => verify(raw, { ...headers, 'webhook-id': 'evt.other' }), WebhookVerificationError);
    assert.throws(
      () => verify(raw, headers, `whsec_${randomBytes(32).toString('base64')}`),
      WebhookVerificationError,
    );
  });

  it('turns the endpoint off on 410; the failed events are listed, and redelivered once it is back on', async () => {
    answer = 410;
    const before = received.length;
    const truth = await stack.emulator('GET', `/_emulator/subscriptions/${subscriptionId}`);
    await stack.qfpayEmulator.advance({ to: Date.parse(truth.next_billing_time) + 1_000 });

    const failed = await eventually(
      'cycle 3 events failed',
      async () => {
        const list = await deliveries(`subscription_id=${subscriptionId}&status=failed`);
        return list.some((d) => d.type === 'subscription.payment_succeeded') ? list : undefined;
      },
      60_000,
    );
    assert.ok(received.length > before, 'the endpoint was called');
    for (const d of failed) assert.match(d.failure ?? '', /410|turned off/, JSON.stringify(d));
    const endpoint = await stack.api('GET', '/v1/merchant-endpoint');
    assert.equal(endpoint.body.enabled, false);
    assert.equal(endpoint.body.turned_off.status, 410);

    const refused = await stack.api('POST', `/v1/merchant-events/${failed[0]!.event_id}/redeliver`);
    assert.equal(refused.status, 409, JSON.stringify(refused.body));

    answer = 204;
    const enabled = await stack.api('POST', '/v1/merchant-endpoint/enable');
    assert.equal(enabled.status, 200, JSON.stringify(enabled.body));
    assert.equal(enabled.body.enabled, true);
    for (const d of failed) {
      const res = await stack.api('POST', `/v1/merchant-events/${d.event_id}/redeliver`);
      assert.equal(res.status, 202, JSON.stringify(res.body));
    }
    await eventually(
      'redelivered',
      async () => {
        const list = await deliveries(`subscription_id=${subscriptionId}`);
        if (list.every((d) => d.status === 'delivered')) return true;
        throw new Error(JSON.stringify(list.map((d) => [d.type, d.status, d.attempts, d.failure])));
      },
      60_000,
    );
    for (const d of failed) {
      const got = received.filter((r) => r.headers['webhook-id'] === d.event_id && r.event);
      assert.ok(got.length >= 1, `${d.event_id} redelivered under its id`);
    }
    assert.ok(received.every((r) => r.refused === undefined));

    const missing = await stack.api('POST', '/v1/merchant-events/evt.nope/redeliver');
    assert.equal(missing.status, 404);
    const bad = await stack.api('POST', '/v1/merchant-events/%20bad%20/redeliver');
    assert.equal(bad.status, 400);
  });

  it('lists the events themselves, as the endpoint received them: each once, filtered by type and time, page by page; one by id', async () => {
    // What the endpoint received of this subscription: each event's body (a redelivery's is the same).
    const bodies = new Map<string, Record<string, unknown>>();
    for (const r of received) {
      if (r.event?.subscription_id === subscriptionId)
        bodies.set(r.event.id, JSON.parse(r.raw.toString('utf8')));
    }
    const all = [...bodies.values()];
    /** Every page of `/v1/events?<query>`, two events a page. */
    const listAll = async (query: string) => {
      const listed: Array<Record<string, unknown>> = [];
      let cursor: string | null = null;
      do {
        const res = await stack.api('GET', `/v1/events?limit=2&${query}${cursor ? `&cursor=${cursor}` : ''}`);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.ok(res.body.data.length <= 2);
        listed.push(...(res.body.data as Array<Record<string, unknown>>));
        cursor = res.body.next_cursor as string | null;
      } while (cursor);
      return listed;
    };
    const ids = (events: Array<Record<string, unknown>>) => events.map((e) => String(e.id)).sort();
    const sub = `subscription_id=${subscriptionId}`;
    const listed = await eventually('every event listed', async () => {
      const page = await listAll(sub);
      return page.length === all.length ? page : undefined;
    });
    assert.deepEqual(ids(listed), ids(all), 'each event once, the redelivered ones too');
    for (const event of listed)
      assert.deepEqual(event, bodies.get(String(event.id)), 'the body the endpoint got');

    const paid = await listAll(`${sub}&type=subscription.payment_succeeded`);
    assert.deepEqual(ids(paid), ids(all.filter((e) => e.type === 'subscription.payment_succeeded')));
    assert.ok(paid.length >= 3);

    const times = [...new Set(all.map((e) => String(e.created_at)))].sort();
    const [from, to] = [times[1]!, times[times.length - 1]!];
    const inRange = await listAll(`${sub}&created_after=${from}&created_before=${to}`);
    const wanted = all.filter((e) => String(e.created_at) >= from && String(e.created_at) < to);
    assert.ok(wanted.length > 0 && wanted.length < all.length);
    assert.deepEqual(
      ids(inRange),
      ids(wanted),
      'from created_after (inclusive) to created_before (exclusive)',
    );

    const one = await stack.api('GET', `/v1/events/${encodeURIComponent(String(all[0]!.id))}`);
    assert.equal(one.status, 200, JSON.stringify(one.body));
    assert.deepEqual(one.body, all[0]);
    assert.equal((await stack.api('GET', '/v1/events/evt.nope')).status, 404);
    const reversed = await stack.api('GET', `/v1/events?created_after=${to}&created_before=${from}`);
    assert.equal(reversed.status, 400);
    assert.match(JSON.stringify(reversed.body), /created_before/);
    // The ends of ISO-8601's range are times like any other.
    for (const edge of ['0000-01-01T00:00:00Z', '9999-12-31T23:59:59.999%2B14:00']) {
      const res = await stack.api('GET', `/v1/events?${sub}&created_after=${edge}`);
      assert.ok(
        res.status === 200 || res.status === 400,
        `${edge}: ${res.status} ${JSON.stringify(res.body)}`,
      );
    }
    const unknown = await stack.api('GET', '/v1/events?type=subscription.nothing');
    assert.equal(unknown.status, 400);
    assert.match(JSON.stringify(unknown.body), /type/);
  });
});
