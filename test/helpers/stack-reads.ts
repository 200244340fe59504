/**
 * What the e2e tests read and drive through a stack, written once: a subscription as the merchant
 * reads it (`GET /v1/subscriptions/{id}`), a wait until it shows something, and a call to a
 * gateway emulator's control API (`/_emulator/…`).
 */
import assert from 'node:assert/strict';
import { eventually, type Stack } from './stack';

/** The subscription as `GET /v1/subscriptions/{id}` answers it (asserted 200). */
export async function subscriptionView(stack: Stack, id: string): Promise<any> {
  const res = await stack.api('GET', `/v1/subscriptions/${encodeURIComponent(id)}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

/** Waits until the subscription's view satisfies `done`, and returns that view. */
export function untilView(
  stack: Stack,
  id: string,
  what: string,
  done: (view: any) => boolean,
  timeoutMs?: number,
): Promise<any> {
  return eventually(
    `${id}: ${what}`,
    async () => {
      const view = await subscriptionView(stack, id);
      return done(view) ? view : undefined;
    },
    timeoutMs,
  );
}

/** Calls a gateway emulator's control API: a GET without `body`, a POST with it (asserted 200). */
export async function gatewayControl(
  stack: Stack,
  gateway: string,
  path: string,
  body?: unknown,
): Promise<any> {
  const emulator = stack.gateways[gateway];
  assert.ok(emulator, `${gateway} has an emulator in this stack`);
  const res = await fetch(`${emulator.url}/_emulator${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.equal(res.status, 200, `${gateway} ${path}: ${res.status} ${await res.clone().text()}`);
  return res.json();
}

/**
 * A merchant's first steps on QFPay through the API: a customer, a monthly product of `amount`
 * HKD, a card made at the emulator (QFPay's Payment Element makes it in a browser), and a
 * subscription. Answers its id, the customer's and the token's.
 */
export async function createMonthlySubscription(
  stack: Stack,
  { name, amount, card = '5200000000001096' }: { name: string; amount: number; card?: string },
): Promise<{ id: string; customerId: string; tokenId: string }> {
  const stamp = `${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const customer = await stack.api('POST', '/v1/customers', { name, email: `${stamp}@example.com` });
  assert.equal(customer.status, 201, JSON.stringify(customer.body));
  const customerId: string = customer.body.customer_id;
  const product = await stack.api('POST', '/v1/products', {
    name: `${name} monthly`,
    amount,
    currency: 'HKD',
    interval: 'monthly',
    interval_count: 1,
  });
  assert.equal(product.status, 201, JSON.stringify(product.body));
  const token = await stack.emulator('POST', '/_emulator/tokens', {
    customer_id: customerId,
    card_number: card,
  });
  const created = await stack.api(
    'POST',
    '/v1/subscriptions',
    { customer_id: customerId, product_id: product.body.product_id, token_id: token.token_id },
    { 'idempotency-key': `create-${stamp}` },
  );
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return { id: created.body.result.subscription_id, customerId, tokenId: token.token_id };
}
