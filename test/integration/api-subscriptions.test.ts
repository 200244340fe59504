/**
 * The subscription routes against a real Temporal dev server, a real worker and the QFPay
 * emulator: idempotent creation, 404 for a subscription the engine does not know, the list by
 * state and customer through the engine's search attributes (with pagination; runs recorded
 * before the gateway-neutral names are found under the old ones, merchant event deliveries too),
 * and workflow updates whose validators refuse a change (409 with their message).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, it } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import type { SearchAttributePair } from '@temporalio/common';
import type { Express } from 'express';
import request from 'supertest';
import { buildApp } from '../../src/api/app';
import {
  CreationSchema,
  ErrorResponseSchema,
  MerchantEventListSchema,
  SubscriptionListSchema,
  SubscriptionViewSchema,
  type SubscriptionListResponse,
} from '../../src/api/schemas';
import type { Config } from '../../src/config';
import type { QfpayClient } from '../../src/gateways/qfpay/client';
import { signNotification } from '../../src/gateways/qfpay/signing';
import { formatQfpayNaiveTime } from '../../src/gateways/qfpay/time';
import type { QfpayEmulatorHandle } from '../../src/gateways/qfpay/emulator/server';
import {
  LEGACY_SEARCH_ATTRIBUTES,
  SEARCH_ATTRIBUTES,
  WORKFLOW_TYPES,
  changeDunningPolicyUpdate,
  subscriptionWorkflowId,
} from '../../src/workflows/definitions';
import { DEFAULT_DUNNING_POLICY } from '../../src/domain/episode/dunning';
import { APP_KEY, auth, useApiEngine } from '../helpers/api-engine';
import { eventually } from '../helpers/stack';
import { fakeSubscriptionId, uniqueTaskQueue } from '../helpers/temporal';
import type { MerchantEvent } from '../../src/events/merchant-events';
import { merchantEventWorkflowId } from '../../src/api/routes/merchant-events';
import { EmulatorTestClient } from '../helpers/emulator-client';
import { nonSnakeKeys } from '../helpers/json-keys';

void describe('subscription routes on a real Temporal dev server', () => {
  const engine = useApiEngine('api-subscriptions');
  let env: TestWorkflowEnvironment;
  let qfpayEmulator: QfpayEmulatorHandle;
  let config: Config;
  let qfpay: QfpayClient;
  let app: Express;

  /** A customer with a card token at the emulator, and a monthly product. */
  async function customerWithCard() {
    const customer = await qfpay.createCustomer({ name: 'Grace Hopper' });
    const product = await qfpay.createProduct({
      name: 'Silver',
      type: 'recurring',
      txamt: 4900,
      txcurrcd: 'HKD',
      interval: 'monthly',
      interval_count: 1,
    });
    const tokenId = await new EmulatorTestClient(qfpayEmulator.url).createToken(
      customer.customer_id,
      '5200000000001096',
    );
    return { customerId: customer.customer_id, productId: product.product_id, tokenId };
  }

  /** A subscription QFPay (the emulator) bills to the card: the engine learns of it by notification. */
  async function subscribedAtQfpay(card: Awaited<ReturnType<typeof customerWithCard>>): Promise<string> {
    const created = await qfpay.createSubscription({
      customer_id: card.customerId,
      token_id: card.tokenId,
      products: [{ product_id: card.productId }],
    });
    return created.subscription_id;
  }

  /** Makes the engine adopt a subscription by notifying its state, as QFPay would. */
  async function notifyState(subscriptionId: string, state: string): Promise<void> {
    const body = JSON.stringify({
      notify_type: 'subscription',
      subscription_id: subscriptionId,
      state,
      sysdtm: formatQfpayNaiveTime(Date.now() - 1_000, '+08:00'),
    });
    const res = await request(app)
      .post('/webhooks/qfpay')
      .set('content-type', 'application/json')
      .set('X-QF-SIGN', signNotification(body, APP_KEY))
      .send(body);
    assert.equal(res.text, 'SUCCESS');
  }

  /** A new customer's subscription at QFPay, which the engine adopts from an ACTIVE notification. */
  async function adoptedSubscription(): Promise<{ customerId: string; subscriptionId: string }> {
    const card = await customerWithCard();
    const subscriptionId = await subscribedAtQfpay(card);
    await notifyState(subscriptionId, 'ACTIVE');
    return { customerId: card.customerId, subscriptionId };
  }

  /** Waits until Temporal's visibility shows the subscription's workflow with `state`. */
  async function visibleWithState(subscriptionId: string, state: string): Promise<void> {
    const query = `WorkflowId = '${subscriptionWorkflowId(subscriptionId)}' AND ${SEARCH_ATTRIBUTES.state.name} = '${state}'`;
    await eventually(`visibility of ${subscriptionId} as ${state}`, async () => {
      for await (const execution of env.client.workflow.list({ query })) return execution;
      return undefined;
    });
  }

  async function list(query: string): Promise<SubscriptionListResponse> {
    const res = await request(app).get(`/v1/subscriptions?${query}`).set(auth);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return SubscriptionListSchema.parse(res.body);
  }

  /** A refusal's message, once it is shown to be a 409 `conflict`. */
  function conflictMessage(res: request.Response): string {
    assert.equal(res.status, 409, JSON.stringify(res.body));
    const body = ErrorResponseSchema.parse(res.body);
    assert.equal(body.error.code, 'conflict');
    return body.error.message;
  }

  before(() => {
    ({ env, qfpayEmulator, config, qfpay, app } = engine);
  });

  void it('answers 404 for a subscription the engine has no workflow for', async () => {
    const res = await request(app).get(`/v1/subscriptions/${fakeSubscriptionId()}`).set(auth);
    assert.equal(res.status, 404);
    assert.equal(ErrorResponseSchema.parse(res.body).error.code, 'not_found');
    const cancel = await request(app)
      .post(`/v1/subscriptions/${fakeSubscriptionId()}/cancel`)
      .set(auth)
      .send({});
    assert.equal(cancel.status, 404);
  });

  void it('creates a subscription once per Idempotency-Key: 201, the same result again with 200, 422 for another body', async () => {
    const { customerId, productId, tokenId } = await customerWithCard();
    const body = {
      customer_id: customerId,
      product_id: productId,
      token_id: tokenId,
      total_billing_cycles: 12,
      dunning_policy: { attempt_offsets: ['2h', '1d'], final_action: 'cancel' },
    };
    const key = `create-${Date.now()}`;

    const first = await request(app)
      .post('/v1/subscriptions')
      .set(auth)
      .set('Idempotency-Key', key)
      .send(body);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const created = CreationSchema.parse(first.body);
    assert.equal(created.status, 'completed');
    assert.equal(created.replayed, false);
    assert.ok(created.result);
    assert.match(created.result.subscription_id, /^sub_/);
    assert.equal(created.result.workflow_id, subscriptionWorkflowId(created.result.subscription_id));
    assert.equal(created.result.customer_id, customerId);

    const again = await request(app)
      .post('/v1/subscriptions')
      .set(auth)
      .set('Idempotency-Key', key)
      .send(body);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    const replay = CreationSchema.parse(again.body);
    assert.equal(replay.replayed, true);
    assert.deepEqual(replay.result, created.result);

    const other = await request(app)
      .post('/v1/subscriptions')
      .set(auth)
      .set('Idempotency-Key', key)
      .send({ ...body, total_billing_cycles: 6 });
    assert.equal(other.status, 422);
    assert.equal(ErrorResponseSchema.parse(other.body).error.code, 'idempotency_mismatch');

    const status = await request(app).get(`/v1/subscriptions/creations/${key}`).set(auth);
    assert.equal(status.status, 200);
    assert.deepEqual(CreationSchema.parse(status.body).result, created.result);

    const emulatorSubs = (await (
      await fetch(`${qfpayEmulator.url}/_emulator/subscriptions?customer_id=${customerId}`)
    ).json()) as {
      data: unknown[];
    };
    assert.equal(emulatorSubs.data.length, 1, 'QFPay has exactly one subscription for the customer');

    const view = await eventually('the created subscription in its workflow', async () => {
      const res = await request(app).get(`/v1/subscriptions/${created.result?.subscription_id}`).set(auth);
      return res.status === 200 ? SubscriptionViewSchema.parse(res.body) : undefined;
    });
    assert.equal(view.origin, 'created');
    assert.equal(view.total_billing_cycles, 12);
    assert.deepEqual(view.dunning.policy.attempt_offsets, [2 * 3_600_000, 86_400_000]);
    assert.equal(view.dunning.policy.final_action, 'cancel');
  });

  void it('answers 202 with a Location while the creation runs, and the Location reports the result', async () => {
    const { customerId, productId, tokenId } = await customerWithCard();
    const body = { customer_id: customerId, product_id: productId, token_id: tokenId };
    const key = `slow-${Date.now()}`;
    // An API that gives the creation no time at all to finish before answering.
    const impatient = buildApp({
      config,
      temporal: env.client,
      qfpay,
      logger: engine.logger,
      timeouts: { creationWaitMs: 1 },
    });

    const res = await request(impatient)
      .post('/v1/subscriptions')
      .set(auth)
      .set('Idempotency-Key', key)
      .send(body);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.headers.location, `/v1/subscriptions/creations/${key}`);
    assert.equal(CreationSchema.parse(res.body).status, 'running');

    const done = await eventually('the creation to complete', async () => {
      const status = await request(app).get(String(res.headers.location)).set(auth);
      const creation = CreationSchema.parse(status.body);
      return creation.status === 'completed' ? creation : undefined;
    });
    assert.ok(done.result?.subscription_id.startsWith('sub_'));
    const again = await request(app)
      .post('/v1/subscriptions')
      .set(auth)
      .set('Idempotency-Key', key)
      .send(body);
    assert.equal(again.status, 200);
    assert.deepEqual(CreationSchema.parse(again.body).result, done.result);
  });

  void it('refuses an inline new customer with a token_id (400 naming customer) before anything is created; the key stays free', async () => {
    const { customerId, productId, tokenId } = await customerWithCard();
    const email = `inline-${Date.now()}@example.com`;
    const key = `inline-customer-${Date.now()}`;
    const refused = await request(app)
      .post('/v1/subscriptions')
      .set(auth)
      .set('Idempotency-Key', key)
      .send({ customer: { name: 'New Person', email }, product_id: productId, token_id: tokenId });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    const body = ErrorResponseSchema.parse(refused.body);
    assert.equal(body.error.code, 'validation_error');
    assert.deepEqual(
      body.error.details?.map((d) => d.path),
      ['customer'],
    );
    assert.match(body.error.details?.[0]?.message ?? '', /customer_id/);
    const atQfpay = await qfpay.queryCustomers({ email, page: 1, page_size: 10 });
    assert.deepEqual(atQfpay.items, [], 'no customer was created at QFPay');
    const creation = await request(app).get(`/v1/subscriptions/creations/${key}`).set(auth);
    assert.equal(creation.status, 404, 'no creation ran under the key');

    // The corrected request, with the same key, creates the subscription.
    const created = await request(app)
      .post('/v1/subscriptions')
      .set(auth)
      .set('Idempotency-Key', key)
      .send({ customer_id: customerId, product_id: productId, token_id: tokenId });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(CreationSchema.parse(created.body).result?.customer_id, customerId);
  });

  void it("answers a creation QFPay refuses (unknown customer) with QFPay's reason", async () => {
    const { productId, tokenId } = await customerWithCard();
    const res = await request(app)
      .post('/v1/subscriptions')
      .set(auth)
      .set('Idempotency-Key', `unknown-customer-${Date.now()}`)
      .send({ customer_id: 'cust_doesnotexist', product_id: productId, token_id: tokenId });
    assert.equal(res.status, 404, JSON.stringify(res.body));
    const body = ErrorResponseSchema.parse(res.body);
    assert.equal(body.error.code, 'not_found');
    assert.ok(
      body.error.details?.some((d) => d.path === 'qfpay.respcd' && d.message.startsWith('1136')),
      JSON.stringify(body),
    );
  });

  void it('lists subscriptions by state and by customer from the search attributes, page by page', async () => {
    const card = await customerWithCard();
    const { customerId } = card;
    const subscriptionIds: string[] = [];
    for (let i = 0; i < 2; i += 1) {
      const id = await subscribedAtQfpay(card);
      subscriptionIds.push(id);
      await notifyState(id, 'ACTIVE');
    }
    // A subscription QFPay does not know, notified as PAST_DUE: its workflow keeps that state.
    const pastDue = fakeSubscriptionId();
    await notifyState(pastDue, 'PAST_DUE');

    for (const id of subscriptionIds) await visibleWithState(id, 'ACTIVE');
    await visibleWithState(pastDue, 'PAST_DUE');
    // The customer id search attribute is set once the workflow has synced with QFPay.
    await eventually('both subscriptions listed for the customer', async () => {
      const page = await list(`customer_id=${customerId}`);
      return page.data.length === 2 ? page : undefined;
    });

    const active = await list(`state=ACTIVE&customer_id=${customerId}`);
    assert.deepEqual(active.data.map((i) => i.subscription_id).sort(), [...subscriptionIds].sort());
    for (const item of active.data) {
      assert.equal(item.state, 'ACTIVE');
      assert.equal(item.customer_id, customerId);
      assert.equal(item.status, 'running');
      assert.equal(item.workflow_id, subscriptionWorkflowId(item.subscription_id));
      assert.ok(item.next_billing_time && Date.parse(item.next_billing_time) > Date.now());
    }
    assert.deepEqual((await list(`state=PAST_DUE&customer_id=${customerId}`)).data, []);
    const pastDueIds = (await list('state=PAST_DUE')).data.map((i) => i.subscription_id);
    assert.ok(pastDueIds.includes(pastDue));
    assert.ok(!pastDueIds.some((id) => subscriptionIds.includes(id)));

    // Page by page, one subscription each, until next_cursor is null.
    const pages: SubscriptionListResponse[] = [];
    for (let cursor: string | null = ''; cursor !== null;) {
      const page: SubscriptionListResponse = await list(
        `customer_id=${customerId}&limit=1${cursor ? `&cursor=${cursor}` : ''}`,
      );
      pages.push(page);
      cursor = page.next_cursor;
    }
    assert.deepEqual(
      pages.flatMap((p) => p.data.map((i) => i.subscription_id)).sort(),
      [...subscriptionIds].sort(),
    );
    assert.ok(pages.every((p) => p.data.length <= 1));
    const first = pages[0]!;
    assert.ok(first.next_cursor);

    // A cursor only pages through the list it came from; garbage never reaches Temporal.
    for (const query of [
      `state=ACTIVE&customer_id=${customerId}&limit=1&cursor=${first.next_cursor}`,
      'cursor=AAAAAAAAAAAAAAAA',
    ]) {
      const refused = await request(app).get(`/v1/subscriptions?${query}`).set(auth);
      assert.equal(refused.status, 400, JSON.stringify(refused.body));
      assert.deepEqual(
        ErrorResponseSchema.parse(refused.body).error.details?.map((d) => d.path),
        ['cursor'],
      );
    }
  });

  /**
   * Starts a run that carries only the search attributes given, as a run recorded before the
   * gateway-neutral names does: no worker polls its task queue, so it never writes others.
   */
  async function runRecordedBefore(
    workflowType: string,
    workflowId: string,
    args: unknown[],
    typedSearchAttributes: SearchAttributePair[],
  ): Promise<WorkflowHandle> {
    const taskQueue = uniqueTaskQueue('no-worker');
    return env.client.workflow.start(workflowType, { workflowId, taskQueue, args, typedSearchAttributes });
  }

  void it('lists by customer a run that carries only QfpayCustomerId (recorded before the gateway-neutral names) beside a new run found by CustomerId', async () => {
    const { customerId, subscriptionId: current } = await adoptedSubscription();
    await eventually('the new run found by its CustomerId', async () => {
      const query = `${SEARCH_ATTRIBUTES.customerId.name} = '${customerId}'`;
      for await (const execution of env.client.workflow.list({ query })) return execution;
      return undefined;
    });
    const before = fakeSubscriptionId();
    const old = await runRecordedBefore(
      WORKFLOW_TYPES.subscription,
      subscriptionWorkflowId(before),
      [{ subscriptionId: before, origin: 'adopted' }],
      [
        { key: SEARCH_ATTRIBUTES.state, value: 'ACTIVE' },
        { key: LEGACY_SEARCH_ATTRIBUTES.subscriptionId, value: before },
        { key: LEGACY_SEARCH_ATTRIBUTES.customerId, value: customerId },
      ],
    );
    try {
      const page = await eventually('both runs listed for the customer', async () => {
        const listed = await list(`state=ACTIVE&customer_id=${customerId}`);
        return listed.data.length === 2 ? listed : undefined;
      });
      const byId = new Map(page.data.map((item) => [item.subscription_id, item]));
      assert.deepEqual([...byId.keys()].sort(), [before, current].sort());
      assert.equal(byId.get(before)?.customer_id, customerId);
      assert.equal(byId.get(before)?.state, 'ACTIVE');
      assert.equal(byId.get(current)?.customer_id, customerId);
    } finally {
      await old.terminate('test done');
    }
  });

  void it('lists merchant event deliveries by subscription whether they carry QfpaySubscriptionId (recorded before) or SubscriptionId', async () => {
    const subscriptionId = `qorepay:${randomUUID()}`;
    const event = (n: number): MerchantEvent => ({
      id: `evt.${subscriptionId}.state.000${n}`,
      type: 'subscription.state_changed',
      created_at: new Date().toISOString(),
      subscription_id: subscriptionId,
      data: { from: 'ACTIVE', to: 'PAST_DUE', cause: 'Retry Failed' },
    });
    const old = await runRecordedBefore(
      WORKFLOW_TYPES.merchantEventDelivery,
      merchantEventWorkflowId(event(1).id),
      [event(1)],
      [
        { key: SEARCH_ATTRIBUTES.merchantEventType, value: event(1).type },
        { key: SEARCH_ATTRIBUTES.merchantEventStatus, value: 'pending' },
        { key: LEGACY_SEARCH_ATTRIBUTES.subscriptionId, value: subscriptionId },
      ],
    );
    try {
      // A new delivery, run by the engine's worker (no endpoint is configured: it fails at once).
      await env.client.workflow.execute(WORKFLOW_TYPES.merchantEventDelivery, {
        workflowId: merchantEventWorkflowId(event(2).id),
        taskQueue: config.TEMPORAL_TASK_QUEUE,
        args: [event(2)],
      });
      const items = await eventually('both deliveries listed for the subscription', async () => {
        const res = await request(app)
          .get(`/v1/merchant-events?subscription_id=${encodeURIComponent(subscriptionId)}`)
          .set(auth);
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const listed = MerchantEventListSchema.parse(res.body).data;
        return listed.length === 2 ? listed : undefined;
      });
      assert.deepEqual(items.map((item) => [item.event_id, item.subscription_id]).sort(), [
        [event(1).id, subscriptionId],
        [event(2).id, subscriptionId],
      ]);
    } finally {
      await old.terminate('test done');
    }
  });

  void it("answers an update its validator refuses with 409 and the validator's message; cancelling twice is refused", async () => {
    const { customerId, subscriptionId: id } = await adoptedSubscription();
    await eventually('the adopted subscription synced', async () => {
      const res = await request(app).get(`/v1/subscriptions/${id}`).set(auth);
      return res.status === 200 && res.body.customer_id === customerId ? true : undefined;
    });

    const charge = await request(app).post(`/v1/subscriptions/${id}/charge`).set(auth).send({});
    assert.equal(
      conflictMessage(charge),
      'a manual charge needs state PAST_DUE, UNPAID or INCOMPLETE; the subscription is ACTIVE',
    );

    const cancel = await request(app)
      .post(`/v1/subscriptions/${id}/cancel`)
      .set(auth)
      .send({ reason: 'customer left' });
    assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
    assert.equal(SubscriptionViewSchema.parse(cancel.body).state, 'CANCELLED');
    assert.equal(SubscriptionViewSchema.parse(cancel.body).next_billing_time, null, 'nothing more is billed');

    const again = await request(app).post(`/v1/subscriptions/${id}/cancel`).set(auth).send({});
    assert.equal(again.status, 409, JSON.stringify(again.body));
    const second = ErrorResponseSchema.parse(again.body);
    assert.equal(second.error.code, 'conflict');
    assert.match(second.error.message, /CANCELLED/);

    const handle = env.client.workflow.getHandle(subscriptionWorkflowId(id));
    assert.equal((await handle.describe()).type, WORKFLOW_TYPES.subscription);
  });

  void it('changes the dunning policy through the API; the workflow’s own check refuses a bad one sent around the API', async () => {
    const id = fakeSubscriptionId();
    await notifyState(id, 'ACTIVE');
    await eventually('the adopted subscription', async () => {
      const res = await request(app).get(`/v1/subscriptions/${id}`).set(auth);
      return res.status === 200 ? true : undefined;
    });

    const changed = await request(app)
      .put(`/v1/subscriptions/${id}/dunning-policy`)
      .set(auth)
      .send({
        attempt_offsets: ['2h', 86_400_000],
        final_action: 'cancel',
        non_retryable_respcds: [' 1294 '],
      });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.deepEqual(nonSnakeKeys(changed.body), []);
    const policy = SubscriptionViewSchema.parse(changed.body).dunning.policy;
    assert.deepEqual(policy, {
      attempt_offsets: [2 * 3_600_000, 86_400_000],
      safety_margin: DEFAULT_DUNNING_POLICY.safetyMargin,
      min_attempt_window: DEFAULT_DUNNING_POLICY.minAttemptWindow,
      escalation: DEFAULT_DUNNING_POLICY.escalation,
      final_action: 'cancel',
      non_retryable_respcds: ['1294'],
    });

    const refused = await request(app)
      .put(`/v1/subscriptions/${id}/dunning-policy`)
      .set(auth)
      .send({ attempt_offsets: ['1d', '1h'], min_attempt_window: 'soon' });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.deepEqual(
      ErrorResponseSchema.parse(refused.body).error.details?.map((d) => d.path),
      ['attempt_offsets.1', 'min_attempt_window'],
    );

    // The names of before are refused, each with its snake_case name; nothing changes.
    const camel = await request(app)
      .put(`/v1/subscriptions/${id}/dunning-policy`)
      .set(auth)
      .send({ finalAction: 'leave_to_gateway' });
    assert.equal(camel.status, 400, JSON.stringify(camel.body));
    assert.deepEqual(ErrorResponseSchema.parse(camel.body).error.details, [
      { path: 'finalAction', message: 'unknown field: it is final_action (snake_case)' },
    ]);

    // A client that talks to Temporal directly meets the same rules in the update's validator.
    const handle = env.client.workflow.getHandle(subscriptionWorkflowId(id));
    await assert.rejects(
      handle.executeUpdate(changeDunningPolicyUpdate, { args: [{ escalation: ['page_ceo'] } as never] }),
      (err: unknown) =>
        err instanceof WorkflowUpdateFailedError &&
        /invalid dunning policy: escalation\.0: must be one of/.test(String(err.cause?.message)),
    );
    const after = await request(app).get(`/v1/subscriptions/${id}`).set(auth);
    assert.deepEqual(SubscriptionViewSchema.parse(after.body).dunning.policy, policy);
  });

  void it('lists no payment tokens for a customer QFPay never reported one for, and answers 404 for a customer QFPay does not have', async () => {
    const customer = await qfpay.createCustomer({ name: 'No Card Yet' });
    const res = await request(app).get(`/v1/customers/${customer.customer_id}/tokens`).set(auth);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { data: [], next_cursor: null });

    const unknown = await request(app).get('/v1/customers/cust_never_created/tokens').set(auth);
    assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
    assert.equal(ErrorResponseSchema.parse(unknown.body).error.code, 'not_found');
  });

  void it('total_billing_cycles null: accepted on a plan billed until cancelled, a 409 saying why on a finite plan', async () => {
    const { customerId, productId, tokenId } = await customerWithCard();
    async function created(totalBillingCycles: number | null): Promise<string> {
      const res = await request(app)
        .post('/v1/subscriptions')
        .set(auth)
        .set('Idempotency-Key', `cycles-${totalBillingCycles}-${Date.now()}`)
        .send({
          customer_id: customerId,
          product_id: productId,
          token_id: tokenId,
          total_billing_cycles: totalBillingCycles,
        });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return CreationSchema.parse(res.body).result!.subscription_id;
    }
    const toNull = (id: string) =>
      request(app)
        .post(`/v1/subscriptions/${id}/total-billing-cycles`)
        .set(auth)
        .send({ total_billing_cycles: null });

    const endless = await toNull(await created(null));
    assert.equal(endless.status, 200, JSON.stringify(endless.body));
    assert.equal(SubscriptionViewSchema.parse(endless.body).total_billing_cycles, null);

    const finite = await created(12);
    assert.equal(
      conflictMessage(await toNull(finite)),
      'QFPay cannot change a finite plan to infinite; create a new subscription instead',
    );
    const longer = await request(app)
      .post(`/v1/subscriptions/${finite}/total-billing-cycles`)
      .set(auth)
      .send({ total_billing_cycles: 24 });
    assert.equal(longer.status, 200, JSON.stringify(longer.body));
    assert.equal(SubscriptionViewSchema.parse(longer.body).total_billing_cycles, 24);
  });
});
