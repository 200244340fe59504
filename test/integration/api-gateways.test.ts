/**
 * Creations on the gateways behind the port, through the API, against a real Temporal dev server,
 * a real worker and each gateway's emulator over HTTP: input a gateway cannot take is a 400 naming
 * the field as the merchant wrote it, before any workflow starts or anything reaches the gateway
 * (and the Idempotency-Key stays free for the corrected request); a created subscription's result
 * says it has no QFPay product (`product_id: null`).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { Express } from 'express';
import request from 'supertest';
import { CreationSchema, ErrorResponseSchema } from '../../src/api/schemas';
import { auth, useApiEngine } from '../helpers/api-engine';

void describe('gateway creations through the API', () => {
  const engine = useApiEngine('api-gateways', { gateways: true });
  let app: Express;

  before(() => {
    ({ app } = engine);
  });

  async function emulatorState(gateway: string, path: string): Promise<unknown> {
    const res = await fetch(`${engine.gateways[gateway]!.url}/_emulator${path}`);
    assert.equal(res.status, 200, `${gateway} ${path}`);
    return res.json();
  }

  const plan = { name: 'Monthly', amount: 2500, currency: 'USD', interval: { unit: 'month', count: 1 } };

  function create(gateway: string, key: string, body: unknown) {
    return request(app)
      .post(`/v1/gateways/${gateway}/subscriptions`)
      .set(auth)
      .set('Idempotency-Key', key)
      .send(body as object);
  }

  function refusedAt(res: request.Response): Array<{ path: string; message: string }> {
    assert.equal(res.status, 400, JSON.stringify(res.body));
    const body = ErrorResponseSchema.parse(res.body);
    assert.equal(body.error.code, 'validation_error');
    return body.error.details ?? [];
  }

  void it('QorePay: a plan with total_cycles, or a client id with "~", is a 400 naming the field; nothing reaches QorePay', async () => {
    const before = await emulatorState('qorepay', '/state');
    const key = `qorepay-cycles-${Date.now()}`;
    const cycles = refusedAt(
      await create('qorepay', key, {
        customer: { id: 'client-cycles' },
        plan: { ...plan, total_cycles: 12 },
      }),
    );
    assert.deepEqual(
      cycles.map((d) => d.path),
      ['plan.total_cycles'],
    );
    assert.match(cycles[0]!.message, /until cancelled/);
    const tilde = refusedAt(
      await create('qorepay', `qorepay-tilde-${Date.now()}`, { customer: { id: 'client~1' }, plan }),
    );
    assert.deepEqual(
      tilde.map((d) => d.path),
      ['customer.id'],
    );
    assert.deepEqual(await emulatorState('qorepay', '/state'), before, 'QorePay was not called');

    // The key was not used up: the corrected request creates the subscription.
    const created = await create('qorepay', key, { customer: { id: 'client-cycles' }, plan });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const result = CreationSchema.parse(created.body).result;
    assert.ok(result?.subscription_id.startsWith('qorepay:'));
    assert.equal(result?.product_id, null, 'a gateway subscription has no QFPay product');
  });

  void it('QFPay: a plan is a 400 naming plan, pointing to the route QFPay creates with', async () => {
    const issues = refusedAt(
      await create('qfpay', `qfpay-plan-${Date.now()}`, {
        customer: { id: 'cust_1' },
        plan,
        payment_method: { token: 'tk_1' },
      }),
    );
    assert.deepEqual(
      issues.map((d) => d.path),
      ['plan'],
    );
    assert.match(issues[0]!.message, /POST \/v1\/subscriptions/);
  });

  void it('MadFintech: no payment_method is a 400 naming payment_method.token; nothing reaches MadFintech', async () => {
    const before = await emulatorState('madfintech', '/orders');
    const key = `madfintech-no-card-${Date.now()}`;
    const customer = { id: 'client-no-card' };
    const details = refusedAt(await create('madfintech', key, { customer, plan }));
    assert.deepEqual(
      details.map((d) => d.path),
      ['payment_method.token'],
    );
    assert.deepEqual(await emulatorState('madfintech', '/orders'), before, 'MadFintech was not called');

    const created = await create('madfintech', key, { customer, plan, payment_method: { token: 'card-1' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const result = CreationSchema.parse(created.body).result;
    assert.ok(result?.subscription_id.startsWith('madfintech:'));
    assert.equal(result?.product_id, null);
    const status = await request(app)
      .get(`/v1/subscriptions/creations/${encodeURIComponent(key)}`)
      .set(auth);
    assert.equal(CreationSchema.parse(status.body).result?.product_id, null);
  });

  void it('a final action the gateway cannot carry out is a 400 naming it (a hold of dunning it has none of); without one the subscription leaves recovery to the gateway, and a cancel after it is taken', async () => {
    for (const gateway of ['qorepay', 'madfintech']) {
      const before = await emulatorState(gateway, gateway === 'qorepay' ? '/state' : '/orders');
      const key = `${gateway}-final-action-${Date.now()}`;
      const body = {
        customer: { id: `client-final-${gateway}` },
        plan,
        payment_method: { token: `card-final-${gateway}` },
      };
      for (const finalAction of ['hold_dunning', 'pause_billing']) {
        const details = refusedAt(
          await create(gateway, key, { ...body, dunning_policy: { final_action: finalAction } }),
        );
        assert.deepEqual(
          details.map((d) => d.path),
          ['dunning_policy.final_action'],
        );
        assert.match(details[0]!.message, new RegExp(`${gateway} has no manual charge to hold`));
      }
      assert.deepEqual(
        await emulatorState(gateway, gateway === 'qorepay' ? '/state' : '/orders'),
        before,
        `${gateway} was not called`,
      );

      const created = await create(gateway, key, body);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = CreationSchema.parse(created.body).result!.subscription_id;
      const view = await request(app)
        .get(`/v1/subscriptions/${encodeURIComponent(id)}`)
        .set(auth);
      assert.equal(view.status, 200, JSON.stringify(view.body));
      assert.equal(view.body.dunning.policy.final_action, 'leave_to_gateway');

      // A change of policy is refused the same way, by the subscription itself.
      const change = await request(app)
        .put(`/v1/subscriptions/${encodeURIComponent(id)}/dunning-policy`)
        .set(auth)
        .send({ final_action: 'hold_dunning' });
      assert.equal(change.status, 409, JSON.stringify(change.body));
      assert.match(change.body.error.message, new RegExp(`${gateway} has no manual charge to hold`));
      // A cancel comes after the gateway's own recovery has ended: taken.
      const cancelAfter = await request(app)
        .put(`/v1/subscriptions/${encodeURIComponent(id)}/dunning-policy`)
        .set(auth)
        .send({ final_action: 'cancel' });
      assert.equal(cancelAfter.status, 200, JSON.stringify(cancelAfter.body));
      assert.equal(cancelAfter.body.dunning.policy.final_action, 'cancel');
    }
  });

  void it('a plan with an end date: MadFintech bills nothing after it, its schedule stops there; QorePay refuses it naming the field', async () => {
    const clock = await fetch(`${engine.gateways.madfintech!.url}/_emulator/clock`);
    const now = ((await clock.json()) as { now: number }).now;
    const endDate = new Date(now + 75 * 86_400_000).toISOString();
    const key = `madfintech-end-${Date.now()}`;
    const created = await create('madfintech', key, {
      customer: { id: 'client-end' },
      plan: { ...plan, end_date: endDate },
      payment_method: { token: 'card-end' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = CreationSchema.parse(created.body).result!.subscription_id;
    const schedule = await request(app)
      .get(`/v1/subscriptions/${encodeURIComponent(id)}/schedule?count=6`)
      .set(auth);
    assert.equal(schedule.status, 200, JSON.stringify(schedule.body));
    const billings = schedule.body.billings as Array<{ cycle: number; at: string }>;
    assert.deepEqual(
      billings.map((b) => b.cycle),
      [2, 3],
      'cycles 2 and 3 fall before the end date, 4 after it',
    );
    assert.ok(billings.every((b) => Date.parse(b.at) <= Date.parse(endDate)));

    const details = refusedAt(
      await create('qorepay', `qorepay-end-${Date.now()}`, {
        customer: { id: 'client-end' },
        plan: { ...plan, end_date: endDate },
      }),
    );
    assert.deepEqual(
      details.map((d) => d.path),
      ['plan.end_date'],
    );
  });
});
