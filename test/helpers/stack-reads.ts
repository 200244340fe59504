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
